// Preview mode (issue #15): study staff see a draft instrument exactly as a participant or a
// caregiver will, in a phone-sized frame on the co-design pages. The same screens draw it (no
// second renderer); only the sources change: the rendered instrument comes from a staff-only
// URL, the person is made up, and answers stay in this page's memory. Nothing goes to the
// outbox, IndexedDB or the server, so a preview never becomes study data.

/**
 * @typedef {object} PreviewState
 * @property {boolean} active
 * @property {any} instrument the rendered instrument (as /me/instruments returns it)
 * @property {import('./data.js').PersonDue | null} person
 * @property {Map<string, any>} drafts answers in progress, by draft key (memory only)
 */

/** @type {PreviewState} */
export const preview = { active: false, instrument: null, person: null, drafts: new Map() };

/**
 * The staff URL of the instrument to preview, from this page's address (`?instrument=`), or
 * null outside preview mode. Only a path on this site under /staff/ is accepted.
 * @param {Location} where
 * @returns {string | null}
 */
export function previewSource(where) {
  const source = new URLSearchParams(where.search).get('instrument');
  if (!source || !source.startsWith('/staff/') || source.startsWith('//')) return null;
  return source;
}

/**
 * Loads the instrument and makes up the person answering it.
 * @param {string} source
 * @returns {Promise<string>} the route that starts the questionnaire
 */
export async function startPreview(source) {
  const response = await fetch(source, {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (!response.ok) throw new Error(`preview not available (${response.status})`);
  const instrument = await response.json();
  const proxy = instrument.respondent !== 'self';
  preview.instrument = instrument;
  preview.person = {
    participant_id: 0,
    study: '',
    nickname: null,
    colour: null,
    age_band: proxy ? 'child' : 'adult',
    status: 'active',
    respondent: proxy ? 'proxy' : 'self',
    caregiver_role: proxy ? 'parent' : null,
    answered_by: proxy ? 'parent' : 'self',
    instruments: [
      {
        key: instrument.id,
        version: instrument.version,
        title: instrument.title,
        language: instrument.language,
        respondent: instrument.respondent,
        occurrence_id: null,
        status: 'available',
      },
    ],
  };
  preview.active = true;
  return `/answer/0/${encodeURIComponent(instrument.id)}/${encodeURIComponent(instrument.version)}`;
}
