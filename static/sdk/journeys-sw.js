/*!
 * Journeys web push service worker — shows the notifications a journey sends.
 *
 * A service worker must be served by the site's own origin: copy this file to the root
 * of your site (default URL /journeys-sw.js; another path with data-sw="..." on the SDK's
 * script tag). Its scope is the folder it is served from, so the root covers every page.
 * No inline script, no eval, no imports: it works under a strict Content-Security-Policy.
 */
/* eslint-env serviceworker */
'use strict';

self.addEventListener('install', () => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (_) {
    data = { body: event.data ? event.data.text() : '' };
  }
  const title = typeof data.title === 'string' && data.title ? data.title : 'Notification';
  const options = {
    body: typeof data.body === 'string' ? data.body : '',
    // The same tag replaces rather than repeats a notification delivered twice.
    tag: typeof data.tag === 'string' ? data.tag : undefined,
    data: { url: typeof data.url === 'string' ? data.url : '' },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const raw = event.notification.data && event.notification.data.url;
  let target = null;
  try {
    const u = new URL(raw || '/', self.location.origin);
    if (u.protocol === 'https:' || u.protocol === 'http:') target = u.href; // never javascript:
  } catch (_) { target = null; }
  if (!target) return;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of open) {
      if (client.url === target && 'focus' in client) return client.focus();
    }
    return self.clients.openWindow(target);
  })());
});
