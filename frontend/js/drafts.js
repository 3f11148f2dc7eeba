// Questionnaires in progress, saved to IndexedDB on every change (each keystroke, each tap),
// so a closed tab or a flat battery resumes exactly where the participant stopped. A draft
// holds the response UUID from the start: the same id travels to the outbox and the server.

import { STORES } from './config.js';
import * as db from './db.js';

/**
 * @typedef {object} Draft
 * @property {string} key see draftKey()
 * @property {string} id response UUID, made when the questionnaire is first opened
 * @property {number} participant_id
 * @property {string} instrument
 * @property {string} version
 * @property {number | null} occurrence_id
 * @property {string} started_at ISO with the phone's offset
 * @property {Record<string, unknown>} answers item id → answer
 * @property {string[]} hard item ids flagged "hard to understand"
 * @property {string} position 'intro', an item id, or 'review'
 * @property {string} updated_at
 */

/**
 * One draft per person, instrument version and occurrence.
 * @param {number} participantId
 * @param {string} instrument
 * @param {string} version
 * @param {number | null | undefined} occurrenceId
 * @returns {string}
 */
export function draftKey(participantId, instrument, version, occurrenceId) {
  return [participantId, instrument, version, occurrenceId ?? ''].join('|');
}

/**
 * @param {string} key
 * @returns {Promise<Draft | undefined>}
 */
export function loadDraft(key) {
  return db.get(STORES.drafts, key);
}

/**
 * @param {Draft} draft
 * @returns {Promise<void>}
 */
export function saveDraft(draft) {
  return db.put(STORES.drafts, draft.key, { ...draft, updated_at: new Date().toISOString() });
}

/**
 * @param {string} key
 * @returns {Promise<void>}
 */
export function deleteDraft(key) {
  return db.del(STORES.drafts, key);
}

/** @returns {Promise<Draft[]>} */
export function allDrafts() {
  return db.getAll(STORES.drafts);
}
