// Picking up an escalation: one shared behaviour for the queue card and the handoff screen.

import { api, seg } from './api.js';
import { toast } from './notify.js';
import { seenEscalations } from './storage.js';
import { timeAgo } from './time.js';

// Resolves to the claimed handoff, or null when someone else has it (already reported with a toast).
export async function pickUp(id, button, queue) {
  seenEscalations.add(id);
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = 'Picking up…';
  try {
    const handoff = await api.post(`/api/v1/handoffs/${seg(id)}/claim`);
    queue?.remove(id);
    return handoff;
  } catch (error) {
    if (error.code === 'handoff_already_claimed') {
      const who = error.body.claimed_by?.name || 'someone else';
      const when = error.body.claimed_at ? ` ${timeAgo(error.body.claimed_at)}` : '';
      toast(`Already claimed by ${who}${when}.`);
      queue?.remove(id);
    } else if (error.status !== 401) {
      toast(error.detail, 'error');
      // A withdrawn or vanished escalation cannot come back to the queue.
      if (error.code === 'handoff_not_claimable' || error.status === 404) queue?.remove(id);
    }
    return null;
  } finally {
    if (button.isConnected) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = label;
    }
  }
}
