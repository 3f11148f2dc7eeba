// Constants shared by the page and the service worker: one place, so both open the same
// database, talk to the same endpoints and agree on the retry policy.

export const API = '/api/v1';
export const APP_PATH = '/app/';

/** IndexedDB: bump DB_VERSION only with an upgrade step in db.js that keeps existing rows. */
export const DB_NAME = 'chorus';
export const DB_VERSION = 1;
/** Object stores. `outbox` rows are keyed by the response UUID, `drafts` by draft key. */
export const STORES = Object.freeze({
  kv: 'kv',
  outbox: 'outbox',
  drafts: 'drafts',
  submitted: 'submitted',
});

/** Outbox retry: 2 s, 4 s, 8 s … capped at five minutes (plus up to 20 % jitter). */
export const BACKOFF_BASE_MS = 2000;
export const BACKOFF_CAP_MS = 5 * 60 * 1000;

/** A sending attempt that has not been answered after this long counts as failed (and retries). */
export const SEND_TIMEOUT_MS = 30000;

/** Background Sync tag the page registers and the worker answers. */
export const SYNC_TAG = 'chorus-outbox';
/** Web Locks name: one flush at a time across tabs and the worker. */
export const OUTBOX_LOCK = 'chorus-outbox-flush';

/** The API cache outlives releases: it is what lets the app open offline after an update. */
export const API_CACHE = 'chorus-api';
/** GETs the worker serves network-first with the last good answer as offline fallback. */
export const CACHED_API_PREFIXES = [
  `${API}/me`,
];
/** How long an API GET may take before the worker answers from its cache instead. */
export const NETWORK_TIMEOUT_MS = 6000;

/** The right-to-left languages among all languages (UI and questionnaire text). The UI
 * languages themselves come from the server's one list: see uiLanguages() in i18n.js. */
export const RTL_LANGUAGES = ['ar', 'fa', 'he', 'ur', 'ps', 'yi'];
