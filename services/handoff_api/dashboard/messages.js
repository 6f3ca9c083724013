// One way to show session messages, used by the snapshot and by the live conversation.

import { h } from './dom.js';
import { formatTime } from './time.js';

const ROLE_LABELS = { engineer: 'Engineer', assistant: 'AI assistant', system: 'System' };
export const OUTCOME_LABELS = { done: 'Done', failed: 'Failed', skipped: 'Skipped' };

export function messageItem(message, testid) {
  const role = ROLE_LABELS[message.role] ? message.role : 'system';
  const isStep = message.kind === 'step';
  return h('li', { class: `msg msg--${role}${isStep ? ' msg--step' : ''}`, testid, 'data-role': role },
    h('div', { class: 'msg__head' },
      h('span', { class: 'msg__role' }, ROLE_LABELS[role]),
      isStep ? h('span', { class: `outcome outcome--${message.step_status || 'none'}` },
        `Step${message.step_status ? `: ${OUTCOME_LABELS[message.step_status] || message.step_status}` : ''}`) : null,
      message.at ? h('time', { class: 'msg__time', datetime: message.at }, formatTime(message.at)) : null),
    h('p', { class: 'msg__content' }, message.content ?? ''));
}
