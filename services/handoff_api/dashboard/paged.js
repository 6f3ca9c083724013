// Who the escalation's steps paged, in one line: "Paged: Abe (on call in primary), then Bea (all seniors, step 2)".

import { h } from './dom.js';

// A paging reason as words; `step` is the API's 0-based step index.
export function reasonInWords(reason, step) {
  const text = String(reason || '');
  if (text.startsWith('rotation:')) return `on call in ${text.slice('rotation:'.length)}`;
  if (text.startsWith('override:')) return `covering ${text.slice('override:'.length)}`;
  if (text === 'user') return `named in step ${step + 1}`;
  if (text === 'all_seniors') return 'all seniors';
  if (text === 'fallback') return 'nobody was on call, so everyone';
  return text;
}

// The line's text, or '' when nobody has been paged.
export function pagedInWords(paged) {
  const list = Array.isArray(paged) ? paged.filter((p) => p && p.user) : [];
  if (!list.length) return '';
  const steps = [...new Set(list.map((p) => p.step))].sort((a, b) => a - b);
  const groups = steps.map((step, index) => {
    const people = list.filter((p) => p.step === step).map((p) => {
      const why = reasonInWords(p.reason, p.step);
      // Later steps say which step they were; "named in step n" already does.
      const when = index > 0 && p.reason !== 'user' && p.reason !== 'fallback' ? `, step ${step + 1}` : '';
      return `${p.user.name || 'someone'} (${why}${when})`;
    });
    return people.join(', ');
  });
  return `Paged: ${groups.join(', then ')}`;
}

export function pagedLine(paged) {
  const text = pagedInWords(paged);
  return text ? h('p', { class: 'fact paged', testid: 'paged' }, text) : null;
}
