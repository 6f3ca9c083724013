// The dashboard's service worker. The page shows desktop notifications through this worker's registration;
// the worker only answers a click on one: it focuses a dashboard window and opens the handoff it names.
// It has no fetch handler, so every request of the page goes to the network as if it were not here.

const HANDOFF_ID = /^[A-Za-z0-9-]{1,64}$/;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// The window the person is most likely looking at: a focused one, then a visible one, then any.
function bestWindow(windows) {
  const dashboards = windows.filter((client) => new URL(client.url).pathname === '/');
  return dashboards.find((client) => client.focused)
    || dashboards.find((client) => client.visibilityState === 'visible')
    || dashboards[0]
    || null;
}

async function openHandoff(data) {
  const id = data && HANDOFF_ID.test(String(data.handoff_id)) ? String(data.handoff_id) : null;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const dashboard = bestWindow(windows);
  if (!dashboard) {
    await self.clients.openWindow(new URL(id ? `/#/handoffs/${id}` : '/', self.location.origin).href);
    return;
  }
  // The page's router opens the handoff, so the signed-in tab keeps its state (a reload would not).
  dashboard.postMessage({ type: 'open-handoff', handoff_id: id });
  try {
    await dashboard.focus();
  } catch {
    // Focusing needs the click's activation; without it the tab still shows the handoff.
  }
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openHandoff(event.notification.data));
});
