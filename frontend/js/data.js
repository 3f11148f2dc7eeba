// What the screens read from the API: who this phone answers for, what is due, and the
// rendered instruments. The service worker answers these GETs network-first and falls back to
// the last good copy, so they also work offline after one online visit.

import { request } from './api.js';
import { t } from './i18n.js';

/**
 * @typedef {object} Person someone this phone answers for (GET /me → people[])
 * @property {number} participant_id
 * @property {string} study
 * @property {string | null} nickname
 * @property {string | null} colour
 * @property {string | null} [time_zone] the person's own time zone
 * @property {string} age_band
 * @property {string} status
 * @property {'self' | 'proxy'} respondent wording used (proxy for a caregiver)
 * @property {string | null} caregiver_role
 * @property {string} answered_by what a response records: self, parent, other_caregiver
 *
 * @typedef {object} DueItem
 * @property {string} key
 * @property {string} version
 * @property {string} title
 * @property {string} language
 * @property {string} respondent
 * @property {number | null} [occurrence_id] null: no schedule, always offered; else sent with the answers
 * @property {string | null} [opens_at]
 * @property {string | null} [closes_at]
 * @property {'open' | 'upcoming' | 'available'} [status] open: answer now; upcoming: opens at
 *   opens_at; available: no schedule, answer any time
 *
 * @typedef {Person & {instruments: DueItem[]}} PersonDue
 * @typedef {{kind: string, language: string, time_zone: string, device_id: number, device_label: string, people: Person[]}} Me
 */

/** @returns {Promise<Me>} */
export function loadMe() {
  return request('/me');
}

/** @returns {Promise<{data: {people: PersonDue[]}, offlineCopy: boolean}>} */
export function loadDue() {
  return request('/me/due', { meta: true });
}

/**
 * The instrument as this person's questionnaire shows it (proxy wording for caregivers).
 * @param {number} participantId
 * @param {string} key
 * @param {string} version
 * @returns {Promise<any>}
 */
export function loadInstrument(participantId, key, version) {
  return request(instrumentPath(participantId, key, version));
}

/**
 * @param {number} participantId
 * @param {string} key
 * @param {string} version
 * @returns {string}
 */
export function instrumentPath(participantId, key, version) {
  return `/me/instruments/${encodeURIComponent(key)}/${encodeURIComponent(version)}?for=${participantId}`;
}

/**
 * Fetches who this phone answers for, the due list and every instrument on it once more, now
 * through the service worker, so it keeps a copy of each for offline use (the first visit's
 * requests happen before the worker is in control). Failures are ignored: this is a warm-up.
 * @param {{people: PersonDue[]}} due
 * @returns {Promise<number>} how many of these requests succeeded
 */
export async function warmUp(due) {
  const jobs = [request('/me').then(() => 1, () => 0), request('/me/due').then(() => 1, () => 0)];
  for (const person of due.people) {
    for (const item of person.instruments) {
      jobs.push(loadInstrument(person.participant_id, item.key, item.version).then(() => 1, () => 0));
    }
  }
  const done = await Promise.all(jobs);
  return done.reduce((a, b) => a + b, 0);
}

/**
 * Whether a due item can be answered now (open occurrence, or an unscheduled instrument).
 * @param {DueItem} item
 * @returns {boolean}
 */
export function isAnswerable(item) {
  return item.status !== 'upcoming';
}

/**
 * How the app names a person: their nickname, "You" for oneself, else "Child 1", "Child 2"…
 * @param {Person} person
 * @param {Person[]} people all people on this phone, for numbering
 * @returns {string}
 */
export function personName(person, people) {
  if (person.nickname) return person.nickname;
  if (person.respondent === 'self') return t('person.you');
  const children = people.filter((p) => p.respondent !== 'self');
  return t('person.child', { number: children.indexOf(person) + 1 });
}
