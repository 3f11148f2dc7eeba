// A small promise wrapper over IndexedDB, used by the page and the service worker alike.
// Nothing here ever deletes the database: a new release of the app keeps queued answers.

import { DB_NAME, DB_VERSION, STORES } from './config.js';

/** @type {Promise<IDBDatabase> | null} */
let opening = null;

/**
 * @param {IDBRequest | IDBTransaction} request
 * @returns {Promise<any>}
 */
function settle(request) {
  return new Promise((resolve, reject) => {
    if ('oncomplete' in request) {
      request.oncomplete = () => resolve(undefined);
      request.onabort = () => reject(request.error || new Error('transaction aborted'));
      request.onerror = () => reject(request.error);
    } else {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    }
  });
}

/**
 * Opens (and on first use creates) the database. Upgrades only ever add stores.
 * @returns {Promise<IDBDatabase>}
 */
export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        for (const name of Object.values(STORES)) {
          if (!db.objectStoreNames.contains(name)) db.createObjectStore(name);
        }
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab with a newer release wants to upgrade: let it, reopen on next use.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        opening = null;
        reject(request.error);
      };
      request.onblocked = () => reject(new Error('database upgrade blocked by another tab'));
    });
  }
  return opening;
}

/**
 * @param {string} store
 * @param {IDBValidKey} key
 * @returns {Promise<any>}
 */
export async function get(store, key) {
  const db = await openDb();
  return settle(db.transaction(store).objectStore(store).get(key));
}

/**
 * @param {string} store
 * @returns {Promise<any[]>}
 */
export async function getAll(store) {
  const db = await openDb();
  return settle(db.transaction(store).objectStore(store).getAll());
}

/**
 * @param {string} store
 * @returns {Promise<number>}
 */
export async function count(store) {
  const db = await openDb();
  return settle(db.transaction(store).objectStore(store).count());
}

/**
 * Writes one value and resolves once the transaction is durable.
 * @param {string} store
 * @param {IDBValidKey} key
 * @param {unknown} value
 * @returns {Promise<void>}
 */
export async function put(store, key, value) {
  const db = await openDb();
  const tx = db.transaction(store, 'readwrite', { durability: 'strict' });
  tx.objectStore(store).put(value, key);
  return settle(tx);
}

/**
 * @param {string} store
 * @param {IDBValidKey} key
 * @returns {Promise<void>}
 */
export async function del(store, key) {
  const db = await openDb();
  const tx = db.transaction(store, 'readwrite', { durability: 'strict' });
  tx.objectStore(store).delete(key);
  return settle(tx);
}

/**
 * Runs `work` in one read-write transaction over several stores: all of it happens or none.
 * `work` must only queue requests (no awaiting other promises inside, or the transaction ends).
 * @param {string[]} stores
 * @param {(tx: IDBTransaction) => void} work
 * @returns {Promise<void>}
 */
export async function atomically(stores, work) {
  const db = await openDb();
  const tx = db.transaction(stores, 'readwrite', { durability: 'strict' });
  work(tx);
  return settle(tx);
}

/**
 * Empties the given stores (signing out). Never deletes the database itself.
 * @param {string[]} stores
 * @returns {Promise<void>}
 */
export async function clear(stores) {
  return atomically(stores, (tx) => {
    for (const name of stores) tx.objectStore(name).clear();
  });
}
