// "My sessions": the caller's own AI sessions, with the junior's actions (escalate, park, resume, withdraw),
// and the escalations another engineer now holds ("Handed off"), each with its timeline.

import { allPages, api, seg } from './api.js';
import { h, replace } from './dom.js';
import { announce, toast } from './notify.js';
import { formatShort, formatTime, timeAgo } from './time.js';

const GROUPS = [
  { status: 'active', title: 'Active', empty: 'No active sessions. Start one below.' },
  { status: 'escalated', title: 'Escalated', empty: 'Nothing escalated right now.' },
  { status: 'parked', title: 'Parked', empty: 'Nothing parked.' },
];
const PAGE_SIZE = '100';

const CHANNELS = { email: 'Email', psa: 'PSA ticket', webhook: 'Webhook', teams: 'Teams', slack: 'Slack' };

const TIMELINE_TEXT = {
  created: (e) => `${e.actor?.name || 'Someone'} escalated it`,
  assessment_ready: () => 'The AI assessment was ready',
  assessment_failed: () => 'The AI assessment failed',
  notified: (e) => {
    const channel = CHANNELS[e.detail?.channel] || e.detail?.channel || 'Notice';
    const sent = Number(e.detail?.sent) || 0;
    const failed = Number(e.detail?.failed) || 0;
    if (!sent && !failed) return `${channel}: nothing sent`;
    return `${channel}: ${sent} sent${failed ? `, ${failed} failed` : ''}`;
  },
  paged: (e) => {
    const names = (e.detail?.users || []).map((u) => u?.user?.name || u?.name).filter(Boolean);
    return names.length ? `Paged ${names.join(', ')}` : 'Seniors were paged';
  },
  step_skipped: () => 'An escalation step was skipped',
  reminder: (e) => (e.detail?.round ? `Reminder ${e.detail.round} went out` : 'A reminder went out'),
  claimed: (e) => `${e.actor?.name || 'Someone'} picked it up${e.detail?.via === 'email_link' ? ' from the email' : ''}`,
  claim_stale: () => 'The pick-up went quiet',
  resumed: (e) => `${e.actor?.name || 'Someone'} resumed it`,
  withdrawn: (e) => `${e.actor?.name || 'Someone'} withdrew it`,
  feedback: (e) => `${e.actor?.name || 'Someone'} rated the assessment`,
};

// Whether the caller has work of their own here (active, waiting or handed off): then they land on this screen.
export async function hasSessionsInFlight() {
  const any = (status) => api.get(`/api/v1/ai-sessions?status=${status}&limit=1`)
    .then((page) => (page?.items || []).length > 0, () => false);
  const answers = await Promise.all(['active', 'escalated', 'handed_off'].map(any));
  return answers.some(Boolean);
}

// Who holds a handed-off session now: the package names them (older services gave only an id).
function holderOf(pkg) {
  const by = pkg?.claimed_by;
  if (by && typeof by === 'object') return by.name || 'another engineer';
  return 'another engineer';
}

export function mountSessions(root, { me, stream }) {
  let sessions = [];
  let handedOff = [];
  let handedOffError = null;
  let loaded = false;
  let disposed = false;
  // Timelines the user opened stay open when the list is redrawn.
  const openTimelines = new Set();
  const timelines = new Map();
  let focusAfter = null;
  // Typed-but-unsent escalation notes survive the list being redrawn.
  const drafts = new Map();
  const groupsEl = h('div', { class: 'groups' }, h('p', { class: 'muted' }, 'Loading your sessions…'));
  const heading = h('h1', { tabindex: '-1', id: 'sessions-heading' }, 'My sessions');
  replace(root, h('section', { class: 'page', testid: 'my-sessions', 'aria-labelledby': 'sessions-heading' },
    h('div', { class: 'page__head' }, heading,
      h('p', { class: 'page__sub' }, 'Sessions you are the engineer of. Stuck? Escalate to your seniors, or park it for later.')),
    h('div', { class: 'sessions-layout' }, h('div', {}, groupsEl), newSessionForm())));

  async function act(button, path, body, done) {
    button.disabled = true;
    try {
      await api.post(path, body);
      toast(done);
      announce(done);
      return true;
    } catch (error) {
      if (error.status !== 401) toast(error.detail, 'error');
      return false;
    } finally {
      if (button.isConnected) button.disabled = false;
      refresh();
    }
  }

  function row(session) {
    const pkg = session.escalation_package || null;
    const handoffId = pkg?.handoff_id || pkg?.id || null;
    const titleId = `session-title-${session.id}`;
    const meta = h('p', { class: 'row__meta' },
      session.ticket_ref ? h('span', {}, 'Ticket ', h('span', { class: 'mono' }, session.ticket_ref)) : null,
      h('span', {}, `${session.message_count ?? 0} message${session.message_count === 1 ? '' : 's'}`),
      h('span', {}, `updated ${timeAgo(session.updated_at)}`),
      handoffId && session.status !== 'active' ? h('a', { href: `#/handoffs/${handoffId}` }, 'View handoff') : null);
    const el = h('li', { class: 'row', testid: 'session-row', 'data-session-id': session.id, 'data-status': session.status },
      h('div', { class: 'row__head' },
        h('h3', { class: 'row__title', id: titleId, tabindex: '-1' }, session.title),
        h('span', { class: `status status--${session.status}` }, session.status)),
      meta);

    if (session.status === 'active') el.append(escalateForm(session, titleId));
    if (session.status === 'parked' && handoffId) {
      const resume = h('button', { type: 'button', class: 'btn', testid: 'resume', 'aria-describedby': titleId }, 'Resume');
      resume.addEventListener('click', () => {
        focusAfter = session.id;
        act(resume, `/api/v1/handoffs/${seg(handoffId)}/resume`, undefined, `Resumed: ${session.title}`);
      });
      el.append(h('div', { class: 'row__actions' }, h('span', { class: 'muted' }, 'Parked privately: only you can see it.'), resume));
    }
    if (session.status === 'escalated' && handoffId) {
      const withdraw = h('button', { type: 'button', class: 'btn btn--danger-ghost', testid: 'withdraw', 'aria-describedby': titleId }, 'Withdraw');
      withdraw.addEventListener('click', () => {
        focusAfter = session.id;
        act(withdraw, `/api/v1/handoffs/${seg(handoffId)}/withdraw`, undefined, `Withdrawn: ${session.title}`);
      });
      const waiting = pkg?.status === 'open' ? 'Waiting for a senior to pick it up' : `Escalation ${pkg?.status || 'open'}`;
      el.append(h('div', { class: 'row__actions' },
        h('span', { class: 'waiting' }, h('span', { class: 'pulse', 'aria-hidden': 'true' }), waiting,
          pkg?.urgency ? ` · ${pkg.urgency} urgency` : ''),
        withdraw));
    }
    return el;
  }

  function escalateForm(session, titleId) {
    const draft = drafts.get(session.id) || { note: '', urgency: 'normal' };
    const noteId = `note-${session.id}`;
    const urgencyId = `urgency-${session.id}`;
    const note = h('textarea', { id: noteId, class: 'input', testid: 'escalate-note', rows: '2', maxlength: '4000',
      placeholder: 'What you tried, what you need from a senior…', value: draft.note });
    const urgency = h('select', { id: urgencyId, class: 'input', testid: 'escalate-urgency' },
      ['low', 'normal', 'high'].map((value) => h('option', { value, selected: value === draft.urgency }, value)));
    urgency.value = draft.urgency;
    const remember = () => drafts.set(session.id, { note: note.value, urgency: urgency.value });
    note.addEventListener('input', remember);
    urgency.addEventListener('change', remember);
    const escalate = h('button', { type: 'submit', class: 'btn btn--primary', testid: 'escalate', 'aria-describedby': titleId }, 'Escalate');
    const park = h('button', { type: 'button', class: 'btn', testid: 'park', 'aria-describedby': titleId }, 'Park');
    const send = async (intent, button) => {
      focusAfter = session.id;
      const ok = await act(button, `/api/v1/ai-sessions/${seg(session.id)}/handoff`,
        { intent, note: note.value.trim(), urgency: urgency.value },
        intent === 'escalate' ? `Escalated to your seniors: ${session.title}` : `Parked: ${session.title}`);
      if (ok) drafts.delete(session.id);
    };
    const form = h('form', { class: 'escalate', 'aria-label': `Escalate or park ${session.title}` },
      h('div', { class: 'field field--grow' }, h('label', { class: 'label', for: noteId }, 'Note for the seniors'), note),
      h('div', { class: 'field' }, h('label', { class: 'label', for: urgencyId }, 'Urgency'), urgency),
      h('div', { class: 'escalate__buttons' }, escalate, park));
    form.addEventListener('submit', (event) => { event.preventDefault(); send('escalate', escalate); });
    park.addEventListener('click', () => send('park', park));
    return form;
  }

  function newSessionForm() {
    const title = h('input', { id: 'new-title', class: 'input', testid: 'new-session-title', required: true, maxlength: '200', autocomplete: 'off' });
    const ticket = h('input', { id: 'new-ticket', class: 'input', testid: 'new-session-ticket', maxlength: '64', autocomplete: 'off' });
    const message = h('textarea', { id: 'new-message', class: 'input', testid: 'new-session-message', rows: '3', maxlength: '20000' });
    const create = h('button', { type: 'submit', class: 'btn btn--primary', testid: 'new-session-create' }, 'Create session');
    const form = h('form', { class: 'panel new-session', 'aria-labelledby': 'new-session-heading' },
      h('h2', { id: 'new-session-heading' }, 'New session'),
      h('div', { class: 'field' }, h('label', { class: 'label', for: 'new-title' }, 'Title ', h('span', { class: 'req' }, '(required)')), title),
      h('div', { class: 'field' }, h('label', { class: 'label', for: 'new-ticket' }, 'Ticket ref ', h('span', { class: 'opt' }, '(optional)')), ticket),
      h('div', { class: 'field' }, h('label', { class: 'label', for: 'new-message' }, 'First message ', h('span', { class: 'opt' }, '(optional)')), message),
      create);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = { title: title.value.trim(), ticket_ref: ticket.value.trim() || null, messages: [] };
      if (!body.title) { title.focus(); toast('Give the session a title.', 'error'); return; }
      if (message.value.trim()) body.messages.push({ role: 'engineer', content: message.value.trim() });
      create.disabled = true;
      try {
        const session = await api.post('/api/v1/ai-sessions', body);
        form.reset();
        focusAfter = session?.id || null;
        toast(`Session created: ${body.title}`);
      } catch (error) {
        if (error.status !== 401) toast(error.detail, 'error');
      } finally {
        create.disabled = false;
        refresh();
      }
    });
    return form;
  }

  function handedOffRow(session) {
    const pkg = session.escalation_package || {};
    const handoffId = pkg.handoff_id || null;
    const titleId = `handed-off-title-${session.id}`;
    const timelineId = `handed-off-timeline-${session.id}`;
    const since = pkg.claimed_at;
    const el = h('li', { class: 'row', testid: 'handed-off-row', 'data-session-id': session.id, 'data-handoff-id': handoffId || '' },
      h('div', { class: 'row__head' },
        h('h3', { class: 'row__title', id: titleId, tabindex: '-1' }, session.title),
        h('span', { class: 'status status--handed-off' }, 'handed off')),
      h('p', { class: 'handed-off__holder' }, 'Held by ', h('strong', { testid: 'holder' }, holderOf(pkg)),
        since ? [' since ', h('time', { testid: 'held-since', datetime: since, title: formatTime(since) }, `${formatTime(since)} (${timeAgo(since)})`)] : null),
      h('p', { class: 'row__meta' },
        session.ticket_ref ? h('span', {}, 'Ticket ', h('span', { class: 'mono' }, session.ticket_ref)) : null,
        pkg.urgency ? h('span', {}, `${pkg.urgency} urgency`) : null,
        pkg.created_at ? h('span', {}, `escalated ${timeAgo(pkg.created_at)}`) : null));
    if (!handoffId) return el;
    const expanded = openTimelines.has(handoffId);
    const toggle = h('button', { type: 'button', class: 'btn btn--small', testid: 'timeline-toggle',
      'aria-expanded': String(expanded), 'aria-controls': timelineId, 'aria-describedby': titleId }, expanded ? 'Hide timeline' : 'Show timeline');
    const slot = h('div', { id: timelineId, class: 'handed-off__timeline', hidden: !expanded });
    toggle.addEventListener('click', () => {
      if (openTimelines.has(handoffId)) openTimelines.delete(handoffId);
      else openTimelines.add(handoffId);
      const open = openTimelines.has(handoffId);
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? 'Hide timeline' : 'Show timeline';
      slot.hidden = !open;
      if (open) loadTimeline(handoffId, slot, session.title);
    });
    el.append(h('div', { class: 'row__actions' },
      h('a', { href: `#/handoffs/${handoffId}`, 'aria-describedby': titleId }, 'View handoff'), toggle), slot);
    if (expanded) loadTimeline(handoffId, slot, session.title);
    return el;
  }

  function drawTimeline(slot, entries, title) {
    replace(slot, entries.length
      ? h('ol', { class: 'timeline', testid: 'handed-off-timeline', 'aria-label': `Timeline of ${title}` }, entries.map((entry) =>
        h('li', { class: `timeline__item timeline__item--${entry.type}`, testid: 'handed-off-timeline-entry', 'data-type': entry.type },
          h('time', { datetime: entry.at, title: formatTime(entry.at) }, formatShort(entry.at)),
          h('span', {}, (TIMELINE_TEXT[entry.type] || (() => entry.type))(entry)))))
      : h('p', { class: 'muted' }, 'Nothing on the timeline yet.'));
  }

  async function loadTimeline(handoffId, slot, title) {
    const known = timelines.get(handoffId);
    if (known) drawTimeline(slot, known, title);
    else replace(slot, h('p', { class: 'muted', role: 'status' }, 'Loading the timeline…'));
    try {
      const entries = await api.get(`/api/v1/handoffs/${seg(handoffId)}/timeline`);
      timelines.set(handoffId, Array.isArray(entries) ? entries : []);
      if (!disposed && slot.isConnected) drawTimeline(slot, timelines.get(handoffId), title);
    } catch (error) {
      if (error.status === 401 || disposed || !slot.isConnected) return;
      replace(slot, h('p', { class: 'form-error', role: 'alert' }, `The timeline could not be loaded: ${error.detail}`));
    }
  }

  function group(id, title, count, body) {
    return h('section', { class: 'group', 'aria-labelledby': `group-${id}`, testid: `group-${id}` },
      h('h2', { class: 'group__title', id: `group-${id}` }, title, h('span', { class: 'count' }, String(count))),
      body);
  }

  function render() {
    const groups = GROUPS.map((spec) => {
      const rows = sessions.filter((session) => session.status === spec.status);
      return group(spec.status, spec.title, rows.length,
        rows.length ? h('ul', { class: 'rows' }, rows.map(row)) : h('p', { class: 'muted group__empty' }, spec.empty));
    });
    let body;
    if (handedOffError) body = h('p', { class: 'muted group__empty' }, `Sessions handed off could not be loaded: ${handedOffError.detail}`);
    else if (handedOff.length) body = h('ul', { class: 'rows' }, handedOff.map(handedOffRow));
    else body = h('p', { class: 'muted group__empty' }, 'None of your escalations is held by someone else.');
    // After "Escalated": a picked-up escalation moves from there to here.
    groups.splice(2, 0, group('handed_off', 'Handed off', handedOff.length, body));
    replace(groupsEl, groups);
    if (focusAfter) {
      // Keep keyboard users on the session they just acted on, wherever it moved to.
      document.getElementById(`session-title-${focusAfter}`)?.focus();
      focusAfter = null;
    }
  }

  let generation = 0;

  async function load() {
    generation += 1;
    const mine = generation;
    const handed = allPages('/api/v1/ai-sessions', { status: 'handed_off', limit: PAGE_SIZE })
      .then((items) => ({ items }), (error) => ({ error }));
    try {
      const own = await allPages('/api/v1/ai-sessions', { status: 'all', limit: PAGE_SIZE });
      const other = await handed;
      // A newer load overtook this one: its answer is fresher.
      if (disposed || mine !== generation) return;
      sessions = own;
      // A session of mine that is mine again (taken back) is listed once, where it is now.
      const ownIds = new Set(own.map((session) => session.id));
      handedOff = (other.items || []).filter((session) => !ownIds.has(session.id));
      handedOffError = other.error && other.error.status !== 401 ? other.error : null;
      loaded = true;
      render();
    } catch (error) {
      if (disposed || mine !== generation || error.status === 401) return;
      replace(groupsEl, h('div', { class: 'empty', role: 'alert' },
        h('p', { class: 'empty__title' }, 'Your sessions could not be loaded.'), h('p', {}, error.detail),
        h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, 'Try again')));
    }
  }

  function refresh() { if (!disposed) load(); }

  // A senior picking up one of my escalations, or an escalation of mine made elsewhere (the MSP app,
  // another tab), changes this list.
  const onEvent = (event) => {
    const id = event.detail?.session_id;
    const handoff = event.detail?.handoff;
    const mine = handoff?.created_by?.id === me.id || handoff?.claimed_by?.id === me.id;
    if (!loaded || mine || sessions.some((s) => s.id === id) || handedOff.some((s) => s.id === id)) refresh();
  };
  stream.addEventListener('event', onEvent);
  load();
  return () => {
    disposed = true;
    stream.removeEventListener('event', onEvent);
  };
}
