// Durations as people say them (minutes, hours) in forms, stored as the API's seconds.

export const UNITS = [
  { seconds: 1, one: 'second', many: 'seconds' },
  { seconds: 60, one: 'minute', many: 'minutes' },
  { seconds: 3600, one: 'hour', many: 'hours' },
  { seconds: 86400, one: 'day', many: 'days' },
];

// The largest unit that shows the value as a whole number: 900 is "15 minutes", 3600 "1 hour".
export function bestUnit(seconds, units = UNITS) {
  const value = Number(seconds) || 0;
  if (value === 0) return units.find((u) => u.seconds === 60) || units[0];
  return [...units].reverse().find((u) => value % u.seconds === 0) || units[0];
}

// "24 hours" rather than "1 day"; days only from two on ("7 days").
export function inWords(seconds) {
  const value = Number(seconds) || 0;
  const unit = bestUnit(value, value >= 2 * 86400 ? UNITS : UNITS.slice(0, 3));
  const count = Math.round(value / unit.seconds);
  return `${count} ${count === 1 ? unit.one : unit.many}`;
}

// Short form for figures: "45 s", "15 min", "2.5 h".
export function short(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
