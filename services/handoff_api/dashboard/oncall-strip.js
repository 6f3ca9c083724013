// On call now and the next 14 days, in the viewer's local time: a strip of shifts per rotation, gaps in words.

import { h } from './dom.js';

// "Sat 00:00": the weekday and a 24-hour clock, as a rota reads.
const DAY_CLOCK = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const DATE_CLOCK = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});
const DATE = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const WEEKDAY = new Intl.DateTimeFormat(undefined, { weekday: 'short' });

const parts = (format, iso) => format.formatToParts(new Date(iso));
// Without the comma some locales put between weekday and clock: "Sat 00:00", never "Sat, 00:00".
const joined = (format, iso) => parts(format, iso).map((p) => (p.type === 'literal' ? p.value.replace(',', '') : p.value)).join('').replace(/\s+/g, ' ').trim();

export const dayClock = (iso) => joined(DAY_CLOCK, iso);
export const dateClock = (iso) => joined(DATE_CLOCK, iso);

function dates(start, end) {
  const first = DATE.format(new Date(start));
  // The end is exclusive: a gap ending at midnight belongs to the day before.
  const last = DATE.format(new Date(Date.parse(end) - 1));
  return first === last ? first : `${first}\u2013${last}`;
}

// "No one on call in primary Sat 00:00–Mon 09:00".
export function gapSentence(gap) {
  return `No one on call in ${gap.rotation} ${dayClock(gap.start)}\u2013${dayClock(gap.end)}`;
}

export function onCallNow(now) {
  if (!now.rotations.length) return h('p', { class: 'empty', testid: 'oncall-now-empty' }, 'No rotations yet: nobody is paged by rotation.');
  return h('ul', { class: 'oncall-now', testid: 'oncall-now' }, now.rotations.map((row) => {
    const until = row.until ? h('span', { class: 'oncall-now__until' }, ` until ${dateClock(row.until)}`) : ' for the next year at least';
    const who = row.user
      ? [h('strong', { testid: 'oncall-now-user' }, row.user.name), row.source === 'override' ? h('span', { class: 'oncall-now__source' }, ' (covering)') : '', until]
      : [h('strong', { class: 'oncall-now__nobody', testid: 'oncall-now-user' }, 'No one'), until];
    return h('li', { class: 'oncall-now__item', testid: 'oncall-now-row', dataset: { rotation: row.name } },
      h('span', { class: 'oncall-now__rotation' }, row.name), h('span', { class: 'oncall-now__who' }, who));
  }));
}

function ticks(since, until) {
  const start = Date.parse(since);
  const span = Date.parse(until) - start;
  const marks = [];
  const day = new Date(start);
  day.setHours(24, 0, 0, 0);
  // Local midnights, so a tick sits where the viewer's day begins.
  for (; day.getTime() < start + span; day.setDate(day.getDate() + 1)) {
    const mark = h('span', { class: 'strip__tick', 'aria-hidden': 'true' }, h('span', { class: 'strip__tick-label' }, h('span', { class: 'strip__tick-day' }, `${WEEKDAY.format(day)} `), String(day.getDate())));
    mark.style.left = `${((day.getTime() - start) / span) * 100}%`;
    marks.push(mark);
  }
  return marks;
}

function piece(kind, text, label, start, end, since, span) {
  const left = ((Date.parse(start) - since) / span) * 100;
  const width = ((Date.parse(end) - Date.parse(start)) / span) * 100;
  const el = h('li', { class: `strip__piece strip__piece--${kind}`, title: label, testid: `strip-${kind}` },
    h('span', { class: 'strip__name', 'aria-hidden': 'true' }, text), h('span', { class: 'visually-hidden' }, label));
  // Through the CSSOM: the page's CSP refuses style attributes.
  Object.assign(el.style, { left: `${left}%`, width: `${width}%` });
  return el;
}

// One row per rotation: its shifts and gaps laid on the window, then each gap said in words.
export function nextDays(doc, shifts) {
  const since = Date.parse(shifts.since);
  const span = Math.max(1, Date.parse(shifts.until) - since);
  if (!doc.rotations.length) return h('p', { class: 'empty' }, 'Add a rotation to see who is on call over the next 14 days.');
  return h('div', { class: 'strips', testid: 'oncall-strips' }, doc.rotations.map((rotation) => {
    const own = shifts.shifts.filter((s) => s.rotation === rotation.name);
    const gaps = shifts.gaps.filter((g) => g.rotation === rotation.name);
    const pieces = [
      ...own.map((s) => piece(s.source === 'override' ? 'cover' : 'shift', s.user.name.split(' ')[0],
        `${s.user.name}${s.source === 'override' ? ' (covering)' : ''}, ${dateClock(s.start)} to ${dateClock(s.end)}`, s.start, s.end, since, span)),
      ...gaps.map((g) => piece('gap', '', `No one on call, ${dateClock(g.start)} to ${dateClock(g.end)}`, g.start, g.end, since, span)),
    ].sort((a, b) => parseFloat(a.style.left) - parseFloat(b.style.left));
    return h('section', { class: 'strip', testid: 'oncall-strip', dataset: { rotation: rotation.name }, 'aria-label': `Rotation ${rotation.name}` },
      h('h3', { class: 'strip__title' }, rotation.name),
      h('div', { class: 'strip__track' }, ticks(shifts.since, shifts.until), h('ul', { class: 'strip__pieces' }, pieces)),
      gaps.length
        ? h('ul', { class: 'strip__gaps', testid: 'oncall-gaps' }, gaps.map((g) => h('li', { testid: 'oncall-gap' },
          gapSentence(g), ' ', h('span', { class: 'muted' }, `(${dates(g.start, g.end)})`))))
        : h('p', { class: 'strip__full muted' }, 'Someone is on call all the time.'));
  }));
}
