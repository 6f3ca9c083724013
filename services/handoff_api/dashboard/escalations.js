// The open escalations of the account, kept current from the live stream; views render from here.

import { allPages } from './api.js';
import { EVENT_TYPES } from './stream.js';

const PAGE_SIZE = 200;
const SETTLED = new Set(['ready', 'failed']);

function fromHandoff(handoff, createdAt) {
  return {
    id: handoff.id,
    title: handoff.title ?? handoff.snapshot?.title ?? 'Untitled session',
    urgency: handoff.urgency || 'normal',
    createdBy: handoff.created_by || { id: null, name: 'Someone' },
    createdAt: handoff.created_at || createdAt,
    assessmentStatus: handoff.assessment_status || 'not_requested',
    reminders: Number(handoff.reminders_sent) || 0,
  };
}

export class EscalationQueue extends EventTarget {
  constructor(stream, me) {
    super();
    this.me = me;
    this.items = new Map();
    this.gone = new Set(); // claimed or withdrawn: a stale page must not bring them back
    this.status = 'idle';
    this.version = 0;
    this.addedAt = new Map();
    this.loading = null;
    this.onEvent = (e) => this.apply(e.type, e.detail);
    this.onRefetch = (e) => { if (e.type === 'resync' || !e.detail?.resumed) this.load(); };
    this.stream = stream;
    for (const type of EVENT_TYPES) {
      stream.addEventListener(type, this.onEvent);
    }
    stream.addEventListener('ready', this.onRefetch);
    stream.addEventListener('resync', this.onRefetch);
  }

  detach() {
    for (const type of EVENT_TYPES) {
      this.stream.removeEventListener(type, this.onEvent);
    }
    this.stream.removeEventListener('ready', this.onRefetch);
    this.stream.removeEventListener('resync', this.onRefetch);
  }

  sorted() {
    return [...this.items.values()].sort((a, b) => (Date.parse(b.createdAt) || 0) - (Date.parse(a.createdAt) || 0));
  }

  changed(detail = {}) {
    this.dispatchEvent(new CustomEvent('change', { detail }));
  }

  apply(type, event) {
    const handoff = event.handoff || {};
    const id = event.handoff_id || handoff.id;
    if (!id) return;
    if (type === 'handoff_created') {
      // The queue never shows the caller's own escalations, live or fetched.
      if (handoff.created_by?.id === this.me.id || handoff.status !== 'open' || this.gone.has(id)) return;
      const fresh = !this.items.has(id);
      this.version += 1;
      this.addedAt.set(id, this.version);
      this.items.set(id, fromHandoff({ ...handoff, id }, event.occurred_at));
      this.changed({ added: fresh ? [id] : [] });
      if (fresh) this.dispatchEvent(new CustomEvent('arrived', { detail: this.items.get(id) }));
    } else if (type === 'handoff_assessment_ready') {
      const item = this.items.get(id);
      if (!item) return;
      item.assessmentStatus = handoff.assessment_status || 'ready';
      this.changed({ updated: [id] });
    } else if (type === 'handoff_reminder') {
      const item = this.items.get(id);
      const round = Number(event.round) || 0;
      if (!item || round <= item.reminders) return;
      item.reminders = round;
      this.changed({ reminded: [id] });
      this.dispatchEvent(new CustomEvent('reminded', { detail: item }));
    } else if (type === 'handoff_claimed' || type === 'handoff_withdrawn') {
      this.remove(id);
    }
  }

  remove(id) {
    this.gone.add(id);
    if (this.items.delete(id)) this.changed({ removed: [id] });
  }

  // One fetch at a time; a second caller shares the one in flight.
  load() {
    if (!this.loading) this.loading = this.fetchAll().finally(() => { this.loading = null; });
    return this.loading;
  }

  async fetchAll() {
    const since = this.version;
    if (this.status !== 'ready') { this.status = 'loading'; this.changed(); }
    let fetched;
    try {
      // Cards only: the handoff screen fetches the full Handoff (snapshot, messages) when it opens.
      fetched = await allPages('/api/v1/ai-sessions/escalations', { status: 'open', fields: 'card', limit: String(PAGE_SIZE) });
    } catch (error) {
      this.status = error.status === 403 ? 'forbidden' : (this.status === 'loading' ? 'error' : this.status);
      this.error = error;
      this.changed();
      return;
    }
    const next = new Map();
    for (const handoff of fetched) {
      if (handoff.status !== 'open' || this.gone.has(handoff.id) || handoff.created_by?.id === this.me.id) continue;
      const item = fromHandoff(handoff);
      const known = this.items.get(handoff.id);
      // An assessment_ready event may have overtaken this page: keep the settled status.
      if (known && SETTLED.has(known.assessmentStatus) && !SETTLED.has(item.assessmentStatus)) item.assessmentStatus = known.assessmentStatus;
      if (known && known.reminders > item.reminders) item.reminders = known.reminders;
      next.set(handoff.id, item);
    }
    // Escalations that arrived live while the page was loading are newer than the page: keep them.
    for (const [id, item] of this.items) {
      if (!next.has(id) && (this.addedAt.get(id) || 0) > since) next.set(id, item);
    }
    this.items = next;
    this.status = 'ready';
    this.changed({ reloaded: true });
  }
}
