// A handoff's timeline in words; who was told what comes from the delivery rows, so a skip says why.

import { h } from './dom.js';
import { formatTime } from './time.js';

const WHAT = { email: 'Email notice', psa: 'PSA ticket note', webhook: 'Webhook call', teams: 'Teams post', slack: 'Slack post' };
const CHANNEL = { email: 'email', psa: 'PSA ticket note', webhook: 'webhook', teams: 'Teams', slack: 'Slack' };

// Round 0 is the escalation's own notice, n its n-th reminder, 100 the nudge to a quiet claimer, 200 and 201 a chat
// post's follow-up when the escalation is picked up or withdrawn.
const FOLLOW_UP = { 200: 'Picked-up follow-up', 201: 'Withdrawn follow-up' };

function noticeName(channel, round) {
  if (!round) return WHAT[channel] || `${channel} notice`;
  const kind = FOLLOW_UP[round] || (round >= 100 ? 'Nudge' : `Reminder ${round}`);
  return `${kind} by ${CHANNEL[channel] || channel}`;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function reasons(rows) {
  const unique = [...new Set(rows.map((row) => (row.last_error || '').trim()).filter(Boolean))];
  return unique.length ? unique.join('; ') : 'no reason was recorded';
}

// From this channel's and round's delivery rows when the reader may see them, else from the entry's counts.
export function noticeText(detail, deliveries) {
  const { channel, round } = detail;
  const name = noticeName(channel, round);
  const rows = (deliveries || []).filter((row) => row.channel === channel && Number(row.round) === Number(round));
  const whom = (n) => (channel === 'email' ? plural(n, 'person', 'people') : plural(n, 'destination', 'destinations'));
  if (!rows.length) {
    const sent = Number(detail.sent) || 0;
    const failed = Number(detail.failed) || 0;
    if (!sent && !failed) return `${name}: nothing sent`;
    return `${name}: ${[sent ? `sent to ${whom(sent)}` : '', failed ? `${plural(failed, 'delivery', 'deliveries')} failed` : ''].filter(Boolean).join(', ')}`;
  }
  const by = (status) => rows.filter((row) => row.status === status);
  const [sent, failed, skipped, pending] = ['sent', 'failed', 'skipped', 'pending'].map(by);
  if (skipped.length === rows.length) return `${name} skipped: ${reasons(skipped)}`;
  if (failed.length === rows.length) return `${name} failed: ${reasons(failed)}`;
  const parts = [];
  if (sent.length) parts.push(`sent to ${whom(sent.length)}`);
  if (pending.length) parts.push(`${pending.length} still sending`);
  if (failed.length) parts.push(`${failed.length} failed (${reasons(failed)})`);
  if (skipped.length) parts.push(`${skipped.length} skipped (${reasons(skipped)})`);
  return `${name}: ${parts.join(', ')}`;
}

const names = (users) => (users || []).map((u) => u?.user?.name || u?.name).filter(Boolean).join(', ');

const TEXT = {
  created: (e) => `${e.actor?.name || 'Someone'} ${e.detail?.intent === 'park' ? 'parked' : 'escalated'} it`,
  assessment_ready: () => 'AI assessment ready',
  assessment_failed: () => 'AI assessment failed; the rules engine answered',
  notified: (e, deliveries) => noticeText(e.detail || {}, deliveries),
  reminder: (e) => `Reminder ${e.detail?.round}: still unclaimed`,
  paged: (e) => `Paged ${names(e.detail?.users) || 'nobody new'}`,
  step_skipped: (e) => `Escalation step ${(Number(e.detail?.step) || 0) + 1} skipped: nobody new to page`,
  claimed: (e) => `Picked up by ${e.actor?.name || 'a senior'}${e.detail?.via === 'email_link' ? ' from the email link' : ''}`,
  claim_stale: (e) => `${e.actor?.name || 'The claimer'} was nudged: no new message for a while`,
  resumed: () => 'Resumed by its engineer',
  withdrawn: () => 'Withdrawn by the escalator',
  feedback: (e) => `${e.actor?.name || 'A senior'} rated the assessment ${e.detail?.helpful ? 'helpful' : 'not helpful'}${Number.isInteger(e.detail?.resolved_by_step) ? ` (step ${e.detail.resolved_by_step + 1} fixed it)` : ''}`,
};

// One entry in words; other screens with a timeline can share it.
export function timelineText(entry, deliveries = []) {
  return (TEXT[entry.type] || (() => String(entry.type).replace(/_/g, ' ')))(entry, deliveries);
}

export function timelineBlock(entries, deliveries) {
  return h('section', { class: 'panel', testid: 'timeline', 'aria-labelledby': 'timeline-heading' },
    h('h2', { id: 'timeline-heading' }, 'Timeline'),
    h('ol', { class: 'timeline' }, entries.map((entry) => h('li', { class: `timeline__item timeline__item--${entry.type}`, testid: 'timeline-entry', 'data-type': entry.type },
      h('time', { datetime: entry.at, title: formatTime(entry.at) }, formatTime(entry.at)),
      h('span', {}, timelineText(entry, deliveries))))));
}
