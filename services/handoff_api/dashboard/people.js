// The account's active seniors, to choose rotation members and covers from by name.
// The directory list (GET .../users) where the service offers it; under `handoff dev`, its demo users.

import { api, fetchDemoUsers, seg } from './api.js';

const SENIOR_ROLES = new Set(['owner', 'admin', 'engineer']);

const senior = (user) => user && typeof user.id === 'string' && SENIOR_ROLES.has(user.role)
  && user.active !== false && !user.deleted_at;

export async function accountSeniors(accountId) {
  let users = null;
  try {
    const answer = await api.get(`/api/v1/accounts/${seg(accountId)}/users`);
    users = Array.isArray(answer) ? answer : answer?.items;
  } catch (error) {
    // 404/405: a service without the directory list; anything else is a real failure.
    if (error.status !== 404 && error.status !== 405) throw error;
  }
  if (!Array.isArray(users)) {
    users = (await fetchDemoUsers()).filter((user) => !user.account_id || user.account_id === accountId);
  }
  return users.filter(senior).map((user) => ({ id: user.id, name: user.name || user.email || 'Unnamed senior' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
