// Small marks more than one view shows: a person's initials and a handoff's urgency.

import { h } from './dom.js';

export function initials(name) {
  return String(name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((part) => part[0].toUpperCase()).join('');
}

export function urgencyPill(urgency) {
  const value = ['low', 'normal', 'high'].includes(urgency) ? urgency : 'normal';
  return h('span', { class: `pill pill--${value}`, testid: 'urgency', 'data-urgency': value, title: `Urgency: ${value}` }, value);
}
