// The Team view's "Teams and Slack" section (owners and admins): where escalations are posted.
// A webhook URL is a credential: it is typed once, sent once in the PUT, and never shown or kept here after.
// Switches and removals are edits of the whole list, saved together; a test post goes to what is stored.

import { api, seg } from './api.js';
import { h, replace } from './dom.js';
import { toast } from './notify.js';

const MAX_DESTINATIONS = 5;
const MAX_LABEL = 80;
const MAX_URL = 2048;
const VENDOR = { teams: 'Teams', slack: 'Slack' };
const HINT = {
  teams: 'In the Teams channel, open \u22ef \u203a Workflows, choose \u201cPost to a channel when a webhook request is received\u201d, '
    + 'and copy the URL it gives at the end.',
  slack: 'In Slack, create an app at api.slack.com/apps, turn on Incoming Webhooks, add a webhook for the channel, '
    + 'and copy its URL (https://hooks.slack.com/services/\u2026).',
};
const PART = { label: 'Label', url: 'Webhook URL', kind: 'Kind', enabled: 'Post escalations here' };

const sentence = (text) => {
  const t = String(text).trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?\u2026]$/.test(t) ? '' : '.');
};

function plain(message) {
  return String(message)
    .replace(/Expected `str` of length >= 1/g, 'must not be empty')
    .replace(/Expected `str` of length <= (\d+)/g, 'must be $1 characters or fewer')
    .replace(/Expected `array` of length <= (\d+)/g, `at most $1 destinations`)
    .replace(/Invalid enum value .*/g, 'choose Teams or Slack')
    .replace(/Expected `bool`.*/g, 'must be on or off')
    .replace(/Object missing required field `(\w+)`/g, (_, name) => `${PART[name] || name} is required`)
    .replace(/`/g, '');
}

// The API's refusal of a PUT as { index, part, text }: which entry of the list and which of its fields, in words.
// `index` and `part` are null when the refusal names no entry.
export function chatFieldError(error) {
  const body = error?.body || {};
  const item = Array.isArray(body.errors) ? body.errors.find((e) => e && e.key) : null;
  const field = String(body.field || item?.key || '').replace(/^\$\.?/, '');
  const m = /^destinations\[(\d+)\](?:\.(\w+))?/.exec(field);
  let problem = item?.message ? plain(item.message) : String(error?.detail || body.detail || '');
  if (field && problem.startsWith(field)) problem = problem.slice(field.length).trim();
  if (/^is needed: no \w+ destination/.test(problem)) {
    return { index: m ? Number(m[1]) : null, part: null, text: 'This destination is no longer stored (the list was changed elsewhere): remove it, then add it again with its URL.' };
  }
  if (body.code === 'unsafe_target') {
    const reason = /is not a safe target: (.*)$/.exec(problem)?.[1] || problem;
    problem = `is not an address the service will post to: ${reason}. Paste the https URL that Teams or Slack gave you`;
  }
  if (!m) {
    // A request line ("Validation failed for PUT /api/...") is no help to a person.
    const text = /\/api\//.test(problem) ? 'The list was not saved: check each destination and save again.' : sentence(problem || 'The list was not saved.');
    return { index: null, part: null, text: field === 'destinations' ? sentence(`Not saved: ${problem}`) : text };
  }
  const part = m[2] || null;
  return { index: Number(m[1]), part, text: sentence(`${part ? PART[part] || part : 'This destination'} ${problem}`) };
}

// A test post's answer in words; the far end's status always shown, Teams' 202 explained.
export function testResultWords(result) {
  const vendor = VENDOR[result.kind] || 'The service';
  const status = result.http_status;
  if (result.sent) {
    return result.kind === 'teams'
      ? `Teams accepted it (HTTP ${status}). Teams posts after answering, so look in the channel.`
      : `${vendor} posted it (HTTP ${status}).`;
  }
  if (status) {
    let advice = '';
    if ([401, 403, 404, 410].includes(status)) advice = ' The URL may have been deleted or changed: remove this destination and add it again with a new URL.';
    else if (status === 429) advice = ` ${vendor} asks for fewer posts just now: try again in a minute.`;
    else if (status >= 500) advice = ` ${vendor} had a problem of its own: try again later.`;
    return `Not posted: ${vendor} answered HTTP ${status}.${advice}`;
  }
  const reason = String(result.detail || '').replace(/^(teams|slack): /, '');
  if (/unsafe target/.test(reason)) return 'Not posted: the stored URL is not an address the service will post to.';
  if (/timed out/.test(reason)) return `Not posted: ${vendor} did not answer in time.`;
  if (/^post failed/.test(reason)) return `Not posted: ${vendor} could not be reached.`;
  return sentence(`Not posted: ${reason || 'no answer came'}`);
}

// The section's body; `stop()` ends what it started.
export function chatDestinations(me) {
  const base = `/api/v1/accounts/${seg(me.accountId)}/chat`;
  const element = h('div', { class: 'chat', testid: 'chat-slot' }, h('p', { class: 'muted' }, 'Loading\u2026'));
  let disposed = false;
  let rows = []; // { kind, label, host, enabled, savedEnabled, removed }
  const results = new Map(); // label -> { text, state }: a test post's answer, kept across a re-render
  let slots = new Map(); // index in `rows` -> { error }: where the API's word on that destination is shown
  let resultLines = new Map(); // label -> the line showing its test post's answer, as last drawn

  const kind = h('select', { id: 'chat-new-kind', class: 'input', testid: 'chat-new-kind', 'aria-describedby': 'chat-new-kind-error' },
    h('option', { value: 'teams' }, 'Microsoft Teams'), h('option', { value: 'slack' }, 'Slack'));
  const label = h('input', {
    id: 'chat-new-label', class: 'input', testid: 'chat-new-label', maxlength: String(MAX_LABEL), autocomplete: 'off',
    'aria-describedby': 'chat-new-label-hint chat-new-label-error',
  });
  // A credential: masked like a password, never offered by autofill, never filled back in.
  const url = h('input', {
    id: 'chat-new-url', class: 'input', testid: 'chat-new-url', type: 'password', autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', maxlength: String(MAX_URL), 'aria-describedby': 'chat-new-url-hint chat-new-url-error',
  });
  const urlHint = h('span', { class: 'field__hint', id: 'chat-new-url-hint', testid: 'chat-new-url-hint' });
  const fieldError = (id) => h('span', { class: 'field__error', id: `${id}-error`, testid: `${id}-error` });
  const addErrors = { kind: fieldError('chat-new-kind'), label: fieldError('chat-new-label'), url: fieldError('chat-new-url') };
  const addInputs = { kind, label, url };
  const full = h('p', { class: 'muted', testid: 'chat-full', hidden: true }, `${MAX_DESTINATIONS} destinations at most: remove one to add another.`);
  const adding = h('fieldset', { class: 'chat-add', testid: 'chat-add' },
    h('legend', {}, 'Add a destination'),
    full,
    h('div', { class: 'chat-add__row' },
      h('div', { class: 'field' }, h('label', { for: 'chat-new-kind' }, 'Kind'), kind, addErrors.kind),
      h('div', { class: 'field' }, h('label', { for: 'chat-new-label' }, 'Label'), label, addErrors.label,
        h('span', { class: 'field__hint', id: 'chat-new-label-hint' }, 'The channel\u2019s name as your team knows it, such as Service desk'))),
    // Each refusal sits right under its input, above the hint.
    h('div', { class: 'field' }, h('label', { for: 'chat-new-url' }, 'Webhook URL'), url, addErrors.url, urlHint));
  const list = h('div', { testid: 'chat-list' });
  const unsaved = h('p', { class: 'chat__unsaved', testid: 'chat-unsaved', hidden: true }, 'Changes not saved yet.');
  const summary = h('p', { class: 'form-error', testid: 'chat-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'btn btn--primary', testid: 'chat-save' }, 'Save destinations');
  const form = h('form', { class: 'chat-form', testid: 'chat-form', novalidate: true },
    h('p', { class: 'muted' }, 'Each enabled destination gets a post when an escalation is made, at each reminder, and when it is picked up or withdrawn.'),
    list, adding, summary, h('div', { class: 'chat__actions' }, save, unsaved));

  const showHint = () => { urlHint.textContent = HINT[kind.value]; };
  kind.addEventListener('change', showHint);
  showHint();

  const kept = () => rows.filter((row) => !row.removed);
  const typing = () => Boolean(label.value.trim() || url.value.trim());
  function refresh() {
    const changed = rows.some((row) => row.removed || row.enabled !== row.savedEnabled) || typing();
    unsaved.hidden = !changed;
    const room = kept().length < MAX_DESTINATIONS;
    full.hidden = room;
    for (const input of Object.values(addInputs)) input.disabled = !room;
  }
  label.addEventListener('input', refresh);
  url.addEventListener('input', refresh);

  function resultLine(row) {
    const shown = results.get(row.label);
    const line = h('p', { class: 'chat-dest__result', role: 'status', testid: 'chat-dest-result', 'data-state': shown?.state || 'none' }, shown?.text || '');
    resultLines.set(row.label, line);
    return line;
  }

  function destination(row, index) {
    const id = `chat-${index}`;
    const title = `${VENDOR[row.kind]}: ${row.label}`;
    const enabled = h('input', { id: `${id}-enabled`, type: 'checkbox', role: 'switch', class: 'switch', testid: 'chat-dest-enabled', checked: row.enabled, disabled: row.removed });
    enabled.addEventListener('change', () => { row.enabled = enabled.checked; refresh(); });
    const result = resultLine(row);
    const test = h('button', { type: 'button', class: 'btn btn--small', testid: 'chat-dest-test', disabled: row.removed, 'aria-describedby': `${id}-title` }, 'Send a test post');
    test.addEventListener('click', async () => {
      test.disabled = true;
      const sending = { text: `Sending a test post to ${row.label}\u2026`, state: 'pending' };
      results.set(row.label, sending);
      result.dataset.state = sending.state;
      result.textContent = sending.text;
      let shown;
      try {
        const answer = await api.post(`${base}/test`, { label: row.label });
        shown = { text: testResultWords(answer), state: answer.sent ? 'sent' : 'failed' };
      } catch (error) {
        if (error.status === 401) { results.delete(row.label); return; }
        shown = { text: sentence(`The test post was not sent: ${error.status === 404 ? 'this destination is no longer stored; reload the page' : error.detail}`), state: 'failed' };
      } finally {
        test.disabled = row.removed;
      }
      results.set(row.label, shown);
      // The list may have been drawn again while the post was under way: show it on the line as it is now.
      const line = resultLines.get(row.label) || result;
      line.dataset.state = shown.state;
      line.textContent = shown.text;
    });
    const remove = h('button', {
      type: 'button', id: `${id}-remove`, class: `btn btn--small${row.removed ? '' : ' btn--danger-ghost'}`, testid: 'chat-dest-remove', 'aria-describedby': `${id}-title`,
    }, row.removed ? 'Keep' : 'Remove');
    remove.addEventListener('click', () => {
      row.removed = !row.removed;
      render(`${id}-remove`);
    });
    const error = h('span', { class: 'field__error', testid: 'chat-dest-error', id: `${id}-error` });
    slots.set(index, { error });
    return h('li', { class: `chat-dest${row.removed ? ' chat-dest--removed' : ''}`, testid: 'chat-dest', 'data-kind': row.kind },
      h('div', { class: 'chat-dest__head' },
        // The heading names the kind for those who hear the page; the tag shows it.
        h('span', { class: `tag chat-tag chat-tag--${row.kind}`, testid: 'chat-dest-kind', 'aria-hidden': 'true' }, VENDOR[row.kind]),
        h('h3', { class: 'chat-dest__label', id: `${id}-title`, testid: 'chat-dest-label' }, h('span', { class: 'visually-hidden' }, `${VENDOR[row.kind]}: `), row.label),
        h('span', { class: 'chat-dest__host', testid: 'chat-dest-host' }, `posts to ${row.host}`)),
      row.removed ? h('p', { class: 'chat-dest__note', testid: 'chat-dest-removed' }, `${title} is removed when you save.`) : null,
      h('div', { class: 'chat-dest__controls' },
        h('label', { class: 'check switch-label', for: `${id}-enabled` }, enabled, ' Post escalations here'),
        test, remove),
      result, error);
  }

  // Rebuilds the list from `rows`; the add form and its inputs stay as they are.
  function render(focusId = null) {
    slots = new Map();
    resultLines = new Map();
    const live = rows.map((row, index) => destination(row, index));
    replace(list, rows.length
      ? h('ul', { class: 'chat-list' }, live)
      : h('p', { class: 'empty chat-empty', testid: 'chat-empty' }, 'No destinations yet: add a Teams or Slack channel below.'));
    refresh();
    if (focusId) document.getElementById(focusId)?.focus();
  }

  function clearErrors() {
    summary.textContent = '';
    for (const [part, slot] of Object.entries(addErrors)) { slot.textContent = ''; addInputs[part].removeAttribute('aria-invalid'); }
    for (const slot of slots.values()) slot.error.textContent = '';
  }

  // One refusal beside what it names: an entry of the list, or a field of the add form; the alert says where.
  function showError(index, part, text, keptCount) {
    if (index !== null && index >= keptCount && addErrors[part || 'url']) {
      const which = addErrors[part] ? part : 'url';
      addErrors[which].textContent = text;
      addInputs[which].setAttribute('aria-invalid', 'true');
      summary.textContent = 'Not saved: see the new destination.';
      addInputs[which].focus();
      return;
    }
    const row = index === null ? null : kept()[index];
    const at = row ? rows.indexOf(row) : -1;
    if (at < 0) { summary.textContent = text; return; }
    slots.get(at).error.textContent = text;
    summary.textContent = `Not saved: see ${VENDOR[row.kind]} ${row.label}.`;
    document.getElementById(`chat-${at}-enabled`)?.focus();
  }

  // What the form can tell before the API does.
  function checkNew(entries) {
    const name = label.value.trim();
    if (!name) return ['label', 'Label: give the destination a name.'];
    if (name.length > MAX_LABEL) return ['label', `Label: ${MAX_LABEL} characters at most.`];
    if (entries.some((entry) => entry.label.toLowerCase() === name.toLowerCase())) return ['label', 'Label: another destination has this label already.'];
    const address = url.value.trim();
    if (!address) return ['url', `Webhook URL: paste the URL ${VENDOR[kind.value]} gave you.`];
    if (!/^https?:\/\//i.test(address)) return ['url', 'Webhook URL: paste the whole URL, from https:// on.'];
    return null;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    const entries = kept().map((row) => ({ kind: row.kind, label: row.label, enabled: row.enabled }));
    const keptCount = entries.length;
    if (typing()) {
      const bad = checkNew(entries);
      if (bad) { showError(keptCount, bad[0], bad[1], keptCount); return; }
      entries.push({ kind: kind.value, label: label.value.trim(), url: url.value.trim(), enabled: true });
    }
    save.disabled = true;
    try {
      const stored = await api.put(base, { destinations: entries });
      if (disposed) return;
      label.value = '';
      url.value = '';
      show(stored);
      toast('Teams and Slack destinations saved.');
    } catch (failure) {
      if (disposed || failure.status === 401) return;
      const { index, part, text } = chatFieldError(failure);
      showError(index, part, text, keptCount);
    } finally {
      save.disabled = false;
    }
  });

  function show(doc) {
    rows = (doc.destinations || []).map((d) => ({ ...d, savedEnabled: d.enabled, removed: false }));
    for (const name of [...results.keys()]) if (!rows.some((row) => row.label === name)) results.delete(name);
    render();
  }

  (async () => {
    try {
      const doc = await api.get(base);
      if (disposed) return;
      replace(element, form);
      show(doc);
    } catch (error) {
      if (!disposed && error.status !== 401) {
        replace(element, h('p', { class: 'empty', role: 'alert' }, `The Teams and Slack destinations could not be loaded: ${error.detail}`));
      }
    }
  })();
  return { element, stop: () => { disposed = true; } };
}
