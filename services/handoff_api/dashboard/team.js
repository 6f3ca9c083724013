// The Team view: who is on call (every member), and for owners and admins the escalation policy form,
// the Teams and Slack destinations, the team's figures and a small chart.

import { api, seg } from './api.js';
import { mountChart } from './chart.js';
import { chatDestinations } from './chat-destinations.js';
import { h, replace } from './dom.js';
import { short } from './duration.js';
import { toast } from './notify.js';
import { mountOnCall } from './oncall.js';
import { accountSeniors } from './people.js';
import { policyForm } from './policy-form.js';

const URGENCIES = ['low', 'normal', 'high'];

export function mountTeam(root, { me }) {
  const account = me.accountId;
  const heading = h('h1', { tabindex: '-1' }, 'Team');
  const policySlot = h('div');
  const figuresSlot = h('div', { testid: 'team-figures', 'aria-live': 'polite' });
  const onCallSlot = h('div', { class: 'oncall', testid: 'oncall' });
  const chat = me.isAdmin ? chatDestinations(me) : null;
  replace(root, h('section', { class: 'page team', testid: 'team' },
    h('div', { class: 'page__head' }, heading, h('p', { class: 'page__sub' }, me.isAdmin
      ? 'Who is on call, how fast the team picks up escalations, when it is reminded, and where escalations are posted.'
      : 'Who is on call, now and over the next 14 days.')),
    onCallSlot,
    me.isAdmin ? [
      h('section', { class: 'panel', 'aria-labelledby': 'policy-heading' }, h('h2', { id: 'policy-heading' }, 'Escalation policy'), policySlot),
      h('section', { class: 'panel', 'aria-labelledby': 'chat-heading', testid: 'chat' }, h('h2', { id: 'chat-heading' }, 'Teams and Slack'), chat.element),
      h('section', { class: 'panel', 'aria-labelledby': 'figures-heading' }, h('h2', { id: 'figures-heading' }, 'Last 7 days'), figuresSlot),
    ] : []));
  let disposed = false;
  let stopChart = () => {};
  let choices = { rotations: [], seniors: [], people: new Map() };
  let form = null;
  // A rota saved above changes which rotations a step may notify; steps being edited are kept.
  const stopOnCall = mountOnCall(onCallSlot, { me, onSaved: (doc) => {
    choices = { ...choices, rotations: (doc.rotations || []).map((r) => r.name) };
    form?.offer(choices);
  } });

  function showPolicy(policy) {
    form = policyForm(policy, async (body) => {
      const saved = await api.put(`/api/v1/accounts/${seg(account)}/escalation-policy`, body);
      toast('Escalation policy saved: it applies from each open escalation\u2019s next reminder on.');
      if (!disposed) showPolicy(saved);
    }, choices);
    replace(policySlot, form.element);
  }

  // What a step may notify: the rota's rotations and the account's active seniors. Either list may be
  // unavailable; the form then offers what it has, and "all seniors" always.
  async function loadChoices() {
    const [rota, seniors] = await Promise.all([
      api.get(`/api/v1/accounts/${seg(account)}/on-call`).catch(() => ({ rotations: [] })),
      accountSeniors(account).catch(() => []),
    ]);
    const people = new Map(seniors.map((s) => [String(s.id), s.name]));
    return { rotations: (rota.rotations || []).map((r) => r.name), seniors, people };
  }

  function figures(stats) {
    const ttc = stats.time_to_claim_s;
    const tile = (label, value, testid) => h('div', { class: 'tile', testid },
      h('span', { class: 'tile__value' }, String(value)), h('span', { class: 'tile__label' }, label));
    // Eight tiles: two even rows of four, or four rows of two on a phone.
    const tiles = h('div', { class: 'tiles', testid: 'team-tiles' },
      tile('Escalations', stats.escalations, 'stat-escalations'),
      tile('Claimed', stats.claimed, 'stat-claimed'),
      tile('Withdrawn', stats.withdrawn, 'stat-withdrawn'),
      tile('Open now', stats.open_now, 'stat-open'),
      tile('Time to claim, median', short(ttc.p50), 'stat-p50'),
      tile('Time to claim, p90', short(ttc.p90), 'stat-p90'),
      tile('Reminders sent', stats.reminders_sent, 'stat-reminders'),
      tile('Assessments rated helpful', `${stats.assessments.helpful} of ${stats.assessments.rated}`, 'stat-helpful'));
    const table = h('table', { class: 'table team-table', testid: 'stat-urgency' },
      h('caption', { class: 'visually-hidden' }, 'Escalations by urgency'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Urgency'), h('th', { scope: 'col', class: 'num' }, 'Escalations'),
        h('th', { scope: 'col', class: 'num' }, 'Claimed'), h('th', { scope: 'col', class: 'num' }, 'Median time to claim'))),
      h('tbody', {}, URGENCIES.map((u) => {
        const row = stats.by_urgency[u];
        return h('tr', {}, h('th', { scope: 'row' }, `${u[0].toUpperCase()}${u.slice(1)}`), h('td', { class: 'num' }, String(row.escalations)),
          h('td', { class: 'num' }, String(row.claimed)), h('td', { class: 'num' }, short(row.time_to_claim_s.p50)));
      })));
    const box = h('figure', { class: 'chart-box', testid: 'chart-box' },
      h('figcaption', {}, h('span', { class: 'legend legend--bar' }, 'Escalations per day'), ' ',
        h('span', { class: 'legend legend--line' }, 'Median time to claim')));
    return { nodes: [tiles, table, box], box };
  }

  async function load() {
    try {
      const [policy, stats, offered] = await Promise.all([
        api.get(`/api/v1/accounts/${seg(account)}/escalation-policy`),
        api.get(`/api/v1/accounts/${seg(account)}/handoff-stats`),
        loadChoices(),
      ]);
      if (disposed) return;
      choices = offered;
      showPolicy(policy);
      const { nodes, box } = figures(stats);
      replace(figuresSlot, nodes);
      stopChart();
      stopChart = mountChart(box, stats.daily || []);
    } catch (error) {
      if (!disposed && error.status !== 401) {
        replace(figuresSlot, h('p', { class: 'empty', role: 'alert' }, `The team's figures could not be loaded: ${error.detail}`));
      }
    }
  }
  // The policy and the figures are for owners and admins only: the API refuses them to everyone else.
  if (me.isAdmin) load();
  return () => { disposed = true; stopChart(); stopOnCall(); chat?.stop(); };
}
