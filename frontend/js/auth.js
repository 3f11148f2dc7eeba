// Signing this phone in (redeeming an invitation link or code) and out.

import { request, loadCredential, saveCredential } from './api.js';
import { API_CACHE, STORES } from './config.js';
import * as db from './db.js';

let signedInNow = false;
/** Bumped by every sign-in and sign-out, so a slower read of the store cannot undo one. */
let changes = 0;

/**
 * Reads an invitation token from a URL fragment such as "#join=abc".
 * @param {string} hash location.hash
 * @returns {string | null}
 */
export function joinToken(hash) {
  const match = /^#join=([^&]+)/.exec(hash);
  return match ? decodeURIComponent(match[1]) : null;
}

/** A label the study team sees in the device list (no personal data: browser and platform). */
function deviceLabel() {
  // @ts-ignore - userAgentData is Chromium-only
  const platform = navigator.userAgentData?.platform || navigator.platform || '';
  return `Chorus app${platform ? ` (${platform})` : ''}`.slice(0, 80);
}

/**
 * Exchanges an invitation (link token or typed code) for this phone's credential and stores it.
 * The answer also carries what GET /me and GET /me/due would say, so Today can be drawn
 * without two more round trips. Rejects with ApiError (401: the link or code does not work;
 * 429: too many tries).
 * @param {{token?: string, code?: string}} secret
 * @returns {Promise<{me: import('./data.js').Me, due: {people: import('./data.js').PersonDue[]}}>}
 */
export async function redeem(secret) {
  const body = { ...secret, device_label: deviceLabel() };
  const answer = await request('/invitations/redeem', { method: 'POST', body, auth: false });
  const credential = {
    token: String(answer.device_token),
    kind: answer.kind,
    device_id: Number(answer.device_id),
  };
  // Cached answers belonged to whoever used this phone before: never show them to the new holder.
  if (globalThis.caches) await caches.delete(API_CACHE);
  await saveCredential(credential);
  signedInNow = true;
  changes += 1;
  return { me: answer.me, due: answer.due };
}

/** @returns {boolean} whether this phone holds a credential (as last read or set) */
export function signedIn() {
  return signedInNow;
}

/** @returns {Promise<boolean>} reads the credential store again */
export async function refreshSignedIn() {
  const before = changes;
  const held = Boolean(await loadCredential());
  // A redeem (main.js starts it early) or a sign-out while reading knows better.
  if (changes === before) signedInNow = held;
  return signedInNow;
}

/**
 * The server no longer accepts this phone's credential (401): forget it, keep everything else
 * (queued answers can be retried after signing in again with a new invitation).
 * @returns {Promise<void>}
 */
export async function dropCredential() {
  await db.del(STORES.kv, 'device');
  signedInNow = false;
  changes += 1;
}

/**
 * Forgets everything this phone holds for the study: credential, drafts, history copy and the
 * cached API answers. The outbox is cleared too: without a credential it can never be sent
 * (callers warn first when it is not empty). The server side is DELETE /me/device.
 * @returns {Promise<void>}
 */
export async function forgetDevice() {
  await db.clear([STORES.kv, STORES.outbox, STORES.drafts, STORES.submitted]);
  signedInNow = false;
  changes += 1;
  if (globalThis.caches) await caches.delete(API_CACHE);
}
