// The Team view's chart: daily escalations as bars and the day's median time to claim as a line.
// It is drawn at the width it is shown, so its labels keep their real size on a phone.

import { short } from './duration.js';

const SVG = 'http://www.w3.org/2000/svg';
const LABEL_PX = 12;
// Room one date label needs, so neighbours never touch.
const DATE_SLOT_PX = 52;
const DAY = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function dayLabel(date) {
  const then = Date.parse(`${date}T00:00:00Z`);
  return Number.isNaN(then) ? date : DAY.format(new Date(then));
}

export function dailyChart(daily, width) {
  const narrow = width < 480;
  const height = narrow ? 190 : 220;
  const maxCount = Math.max(1, ...daily.map((d) => d.escalations));
  const p50s = daily.map((d) => d.time_to_claim_p50_s).filter((v) => v !== null && v !== undefined);
  const maxP50 = Math.max(1, ...p50s);
  const pad = { left: 10 + String(maxCount).length * 8, right: p50s.length ? 10 + short(maxP50).length * 7 : 12, top: LABEL_PX + 8, bottom: LABEL_PX + 14 };
  const plotW = Math.max(40, width - pad.left - pad.right);
  const plotH = height - pad.top - pad.bottom;
  const step = plotW / Math.max(1, daily.length);
  const every = Math.max(1, Math.ceil(DATE_SLOT_PX / step));
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, class: 'chart', role: 'img', 'data-testid': 'team-chart',
    'aria-label': `Daily escalations and time to claim (median) over ${daily.length} days`,
  });
  const base = pad.top + plotH;
  chart.append(svg('line', { x1: pad.left, y1: base, x2: pad.left + plotW, y2: base, class: 'chart__axis' }));
  chart.append(svg('line', { x1: pad.left, y1: pad.top, x2: pad.left + plotW, y2: pad.top, class: 'chart__grid' }));
  chart.append(svg('text', { x: pad.left - 6, y: pad.top + 4, class: 'chart__label', 'text-anchor': 'end' }, maxCount));
  if (p50s.length) chart.append(svg('text', { x: pad.left + plotW + 6, y: pad.top + 4, class: 'chart__label chart__label--p50' }, short(maxP50)));
  const points = [];
  daily.forEach((day, index) => {
    const barH = (day.escalations / maxCount) * plotH;
    const x = pad.left + index * step + step * 0.15;
    chart.append(svg('rect', {
      x, y: base - barH, width: Math.max(1, step * 0.7), height: barH, class: 'chart__bar', 'data-date': day.date,
    }, svg('title', {}, `${dayLabel(day.date)}: ${day.escalations} escalations, ${day.claimed} claimed`)));
    if (day.time_to_claim_p50_s !== null && day.time_to_claim_p50_s !== undefined) {
      points.push([pad.left + index * step + step / 2, base - (day.time_to_claim_p50_s / maxP50) * plotH]);
    }
    // Count back from the newest day, so today always has its label.
    if ((daily.length - 1 - index) % every === 0) {
      chart.append(svg('text', { x: pad.left + index * step + step / 2, y: height - 8, class: 'chart__label chart__label--date', 'text-anchor': 'middle' }, dayLabel(day.date)));
    }
  });
  if (points.length) chart.append(svg('polyline', { points: points.map((p) => p.join(',')).join(' '), class: 'chart__line' }));
  for (const [cx, cy] of points) chart.append(svg('circle', { cx, cy, r: 3.5, class: 'chart__dot' }));
  return chart;
}

// Draws into `box` now and again whenever its width changes; returns a function that stops that.
export function mountChart(box, daily) {
  let drawnAt = 0;
  const draw = () => {
    const width = Math.floor(box.clientWidth);
    if (!width || width === drawnAt) return;
    drawnAt = width;
    const chart = dailyChart(daily, width);
    const old = box.querySelector('svg.chart');
    if (old) old.replaceWith(chart); else box.prepend(chart);
  };
  const observer = new ResizeObserver(draw);
  observer.observe(box);
  draw();
  return () => observer.disconnect();
}
