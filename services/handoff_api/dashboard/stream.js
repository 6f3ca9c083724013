// The seniors' live feed over fetch + ReadableStream (EventSource cannot send an Authorization header).

import { authHeaders } from './api.js';

const STREAM_URL = '/api/v1/ai-sessions/escalations/stream';
const BACKOFF_START_MS = 500;
const BACKOFF_CAP_MS = 10_000;
// The server pings every 25 s while idle; silence far longer than that means a dead connection.
const SILENCE_LIMIT_MS = 70_000;
// Back in front, a connection quiet for longer than a heartbeat and a half may have died while hidden.
const STALE_ON_WAKE_MS = 40_000;
export const EVENT_TYPES = [
  'handoff_created', 'handoff_assessment_ready', 'handoff_claimed', 'handoff_withdrawn',
  'handoff_reminder', 'handoff_claim_stale', 'handoff_paged',
];

// Incremental SSE parser (per the HTML spec): feed it text chunks, it calls onFrame per dispatched frame.
export function createSseParser(onFrame) {
  let buffer = '';
  let event = '';
  let data = [];
  let id = null;
  const dispatch = () => {
    if (id !== null || data.length) onFrame({ id, event: event || 'message', data: data.join('\n'), hasData: data.length > 0 });
    event = '';
    data = [];
    id = null;
  };
  const line = (text) => {
    if (text === '') return dispatch();
    if (text.startsWith(':')) return undefined; // comment, e.g. the heartbeat ": ping"
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) id = value;
    return undefined;
  };
  return (chunk) => {
    buffer += chunk;
    // Lines end in \n, \r\n or \r; a trailing \r may be half of a \r\n still in flight.
    let match;
    const re = /\r\n|\n|\r(?!$)/g;
    let start = 0;
    while ((match = re.exec(buffer)) !== null) {
      line(buffer.slice(start, match.index));
      start = match.index + match[0].length;
    }
    buffer = buffer.slice(start);
  };
}

export class EscalationStream extends EventTarget {
  constructor() {
    super();
    this.state = 'idle';
    this.lastEventId = null;
    this.controller = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.silenceTimer = null;
    this.running = false;
    this.heardAt = 0;
    this.resumedFrom = null;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.setState('connecting');
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    this.controller?.abort();
    this.controller = null;
    this.lastEventId = null;
    this.setState('idle');
  }

  // The tab is back in front (or the network is back). A background tab's timers are throttled, so a
  // reconnect may still be waiting out its backoff, and a connection may have died without a word: connect
  // now. Either way the new connection sends Last-Event-ID, and the server replays what was missed.
  wake() {
    if (!this.running) return;
    const stale = this.state === 'live' && Date.now() - this.heardAt > STALE_ON_WAKE_MS;
    if (this.state !== 'reconnecting' && !stale) return;
    clearTimeout(this.retryTimer);
    const previous = this.controller;
    this.controller = null; // the old connection's end must not schedule a second reconnect
    previous?.abort();
    this.setState('reconnecting');
    this.connect();
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  async connect() {
    const controller = new AbortController();
    this.controller = controller;
    const resumed = this.lastEventId !== null;
    const headers = authHeaders({ Accept: 'text/event-stream' });
    if (resumed) headers['Last-Event-ID'] = this.lastEventId;
    this.resumedFrom = this.lastEventId;
    try {
      this.armSilenceTimer(controller);
      const response = await fetch(STREAM_URL, { headers, signal: controller.signal, cache: 'no-store', credentials: 'omit' });
      if (response.status === 401 || response.status === 403) {
        // Not a transient failure: retrying cannot help, so tell the app and stop.
        this.running = false;
        clearTimeout(this.silenceTimer);
        this.setState('idle');
        this.dispatchEvent(new CustomEvent('denied', { detail: response.status }));
        return;
      }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      await this.read(response.body, controller, resumed);
    } catch {
      // Network error, abort by the silence watchdog, or a bad answer: all end in a retry below.
    }
    if (controller === this.controller && this.running) this.scheduleReconnect();
  }

  async read(body, controller, resumed) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parse = createSseParser((frame) => this.onFrame(frame, resumed));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.heardAt = Date.now();
        this.armSilenceTimer(controller);
        parse(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
  }

  onFrame(frame, resumed) {
    if (frame.id !== null) this.lastEventId = frame.id;
    if (!frame.hasData) return;
    let data;
    try { data = JSON.parse(frame.data); } catch { return; }
    if (frame.event === 'ready') {
      // Without a cursor yet, the tip is where we are: a later reconnect then replays what we missed.
      if (this.lastEventId === null && data.last_event_id) this.lastEventId = data.last_event_id;
      this.attempt = 0;
      this.setState('live');
      this.dispatchEvent(new CustomEvent('ready', { detail: { resumed } }));
    } else if (frame.event === 'resync') {
      if (data.last_event_id) this.lastEventId = data.last_event_id;
      // `missedAfter`: the id the stream could not resume from; what happened after it is not replayed.
      this.dispatchEvent(new CustomEvent('resync', { detail: { ...data, missedAfter: this.resumedFrom } }));
    } else if (EVENT_TYPES.includes(frame.event)) {
      this.dispatchEvent(new CustomEvent(frame.event, { detail: data }));
      this.dispatchEvent(new CustomEvent('event', { detail: data }));
    }
  }

  armSilenceTimer(controller) {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => controller.abort(), SILENCE_LIMIT_MS);
  }

  scheduleReconnect() {
    clearTimeout(this.silenceTimer);
    this.setState('reconnecting');
    // Exponential backoff with jitter, so a restarted server is not hit by every client at once.
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => { if (this.running) this.connect(); }, delay);
  }
}
