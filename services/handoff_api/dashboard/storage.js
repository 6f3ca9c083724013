// Browser storage: the token per tab (sessionStorage), small id lists and settings per user (localStorage).

const TOKEN_KEY = 'rf-token';

export const tokenStore = {
  get() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
  },
  set(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); },
};

// Whose lists are read and written: two people sharing one browser must not share unread dots.
let owner = null;

export function setStorageOwner(me) {
  owner = me ? `${me.accountId || 'no-account'}:${me.id}` : null;
}

// The key of `name`'s list for the signed-in user, or null while nobody is signed in.
export function ownerKey(name) {
  return owner ? `${name}:${owner}` : null;
}

// A most-recent-last list of ids, one per user, capped so localStorage never grows without bound.
export function idList(name, cap = 200) {
  const read = (key) => {
    try {
      const value = JSON.parse(localStorage.getItem(key) || '[]');
      return Array.isArray(value) ? value.filter((id) => typeof id === 'string') : [];
    } catch {
      return [];
    }
  };
  return {
    has(id) {
      const key = ownerKey(name);
      return key ? read(key).includes(id) : false;
    },
    add(id) {
      const key = ownerKey(name);
      if (!key) return;
      const ids = read(key).filter((other) => other !== id);
      ids.push(id);
      try { localStorage.setItem(key, JSON.stringify(ids.slice(-cap))); } catch { /* storage full or blocked: unread state is cosmetic */ }
    },
  };
}

// An on/off setting per user, off until that user turns it on.
export function userSetting(name) {
  return {
    get() {
      const key = ownerKey(name);
      try { return key ? localStorage.getItem(key) === 'on' : false; } catch { return false; }
    },
    set(on) {
      const key = ownerKey(name);
      if (!key) return;
      try {
        if (on) localStorage.setItem(key, 'on');
        else localStorage.removeItem(key);
      } catch { /* storage blocked: the setting lasts as long as the page */ }
    },
  };
}

const SEEN = 'rf-escalation-seen';
const CHIPS = 'rf-chips-hidden';
export const seenEscalations = idList(SEEN);
export const hiddenChips = idList(CHIPS);
export const desktopNotifications = userSetting('rf-desktop-notifications');
// What desktop notifications were shown, as `<handoff id>:<round>` (0 the page, n the n-th reminder).
export const shownNotifications = idList('rf-desktop-shown');

// Lists an older dashboard kept for the whole browser belong to nobody in particular: drop them.
export function forgetSharedLists() {
  try {
    localStorage.removeItem(SEEN);
    localStorage.removeItem(CHIPS);
  } catch { /* storage blocked: nothing to forget */ }
}
