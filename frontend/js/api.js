// Talking to the Chorus API: the device's bearer token on every call, errors as ApiError with
// the server's {code, status, message, errors} shape. Used by the page and the worker.

import { API, STORES } from './config.js';
import * as db from './db.js';

/** The device credential as stored in IndexedDB (kv store, key "device"). */
/** @typedef {{token: string, kind: 'participant' | 'caregiver', device_id: number}} DeviceCredential */

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, or 0 when the server could not be reached
   * @param {string} code stable code from the server's catalogue ('network' when unreachable)
   * @param {string} message
   * @param {Record<string, any>} [errors]
   */
  constructor(status, code, message, errors = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.errors = errors;
  }

  /** True when the request never got an answer from the server (offline, DNS, timeout). */
  get offline() {
    return this.status === 0;
  }
}

/** @returns {Promise<DeviceCredential | undefined>} */
export function loadCredential() {
  return db.get(STORES.kv, 'device');
}

/**
 * @param {DeviceCredential} credential
 * @returns {Promise<void>}
 */
export function saveCredential(credential) {
  return db.put(STORES.kv, 'device', credential);
}

/**
 * Calls the API. Resolves with the parsed JSON (or null for 204); rejects with ApiError.
 * @param {string} path under /api/v1, e.g. '/me/due'
 * @param {{method?: string, body?: unknown, auth?: boolean, signal?: AbortSignal, meta?: boolean}} [options]
 *   meta: resolve with {data, offlineCopy} instead, offlineCopy telling whether the service
 *   worker answered from its saved copy because the network did not.
 * @returns {Promise<any>}
 */
export async function request(path, options = {}) {
  const { method = 'GET', body, auth = true, signal, meta = false } = options;
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth) {
    const credential = await loadCredential();
    if (!credential) throw new ApiError(401, 'not_signed_in', 'This phone is not signed in.');
    headers.Authorization = `Bearer ${credential.token}`;
  }
  /** @type {Response} */
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      signal,
    });
  } catch (error) {
    throw new ApiError(0, 'network', error instanceof Error ? error.message : String(error));
  }
  if (response.status === 204) return meta ? { data: null, offlineCopy: false } : null;
  /** @type {any} */
  let data;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = data && typeof data === 'object' ? data : {};
    throw new ApiError(
      response.status,
      String(problem.code || 'http_' + response.status),
      String(problem.message || response.statusText || 'Request failed'),
      problem.errors || {},
    );
  }
  if (meta) return { data, offlineCopy: response.headers.get('X-Chorus-Offline-Copy') === '1' };
  return data;
}
