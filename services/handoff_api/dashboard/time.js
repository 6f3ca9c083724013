// Relative and absolute times for people; the server speaks RFC 3339 UTC.

export function timeAgo(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '';
  // Clamp small clock skew between browser and server to "just now".
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  return `${days} d ago`;
}

const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatTime(iso) {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? '' : FULL.format(new Date(then));
}

const CLOCK = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const DAY_AND_CLOCK = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });

// A compact time for lists: the clock alone today, the date as well on any other day.
export function formatShort(iso, now = new Date()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '';
  const date = new Date(then);
  return (date.toDateString() === now.toDateString() ? CLOCK : DAY_AND_CLOCK).format(date);
}
