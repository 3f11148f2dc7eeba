// The outbox: finished questionnaires wait here, in IndexedDB keyed by their response UUID,
// until the server has answered 2xx. Sending is safe to repeat (the server is idempotent by
// that UUID), so a record is removed only after a 2xx and a crash at any point loses nothing.
// A 4xx other than 408/425/429 (409 changed resend, 422 invalid, 401/403 not allowed) cannot
// succeed by retrying: the record stays, marked failed, and the participant is told.
// Used by the page (on open, on `online`, on a timer, on user action) and by the service
// worker (Background Sync).

import { request, ApiError } from './api.js';
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, OUTBOX_LOCK, SEND_TIMEOUT_MS, STORES, SYNC_TAG } from './config.js';
import * as db from './db.js';

/**
 * @typedef {object} OutboxSummary what the app shows and keeps after sending (no answers)
 * @property {number} participant_id
 * @property {string} instrument
 * @property {string} version
 * @property {string} title
 * @property {number | null} occurrence_id
 * @property {Record<string, number>} numeric numeric answers, for the participant's own trend chart
 *
 * @typedef {object} OutboxRecord
 * @property {string} id the response UUID (also the IndexedDB key)
 * @property {Record<string, unknown>} body exactly what POST /me/responses/ receives
 * @property {OutboxSummary} summary
 * @property {string} queued_at ISO time
 * @property {number} attempts
 * @property {number} next_attempt_at epoch ms
 * @property {'waiting' | 'failed'} state
 * @property {{status: number, code: string, message: string, errors: Record<string, any>} | null} error
 */

const CHANNEL = 'chorus-outbox';
/** @type {BroadcastChannel | null} */
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;
const local = new EventTarget();

/** Tells this page and every other tab (and the worker's clients) that the outbox changed. */
function changed() {
  local.dispatchEvent(new Event('change'));
  channel?.postMessage('change');
}

if (channel) channel.onmessage = () => local.dispatchEvent(new Event('change'));

/**
 * Calls `listener` whenever the outbox changes here, in another tab or in the worker.
 * @param {() => void} listener
 * @returns {() => void} unsubscribe
 */
export function onChange(listener) {
  local.addEventListener('change', listener);
  return () => local.removeEventListener('change', listener);
}

/**
 * Delay before attempt number `attempts + 1`: doubling from 2 s, capped at five minutes, with
 * up to 20 % jitter so many phones coming back online do not all retry at once.
 * @param {number} attempts failed attempts so far (>= 1)
 * @param {number} [random] a number in [0, 1), for tests
 * @returns {number} milliseconds
 */
export function backoffDelay(attempts, random = Math.random()) {
  const exponent = Math.min(Math.max(attempts - 1, 0), 20);
  const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** exponent);
  return Math.min(BACKOFF_CAP_MS, Math.round(delay * (1 + 0.2 * random)));
}

/**
 * Whether an HTTP status means "this exact request will never succeed".
 * @param {number} status
 * @returns {boolean}
 */
export function isPermanent(status) {
  return status >= 400 && status < 500 && ![408, 425, 429].includes(status);
}

/** @returns {Promise<OutboxRecord[]>} oldest first */
export async function records() {
  /** @type {OutboxRecord[]} */
  const all = await db.getAll(STORES.outbox);
  return all.sort((a, b) => a.queued_at.localeCompare(b.queued_at));
}

/**
 * Whether this phone already holds an answer for this questionnaire and visit (#11): one
 * waiting in the outbox, or one sent for the same occurrence. A questionnaire without an
 * occurrence (answer any time) counts only answers still waiting.
 * @param {OutboxRecord[]} queued
 * @param {Array<{participant_id: number, instrument: string, occurrence_id?: number | null}>} sent
 * @param {number} participantId
 * @param {string} instrument
 * @param {number | null | undefined} occurrenceId
 * @returns {'waiting' | 'sent' | null}
 */
export function earlierAnswer(queued, sent, participantId, instrument, occurrenceId) {
  /** @param {{participant_id: number, instrument: string, occurrence_id?: number | null}} s */
  const same = (s) =>
    s.participant_id === participantId && s.instrument === instrument && (s.occurrence_id ?? null) === (occurrenceId ?? null);
  if (queued.some((r) => same(r.summary))) return 'waiting';
  if (occurrenceId != null && sent.some(same)) return 'sent';
  return null;
}

/** @returns {Promise<{waiting: number, failed: number}>} */
export async function counts() {
  const all = await records();
  const failed = all.filter((r) => r.state === 'failed').length;
  return { waiting: all.length - failed, failed };
}

/**
 * Queues a finished response and, in the same transaction, deletes its draft: the answers are
 * always in exactly one of the two places.
 * @param {{id: string, body: Record<string, unknown>, summary: OutboxSummary}} item
 * @param {string | null} draftKey
 * @returns {Promise<OutboxRecord>}
 */
export async function enqueue(item, draftKey) {
  /** @type {OutboxRecord} */
  const record = {
    id: item.id,
    body: item.body,
    summary: item.summary,
    queued_at: new Date().toISOString(),
    attempts: 0,
    next_attempt_at: 0,
    state: 'waiting',
    error: null,
  };
  await db.atomically([STORES.outbox, STORES.drafts], (tx) => {
    tx.objectStore(STORES.outbox).put(record, record.id);
    if (draftKey) tx.objectStore(STORES.drafts).delete(draftKey);
  });
  changed();
  askForPersistentStorage();
  await requestBackgroundSync();
  return record;
}

/** Best effort: ask the browser not to evict our storage under pressure. */
function askForPersistentStorage() {
  // persist() exists in pages only (the worker also sends through this module).
  const storage = /** @type {StorageManager & {persist?: () => Promise<boolean>}} */ (globalThis.navigator?.storage);
  if (!storage || typeof storage.persist !== 'function') return;
  const persist = storage.persist.bind(storage);
  storage.persisted().then((already) => already || persist()).catch(() => {});
}

/** Registers a Background Sync so the worker sends even if the app is closed (Chromium). */
export async function requestBackgroundSync() {
  try {
    const sw = globalThis.navigator?.serviceWorker;
    if (!sw || !('SyncManager' in globalThis)) return;
    const registration = await sw.ready;
    // @ts-ignore - SyncManager is not in every lib.dom.d.ts
    await registration.sync.register(SYNC_TAG);
  } catch {
    // No permission or no support: the page's own triggers still send.
  }
}

/** @type {Promise<unknown>} */
let chain = Promise.resolve();

/**
 * Runs `work` while holding the outbox lock (Web Locks across tabs and the worker; a promise
 * chain where Web Locks are missing). A second concurrent flush waits, then finds less to do.
 * @template T
 * @param {() => Promise<T>} work
 * @returns {Promise<T>}
 */
function exclusively(work) {
  const locks = globalThis.navigator?.locks;
  if (locks) return locks.request(OUTBOX_LOCK, work);
  const run = chain.then(work, work);
  chain = run.then(() => undefined, () => undefined);
  return run;
}

/**
 * Sends one record. Resolves with the outcome; never throws for HTTP or network failures.
 * @param {OutboxRecord} record
 * @returns {Promise<'sent' | 'retry' | 'failed'>}
 */
async function send(record) {
  try {
    // A request that hangs must not hold the outbox lock for ever; a late success is fine
    // (the resend gets the same receipt).
    const receipt = await request('/me/responses/', {
      method: 'POST',
      body: record.body,
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    await db.atomically([STORES.outbox, STORES.submitted], (tx) => {
      tx.objectStore(STORES.outbox).delete(record.id);
      tx.objectStore(STORES.submitted).put(
        {
          ...record.summary,
          id: record.id,
          finished_at: record.body.finished_at,
          received_at: receipt && receipt.received_at,
          response_id: receipt && receipt.response_id,
        },
        record.id,
      );
    });
    return 'sent';
  } catch (error) {
    const problem = error instanceof ApiError ? error : new ApiError(0, 'network', String(error));
    const attempts = record.attempts + 1;
    const permanent = isPermanent(problem.status);
    // Re-read: the participant may have discarded it while the request was in flight.
    if (!(await db.get(STORES.outbox, record.id))) return 'failed';
    await db.put(STORES.outbox, record.id, {
      ...record,
      attempts,
      state: permanent ? 'failed' : 'waiting',
      next_attempt_at: permanent ? 0 : Date.now() + backoffDelay(attempts),
      error: {
        status: problem.status,
        code: problem.code,
        message: problem.message,
        errors: problem.errors,
      },
    });
    return permanent ? 'failed' : 'retry';
  }
}

/**
 * Sends every waiting record whose retry time has come (all of them with `force`). Stops at
 * the first network failure: the others would fail the same way.
 * @param {{force?: boolean}} [options]
 * @returns {Promise<{sent: number, waiting: number, failed: number}>}
 */
export function flush(options = {}) {
  const force = Boolean(options.force);
  return exclusively(async () => {
    let sent = 0;
    let touched = false;
    for (const record of await records()) {
      if (record.state !== 'waiting') continue;
      if (!force && record.next_attempt_at > Date.now()) continue;
      const outcome = await send(record);
      touched = true;
      if (outcome === 'sent') sent += 1;
      if (outcome === 'retry') break;
    }
    if (touched) changed();
    return { sent, ...(await counts()) };
  });
}

/**
 * The participant asks to try a failed record again (e.g. after signing in again).
 * @param {string} id
 * @returns {Promise<void>}
 */
export async function retry(id) {
  /** @type {OutboxRecord | undefined} */
  const record = await db.get(STORES.outbox, id);
  if (!record) return;
  await db.put(STORES.outbox, id, { ...record, state: 'waiting', next_attempt_at: 0 });
  changed();
  await flush({ force: true });
}

/**
 * After signing in again: answers refused only because this phone was signed out (401) go
 * back to waiting and are sent with the new credential.
 * @returns {Promise<void>}
 */
export async function retrySignedOut() {
  const refused = (await records()).filter((r) => r.state === 'failed' && r.error?.status === 401);
  for (const record of refused) {
    await db.put(STORES.outbox, record.id, { ...record, state: 'waiting', next_attempt_at: 0 });
  }
  if (refused.length) {
    changed();
    await flush({ force: true });
  }
}

/**
 * The participant gives up on a record that cannot be sent (after being told why).
 * @param {string} id
 * @returns {Promise<void>}
 */
export async function discard(id) {
  await db.del(STORES.outbox, id);
  changed();
}

/** @type {ReturnType<typeof setTimeout> | null} */
let timer = null;

/** Sets a timer for the earliest retry among waiting records (page only). */
async function scheduleNextAttempt() {
  if (timer) clearTimeout(timer);
  timer = null;
  const waiting = (await records()).filter((r) => r.state === 'waiting');
  if (waiting.length === 0) return;
  const next = Math.min(...waiting.map((r) => r.next_attempt_at));
  timer = setTimeout(() => {
    flush().finally(scheduleNextAttempt);
  }, Math.max(0, next - Date.now()));
}

/**
 * Page start-up: send now, again whenever the browser says it is back online or the app comes
 * to the foreground, and on the backoff timer. `navigator.onLine` is never trusted: the
 * request itself is the connectivity check.
 * @returns {Promise<void>}
 */
export async function startAutoFlush() {
  const kick = () => {
    flush({ force: true }).finally(scheduleNextAttempt);
  };
  globalThis.addEventListener('online', kick);
  // visibilitychange bubbles from the document to the window; reading it from the event keeps
  // this module free of page-only globals (the service worker imports it too).
  globalThis.addEventListener('visibilitychange', (event) => {
    if (/** @type {{visibilityState?: string}} */ (event.target).visibilityState === 'visible') kick();
  });
  onChange(() => {
    scheduleNextAttempt();
  });
  await flush({ force: true }).catch(() => undefined);
  await scheduleNextAttempt();
}
