// Web Push on this phone: subscribe with the server's VAPID public key and store the
// subscription for this device (PUT /me/push), or stop (DELETE /me/push). The worker (sw.js)
// shows the notices. A browser without a push service, or one that never answers, ends in a
// clear error instead of a spinning button.

import { request } from './api.js';

/** How long the browser's push service may take to hand out a subscription. */
const SUBSCRIBE_TIMEOUT_MS = 30000;

/** @returns {boolean} whether this browser can receive Web Push at all */
export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in globalThis && 'Notification' in globalThis;
}

/**
 * base64url (the server's key) → the bytes pushManager.subscribe wants.
 * @param {string} text
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function base64UrlToBytes(text) {
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/**
 * @param {ArrayBuffer | null} buffer
 * @param {Uint8Array} bytes
 * @returns {boolean}
 */
function sameBytes(buffer, bytes) {
  if (!buffer) return false;
  const view = new Uint8Array(buffer);
  return view.length === bytes.length && view.every((b, i) => b === bytes[i]);
}

/**
 * The worker's registration; rejects if none becomes active soon (push needs the worker).
 * @returns {Promise<ServiceWorkerRegistration>}
 */
function registration() {
  return Promise.race([
    navigator.serviceWorker.ready,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no service worker')), 10000)),
  ]);
}

/** @returns {Promise<PushSubscription | null>} this browser's subscription, if any */
async function browserSubscription() {
  return (await registration()).pushManager.getSubscription();
}

/**
 * The server's view (GET /me/push) and whether this browser still holds a subscription.
 * Rejects with ApiError (503: push is not configured on the server).
 * @returns {Promise<{vapidKey: string, server: boolean, browser: boolean}>}
 */
export async function pushState() {
  const status = await request('/me/push');
  const subscription = pushSupported() ? await browserSubscription().catch(() => null) : null;
  return { vapidKey: String(status.vapid_public_key), server: Boolean(status.subscribed), browser: Boolean(subscription) };
}

/**
 * Asks for permission (must run from a tap), subscribes with the server's key (replacing a
 * subscription made with another key) and stores it for this device.
 * @param {string} vapidKey base64url application server key from GET /me/push
 * @returns {Promise<'on' | 'denied'>}
 */
export async function enablePush(vapidKey) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'denied';
  const key = base64UrlToBytes(vapidKey);
  const { pushManager } = await registration();
  let subscription = await pushManager.getSubscription();
  if (subscription && !sameBytes(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  if (!subscription) {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('push service did not answer')), SUBSCRIBE_TIMEOUT_MS);
    });
    try {
      subscription = /** @type {PushSubscription} */ (
        await Promise.race([
          pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
          timeout,
        ])
      );
    } finally {
      clearTimeout(timer);
    }
  }
  await request('/me/push', { method: 'PUT', body: subscription.toJSON() });
  return 'on';
}

/**
 * Stops push to this phone: the server forgets the subscription first (so nothing is sent to
 * it any more), then the browser drops it.
 * @returns {Promise<void>}
 */
export async function disablePush() {
  await request('/me/push', { method: 'DELETE' });
  if (!pushSupported()) return;
  const subscription = await browserSubscription().catch(() => null);
  if (subscription) await subscription.unsubscribe().catch(() => false);
}

/**
 * After signing out: drop the browser's subscription (the server deleted it with the device).
 * @returns {Promise<void>}
 */
export async function forgetBrowserSubscription() {
  if (!pushSupported()) return;
  const subscription = await browserSubscription().catch(() => null);
  if (subscription) await subscription.unsubscribe().catch(() => false);
}
