// The Team view (owners and admins): the escalation policy form, the team's figures and a small chart.

import { api, seg } from './api.js';
import { h, replace } from './dom.js';
import { toast } from './notify.js';

const SVG = 'http://www.w3.org/2000/svg';
const URGENCIES = ['low', 'normal', 'high'];

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function seconds(value) {
  if (value === null || value === undefined) return '—';
  if (value < 90) return `${Math.round(value)} s`;
  if (value < 5400) return `${Math.round(value / 60)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

// Bars of daily escalations, and a line of the day's time-to-claim p50 on its own scale.
export function dailyChart(daily) {
  const width = 560;
  const height = 180;
  const pad = { left: 32, right: 40, top: 12, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const maxCount = Math.max(1, ...daily.map((d) => d.escalations));
  const p50s = daily.map((d) => d.time_to_claim_p50_s).filter((v) => v !== null);
  const maxP50 = Math.max(1, ...p50s);
  const step = plotW / Math.max(1, daily.length);
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'data-testid': 'team-chart',
    'aria-label': `Daily escalations and time to claim (median) over ${daily.length} days`,
  });
  chart.append(svg('line', { x1: pad.left, y1: pad.top + plotH, x2: pad.left + plotW, y2: pad.top + plotH, class: 'chart__axis' }));
  chart.append(svg('text', { x: pad.left - 6, y: pad.top + 8, class: 'chart__label', 'text-anchor': 'end' }, maxCount));
  if (p50s.length) chart.append(svg('text', { x: pad.left + plotW + 6, y: pad.top + 8, class: 'chart__label chart__label--p50' }, seconds(maxP50)));
  const points = [];
  daily.forEach((day, index) => {
    const barH = (day.escalations / maxCount) * plotH;
    const x = pad.left + index * step + step * 0.15;
    chart.append(svg('rect', {
      x, y: pad.top + plotH - barH, width: Math.max(1, step * 0.7), height: barH, class: 'chart__bar', 'data-date': day.date,
    }, svg('title', {}, `${day.date}: ${day.escalations} escalations, ${day.claimed} claimed`)));
    if (day.time_to_claim_p50_s !== null) {
      points.push(`${pad.left + index * step + step / 2},${pad.top + plotH - (day.time_to_claim_p50_s / maxP50) * plotH}`);
    }
    if (daily.length <= 14 || index % Math.ceil(daily.length / 7) === 0) {
      chart.append(svg('text', { x: pad.left + index * step + step / 2, y: height - 6, class: 'chart__label', 'text-anchor': 'middle' }, day.date.slice(5)));
    }
  });
  if (points.length) chart.append(svg('polyline', { points: points.join(' '), class: 'chart__line' }));
  for (const point of points) {
    const [cx, cy] = point.split(',');
    chart.append(svg('circle', { cx, cy, r: 3, class: 'chart__dot' }));
  }
  return chart;
}

function numberField(label, name, value, hint) {
  const id = `policy-${name}`;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name, type: 'number', min: '0', step: '1', value: String(value), testid: id, 'aria-describedby': `${id}-hint`, required: true }),
    h('span', { class: 'field__hint', id: `${id}-hint` }, hint));
}

export function mountTeam(root, { me }) {
  const account = me.accountId;
  const heading = h('h1', { tabindex: '-1' }, 'Team');
  const policySlot = h('div');
  const figuresSlot = h('div', { testid: 'team-figures', 'aria-live': 'polite' });
  replace(root, h('section', { class: 'page team', testid: 'team' },
    h('div', { class: 'page__head' }, heading, h('p', { class: 'page__sub' }, 'How fast the team picks up escalations, and when it is reminded.')),
    h('section', { class: 'panel', 'aria-labelledby': 'policy-heading' }, h('h2', { id: 'policy-heading' }, 'Escalation policy'), policySlot),
    h('section', { class: 'panel', 'aria-labelledby': 'figures-heading' }, h('h2', { id: 'figures-heading' }, 'Last 7 days'), figuresSlot)));
  let disposed = false;

  function policyForm(policy) {
    const form = h('form', { class: 'policy', testid: 'policy-form', novalidate: true },
      h('fieldset', {}, h('legend', {}, 'Remind the team when an escalation waits unclaimed (seconds, 0 = off)'),
        URGENCIES.map((u) => numberField(`${u[0].toUpperCase()}${u.slice(1)} urgency`, u, policy.unclaimed_reminder_s[u], '5 to 86400'))),
      numberField('Reminders at most', 'max_reminders', policy.max_reminders, '0 to 10'),
      numberField('Nudge a claimer who goes quiet after (seconds, 0 = off)', 'stale_claim_s', policy.stale_claim_s, '5 to 604800'),
      h('p', { class: 'form-error', testid: 'policy-error', role: 'alert' }),
      h('button', { type: 'submit', class: 'btn btn--primary', testid: 'policy-save' }, 'Save policy'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const value = (name) => Number(form.elements[name].value);
      const body = {
        unclaimed_reminder_s: Object.fromEntries(URGENCIES.map((u) => [u, value(u)])),
        max_reminders: value('max_reminders'),
        stale_claim_s: value('stale_claim_s'),
      };
      const button = form.querySelector('[data-testid=policy-save]');
      button.disabled = true;
      try {
        const saved = await api.put(`/api/v1/accounts/${seg(account)}/escalation-policy`, body);
        form.querySelector('[data-testid=policy-error]').textContent = '';
        toast('Escalation policy saved: it applies from each open escalation\u2019s next reminder on.');
        if (!disposed) replace(policySlot, policyForm(saved));
      } catch (error) {
        form.querySelector('[data-testid=policy-error]').textContent = error.detail;
        button.disabled = false;
      }
    });
    return form;
  }

  function figures(stats) {
    const ttc = stats.time_to_claim_s;
    const tile = (label, value, testid) => h('div', { class: 'tile', testid },
      h('span', { class: 'tile__value' }, String(value)), h('span', { class: 'tile__label' }, label));
    return [
      h('div', { class: 'tiles' },
        tile('escalations', stats.escalations, 'stat-escalations'),
        tile('claimed', stats.claimed, 'stat-claimed'),
        tile('open now', stats.open_now, 'stat-open'),
        tile('time to claim, median', seconds(ttc.p50), 'stat-p50'),
        tile('time to claim, p90', seconds(ttc.p90), 'stat-p90'),
        tile('reminders sent', stats.reminders_sent, 'stat-reminders'),
        tile('assessments rated helpful', `${stats.assessments.helpful} of ${stats.assessments.rated}`, 'stat-helpful')),
      h('table', { class: 'table', testid: 'stat-urgency' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Urgency'), h('th', { scope: 'col' }, 'Escalations'),
          h('th', { scope: 'col' }, 'Claimed'), h('th', { scope: 'col' }, 'Median time to claim'))),
        h('tbody', {}, URGENCIES.map((u) => {
          const row = stats.by_urgency[u];
          return h('tr', {}, h('th', { scope: 'row' }, u), h('td', {}, String(row.escalations)), h('td', {}, String(row.claimed)),
            h('td', {}, seconds(row.time_to_claim_s.p50)));
        }))),
      h('figure', { class: 'chart-box' }, dailyChart(stats.daily),
        h('figcaption', {}, h('span', { class: 'legend legend--bar' }, 'escalations per day'), ' ',
          h('span', { class: 'legend legend--line' }, 'median time to claim'))),
    ];
  }

  async function load() {
    try {
      const [policy, stats] = await Promise.all([
        api.get(`/api/v1/accounts/${seg(account)}/escalation-policy`),
        api.get(`/api/v1/accounts/${seg(account)}/handoff-stats`),
      ]);
      if (disposed) return;
      replace(policySlot, policyForm(policy));
      replace(figuresSlot, figures(stats));
    } catch (error) {
      if (!disposed) replace(figuresSlot, h('p', { class: 'empty', role: 'alert' }, error.detail));
    }
  }
  load();
  return () => { disposed = true; };
}
