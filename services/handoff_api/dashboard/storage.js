// Browser storage: the token per tab (sessionStorage), small id lists per browser (localStorage).

const TOKEN_KEY = 'rf-token';

export const tokenStore = {
  get() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
  },
  set(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); },
};

// A most-recent-last list of ids, capped so localStorage never grows without bound.
export function idList(key, cap = 200) {
  const read = () => {
    try {
      const value = JSON.parse(localStorage.getItem(key) || '[]');
      return Array.isArray(value) ? value.filter((id) => typeof id === 'string') : [];
    } catch {
      return [];
    }
  };
  return {
    has(id) { return read().includes(id); },
    add(id) {
      const ids = read().filter((other) => other !== id);
      ids.push(id);
      try { localStorage.setItem(key, JSON.stringify(ids.slice(-cap))); } catch { /* storage full or blocked: unread state is cosmetic */ }
    },
  };
}

export const seenEscalations = idList('rf-escalation-seen');
export const hiddenChips = idList('rf-chips-hidden');
