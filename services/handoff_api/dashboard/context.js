// A session's context (any JSON the engineer's tools attached) as a list people read, nested or not.

import { h } from './dom.js';
import { withCode } from './inline.js';

// Deeper than this, a value is summarised rather than drawn: context is free-form and may nest without end.
const MAX_DEPTH = 4;

// "os" reads better as "OS" and "client_site" as "Client site".
export function keyLabel(key) {
  const words = String(key).replace(/[_-]+/g, ' ').trim();
  if (!words) return '(no name)';
  if (words.length <= 3 && !/\s/.test(words)) return words.toUpperCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function scalar(value) {
  if (value === null || value === undefined || value === '') return h('span', { class: 'muted' }, 'none');
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return withCode(String(value));
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function valueNodes(value, depth) {
  if (Array.isArray(value)) {
    if (!value.length) return h('span', { class: 'muted' }, 'none');
    if (depth >= MAX_DEPTH) return h('span', { class: 'muted' }, `${value.length} items`);
    return h('ul', { class: 'ctx-list' }, value.map((item) => h('li', {}, valueNodes(item, depth + 1))));
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    if (!entries.length) return h('span', { class: 'muted' }, 'none');
    if (depth >= MAX_DEPTH) return h('span', { class: 'muted' }, `${entries.length} more details`);
    return pairs(entries, depth + 1, 'ctx ctx--nested');
  }
  return scalar(value);
}

function pairs(entries, depth, className) {
  return h('dl', { class: className }, entries.map(([key, value]) => h('div', { class: 'ctx__row' },
    h('dt', {}, keyLabel(key)),
    h('dd', {}, valueNodes(value, depth)))));
}

export function contextList(context) {
  const entries = isPlainObject(context) ? Object.entries(context) : [];
  if (!entries.length) return h('p', { class: 'muted', testid: 'context' }, 'No context was attached.');
  const list = pairs(entries, 0, 'ctx');
  list.dataset.testid = 'context';
  return list;
}
