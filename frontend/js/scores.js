// An instrument's scores computed on the phone, mirroring app/instruments/scoring.py, so the
// participant's own trend chart (History) has numbers: the server seals answers and scores
// and cannot give them back. Only the score values are kept (IndexedDB `submitted`), never
// bands or free text. tests/browser/test_history_news.py checks this twin against the server.

import { isTrue } from './expressions.js';

/**
 * @typedef {object} ScoreDef a rendered score (app/instruments/rendering.py `_render_score`)
 * @property {string} id
 * @property {string} label
 * @property {string} method 'sum' or 'mean'
 * @property {string[]} items
 * @property {string[]} reverse
 * @property {Record<string, number>} weights
 * @property {number} max_missing
 * @property {number | null} round_to
 * @property {any} when a compiled condition, or null
 * @property {[number, number][]} lookup raw → final
 */

/**
 * The ordinal value of one answer (scoring.item_value), or null.
 * @param {import('./questionnaire.js').Item} item
 * @param {unknown} answer
 * @returns {number | null}
 */
function itemValue(item, answer) {
  if (answer === null || answer === undefined) return null;
  if ((Array.isArray(answer) || typeof answer === 'string') && item.type !== 'single_choice') return null;
  if (item.type === 'single_choice') {
    const choice = (item.choices || []).find((c) => typeof c.value === typeof answer && c.value === answer);
    return choice && typeof choice.score === 'number' ? choice.score : null;
  }
  if (item.type === 'yes_no') return typeof answer === 'boolean' ? (answer ? 1 : 0) : null;
  return typeof answer === 'number' && Number.isFinite(answer) ? answer : null;
}

/**
 * The lowest and highest value of an item, for reversing (scoring._item_range).
 * @param {any} item
 * @returns {[number, number]}
 */
function itemRange(item) {
  if (item.scale) return [item.scale.min, item.scale.max];
  if (item.type === 'yes_no') return [0, 1];
  if (item.type === 'single_choice') {
    const values = (item.choices || []).map((/** @type {any} */ c) => c.score).filter((/** @type {unknown} */ v) => typeof v === 'number');
    return [Math.min(...values), Math.max(...values)];
  }
  return [item.min ?? 0, item.max ?? 0];
}

/**
 * Rounds half away from zero on the shortest decimal form, as the server's Decimal does
 * (2.5 → 3, 1.005 → 1.01), not as binary floating point would.
 * @param {number} value
 * @param {number} decimals
 * @returns {number}
 */
export function roundHalfUp(value, decimals) {
  const sign = value < 0 ? -1 : 1;
  const text = String(Math.abs(value));
  if (/e/i.test(text)) return sign * (Math.round(Math.abs(value) * 10 ** decimals) / 10 ** decimals);
  return sign * Number(`${Math.round(Number(`${text}e${decimals}`))}e-${decimals}`);
}

/**
 * Every score of a rendered instrument that can be computed from these answers, by score id.
 * Scores with no value (too many missing items, condition not met, not in the lookup table)
 * are left out.
 * @param {{pages: {items: any[]}[], scores?: ScoreDef[]}} instrument
 * @param {Record<string, unknown>} answers the answers as sent (visible, answered items)
 * @returns {Record<string, number>}
 */
export function computeScores(instrument, answers) {
  /** @type {Map<string, any>} */
  const items = new Map();
  for (const page of instrument.pages) for (const item of page.items) items.set(item.id, item);
  /** @type {Record<string, number>} */
  const out = {};
  for (const score of instrument.scores || []) {
    if (score.when && !isTrue(score.when, /** @type {any} */ (answers))) continue;
    const values = [];
    for (const id of score.items) {
      const item = items.get(id);
      let value = item ? itemValue(item, answers[id]) : null;
      if (value === null) continue;
      if (score.reverse.includes(id)) {
        const [low, high] = itemRange(item);
        value = low + high - value;
      }
      values.push(value * (score.weights[id] ?? 1));
    }
    const missing = score.items.length - values.length;
    if (missing > score.max_missing || values.length === 0) continue;
    const total = values.reduce((a, b) => a + b, 0);
    let raw = score.method === 'mean' ? total / values.length : missing ? (total * score.items.length) / values.length : total;
    if (score.round_to !== null && score.round_to !== undefined) raw = roundHalfUp(raw, score.round_to);
    let final = raw;
    if (score.lookup && score.lookup.length) {
      const row = score.lookup.find((pair) => pair[0] === raw);
      if (!row) continue;
      final = row[1];
    }
    if (Number.isFinite(final)) out[score.id] = final;
  }
  return out;
}

/**
 * What the outbox summary keeps for the trend chart: the computed scores and their labels.
 * @param {{pages: {items: any[]}[], scores?: ScoreDef[]}} instrument
 * @param {Record<string, unknown>} answers
 * @returns {{scores: Record<string, number>, score_labels: Record<string, string>}}
 */
export function scoreSummary(instrument, answers) {
  const scores = computeScores(instrument, answers);
  /** @type {Record<string, string>} */
  const labels = {};
  for (const score of instrument.scores || []) if (score.id in scores) labels[score.id] = score.label;
  return { scores, score_labels: labels };
}
