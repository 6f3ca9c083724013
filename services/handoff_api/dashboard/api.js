// The one place that talks HTTP to the handoff API: adds the bearer header, turns error bodies into ApiError.

import { tokenStore } from './storage.js';

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && body.detail) || `Request failed (${status})`;
    super(detail);
    this.status = status;
    this.code = (body && body.code) || 'error';
    this.detail = detail;
    this.body = body || {};
  }
}

let onUnauthorized = () => {};

// The app decides what a 401 means (back to sign-in); api.js only reports it.
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function authHeaders(extra = {}) {
  const token = tokenStore.get();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : { ...extra };
}

export async function request(method, path, body) {
  const headers = authHeaders({ Accept: 'application/json' });
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, { code: 'network_error', detail: 'Could not reach the handoff service. Check your connection.' });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  return data;
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body) => request('POST', path, body),
  put: (path, body) => request('PUT', path, body),
};

// Every item of a paged list: follows `next_cursor` until the service says there is no more.
export async function allPages(path, params) {
  const items = [];
  const seen = new Set();
  let cursor = null;
  for (;;) {
    const query = new URLSearchParams(params);
    if (cursor) query.set('cursor', cursor);
    const page = await request('GET', `${path}?${query}`);
    items.push(...(page?.items || []));
    cursor = page?.next_cursor || null;
    // A cursor seen before would loop forever: treat it as the end.
    if (!cursor || seen.has(cursor)) return items;
    seen.add(cursor);
  }
}

// Path segments come from the URL hash or the API: encode them so they cannot change the path.
export const seg = (value) => encodeURIComponent(String(value));

// Only `handoff dev` serves demo users; anywhere else the picker simply does not appear.
export async function fetchDemoUsers() {
  try {
    const response = await fetch('/dev/demo-users', { cache: 'no-store', credentials: 'omit' });
    if (!response.ok) return [];
    const users = await response.json();
    return Array.isArray(users) ? users : [];
  } catch {
    return [];
  }
}
