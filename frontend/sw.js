// The service worker (a module worker, scope /app/). Flask fills in the placeholders at
// start-up (app/web/pwa.py): the release hash of every shipped file and the precache list.
//
// - The app shell and hashed assets: precached at install (cache: 'reload'), served from the
//   release's cache. A new release means a new worker and a new cache; activation deletes the
//   old release caches and nothing else (IndexedDB, where answers wait, is never touched).
// - API GETs under /api/v1/me: network first; the last good answer is the offline fallback
//   (and the answer when the network is too slow). Errors such as 401 are never masked.
// - Non-GET requests are never intercepted: answers go through the outbox, not a cache.
// - Background Sync sends the outbox even when the app is closed.
// - Push: shows the server's notice; its tag replaces an earlier notice about the same thing.

import {
  API_CACHE,
  APP_PATH,
  CACHED_API_PREFIXES,
  NETWORK_TIMEOUT_MS,
  SYNC_TAG,
} from '__CHORUS_ASSET_BASE__/js/config.js';
import { flush } from '__CHORUS_ASSET_BASE__/js/outbox.js';

const RELEASE = '__CHORUS_RELEASE__';
const CACHE = `chorus-app-${RELEASE}`;
/** @type {string[]} */
const PRECACHE = [/*__CHORUS_PRECACHE__*/];
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

sw.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })))),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('chorus-app-') && name !== CACHE) await caches.delete(name);
      }
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') sw.skipWaiting();
  if (event.data === 'flush') event.waitUntil(flush({ force: true }));
});

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  if (request.mode === 'navigate' && url.pathname.startsWith(APP_PATH)) {
    event.respondWith(fromCache(APP_PATH, request));
  } else if (PRECACHE.includes(url.pathname)) {
    event.respondWith(fromCache(url.pathname, request));
  } else if (CACHED_API_PREFIXES.some((prefix) => url.pathname.startsWith(prefix))) {
    event.respondWith(networkFirst(event, request));
  }
});

/**
 * The release's copy, or the network when (unusually) it is missing.
 * @param {string} key
 * @param {Request} request
 * @returns {Promise<Response>}
 */
async function fromCache(key, request) {
  const cached = await caches.match(key, { cacheName: CACHE });
  return cached || fetch(request);
}

/**
 * @param {Response} response
 * @returns {Response} the same response marked as coming from the offline copy
 */
function markCached(response) {
  const headers = new Headers(response.headers);
  headers.set('X-Chorus-Offline-Copy', '1');
  return new Response(response.body, { status: response.status, headers });
}

/**
 * Network first for the participant's own data; the last good copy when offline or slow.
 * Only 2xx answers are stored; 4xx answers pass through (a revoked phone must see its 401).
 * @param {FetchEvent} event
 * @param {Request} request
 * @returns {Promise<Response>}
 */
async function networkFirst(event, request) {
  const cache = await caches.open(API_CACHE);
  const network = fetch(request).then(async (response) => {
    if (response.ok) await cache.put(request.url, response.clone());
    return response;
  });
  event.waitUntil(network.then(() => undefined, () => undefined));
  /** @type {Promise<'timeout'>} */
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), NETWORK_TIMEOUT_MS));
  try {
    const first = await Promise.race([network, timeout]);
    if (first !== 'timeout' && first.status < 500) return first;
    const cached = await cache.match(request.url, { ignoreVary: true });
    if (cached) return markCached(cached);
    return first === 'timeout' ? await network : first;
  } catch {
    const cached = await cache.match(request.url, { ignoreVary: true });
    if (cached) return markCached(cached);
    return Response.error();
  }
}

sw.addEventListener('sync', (/** @type {any} */ event) => {
  if (event.tag !== SYNC_TAG) return;
  event.waitUntil(
    flush({ force: true }).then((result) => {
      // Rejecting asks the browser to try this sync again later with its own backoff.
      if (result.waiting > 0) throw new Error(`${result.waiting} answer(s) still waiting`);
    }),
  );
});

sw.addEventListener('push', (event) => {
  /** @type {{title?: string, body?: string, tag?: string, url?: string}} */
  let notice;
  try {
    notice = event.data ? event.data.json() : {};
  } catch {
    notice = {};
  }
  /** @type {NotificationOptions & {renotify?: boolean}} renotify: Chromium has it, TS's lib not yet */
  const options = {
    body: notice.body || '',
    tag: notice.tag || 'chorus',
    // A notice with the same tag replaces the earlier one; renotify makes the replacement
    // still alert the participant (it is a new reminder, not a silent update).
    renotify: Boolean(notice.tag),
    icon: `${PRECACHE.find((u) => u.endsWith('/icons/icon-192.png')) || ''}`,
    data: { url: safeAppUrl(notice.url) },
  };
  event.waitUntil(sw.registration.showNotification(notice.title || 'Chorus', options));
});

/**
 * Only ever opens a page of this app (a push payload cannot send anyone elsewhere).
 * @param {string | undefined} raw
 * @returns {string}
 */
function safeAppUrl(raw) {
  try {
    const url = new URL(raw || APP_PATH, sw.location.origin);
    if (url.origin === sw.location.origin && url.pathname.startsWith(APP_PATH)) return url.href;
  } catch {
    // fall through
  }
  return new URL(APP_PATH, sw.location.origin).href;
}

sw.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = event.notification.data?.url || new URL(APP_PATH, sw.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
      for (const client of windows) {
        if (new URL(client.url).pathname.startsWith(APP_PATH)) {
          await client.focus();
          if ('navigate' in client) await client.navigate(target);
          return;
        }
      }
      await sw.clients.openWindow(target);
    })(),
  );
});
