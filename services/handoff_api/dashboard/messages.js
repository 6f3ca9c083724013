// One way to show session messages, used by the snapshot and by the live conversation.

import { h } from './dom.js';
import { withCode } from './inline.js';
import { formatTime } from './time.js';

const ROLE_LABELS = { engineer: 'Engineer', assistant: 'AI assistant', system: 'System' };
export const OUTCOME_LABELS = { done: 'Done', failed: 'Failed', skipped: 'Skipped' };

// Messages carry a role, not an author: an engineer's message before the hand-off is the escalator's,
// after the pick-up the claimer's. `author` is {id, name} when known; the reader's own read "You".
export function authorLabel(message, author, me) {
  if (message.role !== 'engineer') return ROLE_LABELS[message.role] || ROLE_LABELS.system;
  if (!author?.name) return ROLE_LABELS.engineer;
  return me && author.id === me.id ? 'You' : author.name;
}

export function messageItem(message, testid, { author = null, me = null } = {}) {
  const role = ROLE_LABELS[message.role] ? message.role : 'system';
  const isStep = message.kind === 'step';
  const label = authorLabel({ ...message, role }, author, me);
  const mine = role === 'engineer' && me && author?.id === me.id;
  return h('li', { class: `msg msg--${role}${isStep ? ' msg--step' : ''}${mine ? ' msg--mine' : ''}`, testid, 'data-role': role },
    h('div', { class: 'msg__head' },
      h('span', { class: 'msg__role', testid: 'msg-author' }, label),
      isStep ? h('span', { class: `outcome outcome--${message.step_status || 'none'}` },
        `Step${message.step_status ? `: ${OUTCOME_LABELS[message.step_status] || message.step_status}` : ''}`) : null,
      message.at ? h('time', { class: 'msg__time', datetime: message.at }, formatTime(message.at)) : null),
    h('p', { class: 'msg__content' }, withCode(message.content ?? '')));
}
