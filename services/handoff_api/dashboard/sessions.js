// "My sessions": the caller's own AI sessions, with the junior's actions (escalate, park, resume, withdraw).

import { api, seg } from './api.js';
import { h, replace } from './dom.js';
import { announce, toast } from './notify.js';
import { timeAgo } from './time.js';

const GROUPS = [
  { status: 'active', title: 'Active', empty: 'No active sessions. Start one below.' },
  { status: 'escalated', title: 'Escalated', empty: 'Nothing escalated right now.' },
  { status: 'parked', title: 'Parked', empty: 'Nothing parked.' },
];

export function mountSessions(root, { stream }) {
  let sessions = [];
  let nextCursor = null;
  let disposed = false;
  let focusAfter = null;
  // Typed-but-unsent escalation notes survive the list being redrawn.
  const drafts = new Map();
  const groupsEl = h('div', { class: 'groups' }, h('p', { class: 'muted' }, 'Loading your sessions…'));
  const more = h('div');
  const heading = h('h1', { tabindex: '-1', id: 'sessions-heading' }, 'My sessions');
  replace(root, h('section', { class: 'page', testid: 'my-sessions', 'aria-labelledby': 'sessions-heading' },
    h('div', { class: 'page__head' }, heading,
      h('p', { class: 'page__sub' }, 'Sessions you are the engineer of. Stuck? Escalate to your seniors, or park it for later.')),
    h('div', { class: 'sessions-layout' }, h('div', {}, groupsEl, more), newSessionForm())));

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

  function render() {
    replace(groupsEl, GROUPS.map((group) => {
      const rows = sessions.filter((session) => session.status === group.status);
      return h('section', { class: 'group', 'aria-labelledby': `group-${group.status}` },
        h('h2', { class: 'group__title', id: `group-${group.status}` }, group.title, h('span', { class: 'count' }, String(rows.length))),
        rows.length ? h('ul', { class: 'rows' }, rows.map(row)) : h('p', { class: 'muted group__empty' }, group.empty));
    }));
    replace(more, nextCursor ? h('button', { type: 'button', class: 'btn', onclick: () => load(true) }, 'Load more') : null);
    if (focusAfter) {
      // Keep keyboard users on the session they just acted on, wherever it moved to.
      document.getElementById(`session-title-${focusAfter}`)?.focus();
      focusAfter = null;
    }
  }

  async function load(append = false) {
    const query = new URLSearchParams({ status: 'all', limit: '100' });
    if (append && nextCursor) query.set('cursor', nextCursor);
    try {
      const page = await api.get(`/api/v1/ai-sessions?${query}`);
      if (disposed) return;
      sessions = append ? [...sessions, ...(page?.items || [])] : (page?.items || []);
      nextCursor = page?.next_cursor || null;
      render();
    } catch (error) {
      if (disposed || error.status === 401) return;
      replace(groupsEl, h('div', { class: 'empty', role: 'alert' },
        h('p', { class: 'empty__title' }, 'Your sessions could not be loaded.'), h('p', {}, error.detail),
        h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, 'Try again')));
    }
  }

  function refresh() { if (!disposed) load(false); }

  // A senior picking up (or the stream replaying) one of my escalations changes this list.
  const onEvent = (event) => { if (sessions.some((s) => s.id === event.detail?.session_id)) refresh(); };
  stream.addEventListener('event', onEvent);
  load();
  return () => {
    disposed = true;
    stream.removeEventListener('event', onEvent);
  };
}
