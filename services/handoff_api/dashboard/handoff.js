// The handoff screen: the escalation's snapshot and AI assessment, and the claimer's workspace once picked up.

import { api, seg } from './api.js';
import { urgencyPill } from './badges.js';
import { pickUp } from './claim.js';
import { mountConversation } from './conversation.js';
import { contextList } from './context.js';
import { h, replace } from './dom.js';
import { withCode } from './inline.js';
import { messageItem, OUTCOME_LABELS } from './messages.js';
import { announce, setPageTitle, toast } from './notify.js';
import { pagedLine } from './paged.js';
import { seenEscalations } from './storage.js';
import { formatTime, timeAgo } from './time.js';
import { timelineBlock } from './timeline.js';

// Without a live stream (viewers, or while reconnecting) a pending assessment is polled instead.
const PENDING_POLL_MS = 5000;
const RISK_LABELS = { low: 'low', medium: 'medium', high: 'high' };

function section(title, ...body) {
  const id = `sec-${Math.random().toString(36).slice(2, 9)}`;
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

function stepsTried(steps) {
  if (!steps?.length) return h('p', { class: 'muted', testid: 'steps-tried' }, 'No steps were recorded.');
  return h('ol', { class: 'steps', testid: 'steps-tried' }, steps.map((step) => {
    const outcome = step.step_status || 'none';
    return h('li', { class: `step step--${outcome}`, testid: 'step-tried', 'data-outcome': outcome },
      h('span', { class: `outcome outcome--${outcome}` }, OUTCOME_LABELS[outcome] || 'No outcome'),
      h('span', { class: 'step__text' }, withCode(step.content)));
  }));
}

function feedbackBlock(handoff, me, save) {
  const mine = (handoff.assessment_feedback || []).find((f) => f.user?.id === me.id) || null;
  const choice = (helpful, label) => h('button', {
    type: 'button', class: `btn btn--small${mine && mine.helpful === helpful ? ' btn--chosen' : ''}`,
    testid: helpful ? 'feedback-helpful' : 'feedback-unhelpful', 'aria-pressed': mine && mine.helpful === helpful ? 'true' : 'false',
    onclick: () => save({ helpful, resolved_by_step: helpful ? (mine?.resolved_by_step ?? null) : null }),
  }, label);
  return h('section', { class: 'panel feedback', testid: 'feedback', 'aria-labelledby': 'feedback-heading' },
    h('h2', { id: 'feedback-heading' }, 'Was the assessment helpful?'),
    h('div', { class: 'feedback__choices' }, choice(true, 'Helpful'), choice(false, 'Not helpful')),
    h('p', { class: 'muted', testid: 'feedback-state' }, mine
      ? `You said ${mine.helpful ? 'helpful' : 'not helpful'}${mine.resolved_by_step !== null ? `; step ${mine.resolved_by_step + 1} fixed it` : ''}.`
      : 'Tell us, and mark the suggested step that fixed it: the next assessment of this kind ranks it higher.'));
}

function assessmentBlock(handoff, fixedIt = null) {
  const status = handoff.assessment_status || 'not_requested';
  const data = handoff.ai_assessment_data;
  const block = h('section', { class: 'panel assessment', testid: 'assessment', 'data-status': status, 'aria-labelledby': 'assessment-heading', 'aria-busy': status === 'pending' ? 'true' : 'false' },
    h('h2', { id: 'assessment-heading' }, 'AI assessment'));
  if (status === 'pending') {
    block.append(h('p', { class: 'pending', testid: 'assessment-pending' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Assessment in progress…'));
    return block;
  }
  if (status !== 'ready' || !data) {
    block.append(h('p', { class: 'muted' }, status === 'failed'
      ? 'The AI assessment could not be produced. Work from the note and the snapshot.'
      : 'No AI assessment was requested for this handoff.'));
    return block;
  }
  const risk = RISK_LABELS[data.risk] ? data.risk : 'medium';
  block.append(
    h('p', { class: 'assessment__summary', testid: 'assessment-summary' }, withCode(data.summary || '')),
    h('h3', {}, 'Likely causes'),
    h('ol', { class: 'causes' }, (data.likely_causes || []).map((item) => {
      const pct = Math.round(Math.min(1, Math.max(0, Number(item.confidence) || 0)) * 100);
      const bar = h('span', { class: 'cause__bar', 'aria-hidden': 'true' }, h('span', { class: 'cause__fill' }));
      bar.firstChild.style.width = `${pct}%`;
      return h('li', { class: 'cause', testid: 'likely-cause', 'data-confidence': String(pct) },
        h('span', { class: 'cause__text' }, withCode(item.cause)),
        h('span', { class: 'cause__pct', title: 'Confidence' }, `${pct}%`), bar);
    })),
    h('h3', {}, 'Suggested steps'),
    h('ol', { class: 'suggested', testid: 'suggested-steps' }, (data.suggested_steps || []).map((step, index) => h('li', { testid: 'suggested-step' }, h('span', { class: 'suggested__text' }, withCode(step)),
      fixedIt ? h('button', {
        type: 'button', class: `btn btn--ghost btn--small fixed-it${fixedIt.chosen === index ? ' btn--chosen' : ''}`, testid: 'step-fixed-it',
        'aria-pressed': fixedIt.chosen === index ? 'true' : 'false', onclick: () => fixedIt.save(index),
      }, fixedIt.chosen === index ? 'Fixed it ✓' : 'This step fixed it') : null))),
    h('h3', {}, 'Missing information'),
    h('ul', { class: 'missing', testid: 'missing-info' }, (data.missing_info || []).length
      ? data.missing_info.map((item) => h('li', {}, withCode(item))) : h('li', { class: 'muted' }, 'Nothing flagged.')),
    h('dl', { class: 'kv kv--inline' },
      h('dt', {}, 'Risk'), h('dd', {}, h('span', { class: `pill pill--risk-${risk}`, testid: 'risk', 'data-risk': risk }, risk))),
    h('p', { class: 'assessment__by', testid: 'assessment-provider' },
      `By ${data.provider || 'unknown provider'}${data.model ? ` · ${data.model}` : ''}${data.generated_at ? ` · ${formatTime(data.generated_at)}` : ''}`),
  );
  return block;
}

export function mountHandoff(root, id, { me, stream, queue, navigate }) {
  const screen = h('section', { class: 'page handoff', testid: 'handoff-screen', 'data-handoff-id': id, 'aria-busy': 'true' },
    h('p', { class: 'muted' }, 'Loading the handoff…'));
  replace(root, screen);
  seenEscalations.add(id);

  let handoff = null;
  let disposed = false;
  let conversation = null;
  let pollTimer = null;
  const headSlot = h('div');
  const assessmentSlot = h('div');
  const feedbackSlot = h('div');
  const timelineSlot = h('div');
  // The assessment comes first in reading order, so a phone shows it right under the header;
  // wide screens place it in the right-hand column (style.css).
  const sideSlot = h('div', { class: 'handoff__side' }, assessmentSlot, feedbackSlot);
  timelineSlot.className = 'handoff__timeline';
  let timeline = [];
  let deliveries = [];
  const conversationSlot = h('div');

  function headBlock() {
    const mineToClaim = handoff.status === 'open' && handoff.intent === 'escalate' && handoff.created_by?.id !== me.id && me.isSenior;
    const pick = mineToClaim ? h('button', { type: 'button', class: 'btn btn--primary', testid: 'pick-up' }, 'Pick up') : null;
    pick?.addEventListener('click', async () => {
      const claimed = await pickUp(id, pick, queue);
      if (disposed) return;
      if (claimed) { handoff = claimed; render(); }
      load();
    });
    let ownership = null;
    if (handoff.claimed_by) {
      const mine = handoff.claimed_by.id === me.id;
      ownership = h('p', { class: `banner${mine ? ' banner--mine' : ''}` },
        mine ? 'You picked this up' : `Picked up by ${handoff.claimed_by.name}`,
        handoff.claimed_at ? ` ${timeAgo(handoff.claimed_at)}.` : '.');
    } else if (handoff.status === 'withdrawn') {
      ownership = h('p', { class: 'banner' }, 'The escalator withdrew this escalation.');
    } else if (handoff.created_by?.id === me.id && handoff.status === 'open') {
      ownership = h('p', { class: 'banner' }, handoff.intent === 'park' ? 'Parked privately: only you can see it.' : 'You escalated this: waiting for a senior to pick it up.');
    }
    return h('header', { class: 'handoff__head' },
      h('a', { class: 'back', href: '#/queue' }, '← Escalation queue'),
      h('div', { class: 'handoff__titlebar' },
        h('h1', { tabindex: '-1' }, handoff.snapshot?.title || 'Untitled session'),
        pick),
      h('div', { class: 'handoff__facts' },
        urgencyPill(handoff.urgency),
        h('span', { class: `status status--${handoff.status}`, testid: 'handoff-status', 'data-status': handoff.status }, handoff.status),
        h('span', { class: 'fact' }, 'Ticket ', h('span', { class: 'mono', testid: 'ticket-ref' }, handoff.snapshot?.ticket_ref || '—')),
        h('span', { class: 'fact' }, `${handoff.intent === 'park' ? 'Parked' : 'Escalated'} by `,
          h('strong', { testid: 'escalator' }, handoff.created_by?.name || 'someone')),
        h('time', { class: 'fact', datetime: handoff.created_at, title: formatTime(handoff.created_at) },
          `${formatTime(handoff.created_at)} (${timeAgo(handoff.created_at)})`)),
      pagedLine(handoff.paged),
      ownership);
  }

  let snapshotBuilt = null;
  let snapshotConversation = null;
  function snapshotBlock() {
    // The snapshot never changes after the escalation, so it is built once and kept.
    if (snapshotBuilt) return snapshotBuilt;
    const snap = handoff.snapshot || {};
    const messages = snap.messages || [];
    snapshotBuilt = h('div', { class: 'handoff__main' },
      section('Note from the escalator',
        h('p', { class: `note${handoff.note ? '' : ' muted'}`, testid: 'note' }, handoff.note ? withCode(handoff.note) : 'No note was left.')),
      // The claimer's workspace sits high up: it is what they came here to do.
      conversationSlot,
      section('Context', contextList(snap.context)),
      section('Steps tried', stepsTried(snap.steps_tried)),
      snapshotConversation = section(`Conversation at ${handoff.intent === 'park' ? 'parking' : 'escalation'}`,
        snap.message_count > messages.length ? h('p', { class: 'muted' }, `Showing the last ${messages.length} of ${snap.message_count} messages.`) : null,
        messages.length ? h('ol', { class: 'msgs', testid: 'snapshot-messages' },
          messages.map((m) => messageItem(m, 'snapshot-message', { author: handoff.created_by, me })))
          : h('p', { class: 'muted', testid: 'snapshot-messages' }, 'No messages.')));
    return snapshotBuilt;
  }

  function render() {
    if (disposed || !handoff) return;
    setPageTitle(handoff.snapshot?.title || 'Handoff');
    const first = !screen.contains(headSlot);
    replace(headSlot, headBlock());
    const rates = handoff.status === 'claimed' && handoff.claimed_by?.id === me.id && handoff.assessment_status !== 'pending' && handoff.ai_assessment_data;
    const mineRated = (handoff.assessment_feedback || []).find((f) => f.user?.id === me.id);
    const fixedIt = rates ? { chosen: mineRated?.resolved_by_step ?? null, save: (index) => saveFeedback({ helpful: true, resolved_by_step: index }) } : null;
    replace(assessmentSlot, assessmentBlock(handoff, fixedIt));
    replace(feedbackSlot, rates ? feedbackBlock(handoff, me, saveFeedback) : null);
    replace(timelineSlot, timeline.length ? timelineBlock(timeline, deliveries) : null);
    if (first) {
      replace(screen, headSlot, h('div', { class: 'handoff__grid' }, sideSlot, snapshotBlock(), timelineSlot));
      screen.setAttribute('aria-busy', 'false');
    }
    const mine = handoff.status === 'claimed' && handoff.claimed_by?.id === me.id;
    if (mine && !conversation) {
      conversation = mountConversation(handoff, me);
      replace(conversationSlot, conversation.element);
      // The live conversation holds every message of the snapshot: showing both would show each twice.
      snapshotConversation?.remove();
    } else if (conversation) {
      conversation.update(handoff);
    }
    schedulePoll();
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (handoff?.assessment_status !== 'pending') return;
    pollTimer = setTimeout(() => { if (stream.state !== 'live') load(); else schedulePoll(); }, PENDING_POLL_MS);
  }

  async function saveFeedback(body) {
    const mine = (handoff.assessment_feedback || []).find((f) => f.user?.id === me.id);
    try {
      handoff = await api.put(`/api/v1/handoffs/${seg(id)}/assessment-feedback`, { comment: mine?.comment || '', ...body });
      announce('Thanks: your feedback on the assessment is saved.');
      load();
    } catch (error) {
      toast(error.detail, 'error');
    }
  }

  let loading = false;
  let again = false;
  async function load() {
    // Events can arrive in bursts: run one fetch at a time, and one more if asked meanwhile.
    if (loading) { again = true; return; }
    loading = true;
    try {
      const [got, events, rows] = await Promise.all([
        api.get(`/api/v1/handoffs/${seg(id)}`),
        api.get(`/api/v1/handoffs/${seg(id)}/timeline`).catch(() => timeline),
        // Only seniors may read delivery rows; without them the timeline words its counts instead.
        me.isSenior ? api.get(`/api/v1/handoffs/${seg(id)}/deliveries`).catch(() => deliveries) : deliveries,
      ]);
      handoff = got;
      timeline = events || [];
      deliveries = Array.isArray(rows) ? rows : [];
      render();
    } catch (error) {
      if (!disposed && !handoff && error.status !== 401) {
        screen.setAttribute('aria-busy', 'false');
        replace(screen, h('div', { class: 'empty', role: 'alert' },
          h('p', { class: 'empty__title' }, error.status === 404 ? 'This handoff does not exist or is not visible to you.' : 'The handoff could not be loaded.'),
          error.status === 404 ? null : h('p', {}, error.detail),
          h('a', { class: 'btn', href: '#/queue' }, 'Back to the queue')));
      }
    } finally {
      loading = false;
      if (again && !disposed) { again = false; load(); }
    }
  }

  const onEvent = (event) => { if (event.detail?.handoff_id === id) load(); };
  const onResync = () => load();
  // A stream that opened without a cursor replays nothing: an event that went out before it was live (the
  // assessment becoming ready while this screen loaded) is only seen by reading the handoff again.
  const onReady = (event) => { if (!event.detail?.resumed) load(); };
  stream.addEventListener('event', onEvent);
  stream.addEventListener('resync', onResync);
  stream.addEventListener('ready', onReady);
  load();

  return () => {
    disposed = true;
    clearTimeout(pollTimer);
    stream.removeEventListener('event', onEvent);
    stream.removeEventListener('resync', onResync);
    stream.removeEventListener('ready', onReady);
  };
}
