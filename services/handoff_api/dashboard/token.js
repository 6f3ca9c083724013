// Reading a JWT's claims in the browser; the server verifies the signature, we only need who we are.

const SENIOR_ROLES = new Set(['engineer', 'admin', 'owner']);

function base64urlDecode(part) {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  // Names can be non-ASCII: decode the bytes as UTF-8, not Latin-1.
  return new TextDecoder().decode(bytes);
}

// Returns the user described by a token, or null if it is not a readable, unexpired JWT.
export function readToken(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  let claims;
  try {
    claims = JSON.parse(base64urlDecode(parts[1]));
  } catch {
    return null;
  }
  if (!claims || typeof claims.sub !== 'string') return null;
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) return null;
  return {
    id: claims.sub,
    name: typeof claims.name === 'string' && claims.name ? claims.name : (claims.email || 'Signed-in user'),
    email: typeof claims.email === 'string' ? claims.email : '',
    role: claims.role || 'viewer',
    accountId: claims.account_id || null,
    isSenior: SENIOR_ROLES.has(claims.role),
    isAdmin: claims.role === 'owner' || claims.role === 'admin',
  };
}

// A `#token=` link's token, wiped from the address bar at once (the fragment never reaches a server).
// Returns undefined without such a fragment, else the token text (which may not be readable).
// `keepHash` is what the address bar shows instead, so a signed-in tab stays on its screen.
export function takeTokenFromFragment(keepHash = '') {
  const match = /^#token=([^&]*)/.exec(location.hash);
  if (!match) return undefined;
  history.replaceState(null, '', location.pathname + location.search + keepHash);
  try {
    return decodeURIComponent(match[1]).trim();
  } catch {
    return '';
  }
}

// The same person (and tenant) in two tokens: a new token for them is a refresh, not a switch.
export function sameUser(a, b) {
  return Boolean(a && b && a.id === b.id && a.accountId === b.accountId);
}

// Accepts a pasted token with or without a "Bearer " prefix.
export function cleanPastedToken(text) {
  return String(text || '').trim().replace(/^bearer\s+/i, '').trim();
}
