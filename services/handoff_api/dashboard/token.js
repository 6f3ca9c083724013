// Reading a JWT's claims in the browser; the server verifies the signature, we only need who we are.

import { tokenStore } from './storage.js';

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
    role: claims.role || 'viewer',
    accountId: claims.account_id || null,
    isSenior: SENIOR_ROLES.has(claims.role),
    isAdmin: claims.role === 'owner' || claims.role === 'admin',
  };
}

// A `#token=` link signs this tab in; the fragment never reaches a server, and we wipe it from the address bar.
export function takeTokenFromFragment() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, '', location.pathname + location.search);
  const token = decodeURIComponent(match[1]).trim();
  if (readToken(token)) tokenStore.set(token);
}

// Accepts a pasted token with or without a "Bearer " prefix.
export function cleanPastedToken(text) {
  return String(text || '').trim().replace(/^bearer\s+/i, '').trim();
}
