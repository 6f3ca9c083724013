// The on-call rota form (owners and admins): rotations with members chosen by name, and covers ("Cover for me").
// It edits a copy of the whole document and PUTs it whole; the API's field errors land beside their inputs.

import { h, replace } from './dom.js';
import { fieldErrors, fieldLabel } from './oncall-errors.js';

const DAYS = [['mon', 'Mon'], ['tue', 'Tue'], ['wed', 'Wed'], ['thu', 'Thu'], ['fri', 'Fri'], ['sat', 'Sat'], ['sun', 'Sun']];
const HOUR = 3600000;

const idOf = (path) => `oc-${path.replace(/[[\].]+/g, '-').replace(/-$/, '')}`;
const pad = (n) => String(n).padStart(2, '0');

// A datetime-local value in the viewer's zone, and back to an instant.
export function localInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
const instant = (value) => {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
};

function zones(current) {
  const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set(['UTC', current, ...all])].filter(Boolean);
}

function copy(doc) {
  return {
    time_zone: doc.time_zone,
    rotations: doc.rotations.map((r) => ({ ...r, members: [...r.members], windows: (r.windows || []).map((w) => ({ ...w, days: [...w.days] })) })),
    overrides: doc.overrides.map((o) => ({ ...o })),
  };
}

// `save(doc)` resolves with the stored document or rejects with an ApiError.
export function onCallForm(doc, { people, me, save }) {
  const state = copy(doc);
  // A rota never saved starts in the viewer's own zone rather than UTC.
  if (!doc.rotations.length && !doc.overrides.length && doc.time_zone === 'UTC') {
    state.time_zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  }
  const form = h('form', { class: 'oncall-form', testid: 'oncall-form', novalidate: true });
  const summary = h('p', { class: 'form-error', testid: 'oncall-error', role: 'alert' });
  let fields = new Map();
  let errors = new Map();

  const person = (id) => people.find((p) => p.id === id);
  function personSelect(path, label, value, onChange) {
    const options = people.map((p) => h('option', { value: p.id }, p.name));
    if (value && !person(value)) options.unshift(h('option', { value }, 'Someone who is no longer a senior'));
    if (!value) options.unshift(h('option', { value: '' }, 'Choose a senior'));
    const select = h('select', { id: idOf(path), class: 'input', testid: idOf(path), 'aria-label': label }, options);
    select.value = value || '';
    select.addEventListener('change', () => onChange(select.value));
    return select;
  }

  // A label, its control, an optional hint, and the place where the API's word on this field appears.
  function field(path, label, control, hint) {
    const id = idOf(path);
    const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' ');
    control.setAttribute('aria-describedby', described);
    const error = h('span', { class: 'field__error', id: `${id}-error`, testid: `${id}-error` });
    fields.set(path, { input: control, error });
    return h('div', { class: 'field' }, h('label', { for: id }, label), control,
      hint ? h('span', { class: 'field__hint', id: `${id}-hint` }, hint) : null, error);
  }

  // A group's own error slot (members, windows, days), focused through its first control.
  function groupError(path, focus) {
    const error = h('span', { class: 'field__error', id: `${idOf(path)}-error`, testid: `${idOf(path)}-error` });
    fields.set(path, { input: focus, error, group: true });
    return error;
  }

  const input = (path, attrs, value, onInput) => {
    const el = h('input', { id: idOf(path), class: 'input', testid: idOf(path), ...attrs, value: value ?? '' });
    el.addEventListener('input', () => onInput(el.value));
    return el;
  };
  const smallButton = (text, label, onClick, testid) => h('button', {
    type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': label, title: label, testid, onclick: onClick,
  }, text);

  function members(rotation, r) {
    const base = `rotations[${r}].members`;
    const items = rotation.members.map((id, m) => {
      const path = `${base}[${m}]`;
      const move = (to) => () => {
        const [who] = rotation.members.splice(m, 1);
        rotation.members.splice(to, 0, who);
        render(idOf(`${base}[${to}]`));
      };
      return h('li', { class: 'members__item' },
        h('label', { class: 'members__turn', for: idOf(path) }, `${m + 1}.`),
        personSelect(path, `Member ${m + 1} of rotation ${rotation.name || r + 1}`, id, (value) => { rotation.members[m] = value; }),
        smallButton('\u2191', `Move ${person(id)?.name || 'member'} earlier`, move(Math.max(0, m - 1)), `${idOf(path)}-up`),
        smallButton('\u2193', `Move ${person(id)?.name || 'member'} later`, move(Math.min(rotation.members.length - 1, m + 1)), `${idOf(path)}-down`),
        smallButton('\u2715', `Remove ${person(id)?.name || 'member'}`, () => { rotation.members.splice(m, 1); render(idOf(`rotations[${r}].add-member`)); }, `${idOf(path)}-remove`));
    });
    const add = h('button', { type: 'button', class: 'btn btn--small', id: idOf(`rotations[${r}].add-member`), testid: idOf(`rotations[${r}].add-member`) }, 'Add member');
    add.addEventListener('click', () => {
      const next = people.find((p) => !rotation.members.includes(p.id));
      rotation.members.push(next ? next.id : '');
      render(idOf(`${base}[${rotation.members.length - 1}]`));
    });
    const list = items.length ? h('ol', { class: 'members' }, items) : h('p', { class: 'muted' }, 'No members yet.');
    const error = groupError(base, items.length ? null : add);
    return h('fieldset', { class: 'oncall-form__group' }, h('legend', {}, 'Members, in turn order'), list, add, error);
  }

  function windowRow(rotation, r, window, w) {
    const base = `rotations[${r}].windows[${w}]`;
    const boxes = DAYS.map(([day, name]) => {
      const box = h('input', { type: 'checkbox', id: idOf(`${base}.days.${day}`), testid: idOf(`${base}.days.${day}`), value: day, checked: window.days.includes(day) });
      box.addEventListener('change', () => {
        window.days = DAYS.map(([d]) => d).filter((d) => (d === day ? box.checked : window.days.includes(d)));
      });
      return h('label', { class: 'day' }, box, name);
    });
    const daysError = groupError(`${base}.days`, boxes[0].querySelector('input'));
    return h('fieldset', { class: 'oncall-form__window', testid: idOf(base) },
      h('legend', {}, `Window ${w + 1}`),
      h('div', { class: 'days', role: 'group', 'aria-label': `Days of window ${w + 1}` }, boxes), daysError,
      h('div', { class: 'oncall-form__row' },
        field(`${base}.from`, 'From', input(`${base}.from`, { type: 'time' }, window.from, (v) => { window.from = v; })),
        field(`${base}.to`, 'To', input(`${base}.to`, { type: 'time' }, window.to, (v) => { window.to = v; }), 'At or before From: runs into the next day')),
      smallButton('Remove window', `Remove window ${w + 1}`, () => { rotation.windows.splice(w, 1); render(idOf(`rotations[${r}].add-window`)); }, `${idOf(base)}-remove`),
      groupError(base, boxes[0].querySelector('input')));
  }

  function rotationBlock(rotation, r) {
    const base = `rotations[${r}]`;
    const addWindow = h('button', { type: 'button', class: 'btn btn--small', id: idOf(`${base}.add-window`), testid: idOf(`${base}.add-window`) }, 'Add a window');
    addWindow.addEventListener('click', () => {
      rotation.windows.push({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:30' });
      render(idOf(`${base}.windows[${rotation.windows.length - 1}].days.mon`));
    });
    return h('fieldset', { class: 'oncall-form__rotation', testid: idOf(base) },
      h('legend', {}, `Rotation ${rotation.name || r + 1}`),
      h('div', { class: 'oncall-form__row' },
        field(`${base}.name`, 'Name', input(`${base}.name`, { autocomplete: 'off', maxlength: '40' }, rotation.name, (v) => { rotation.name = v; }), 'Lowercase letters, digits and hyphens'),
        field(`${base}.start`, `First turn starts (${state.time_zone} time)`, input(`${base}.start`, { type: 'datetime-local' }, rotation.start.slice(0, 16), (v) => { rotation.start = v; })),
        field(`${base}.turn_days`, 'Turn length in days', input(`${base}.turn_days`, { type: 'number', min: '1', max: '365', step: '1', inputmode: 'numeric' }, String(rotation.turn_days), (v) => { rotation.turn_days = v; }), '1 to 365')),
      members(rotation, r),
      h('fieldset', { class: 'oncall-form__group' }, h('legend', {}, 'On call only in these windows'),
        rotation.windows.length ? rotation.windows.map((w, i) => windowRow(rotation, r, w, i)) : h('p', { class: 'muted' }, 'No windows: on call for the whole turn.'),
        addWindow, groupError(`${base}.windows`, addWindow)),
      smallButton('Remove rotation', `Remove rotation ${rotation.name || r + 1}`, () => { state.rotations.splice(r, 1); render('oc-add-rotation'); }, `${idOf(base)}-remove`),
      groupError(base, null));
  }

  function overrideBlock(override, o) {
    const base = `overrides[${o}]`;
    const names = [...new Set([...state.rotations.map((r) => r.name), override.rotation].filter(Boolean))];
    const rotationSelect = h('select', { id: idOf(`${base}.rotation`), class: 'input', testid: idOf(`${base}.rotation`) },
      names.map((name) => h('option', { value: name }, name)));
    rotationSelect.value = override.rotation;
    rotationSelect.addEventListener('change', () => { override.rotation = rotationSelect.value; });
    const who = personSelect(`${base}.user_id`, 'Who covers', override.user_id, (v) => { override.user_id = v; });
    return h('fieldset', { class: 'oncall-form__override', testid: idOf(base) },
      h('legend', {}, `Cover ${o + 1}`),
      h('div', { class: 'oncall-form__row' },
        field(`${base}.user_id`, 'Who covers', who),
        field(`${base}.rotation`, 'In rotation', rotationSelect),
        field(`${base}.start`, 'Start (your time)', input(`${base}.start`, { type: 'datetime-local' }, localInput(override.start), (v) => { override.start = instant(v) || v; })),
        field(`${base}.end`, 'End (your time)', input(`${base}.end`, { type: 'datetime-local' }, localInput(override.end), (v) => { override.end = instant(v) || v; }), 'At most 31 days after the start')),
      smallButton('Remove cover', `Remove cover ${o + 1}`, () => { state.overrides.splice(o, 1); render('oc-cover'); }, `${idOf(base)}-remove`),
      groupError(base, who));
  }

  // Adding, removing or moving rows renumbers the paths, so the API's last word no longer applies.
  function render(focusId, keepErrors = false) {
    fields = new Map();
    if (!keepErrors) { errors = new Map(); summary.textContent = ''; }
    const zone = h('select', { id: 'oc-time_zone', class: 'input', testid: 'oc-time_zone' }, zones(state.time_zone).map((z) => h('option', { value: z }, z)));
    zone.value = state.time_zone;
    zone.addEventListener('change', () => { state.time_zone = zone.value; render('oc-time_zone'); });
    const addRotation = h('button', { type: 'button', class: 'btn', id: 'oc-add-rotation', testid: 'oc-add-rotation' }, 'Add a rotation');
    addRotation.addEventListener('click', () => {
      const today = new Date();
      state.rotations.push({
        name: state.rotations.length ? `rotation-${state.rotations.length + 1}` : 'primary',
        members: people.length ? [people[0].id] : [], start: `${localInput(today.toISOString()).slice(0, 10)}T09:00`, turn_days: 7, windows: [],
      });
      render(idOf(`rotations[${state.rotations.length - 1}].name`));
    });
    const cover = h('button', { type: 'button', class: 'btn', id: 'oc-cover', testid: 'oc-cover', disabled: !state.rotations.length }, 'Cover for me');
    cover.addEventListener('click', () => {
      const mine = state.rotations.find((r) => r.members.includes(me.id)) || state.rotations[0];
      const start = new Date(Math.ceil(Date.now() / HOUR) * HOUR);
      state.overrides.push({
        rotation: mine.name, user_id: people.find((p) => p.id !== me.id)?.id || '',
        start: start.toISOString(), end: new Date(start.getTime() + 24 * HOUR).toISOString(),
      });
      render(idOf(`overrides[${state.overrides.length - 1}].user_id`));
    });
    replace(form,
      h('div', { class: 'oncall-form__row' }, field('time_zone', 'Time zone of the rota', zone, 'Turns hand over by this zone\u2019s calendar')),
      groupError('rotations', addRotation),
      state.rotations.map(rotationBlock),
      addRotation,
      h('h3', { class: 'oncall-form__heading' }, 'Covers'),
      h('p', { class: 'muted' }, 'A cover puts someone on call in a rotation from its start to its end, whatever the turns say.'),
      groupError('overrides', cover),
      state.overrides.map(overrideBlock),
      h('div', { class: 'oncall-form__actions' }, cover,
        h('button', { type: 'submit', class: 'btn btn--primary', testid: 'oncall-save' }, 'Save on-call rota')),
      summary);
    for (const [path, text] of errors) show(path, text);
    if (focusId) document.getElementById(focusId)?.focus();
  }

  // The field's own slot when the path (or a parent of it) has one, else the summary.
  function show(path, text) {
    const parent = (p) => { const up = p.replace(/(\.[a-z_]+|\[\d+\])$/, ''); return up === p ? '' : up; };
    let at = path;
    while (at && !fields.has(at)) at = parent(at);
    const slot = at ? fields.get(at) : null;
    if (!slot) {
      summary.textContent = text;
      return null;
    }
    slot.error.textContent = slot.error.textContent ? `${slot.error.textContent} ${text}` : text;
    if (slot.input && !slot.group) slot.input.setAttribute('aria-invalid', 'true');
    return slot.input;
  }

  function checked() {
    const found = new Map();
    state.rotations.forEach((r, i) => {
      const days = Number(r.turn_days);
      if (!Number.isInteger(days) || days < 1 || days > 365) found.set(`rotations[${i}].turn_days`, 'Turn length: enter a whole number of days from 1 to 365.');
      if (!r.start) found.set(`rotations[${i}].start`, 'First turn starts: choose a date and time.');
    });
    state.overrides.forEach((o, i) => {
      if (!instant(o.start)) found.set(`overrides[${i}].start`, 'Start: choose a date and time.');
      if (!instant(o.end)) found.set(`overrides[${i}].end`, 'End: choose a date and time.');
    });
    return found;
  }

  const body = () => ({
    time_zone: state.time_zone,
    rotations: state.rotations.map((r) => ({
      name: r.name, members: r.members.filter(Boolean), start: r.start.slice(0, 16), turn_days: Number(r.turn_days),
      windows: r.windows.map((w) => ({ days: w.days, from: w.from, to: w.to })),
    })),
    overrides: state.overrides.map((o) => ({ rotation: o.rotation, user_id: o.user_id, start: o.start, end: o.end })),
  });

  function fail(found) {
    errors = found;
    render(null, true);
    summary.textContent = summary.textContent || 'The on-call rota was not saved: see the marked fields.';
    const first = [...errors.keys()].map((path) => fields.get(path)?.input).find(Boolean)
      || form.querySelector('[aria-invalid="true"]');
    first?.focus();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    summary.textContent = '';
    const found = checked();
    if (found.size) { fail(found); return; }
    const button = form.querySelector('[data-testid=oncall-save]');
    button.disabled = true;
    try {
      await save(body());
      errors = new Map();
    } catch (failure) {
      const words = new Map();
      for (const { path, text } of fieldErrors(failure, state)) words.set(path || '', words.has(path || '') ? `${words.get(path || '')} ${text}` : text);
      fail(words);
    } finally {
      button.disabled = false;
    }
  });
  render();
  return form;
}

// What a member who may not edit sees: the same rota in sentences.
export function onCallSummary(doc, people) {
  const name = (id) => people.find((p) => p.id === id)?.name || 'a senior no longer listed';
  if (!doc.rotations.length) return h('p', { class: 'empty' }, 'No rotations are set up.');
  return h('div', { class: 'oncall-summary', testid: 'oncall-summary' },
    h('p', { class: 'muted' }, `Times in ${doc.time_zone}. Only owners and admins change the rota.`),
    doc.rotations.map((r, i) => h('section', { class: 'oncall-summary__rotation' },
      h('h3', {}, r.name),
      h('p', {}, `Turns of ${r.turn_days} ${Number(r.turn_days) === 1 ? 'day' : 'days'} from ${r.start.replace('T', ' ')}, in this order: `,
        r.members.map(name).join(', '), '.'),
      r.windows?.length
        ? h('ul', {}, r.windows.map((w, k) => h('li', {}, `${fieldLabel(`rotations[${i}].windows[${k}]`)}: ${w.days.map((d) => d.charAt(0).toUpperCase() + d.slice(1)).join(', ')} ${w.from}\u2013${w.to}`)))
        : h('p', { class: 'muted' }, 'On call for the whole turn.'))),
    doc.overrides.length ? h('h3', {}, 'Covers') : null,
    doc.overrides.length ? h('ul', {}, doc.overrides.map((o) => h('li', {}, `${name(o.user_id)} covers ${o.rotation} from ${localInput(o.start).replace('T', ' ')} to ${localInput(o.end).replace('T', ' ')}`))) : null);
}
