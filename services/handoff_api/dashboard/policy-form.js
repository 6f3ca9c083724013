// The escalation policy form: durations in minutes or hours, checked in words before the API sees them.

import { h } from './dom.js';
import { bestUnit, inWords, UNITS } from './duration.js';
import { stepsEditor } from './policy-steps.js';

const URGENCIES = ['low', 'normal', 'high'];
const REMINDER = { min: 5, max: 86400 };
const STALE = { min: 5, max: 604800 };
const FORM_UNITS = UNITS.slice(0, 3);

// What each field is called on screen, keyed by its path in the API's body.
export const FIELD_LABELS = {
  'unclaimed_reminder_s.low': 'Low urgency reminder',
  'unclaimed_reminder_s.normal': 'Normal urgency reminder',
  'unclaimed_reminder_s.high': 'High urgency reminder',
  unclaimed_reminder_s: 'Reminder intervals',
  max_reminders: 'Reminders at most',
  stale_claim_s: 'Nudge a quiet claimer after',
};

const PATH = /`?\$?\.?((?:unclaimed_reminder_s(?:\.(?:low|normal|high))?)|max_reminders|stale_claim_s)`?/g;

function fieldWords(text) {
  return String(text)
    .replace(PATH, (_, path) => FIELD_LABELS[path] || path)
    .replace(/between (\d+) and (\d+) seconds/g, (_, low, high) => `between ${inWords(low)} and ${inWords(high)}`)
    .replace(/Expected `int`(?:, got `\w+`)?/g, 'enter a whole number')
    .replace(/>= (\d+)/g, 'of $1 or more').replace(/<= (\d+)/g, 'of $1 or less')
    .replace(/`/g, '');
}

const sentence = (text) => { const t = text.trim(); return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.'); };

// An API error as a sentence: field paths become their labels, second counts become durations,
// and a request line ("Validation failed for PUT /api/...") never reaches the screen.
export function errorInWords(error) {
  const items = Array.isArray(error?.body?.errors) ? error.body.errors : [];
  const named = items.filter((item) => item && (item.key || item.message));
  if (named.length) {
    return named.map((item) => sentence(`${fieldWords(item.key || 'A value')}: ${fieldWords(item.message || 'not accepted')}`)).join(' ');
  }
  const detail = String(error?.detail || '');
  if (!detail || /\/api\//.test(detail)) return 'The policy was not accepted: check each value and save again.';
  return sentence(fieldWords(detail));
}

function durationField(name, label, seconds, bounds) {
  const id = `policy-${name}`;
  const unit = bestUnit(seconds, FORM_UNITS);
  const input = h('input', {
    id, name, type: 'number', class: 'input duration__value', min: '0', step: 'any', inputmode: 'decimal',
    value: String(Math.round((Number(seconds) || 0) / unit.seconds * 1000) / 1000), testid: id,
    'aria-describedby': `${id}-hint`, required: true,
  });
  const select = h('select', { id: `${id}-unit`, name: `${name}-unit`, class: 'input duration__unit', testid: `${id}-unit`, 'aria-label': `${label}: unit` },
    FORM_UNITS.map((u) => h('option', { value: String(u.seconds), selected: u === unit }, u.many)));
  select.value = String(unit.seconds);
  // "1 hour", "2 hours": the unit reads with the number in front of it.
  const agree = () => {
    const one = Number(input.value) === 1;
    for (const [index, option] of [...select.options].entries()) option.textContent = one ? FORM_UNITS[index].one : FORM_UNITS[index].many;
  };
  input.addEventListener('input', agree);
  agree();
  return {
    element: h('div', { class: 'field duration' },
      h('label', { for: id }, label),
      h('div', { class: 'duration__inputs' }, input, select),
      h('span', { class: 'field__hint', id: `${id}-hint` }, `0 turns it off; else ${inWords(bounds.min)} to ${inWords(bounds.max)}`)),
    input,
    read() {
      const raw = input.value.trim();
      const value = Number(raw);
      if (raw === '' || !Number.isFinite(value)) return { error: `${label}: enter a number (0 turns it off).` };
      const total = Math.round(value * Number(select.value));
      if (total !== 0 && (total < bounds.min || total > bounds.max)) {
        return { error: `${label}: must be 0 (off) or between ${inWords(bounds.min)} and ${inWords(bounds.max)}.` };
      }
      return { value: total };
    },
  };
}

function countField(name, label, value, bounds) {
  const id = `policy-${name}`;
  const input = h('input', {
    id, name, type: 'number', class: 'input count__value', min: String(bounds.min), max: String(bounds.max), step: '1',
    inputmode: 'numeric', value: String(value), testid: id, 'aria-describedby': `${id}-hint`, required: true,
  });
  return {
    element: h('div', { class: 'field' },
      h('label', { for: id }, label),
      input,
      h('span', { class: 'field__hint', id: `${id}-hint` }, `${bounds.min} to ${bounds.max}`)),
    input,
    read() {
      const number = Number(input.value.trim());
      if (input.value.trim() === '' || !Number.isInteger(number) || number < bounds.min || number > bounds.max) {
        return { error: `${label}: enter a whole number from ${bounds.min} to ${bounds.max}.` };
      }
      return { value: number };
    },
  };
}

// Returns { element, offer(choices) }; `save(body)` resolves when stored and rejects with an ApiError.
// `choices` ({ rotations, seniors, people }) are what a step may notify; `offer` swaps them in place.
export function policyForm(policy, save, choices = { rotations: [], seniors: [], people: new Map() }) {
  const reminders = URGENCIES.map((u) => [u, durationField(u, `${u[0].toUpperCase()}${u.slice(1)} urgency`, policy.unclaimed_reminder_s[u], REMINDER)]);
  const maxReminders = countField('max_reminders', 'Reminders at most', policy.max_reminders, { min: 0, max: 10 });
  const stale = durationField('stale_claim_s', 'Nudge a claimer who goes quiet after', policy.stale_claim_s, STALE);
  const steps = stepsEditor(policy.steps, choices);
  const links = h('input', { id: 'policy-email_pick_up_links', type: 'checkbox', testid: 'policy-email_pick_up_links', checked: policy.email_pick_up_links !== false });
  const error = h('p', { class: 'form-error', testid: 'policy-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'btn btn--primary', testid: 'policy-save' }, 'Save policy');
  const form = h('form', { class: 'policy', testid: 'policy-form', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Remind the team when an escalation waits unclaimed for'),
      h('div', { class: 'policy__row' }, reminders.map(([, field]) => field.element))),
    h('div', { class: 'policy__row' }, maxReminders.element, stale.element),
    steps.element,
    h('div', { class: 'field' }, h('label', { class: 'check', for: 'policy-email_pick_up_links' }, links, ' Put a pick-up link in emails')),
    error,
    button);
  const fields = [...reminders.map(([, field]) => field), maxReminders, stale];

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const field of fields) field.input.removeAttribute('aria-invalid');
    steps.clear();
    const read = fields.map((field) => [field, field.read()]);
    const bad = read.find(([, result]) => result.error);
    if (bad) {
      error.textContent = bad[1].error;
      bad[0].input.setAttribute('aria-invalid', 'true');
      bad[0].input.focus();
      return;
    }
    const chosen = steps.read();
    if (chosen.error) {
      error.textContent = `Not saved: see step ${chosen.step}.`;
      chosen.input?.focus();
      return;
    }
    const value = (field) => read.find(([f]) => f === field)[1].value;
    const body = {
      unclaimed_reminder_s: Object.fromEntries(reminders.map(([u, field]) => [u, value(field)])),
      max_reminders: value(maxReminders),
      stale_claim_s: value(stale),
      steps: chosen.value,
      email_pick_up_links: links.checked,
    };
    button.disabled = true;
    try {
      await save(body);
      error.textContent = '';
    } catch (failure) {
      // A refused step is explained beside it; the alert points there, for those who hear the page.
      const step = steps.showApiError(failure);
      error.textContent = step ? `Not saved: see step ${step}.` : errorInWords(failure);
    } finally {
      button.disabled = false;
    }
  });
  return { element: form, offer: (next) => steps.offer(next) };
}
