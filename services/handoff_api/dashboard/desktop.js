// Desktop notifications: the header's switch, and one notification each time this senior is paged or reminded.
//
// The page decides and shows them (through the service worker's registration where there is one: Chrome on
// Android refuses `new Notification()`), whether the tab is in front or not; the worker only handles a click.

import { allPages, api, seg } from './api.js';
import { toast } from './notify.js';
import { reasonInWords } from './paged.js';
import { desktopNotifications, shownNotifications } from './storage.js';

const WORKER_URL = '/sw.js';
// A worker that is not active by then is not coming soon: show the notification without it.
const WORKER_WAIT_MS = 3000;
const HANDOFF_ID = /^[A-Za-z0-9-]{1,64}$/;
const URGENCY = { low: 'Low urgency', normal: 'Normal urgency', high: 'High urgency' };

export const BLOCKED_TEXT = 'Desktop notifications are blocked for this site. To allow them, click the icon at the '
  + 'left of the address bar, set Notifications to Allow, then turn the switch on again.';
export const DISMISSED_TEXT = 'Desktop notifications stay off: the browser did not get an answer. '
  + 'Turn the switch on again and choose Allow.';
export const UNSUPPORTED_TEXT = 'This browser cannot show desktop notifications for this page. Use a current '
  + 'Chrome, Edge, Firefox or Safari, with the dashboard opened over https.';

// Read at every use: a browser may lack the API, and the person may change the permission while the page is open.
function notificationApi() {
  return typeof window.Notification === 'function' ? window.Notification : null;
}

// The permission question, in its promise form or the older callback form.
function askPermission(BrowserNotification) {
  return new Promise((resolve) => {
    try {
      const answer = BrowserNotification.requestPermission(resolve);
      if (answer && typeof answer.then === 'function') answer.then(resolve, () => resolve('denied'));
    } catch {
      resolve('denied');
    }
  });
}

// A click on a notification, from the service worker's message or the fallback's onclick: show its handoff.
export function openFromNotification(data) {
  const id = String(data?.handoff_id ?? '');
  if (!HANDOFF_ID.test(id)) return;
  window.focus();
  location.hash = `#/handoffs/${id}`;
}

// The service worker asks the page to open a handoff when one of its notifications is clicked.
export function listenToServiceWorker() {
  const container = navigator.serviceWorker;
  if (!container) return;
  container.addEventListener('message', (event) => {
    if (event.data?.type === 'open-handoff') openFromNotification(event.data);
  });
  container.startMessages?.();
}

function delay(ms) {
  return new Promise((resolve) => { setTimeout(() => resolve(null), ms); });
}

export class DesktopNotifications {
  constructor(stream, me, input) {
    this.stream = stream;
    this.me = me;
    this.input = input;
    this.on = false;
    this.registering = null;
    this.fallbacks = new Map(); // handoff id -> the page's own Notification, where there is no worker
    this.work = Promise.resolve(); // events are weighed one at a time, in the stream's order
    this.onPaged = (e) => this.weigh('handoff_paged', e.detail);
    this.onReminder = (e) => this.weigh('handoff_reminder', e.detail);
    this.onSettled = (e) => this.close(e.detail?.handoff_id);
    this.onResync = (e) => this.enqueue(() => this.catchUp(e.detail?.missedAfter));
    this.onChange = () => this.changed();
    stream.addEventListener('handoff_paged', this.onPaged);
    stream.addEventListener('handoff_reminder', this.onReminder);
    stream.addEventListener('handoff_claimed', this.onSettled);
    stream.addEventListener('handoff_withdrawn', this.onSettled);
    stream.addEventListener('resync', this.onResync);
    input.addEventListener('change', this.onChange);
    // Remembered as on, and still allowed by the browser: on again. A permission taken back turns it off.
    const BrowserNotification = notificationApi();
    this.setOn(Boolean(me.isSenior && desktopNotifications.get() && BrowserNotification?.permission === 'granted'));
  }

  detach() {
    this.stream.removeEventListener('handoff_paged', this.onPaged);
    this.stream.removeEventListener('handoff_reminder', this.onReminder);
    this.stream.removeEventListener('handoff_claimed', this.onSettled);
    this.stream.removeEventListener('handoff_withdrawn', this.onSettled);
    this.stream.removeEventListener('resync', this.onResync);
    this.input.removeEventListener('change', this.onChange);
    this.on = false;
  }

  setOn(on) {
    this.on = on;
    this.input.checked = on;
    desktopNotifications.set(on);
    if (on) this.register();
  }

  // The switch was flipped. The permission question must be asked here, inside the click, as browsers require.
  changed() {
    if (!this.input.checked) {
      this.setOn(false);
      toast('Desktop notifications are off.');
      return;
    }
    const BrowserNotification = notificationApi();
    if (!BrowserNotification || typeof BrowserNotification.requestPermission !== 'function') {
      this.setOn(false);
      toast(UNSUPPORTED_TEXT, 'error');
      return;
    }
    this.input.setAttribute('aria-busy', 'true');
    askPermission(BrowserNotification).then((answer) => {
      this.input.removeAttribute('aria-busy');
      if (!this.input.checked) return; // turned off again while the browser asked
      if (answer === 'granted') {
        this.setOn(true);
        toast('Desktop notifications are on: this browser tells you when you are paged or reminded.');
      } else {
        this.setOn(false);
        toast(answer === 'denied' ? BLOCKED_TEXT : DISMISSED_TEXT, 'error');
      }
    });
  }

  register() {
    const container = navigator.serviceWorker;
    if (!this.registering) {
      this.registering = container
        ? container.register(WORKER_URL, { scope: '/' }).catch(() => null)
        : Promise.resolve(null);
    }
    return this.registering;
  }

  // The page's service worker registration once its worker is active, or null to fall back to `new Notification`.
  async registration() {
    const registered = await this.register();
    if (!registered) return null;
    if (registered.active) return registered;
    return Promise.race([navigator.serviceWorker.ready, delay(WORKER_WAIT_MS)]);
  }

  enqueue(task) {
    this.work = this.work.then(task).catch(() => {});
    return this.work;
  }

  weigh(type, event) {
    if (!this.on || !event) return;
    const glance = event.handoff || {};
    // Cheap refusals straight from the event: the senior's own escalation, one already settled, a page of others.
    if (glance.created_by?.id === this.me.id || (glance.status && glance.status !== 'open')) return;
    if (type === 'handoff_paged' && !(event.paged || []).some((page) => page?.user?.id === this.me.id)) return;
    this.enqueue(() => this.consider(type, event));
  }

  async consider(type, event) {
    const id = String(event.handoff_id || event.handoff?.id || '');
    const round = type === 'handoff_reminder' ? Number(event.round) : 0;
    if (!this.on || !HANDOFF_ID.test(id) || !Number.isInteger(round) || round < 0) return;
    if (shownNotifications.has(`${id}:${round}`)) return;
    // The event tells how the handoff was; whether it is still open, and whom it paged, is read now.
    let handoff;
    try {
      handoff = await api.get(`/api/v1/handoffs/${seg(id)}`);
    } catch {
      return;
    }
    const mine = this.pageOf(handoff);
    if (!mine) return;
    if (round > 0) {
      // Reminders go to those paged before them; a later reminder on its way replaces this one.
      if (Date.parse(mine.at) > Date.parse(event.occurred_at)) return;
      if ((Number(handoff.reminders_sent) || 0) > round) return;
    }
    await this.show(handoff, round, mine);
  }

  // This senior's page on an open escalation of someone else, or null.
  pageOf(handoff) {
    if (!handoff || handoff.status !== 'open' || handoff.intent === 'park') return null;
    if (handoff.created_by?.id === this.me.id) return null;
    return (handoff.paged || []).find((page) => page?.user?.id === this.me.id) || null;
  }

  // After a `resync` nothing is replayed. The stream id it could not resume from holds the time of the last event
  // this page saw: notify the open escalations that paged or reminded this senior after it, unless shown already.
  async catchUp(missedAfter) {
    const since = Number(String(missedAfter ?? '').split('-')[0]);
    if (!this.on || !missedAfter || !Number.isSafeInteger(since)) return;
    let items;
    try {
      items = await allPages('/api/v1/ai-sessions/escalations', { status: 'open', fields: 'card', limit: '200' });
    } catch {
      return;
    }
    for (const handoff of items) {
      const mine = this.pageOf(handoff);
      if (!mine || !this.on) continue;
      const round = await this.roundSince(handoff, mine, since);
      if (round !== null) await this.show(handoff, round, mine);
    }
  }

  // The newest page or reminder of this senior later than `since` (ms) that was not shown, or null.
  async roundSince(handoff, mine, since) {
    const latest = Number(handoff.reminders_sent) || 0;
    if (latest > 0 && !shownNotifications.has(`${handoff.id}:${latest}`)) {
      try {
        const timeline = await api.get(`/api/v1/handoffs/${seg(handoff.id)}/timeline`);
        const reminder = timeline.find((entry) => entry.type === 'reminder' && entry.detail?.round === latest);
        const at = Date.parse(reminder?.at);
        if (at > since && at >= Date.parse(mine.at)) return latest;
      } catch {
        // Without the timeline, the page alone is weighed below.
      }
    }
    return Date.parse(mine.at) > since && !shownNotifications.has(`${handoff.id}:0`) ? 0 : null;
  }

  async show(handoff, round, page) {
    const BrowserNotification = notificationApi();
    if (!this.on || !BrowserNotification) return;
    if (BrowserNotification.permission !== 'granted') {
      // Taken back in the browser's settings since: say so on the switch.
      this.setOn(false);
      return;
    }
    const key = `${handoff.id}:${round}`;
    if (shownNotifications.has(key)) return;
    shownNotifications.add(key);
    const title = String(handoff.snapshot?.title ?? handoff.title ?? 'Escalation');
    const who = `${URGENCY[handoff.urgency] || 'Escalation'} · from ${handoff.created_by?.name || 'a teammate'}`;
    const body = round > 0
      ? `Reminder ${round}: still waiting for someone to pick it up\n${who}`
      : `${who}\nWhy you: ${reasonInWords(page.reason, page.step)}`;
    const url = new URL(`/#/handoffs/${handoff.id}`, location.origin).href;
    const options = { tag: handoff.id, body, data: { handoff_id: handoff.id, url }, renotify: round > 0 };
    const registration = await this.registration();
    if (registration) {
      try {
        await registration.showNotification(title, options);
        return;
      } catch {
        // No active worker after all: the page shows it itself below.
      }
    }
    try {
      const note = new BrowserNotification(title, options);
      note.onclick = () => {
        note.close();
        openFromNotification(options.data);
      };
      this.fallbacks.set(handoff.id, note);
    } catch {
      // This browser shows notifications only through a service worker, and there is none.
    }
  }

  // Picked up or withdrawn: its notification has nothing left to ask.
  async close(id) {
    if (!id) return;
    this.fallbacks.get(id)?.close();
    this.fallbacks.delete(id);
    if (!this.registering) return;
    const registration = await this.registering;
    try {
      for (const note of await registration?.getNotifications({ tag: id }) || []) note.close();
    } catch {
      // Nothing shown through the worker.
    }
  }
}
