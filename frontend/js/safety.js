// The thank-you screen's safety message (#11): an instrument's alert rules that carry a message
// for the participant, evaluated here on the phone with the shared expression language over
// the answers and the phone's own scores (the server raises the staff alert from the same
// rules), so the message shows even while the answers wait offline. Loaded after "Send".

import { isTrue } from './expressions.js';
import { t, textIn } from './i18n.js';
import { h } from './ui.js';

/**
 * @typedef {{id: string, when: any, message: string, language: string}} SafetyRule
 * @typedef {{respondent: string, safety?: SafetyRule[], safety_contacts?: string | null}} WithSafety
 */

/**
 * The rules whose condition is true for these answers and scores.
 * @param {WithSafety} instrument
 * @param {Record<string, unknown>} answers the answers as sent
 * @param {Record<string, number>} scores
 * @returns {SafetyRule[]}
 */
export function safetyMessages(instrument, answers, scores) {
  const seen = { ...answers, ...scores, respondent: instrument.respondent };
  return (instrument.safety || []).filter((rule) => isTrue(rule.when, seen));
}

/**
 * The messages and the site's or study's help contacts, or null when no rule fired.
 * @param {WithSafety} instrument
 * @param {Record<string, unknown>} answers
 * @param {Record<string, number>} scores
 * @returns {HTMLElement | null}
 */
export function safetySection(instrument, answers, scores) {
  const fired = safetyMessages(instrument, answers, scores);
  if (!fired.length) return null;
  const contacts = instrument.safety_contacts;
  return h(
    'section',
    { class: 'notice warning safety', id: 'safety', 'aria-labelledby': 'safety-title' },
    h('h2', { id: 'safety-title', text: t('answer.safety.title') }),
    fired.map((rule) => h('p', { ...textIn(rule.language), text: rule.message })),
    contacts ? h('p', { class: 'contacts', dir: 'auto', text: contacts }) : null,
  );
}
