// Questionnaire logic on the phone, mirroring app/instruments/engine.py: which items are
// shown (skip logic evaluated in file order over the answers accepted so far, plus
// `respondent`), whether an answer is acceptable, and what is finally sent (only visible,
// answered items). The server checks everything again; this is for the participant's sake.

import { isTrue } from './expressions.js';

/**
 * @typedef {{value: string | number, label: string, exclusive?: boolean, score?: number | null}} Choice
 * @typedef {object} Item a rendered item (app/instruments/rendering.py)
 * @property {string} id
 * @property {string} type
 * @property {string | null} text
 * @property {string | null} help
 * @property {boolean} required
 * @property {any} show_when
 * @property {Choice[]} [choices]
 * @property {{min: number, max: number, min_label: string | null, max_label: string | null}} [scale]
 * @property {number} [min]
 * @property {number} [max]
 * @property {string} [unit]
 * @property {number} [decimals]
 * @property {number} [min_choices]
 * @property {number} [max_choices]
 * @property {number} [max_length]
 * @property {string} [pattern]
 * @property {{condition: any, message: string | null}} [constraint]
 * @typedef {{id: string, title: string | null, show_when: any, items: Item[]}} Page
 * @typedef {{id: string, version: string, language: string, respondent: string, title: string, description: string | null, recall_period: string | null, estimated_minutes: number | null, pages: Page[]}} Instrument
 * @typedef {{page: Page, item: Item}} Step
 * @typedef {{code: string, key: string, params?: Record<string, string | number>, message?: string, hint?: {key: string, params: Record<string, number>}}} Problem
 *   code: the server's error code; key: an i18n key; message: text to show as is (an
 *   instrument's constraint message); hint: what a number field expects
 */

/** Default text limits, as on the server (engine.TEXT_MAX_LENGTH_DEFAULTS). */
const TEXT_LIMITS = /** @type {Record<string, number>} */ ({ short_text: 200, long_text: 4000 });

/**
 * Unanswered: null, blank text, an empty selection (as engine._is_blank).
 * @param {unknown} value
 * @returns {boolean}
 */
export function isBlank(value) {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

/** @param {Instrument} instrument @returns {Step[]} every item in file order */
export function allSteps(instrument) {
  return instrument.pages.flatMap((page) => page.items.map((item) => ({ page, item })));
}

/**
 * The items shown for these answers, in order: a page's and an item's show_when see the
 * answers accepted before it (invalid or hidden answers count as unanswered).
 * @param {Instrument} instrument
 * @param {Record<string, unknown>} answers
 * @returns {Step[]}
 */
export function visibleSteps(instrument, answers) {
  /** @type {Record<string, unknown>} */
  const seen = { respondent: instrument.respondent };
  /** @type {Step[]} */
  const shown = [];
  for (const page of instrument.pages) {
    const pageShown = !page.show_when || isTrue(page.show_when, seen);
    for (const item of page.items) {
      if (!pageShown || (item.show_when && !isTrue(item.show_when, seen))) continue;
      shown.push({ page, item });
      const value = answers[item.id];
      if (!isBlank(value) && problemWith(item, value, seen) === null) seen[item.id] = value;
    }
  }
  return shown;
}

/**
 * What the answers to the shown items say to skip logic: used to check a constraint.
 * @param {Instrument} instrument
 * @param {Record<string, unknown>} answers
 * @param {string} upTo item id (exclusive)
 * @returns {Record<string, unknown>}
 */
export function seenBefore(instrument, answers, upTo) {
  /** @type {Record<string, unknown>} */
  const seen = { respondent: instrument.respondent };
  for (const { item } of visibleSteps(instrument, answers)) {
    if (item.id === upTo) break;
    const value = answers[item.id];
    if (!isBlank(value) && problemWith(item, value, seen) === null) seen[item.id] = value;
  }
  return seen;
}

/**
 * @param {unknown} value
 * @returns {boolean}
 */
function isWhole(value) {
  return typeof value === 'number' && Number.isInteger(value);
}

/**
 * Reads what was typed into a number field. A typed answer is never silently dropped (#11):
 * the result is a number, or the text itself (which the checks then refuse with a message),
 * or undefined for an empty field. Spaces are allowed between digit groups; the decimal
 * separator is '.' or the language's own (',' in French and Arabic); Arabic-Indic digits are read.
 * @param {string} text
 * @param {boolean} whole an integer field
 * @param {string} [separator] the language's decimal separator
 * @returns {number | string | undefined}
 */
export function parseTypedNumber(text, whole, separator = '.') {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  let cleaned = trimmed
    .replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660))
    .replace(/[\u06f0-\u06f9]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
    .replace(/[\u066b]/g, separator)
    .replace(/[\u2212]/g, '-')
    .replace(/(\d)[\s\u00a0\u202f](?=\d{3}(\D|$))/g, '$1');
  if (separator !== '.') cleaned = cleaned.replace(separator, '.');
  const pattern = whole ? /^[-+]?\d+$/ : /^[-+]?(\d+\.?\d*|\.\d+)$/;
  if (!pattern.test(cleaned)) return trimmed;
  const n = Number(cleaned);
  return Number.isFinite(n) ? n : trimmed;
}

/**
 * A calendar date as YYYY-MM-DD (2023-02-30 is not one; Date.parse would roll it over).
 * @param {unknown} value
 * @returns {boolean}
 */
function isCalendarDate(value) {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const [y, m, d] = value.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d && y >= 1;
}

/**
 * The problem with a non-blank answer, or null when it is acceptable (no required check here).
 * `code` is the server's error code for the same problem (app/instruments/engine.py): the
 * shared vectors in tests/vectors/answers.json hold both sides to the same verdict.
 * @param {Item} item
 * @param {unknown} value
 * @param {Record<string, unknown>} seen answers accepted before this item, with respondent
 * @returns {Problem | null}
 */
export function problemWith(item, value, seen) {
  const problem = domainProblem(item, value);
  if (problem) return problem;
  if (item.constraint && !isTrue(item.constraint.condition, { ...seen, [item.id]: value })) {
    return item.constraint.message
      ? { code: 'constraint', key: 'answer.error.constraint', message: item.constraint.message }
      : { code: 'constraint', key: 'answer.error.constraint' };
  }
  return null;
}

/**
 * @param {Item} item
 * @returns {Record<string, number>}
 */
function bounds(item) {
  const low = item.scale ? item.scale.min : item.min;
  const high = item.scale ? item.scale.max : item.max;
  /** @type {Record<string, number>} */
  const out = {};
  if (low != null) out.min = low;
  if (high != null) out.max = high;
  return out;
}

/**
 * What a number field expects, as an i18n key and its parameters ("A whole number from 0 to 7").
 * @param {Item} item
 * @returns {{key: string, params: Record<string, number>}}
 */
export function numberHint(item) {
  const range = bounds(item);
  const kind = item.type === 'decimal' ? 'decimal' : 'whole';
  const which = range.min != null && range.max != null ? 'Range' : range.min != null ? 'AtLeast' : range.max != null ? 'AtMost' : '';
  return { key: `answer.hint.${kind}${which}`, params: range };
}

/**
 * @param {Item} item
 * @param {unknown} value
 * @returns {Problem | null}
 */
function domainProblem(item, value) {
  const values = (item.choices || []).map((c) => c.value);
  switch (item.type) {
    case 'display':
      return { code: 'not_answerable', key: 'answer.error.choose' };
    case 'single_choice':
      return values.includes(/** @type {any} */ (value)) ? null : { code: 'not_a_choice', key: 'answer.error.choose' };
    case 'multiple_choice': {
      if (!Array.isArray(value)) return { code: 'wrong_type', key: 'answer.error.choose' };
      if (value.some((v) => !values.includes(v))) return { code: 'not_a_choice', key: 'answer.error.choose' };
      if (new Set(value).size !== value.length) return { code: 'duplicate_choice', key: 'answer.error.choose' };
      const exclusive = (item.choices || []).filter((c) => c.exclusive).map((c) => c.value);
      if (value.length > 1 && value.some((v) => exclusive.includes(v))) {
        return { code: 'exclusive_choice', key: 'answer.error.exclusive' };
      }
      if (item.min_choices != null && value.length < item.min_choices) {
        return { code: 'too_few_choices', key: 'answer.error.minChoices', params: { count: item.min_choices } };
      }
      if (item.max_choices != null && value.length > item.max_choices) {
        return { code: 'too_many_choices', key: 'answer.error.maxChoices', params: { count: item.max_choices } };
      }
      return null;
    }
    case 'rating_0_10':
    case 'vas_0_100':
    case 'integer':
      if (!isWhole(value)) {
        const hint = numberHint(item);
        return { code: 'wrong_type', key: typeof value === 'string' ? 'answer.error.typed' : 'answer.error.whole', params: hint.params, hint };
      }
      return rangeProblem(item, /** @type {number} */ (value));
    case 'decimal': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        const hint = numberHint(item);
        return { code: 'wrong_type', key: typeof value === 'string' ? 'answer.error.typed' : 'answer.error.number', params: hint.params, hint };
      }
      if (item.decimals != null && !Number.isInteger(value) && Number(value.toFixed(item.decimals)) !== value) {
        return { code: 'too_many_decimals', key: 'answer.error.decimals', params: { count: item.decimals } };
      }
      return rangeProblem(item, value);
    }
    case 'yes_no':
      return typeof value === 'boolean' ? null : { code: 'wrong_type', key: 'answer.error.choose' };
    case 'date':
      return isCalendarDate(value) ? null : { code: 'invalid_date', key: 'answer.error.date' };
    case 'time':
      return typeof value === 'string' && /^([01]\d|2[0-3]):[0-5]\d$/.test(value)
        ? null
        : { code: 'invalid_time', key: 'answer.error.time' };
    default: {
      if (typeof value !== 'string') return { code: 'wrong_type', key: 'answer.error.text' };
      const limit = item.max_length || TEXT_LIMITS[item.type] || 4000;
      // Characters as the server counts them (code points, not UTF-16 units: an emoji is one).
      if ([...value].length > limit) return { code: 'too_long', key: 'answer.error.tooLong', params: { count: limit } };
      if (item.pattern && !fullMatch(item.pattern, value)) return { code: 'pattern', key: 'answer.error.pattern' };
      return null;
    }
  }
}

/**
 * The server's re.fullmatch over the portable pattern subset (app/instruments/patterns.py
 * refuses any other pattern when the instrument is loaded, so both read it the same way).
 * @param {string} pattern
 * @param {string} value
 * @returns {boolean}
 */
function fullMatch(pattern, value) {
  return new RegExp(`^(?:${pattern})$`, 'u').test(value);
}

/**
 * @param {Item} item
 * @param {number} value
 * @returns {Problem | null}
 */
function rangeProblem(item, value) {
  const { min: low, max: high } = bounds(item);
  if ((low != null && value < low) || (high != null && value > high)) {
    if (low != null && high != null) return { code: 'out_of_range', key: 'answer.error.range', params: { min: low, max: high } };
    if (low != null) return { code: 'out_of_range', key: 'answer.error.atLeast', params: { min: low } };
    return { code: 'out_of_range', key: 'answer.error.atMost', params: { max: /** @type {number} */ (high) } };
  }
  return null;
}

/**
 * Checks one shown item: required and acceptable.
 * @param {Instrument} instrument
 * @param {Item} item
 * @param {Record<string, unknown>} answers
 * @returns {Problem | null}
 */
export function checkStep(instrument, item, answers) {
  const value = answers[item.id];
  if (item.type === 'display') return null;
  if (isBlank(value)) return item.required ? { code: 'required', key: 'answer.error.required' } : null;
  return problemWith(item, value, seenBefore(instrument, answers, item.id));
}

/**
 * What is sent: the answers to shown items that are not blank (hidden ones are dropped, as
 * the server would drop them anyway).
 * @param {Instrument} instrument
 * @param {Record<string, unknown>} answers
 * @returns {Record<string, unknown>}
 */
export function answersToSend(instrument, answers) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const { item } of visibleSteps(instrument, answers)) {
    const value = answers[item.id];
    if (item.type !== 'display' && !isBlank(value)) out[item.id] = value;
  }
  return out;
}

/**
 * Numeric answers only (ratings, scales, numbers): kept on the phone for the participant's
 * own trend chart, since the server cannot read sealed answers back.
 * @param {Instrument} instrument
 * @param {Record<string, unknown>} sent
 * @returns {Record<string, number>}
 */
export function numericSummary(instrument, sent) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const { item } of allSteps(instrument)) {
    const value = sent[item.id];
    if (['rating_0_10', 'vas_0_100', 'integer', 'decimal'].includes(item.type) && typeof value === 'number') {
      out[item.id] = value;
    }
  }
  return out;
}
