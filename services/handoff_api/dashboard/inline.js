// Text with `code` spans, as people paste it from chat and runbooks: code becomes <code>, the rest stays text.

import { h } from './dom.js';

// One or two backticks open a span and the same run closes it (two let a span hold a single backtick).
const CODE_SPAN = /(``?)(?!`)([^\n]*?[^`\n])\1(?!`)/g;

// Returns nodes for append(); never parses HTML, so a span's content is only ever text.
export function withCode(text) {
  const source = String(text ?? '');
  const out = [];
  let last = 0;
  for (const match of source.matchAll(CODE_SPAN)) {
    const inner = match[2].trim();
    if (!inner) continue;
    if (match.index > last) out.push(source.slice(last, match.index));
    out.push(h('code', { class: 'code' }, inner));
    last = match.index + match[0].length;
  }
  if (last < source.length) out.push(source.slice(last));
  return out;
}

// The same text as a person reads it once the code spans are drawn: no backticks left.
export function plainText(text) {
  return withCode(text).map((part) => (typeof part === 'string' ? part : part.textContent)).join('');
}
