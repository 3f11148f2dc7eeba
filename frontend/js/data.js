// What the screens read from the API: who this phone answers for, what is due, and the
// rendered instruments. The service worker answers these GETs network-first and falls back to
// the last good copy, so they also work offline after one online visit.

import { request } from './api.js';
import { onLanguageChange, t } from './i18n.js';

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

// Round trips cost most on a slow link, so answers just read stand in for new requests where
// that is safe: the due list from the redeem answer for the first Today, Today's list (30 s at
// most) for the questionnaire opened from it, and instruments fetched while Today is shown.

/** @type {{people: PersonDue[]} | null} the redeem answer's due list, for the next loadDue */
let signInDue = null;
/** @type {{data: {people: PersonDue[]}, at: number} | null} the last list from the server */
let lastDue = null;
const DUE_FRESH_MS = 30_000;
/** @type {Map<string, {answer: Promise<any>, at: number}>} instrument fetches begun early */
const early = new Map();
const INSTRUMENT_FRESH_MS = 120_000;

// Instruments are rendered in the holder's language: a new one makes early copies useless.
onLanguageChange(() => early.clear());

/**
 * What the redeem answer carried: the next loadDue() answers with it instead of the network.
 * @param {{people: PersonDue[]}} due
 */
export function useSignInDue(due) {
  signInDue = due;
  lastDue = { data: due, at: Date.now() };
  early.clear();
}

/**
 * GET /me/due (once after sign-in: the redeem answer's copy). `fresh: true` also accepts the
 * list the server gave in the last 30 seconds. Copies the worker answered from its offline
 * cache are never reused.
 * @param {{fresh?: boolean}} [options]
 * @returns {Promise<{data: {people: PersonDue[]}, offlineCopy: boolean}>}
 */
export async function loadDue(options = {}) {
  if (signInDue) {
    const data = signInDue;
    signInDue = null;
    return { data, offlineCopy: false };
  }
  if (options.fresh && lastDue && Date.now() - lastDue.at < DUE_FRESH_MS) {
    return { data: lastDue.data, offlineCopy: false };
  }
  /** @type {{data: {people: PersonDue[]}, offlineCopy: boolean}} */
  const answer = await request('/me/due', { meta: true });
  lastDue = answer.offlineCopy ? null : { data: answer.data, at: Date.now() };
  return answer;
}

/**
 * Starts fetching the instruments a due list offers now, so opening one from Today does not
 * wait for the network (loadInstrument takes the answer over; failures are left to it).
 * @param {{people: PersonDue[]}} due
 */
export function prefetchInstruments(due) {
  for (const person of due.people) {
    for (const item of person.instruments.filter(isAnswerable)) {
      const path = instrumentPath(person.participant_id, item.key, item.version);
      const begun = early.get(path);
      if (begun && Date.now() - begun.at < INSTRUMENT_FRESH_MS) continue;
      const answer = request(path);
      answer.catch(() => early.delete(path));
      early.set(path, { answer, at: Date.now() });
    }
  }
}

/**
 * The instrument as this person's questionnaire shows it (proxy wording for caregivers).
 * @param {number} participantId
 * @param {string} key
 * @param {string} version
 * @returns {Promise<any>}
 */
export function loadInstrument(participantId, key, version) {
  const path = instrumentPath(participantId, key, version);
  const begun = early.get(path);
  early.delete(path);
  return begun && Date.now() - begun.at < INSTRUMENT_FRESH_MS ? begun.answer : request(path);
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
      // Never an early copy (loadInstrument): this request must go through the worker.
      jobs.push(request(instrumentPath(person.participant_id, item.key, item.version)).then(() => 1, () => 0));
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
