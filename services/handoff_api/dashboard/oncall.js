// The Team view's on-call part: who is on call now, the next 14 days, and the rota itself
// (a form for owners and admins, sentences for everyone else).

import { api, seg } from './api.js';
import { h, replace } from './dom.js';
import { toast } from './notify.js';
import { onCallForm, onCallSummary } from './oncall-form.js';
import { nextDays, onCallNow } from './oncall-strip.js';
import { accountSeniors } from './people.js';

export function mountOnCall(root, { me }) {
  const base = `/api/v1/accounts/${seg(me.accountId)}/on-call`;
  const nowSlot = h('div', { testid: 'oncall-now-slot', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const daysSlot = h('div', { testid: 'oncall-days-slot' });
  const rotaSlot = h('div', { testid: 'oncall-rota-slot' });
  replace(root,
    h('section', { class: 'panel', 'aria-labelledby': 'oncall-now-heading', testid: 'oncall-now-panel' },
      h('h2', { id: 'oncall-now-heading' }, 'On call now'), nowSlot),
    h('section', { class: 'panel', 'aria-labelledby': 'oncall-days-heading' },
      h('h2', { id: 'oncall-days-heading' }, 'The next 14 days'),
      h('p', { class: 'muted' }, 'In your local time. Shaded stretches have no one on call.'), daysSlot),
    h('section', { class: 'panel', 'aria-labelledby': 'oncall-rota-heading' },
      h('h2', { id: 'oncall-rota-heading' }, 'On-call rota'), rotaSlot));
  let disposed = false;

  async function showCalendar(doc) {
    const [now, shifts] = await Promise.all([api.get(`${base}/now`), api.get(`${base}/shifts`)]);
    if (disposed) return;
    replace(nowSlot, onCallNow(now));
    replace(daysSlot, nextDays(doc, shifts));
  }

  async function load() {
    try {
      const [doc, people] = await Promise.all([api.get(base), accountSeniors(me.accountId).catch(() => [])]);
      if (disposed) return;
      if (me.isAdmin) {
        const showForm = (current) => replace(rotaSlot, onCallForm(current, {
          people, me,
          save: async (body) => {
            const saved = await api.put(base, body);
            toast('On-call rota saved.');
            if (disposed) return;
            showForm(saved);
            await showCalendar(saved);
          },
        }));
        showForm(doc);
        if (!people.length) rotaSlot.prepend(h('p', { class: 'form-error', role: 'alert' }, 'The list of seniors could not be loaded, so members cannot be chosen.'));
      } else {
        replace(rotaSlot, onCallSummary(doc, people));
      }
      await showCalendar(doc);
    } catch (error) {
      if (!disposed && error.status !== 401) {
        replace(nowSlot, h('p', { class: 'empty', role: 'alert' }, `Who is on call could not be loaded: ${error.detail}`));
      }
    }
  }
  load();
  return () => { disposed = true; };
}
