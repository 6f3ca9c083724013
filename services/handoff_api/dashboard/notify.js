// Telling the user things: a toast, a screen-reader announcement, and a flashing tab title while hidden.

import { h } from './dom.js';

const TOAST_MS = 6000;
let toastTimer = null;

// Only the latest toast is kept: a stack of stale messages helps nobody.
export function toast(message, kind = 'info') {
  const host = document.getElementById('toasts');
  if (!host) return;
  clearTimeout(toastTimer);
  // The × is drawn by CSS so the toast's text is exactly the message.
  const close = h('button', { type: 'button', class: 'toast__close', 'aria-label': 'Dismiss', title: 'Dismiss' });
  const el = h('div', { class: `toast toast--${kind}`, testid: 'toast', role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'toast__text' }, message), close);
  close.addEventListener('click', () => el.remove());
  host.replaceChildren(el);
  toastTimer = setTimeout(() => el.remove(), TOAST_MS);
}

export function announce(message) {
  const region = document.querySelector('[data-testid=announcer]');
  if (!region) return;
  // Clearing first makes screen readers repeat an identical message.
  region.textContent = '';
  setTimeout(() => { region.textContent = message; }, 50);
}

let baseTitle = document.title;
let unseen = 0;
let flashTimer = null;

// Views name the page; the flasher restores whatever the latest name is.
export function setPageTitle(title) {
  baseTitle = title ? `${title} · Handoff` : 'Handoff';
  if (!flashTimer) document.title = baseTitle;
}

let flashLabel = null;

// `label` names what the tab flashes for (a reminder); without it, the count of new escalations.
export function flashTitle(label = null) {
  if (!document.hidden) return;
  unseen += 1;
  flashLabel = label;
  if (flashTimer) return;
  let on = false;
  const tick = () => {
    on = !on;
    const text = flashLabel || `New escalation${unseen > 1 ? 's' : ''}`;
    document.title = on ? `(${unseen}) ${text}` : baseTitle;
  };
  tick();
  flashTimer = setInterval(tick, 1000);
}

export function stopFlashing() {
  clearInterval(flashTimer);
  flashTimer = null;
  unseen = 0;
  document.title = baseTitle;
}

document.addEventListener('visibilitychange', () => { if (!document.hidden) stopFlashing(); });
