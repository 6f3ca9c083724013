// The policy's escalation steps: who is paged, and how many minutes after the escalation.
// People think in minutes; the API stores seconds (`after_s`), converted only when reading and writing.

import { h, replace } from './dom.js';
import { inWords } from './duration.js';

export const MAX_STEPS = 10;
const MAX_TARGETS = 20;
const LATER = { min: 5, max: 86400 };

const minutes = (seconds) => String(Math.round((Number(seconds) || 0) / 60 * 1000) / 1000);
const sentence = (text) => { const t = text.trim(); return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.'); };
const slug = (target) => target.replace(/[^a-zA-Z0-9_-]+/g, '-');

// What a target is called on screen; `people` maps user ids to names.
export function targetLabel(target, people = new Map()) {
  if (target === 'all_seniors') return 'All seniors';
  if (target.startsWith('rotation:')) return `On call in ${target.slice('rotation:'.length)}`;
  if (target.startsWith('user:')) return people.get(target.slice('user:'.length)) || 'A senior no longer listed';
  return target;
}

// The API's field-named refusal of a step, as { step, part: 'after'|'notify', position, text } or null.
export function stepError(error, targets = [], people = new Map()) {
  const body = error?.body || {};
  const keyed = Array.isArray(body.errors) ? body.errors.find((item) => /steps/.test(String(item?.key || ''))) : null;
  const raw = String(keyed?.message || error?.detail || body.detail || '');
  const path = String(keyed?.key || body.field || / - at `([^`]*)`/.exec(raw)?.[1] || /steps\[\d+\][.\w[\]]*/.exec(raw)?.[0] || '')
    .replace(/^\$\.?/, '');
  const m = /^steps\[(\d+)\](?:\.(after_s|notify)(?:\[(\d+)\])?)?/.exec(path);
  if (!m) return null;
  const step = Number(m[1]);
  const part = m[2] === 'after_s' ? 'after' : 'notify';
  const position = m[3] === undefined ? null : Number(m[3]);
  const problem = raw.replace(/ - at `[^`]*`/, '').replace(/^`?\$?\.?steps\[\d+\][.\w[\]]*`?:?\s*/, '')
    .replace(/between (\d+) and (\d+) seconds/g, (_, low, high) => `between ${inWords(low)} and ${inWords(high)}`)
    .replace(/Expected `int`(?:, got `\w+`)?/g, 'enter a whole number')
    .replace(/Expected `array` of length >= 1/g, 'choose at least one')
    .replace(/Expected `array` of length <= (\d+)/g, 'choose at most $1')
    .replace(/rotation:<name>, user:<id> or all_seniors/g, 'a rotation, a senior or all seniors')
    .replace(/user:<id> with a user id/g, 'a senior of the account')
    .replace(/the account's on-call document/g, 'the on-call rota')
    .replace(/`/g, '');
  const what = part === 'after'
    ? `Step ${step + 1}'s time`
    : position !== null && targets[step]?.[position] ? `${targetLabel(targets[step][position], people)} in step ${step + 1}` : `Who step ${step + 1} notifies`;
  return { step, part, position, text: sentence(`${what} ${problem || 'was not accepted'}`) };
}

// Checkboxes for one step's targets: the rota's rotations, all seniors, then each senior by name.
function targetChoices(index, chosen, options) {
  const offered = [...options.rotations.map((name) => `rotation:${name}`), 'all_seniors', ...options.seniors.map((s) => `user:${s.id}`)];
  // A saved target the lists no longer offer stays visible, so saving never drops it unseen.
  for (const target of chosen) if (!offered.includes(target)) offered.push(target);
  const boxes = offered.map((target) => {
    const id = `step-${index}-notify-${slug(target)}`;
    const input = h('input', { id, type: 'checkbox', value: target, testid: id, checked: chosen.includes(target) });
    return { target, input, element: h('label', { class: 'check', for: id }, input, ' ', targetLabel(target, options.people)) };
  });
  return boxes;
}

function stepBlock(step, index, count, options, onRemove) {
  const afterId = `step-${index}-after`;
  const errorId = `step-${index}-error`;
  const first = index === 0;
  const after = first ? null : h('input', {
    id: afterId, type: 'number', class: 'input step__after', min: '0', step: 'any', inputmode: 'decimal', required: true,
    value: minutes(step.after_s), testid: afterId, 'aria-describedby': `${afterId}-hint ${errorId}`,
  });
  const boxes = targetChoices(index, step.notify || [], options);
  // Not live: the form's alert announces "see step n", and this text is the step's description.
  const error = h('p', { class: 'form-error step__error', id: errorId, testid: errorId });
  const remove = count > 1 ? h('button', { type: 'button', class: 'btn', testid: `step-${index}-remove` }, `Remove step ${index + 1}`) : null;
  remove?.addEventListener('click', onRemove);
  const element = h('fieldset', { class: 'step', testid: `step-${index}`, 'aria-describedby': errorId },
    h('legend', {}, `Step ${index + 1}`),
    first
      ? h('p', { class: 'step__when', testid: afterId }, 'At once, when the escalation is made')
      : h('div', { class: 'field step__when' },
        h('label', { for: afterId }, 'After (minutes)'),
        after,
        h('span', { class: 'field__hint', id: `${afterId}-hint` }, 'Minutes after the escalation, if nobody has picked it up; later than the step before')),
    h('fieldset', { class: 'step__notify', testid: `step-${index}-notify` },
      h('legend', {}, 'Notify'),
      h('div', { class: 'checks' }, boxes.map((box) => box.element))),
    error,
    remove);
  return {
    element, after, boxes, error,
    notify: () => boxes.filter((box) => box.input.checked).map((box) => box.target),
    // Minutes as typed, as seconds; a problem in words, beside this step.
    read(previous) {
      const notify = this.notify();
      let after_s = 0;
      if (!first) {
        const raw = after.value.trim();
        const value = Number(raw);
        if (raw === '' || !Number.isFinite(value)) return { error: `Step ${index + 1}: enter the minutes after the escalation.`, input: after };
        after_s = Math.round(value * 60);
        if (after_s < LATER.min || after_s > LATER.max) {
          return { error: `Step ${index + 1}: must be between ${inWords(LATER.min)} and ${inWords(LATER.max)} after the escalation.`, input: after };
        }
        if (after_s <= previous) return { error: `Step ${index + 1}: must be later than step ${index}.`, input: after };
      }
      if (!notify.length) return { error: `Step ${index + 1}: choose at least one to notify.`, input: boxes[0]?.input };
      if (notify.length > MAX_TARGETS) return { error: `Step ${index + 1}: choose at most ${MAX_TARGETS} to notify.`, input: boxes[0]?.input };
      return { value: { after_s, notify } };
    },
  };
}

// The steps editor. `options`: { rotations: [name], seniors: [{id, name}], people: Map(id → name) }.
export function stepsEditor(initial, offered) {
  let options = offered;
  let steps = (initial && initial.length ? initial : [{ after_s: 0, notify: ['all_seniors'] }]).map((s) => ({ after_s: s.after_s, notify: [...s.notify] }));
  let blocks = [];
  const list = h('div', { class: 'steps', testid: 'steps' });
  const add = h('button', { type: 'button', class: 'btn', testid: 'steps-add' }, 'Add a step');
  const element = h('fieldset', { class: 'steps-editor', testid: 'policy-steps' },
    h('legend', {}, 'Who is paged, and when'),
    list, add);

  // What is on screen now, kept when steps are added or removed.
  function current() {
    return blocks.map((block, index) => ({
      after_s: index === 0 ? 0 : Math.round((Number(block.after.value) || 0) * 60),
      notify: block.notify(),
    }));
  }
  function draw() {
    blocks = steps.map((step, index) => stepBlock(step, index, steps.length, options, () => {
      steps = current().filter((_, i) => i !== index);
      steps[0].after_s = 0;
      draw();
      (blocks[Math.min(index, blocks.length - 1)].after || add).focus();
    }));
    replace(list, blocks.map((block) => block.element));
    add.disabled = steps.length >= MAX_STEPS;
  }
  add.addEventListener('click', () => {
    steps = current();
    const last = steps[steps.length - 1].after_s;
    steps.push({ after_s: Math.min(last + 900, LATER.max), notify: [] });
    draw();
    blocks[blocks.length - 1].after.focus();
  });
  draw();

  return {
    element,
    // New rotations or seniors to choose from; what is on screen stays as it is.
    offer(next) {
      steps = current();
      options = next;
      draw();
    },
    clear() {
      for (const block of blocks) {
        block.error.textContent = '';
        block.after?.removeAttribute('aria-invalid');
        for (const box of block.boxes) box.input.removeAttribute('aria-invalid');
      }
    },
    // { value: [steps] } or { error, input, step } after showing the problem beside its step.
    read() {
      const out = [];
      for (const [index, block] of blocks.entries()) {
        const result = block.read(index ? out[index - 1].after_s : -1);
        if (result.error) {
          block.error.textContent = result.error;
          result.input?.setAttribute('aria-invalid', 'true');
          return { ...result, step: index + 1 };
        }
        out.push(result.value);
      }
      return { value: out };
    },
    // Shows an API refusal beside its step and answers the step's number; 0 when it names no step.
    showApiError(failure) {
      const found = stepError(failure, blocks.map((block) => block.notify()), options.people);
      const block = found && blocks[found.step];
      if (!block) return 0;
      block.error.textContent = found.text;
      const chosen = block.boxes.filter((box) => box.input.checked);
      const input = found.part === 'after' ? block.after : (found.position !== null ? chosen[found.position]?.input : null) || chosen[0]?.input || block.boxes[0]?.input;
      input?.setAttribute('aria-invalid', 'true');
      input?.focus();
      return found.step + 1;
    },
  };
}
