// The Team view's on-call part: who is on call now, the next 14 days, and the rota itself
// (a form for owners and admins, sentences for everyone else).

import { api, seg } from './api.js';
import { h, replace } from './dom.js';
import { toast } from './notify.js';
import { onCallForm, onCallSummary } from './oncall-form.js';
import { nextDays, onCallNow } from './oncall-strip.js';
import { accountSeniors } from './people.js';

export function mountOnCall(root, { me, onSaved = () => {} }) {
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

  async function calendar() {
    return Promise.all([api.get(`${base}/now`), api.get(`${base}/shifts`)]);
  }

  function showCalendar(doc, [now, shifts]) {
    replace(nowSlot, onCallNow(now));
    replace(daysSlot, nextDays(doc, shifts));
  }

  // Everyone named on the calendar, for a member who may not read the directory.
  function named([now, shifts]) {
    const users = [...now.rotations.map((r) => r.user), ...shifts.shifts.map((s) => s.user)].filter(Boolean);
    return [...new Map(users.map((u) => [u.id, { id: u.id, name: u.name }])).values()];
  }

  async function load() {
    try {
      const [doc, seniors, shown] = await Promise.all([api.get(base), accountSeniors(me.accountId).catch(() => []), calendar()]);
      if (disposed) return;
      showCalendar(doc, shown);
      if (me.isAdmin) {
        const showForm = (current) => replace(rotaSlot, onCallForm(current, {
          people: seniors, me,
          save: async (body) => {
            const saved = await api.put(base, body);
            toast('On-call rota saved.');
            if (disposed) return;
            onSaved(saved);
            showForm(saved);
            const fresh = await calendar();
            if (!disposed) showCalendar(saved, fresh);
          },
        }));
        showForm(doc);
        if (!seniors.length) rotaSlot.prepend(h('p', { class: 'form-error', role: 'alert' }, 'The list of seniors could not be loaded, so members cannot be chosen.'));
      } else {
        const known = new Set(seniors.map((p) => p.id));
        replace(rotaSlot, onCallSummary(doc, [...seniors, ...named(shown).filter((p) => !known.has(p.id))]));
      }
    } catch (error) {
      if (!disposed && error.status !== 401) {
        replace(nowSlot, h('p', { class: 'empty', role: 'alert' }, `Who is on call could not be loaded: ${error.detail}`));
      }
    }
  }
  load();
  return () => { disposed = true; };
}
