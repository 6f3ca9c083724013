// The claimer's workspace: the session's live conversation, suggested-step chips and a composer.

import { api, seg } from './api.js';
import { h, replace } from './dom.js';
import { withCode } from './inline.js';
import { messageItem } from './messages.js';
import { toast } from './notify.js';
import { hiddenChips } from './storage.js';

// Who wrote the n-th message of the session: the escalator up to the hand-off, the claimer after it.
function authorAt(index, handoff) {
  const before = Number(handoff.snapshot?.message_count) || 0;
  return index < before ? handoff.created_by : handoff.claimed_by;
}

export function mountConversation(handoff, me) {
  const list = h('ol', { class: 'msgs', testid: 'session-messages', 'aria-label': 'Session conversation' },
    h('li', { class: 'muted' }, 'Loading the conversation…'));
  const composer = h('textarea', {
    id: `composer-${handoff.id}`, class: 'input composer', testid: 'composer', rows: '3', required: true, maxlength: '20000',
    placeholder: 'Write to the session as the engineer now on it…',
  });
  const send = h('button', { type: 'submit', class: 'btn btn--primary', testid: 'composer-send' }, 'Send');
  const chipSlot = h('div');
  const form = h('form', { class: 'composer-form', 'aria-label': 'New message' },
    chipSlot,
    h('label', { class: 'label', for: composer.id }, 'Message'),
    composer,
    h('div', { class: 'composer-form__row' },
      h('span', { class: 'hint' }, 'Ctrl + Enter sends'), send));
  const section = h('section', { class: 'panel', 'aria-labelledby': `conv-${handoff.id}` },
    h('h2', { id: `conv-${handoff.id}` }, 'Conversation'),
    h('p', { class: 'muted' }, 'You picked this up, so the session is yours: it includes anything said since the snapshot.'),
    list, form);

  let current = handoff;
  let chipsShown = false;

  function hideChips() {
    hiddenChips.add(current.id);
    chipsShown = false;
    replace(chipSlot);
  }

  function renderChips() {
    const steps = current.ai_assessment_data?.suggested_steps || [];
    if (chipsShown || hiddenChips.has(current.id) || current.assessment_status !== 'ready' || !steps.length) return;
    chipsShown = true;
    // Each chip shows its whole step, wrapped: steps often share their first words and differ at the end.
    const chips = steps.map((step) => h('button', {
      type: 'button', class: 'chip', testid: 'step-chip',
      onclick: () => {
        // A chip only drafts the message: the engineer still reads and edits it before sending.
        composer.value = step;
        composer.focus();
        composer.setSelectionRange(step.length, step.length);
      },
    }, withCode(step)));
    replace(chipSlot, h('div', { class: 'chips', testid: 'step-chips', role: 'group', 'aria-label': 'Suggested next steps' },
      h('div', { class: 'chips__head' },
        h('span', { class: 'chips__label' }, 'Suggested next steps'),
        h('button', { type: 'button', class: 'chips__close', testid: 'chips-close', 'aria-label': 'Hide suggested steps', onclick: hideChips }, '×')),
      h('div', { class: 'chips__list' }, chips)));
  }

  async function loadSession() {
    try {
      const session = await api.get(`/api/v1/ai-sessions/${seg(current.session_id)}`);
      const messages = session?.messages || [];
      replace(list, messages.length ? messages.map((m, index) => messageItem(m, 'session-message', { author: authorAt(index, current), me }))
        : h('li', { class: 'muted' }, 'No messages yet.'));
    } catch (error) {
      replace(list, h('li', { class: 'muted', role: 'alert' }, `The conversation could not be loaded: ${error.detail}`));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const content = composer.value.trim();
    if (!content || send.disabled) { composer.focus(); return; }
    send.disabled = true;
    send.textContent = 'Sending…';
    try {
      const message = await api.post(`/api/v1/ai-sessions/${seg(current.session_id)}/messages`, { role: 'engineer', content });
      list.querySelector('li.muted')?.remove();
      const item = messageItem(message, 'session-message', { author: { id: me.id, name: me.name }, me });
      list.append(item);
      composer.value = '';
      if (chipsShown) hideChips();
      else hiddenChips.add(current.id);
      item.scrollIntoView({ block: 'nearest' });
    } catch (error) {
      if (error.status !== 401) toast(`Message not sent: ${error.detail}`, 'error');
    } finally {
      send.disabled = false;
      send.textContent = 'Send';
      composer.focus();
    }
  });
  composer.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });

  renderChips();
  loadSession();
  return {
    element: section,
    update(next) { current = next; renderChips(); },
  };
}
