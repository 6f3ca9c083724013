// Entry point: who is signed in, the header, the hash router, and the live stream's lifetime.

import { setUnauthorizedHandler } from './api.js';
import { initials } from './badges.js';
import { DesktopNotifications, listenToServiceWorker } from './desktop.js';
import { h, replace } from './dom.js';
import { EscalationQueue } from './escalations.js';
import { mountHandoff } from './handoff.js';
import { announce, flashTitle, setPageTitle, stopFlashing, toast } from './notify.js';
import { mountQueue } from './queue.js';
import { hasSessionsInFlight, mountSessions } from './sessions.js';
import { confirmSwitch, mountSignin } from './signin.js';
import { mountTeam } from './team.js';
import { forgetSharedLists, setStorageOwner, tokenStore } from './storage.js';
import { EscalationStream } from './stream.js';
import { readToken, sameUser, takeTokenFromFragment } from './token.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const userBox = document.getElementById('user');
const connection = document.querySelector('[data-testid=connection]');
const desktopSwitch = document.querySelector('[data-testid=desktop-switch]');
const CONNECTION_TEXT = { connecting: 'connecting', live: 'live', reconnecting: 'reconnecting' };
const ROUTE = /^#\/(queue|sessions|team|handoffs\/)/;

let ctx = null; // everything that lives only while someone is signed in
let unmountView = null;
let lastRoute = ''; // the screen shown, put back when a sign-in link is wiped from the address

function setConnection(state) {
  if (!CONNECTION_TEXT[state]) return;
  connection.dataset.state = state;
  connection.textContent = CONNECTION_TEXT[state];
  connection.setAttribute('aria-label', `Live updates: ${CONNECTION_TEXT[state]}`);
}

function showHeader(me) {
  nav.hidden = !me;
  document.querySelector('[data-testid=nav-team]').hidden = !me;
  userBox.hidden = !me;
  document.querySelector('[data-testid=whoami]').textContent = me ? me.name : '';
  document.getElementById('me-role').textContent = me ? me.role : '';
  document.getElementById('me-initials').textContent = me ? initials(me.name) : '';
  // Viewers get no stream (the API refuses it), so an indicator would only mislead, and nothing pages them.
  connection.hidden = !me?.isSenior;
  desktopSwitch.closest('label').hidden = !me?.isSenior;
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function signIn(token) {
  const me = readToken(token);
  if (!me) {
    tokenStore.clear();
    showSignin('That token has expired or cannot be read. Sign in again.');
    return;
  }
  if (ctx) {
    // Switching user in place: the old stream must not keep feeding the new user's screens.
    ctx.stream.stop();
    ctx.queue.detach();
    ctx.desktop.detach();
  }
  tokenStore.set(token);
  setStorageOwner(me);
  const stream = new EscalationStream();
  const queue = new EscalationQueue(stream, me);
  const desktop = new DesktopNotifications(stream, me, desktopSwitch);
  ctx = { me, stream, queue, desktop, navigate };

  queue.addEventListener('arrived', (event) => {
    const item = event.detail;
    announce(`New escalation: ${item.title} from ${item.createdBy?.name || 'a teammate'}`);
    flashTitle();
  });
  queue.addEventListener('reminded', (event) => {
    const item = event.detail;
    announce(`Reminder ${item.reminders}: ${item.title} from ${item.createdBy?.name || 'a teammate'} is still waiting`);
    flashTitle(`Reminder ${item.reminders}`);
  });
  stream.addEventListener('state', (event) => setConnection(event.detail));
  stream.addEventListener('denied', (event) => {
    if (event.detail === 401) signOut('Your sign-in was not accepted or has expired. Sign in again.');
    else connection.hidden = true;
  });
  // Tell an escalator, wherever they are in the app, that help has arrived.
  stream.addEventListener('handoff_claimed', (event) => {
    const handoff = event.detail?.handoff;
    if (handoff?.created_by?.id === me.id && handoff.claimed_by && handoff.claimed_by.id !== me.id) {
      const text = `${handoff.claimed_by.name} picked up your escalation: ${handoff.title}`;
      toast(text);
      announce(text);
    }
  });

  showHeader(me);
  setConnection('connecting');
  if (me.isSenior) stream.start();
  land(ctx);
}

// Without a screen in the address, people with work of their own land on it; everyone else on the queue.
async function land(signedIn) {
  if (ROUTE.test(location.hash)) {
    route();
    return;
  }
  unmountView?.();
  unmountView = null;
  replace(main, h('p', { class: 'page muted', role: 'status' }, 'Loading…'));
  const target = signedIn.me.isSenior && await hasSessionsInFlight() ? '#/sessions' : '#/queue';
  // The user may have moved on (or signed out) while we asked.
  if (ctx !== signedIn || ROUTE.test(location.hash)) return;
  history.replaceState(null, '', target);
  route();
}

// A `#token=` link: signs in a signed-out tab, refreshes the same user's token, and asks before switching users.
async function acceptLinkToken() {
  const current = ctx;
  const token = takeTokenFromFragment(current && ROUTE.test(lastRoute) ? lastRoute : '');
  if (token === undefined) return;
  const next = token ? readToken(token) : null;
  if (!current) {
    if (next) signIn(token);
    else showSignin('That sign-in link has expired or cannot be read. Sign in again.');
    return;
  }
  if (!next) {
    toast(`That sign-in link has expired or cannot be read; you are still signed in as ${current.me.name}.`, 'error');
  } else if (sameUser(current.me, next)) {
    tokenStore.set(token);
    // A changed role or name changes the screens: start over as the refreshed user.
    if (next.role !== current.me.role || next.name !== current.me.name) signIn(token);
  } else if (await confirmSwitch(current.me, next) && ctx === current) {
    // The other user starts on their own landing screen, not on whatever this one had open.
    history.replaceState(null, '', location.pathname + location.search);
    signIn(token);
    announce(`Signed in as ${next.name}`);
  }
}

function signOut(message) {
  if (ctx) {
    ctx.stream.stop();
    ctx.queue.detach();
    ctx.desktop.detach();
  }
  ctx = null;
  lastRoute = '';
  setStorageOwner(null);
  unmountView?.();
  unmountView = null;
  tokenStore.clear();
  stopFlashing();
  showHeader(null);
  showSignin(message);
}

function showSignin(message) {
  setPageTitle('Sign in');
  mountSignin(main, { onToken: signIn, message });
  main.querySelector('h1')?.focus();
}

function route() {
  if (location.hash.startsWith('#token=')) {
    acceptLinkToken();
    return;
  }
  if (!ctx) return;
  unmountView?.();
  unmountView = null;
  const hash = location.hash;
  lastRoute = hash;
  const handoff = /^#\/handoffs\/([A-Za-z0-9-]{1,64})$/.exec(hash);
  if (hash === '#/queue') {
    setPageTitle('Escalation queue');
    unmountView = mountQueue(main, ctx);
  } else if (hash === '#/sessions') {
    setPageTitle('My sessions');
    unmountView = mountSessions(main, ctx);
  } else if (hash === '#/team') {
    setPageTitle('Team');
    unmountView = mountTeam(main, ctx);
  } else if (handoff) {
    setPageTitle('Handoff');
    unmountView = mountHandoff(main, handoff[1], ctx);
  } else {
    history.replaceState(null, '', '#/queue');
    route();
    return;
  }
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === hash) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  window.scrollTo(0, 0);
  // Move focus to the new screen so keyboard and screen-reader users start at its heading.
  (main.querySelector('h1') || main).focus({ preventScroll: true });
}

function boot() {
  forgetSharedLists();
  setUnauthorizedHandler(() => {
    if (ctx) signOut('Your sign-in was not accepted or has expired. Sign in again.');
  });
  document.querySelector('[data-testid=signout]').addEventListener('click', () => signOut());
  // The skip link must not change the hash: the router would read "#main" as a route.
  document.querySelector('.skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', route);
  // Back in front, or back online: catch up on the stream at once instead of when a throttled timer fires.
  document.addEventListener('visibilitychange', () => { if (ctx && !document.hidden) ctx.stream.wake(); });
  window.addEventListener('online', () => ctx?.stream.wake());
  listenToServiceWorker();
  const link = location.hash.startsWith('#token=');
  const token = tokenStore.get();
  if (token) signIn(token);
  if (link) acceptLinkToken();
  else if (!token) showSignin();
}

boot();
