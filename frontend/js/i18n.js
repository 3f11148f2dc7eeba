// UI strings. Each language is one flat JSON file in frontend/locales/ ("screen.thing" keys;
// plural forms as "key.one", "key.other", … chosen with Intl.PluralRules). A key missing from
// a language falls back to English, then to the key itself, so a half-translated release
// still works. Setting the language also sets <html lang> and <html dir> (ar is right-to-left).

import { RTL_LANGUAGES, STORES } from './config.js';
import * as db from './db.js';

/** @type {Record<string, string>} */
let strings = {};
/** @type {Record<string, string>} */
let english = {};
let current = 'en';
/** @type {Set<(language: string) => void>} */
const listeners = new Set();

/**
 * 'ltr' or 'rtl' for a BCP 47 tag.
 * @param {string} tag
 * @returns {'ltr' | 'rtl'}
 */
export function dirOf(tag) {
  return RTL_LANGUAGES.includes(tag.split('-')[0].toLowerCase()) ? 'rtl' : 'ltr';
}

/**
 * Attributes for text in another language than the UI (questionnaire text): its lang, and its
 * direction so an English question inside the Arabic UI still reads left to right.
 * @param {string} tag
 * @returns {{lang: string, dir: 'ltr' | 'rtl'}}
 */
export function textIn(tag) {
  return { lang: tag, dir: dirOf(tag) };
}

/**
 * The UI languages, English first. The one list is the server's (APP_LANGUAGES in
 * app/participants/preferences.py, one frontend/locales/<code>.json each, tests/test_languages.py
 * holds them together); the shell carries it as <html data-languages="en fr …">.
 * @returns {string[]}
 */
export function uiLanguages() {
  const listed = globalThis.document?.documentElement.dataset.languages;
  return listed ? listed.split(' ') : ['en'];
}

/**
 * The first UI language we ship among `wanted` (exact tag or its primary subtag), else 'en'.
 * @param {(string | null | undefined)[]} wanted
 * @returns {string}
 */
export function pickLanguage(wanted) {
  const shipped = uiLanguages();
  for (const tag of wanted) {
    if (!tag) continue;
    const lower = tag.toLowerCase();
    if (shipped.includes(lower)) return lower;
    const primary = lower.split('-')[0];
    if (shipped.includes(primary)) return primary;
  }
  return 'en';
}

/**
 * @param {string} code
 * @returns {Promise<Record<string, string>>}
 */
async function fetchStrings(code) {
  const response = await fetch(new URL(`../locales/${code}.json`, import.meta.url));
  if (!response.ok) throw new Error(`no strings for ${code}`);
  return response.json();
}

/** @returns {string} the UI language now in use */
export function language() {
  return current;
}

/**
 * The language the participant chose on this phone, if any.
 * @returns {Promise<string | undefined>}
 */
export function savedLanguage() {
  return db.get(STORES.kv, 'ui_language');
}

/**
 * Loads a UI language, applies lang/dir to the document and tells listeners (screens re-render).
 * @param {string} wanted
 * @param {{remember?: boolean}} [options] remember: keep it as this phone's choice
 * @returns {Promise<string>} the language actually used
 */
export async function setLanguage(wanted, options = {}) {
  const chosen = pickLanguage([wanted]);
  if (options.remember) await db.put(STORES.kv, 'ui_language', chosen);
  if (chosen === current && Object.keys(strings).length > 0) return chosen;
  if (Object.keys(english).length === 0) english = await fetchStrings('en');
  strings = chosen === 'en' ? english : await fetchStrings(chosen).catch(() => english);
  current = chosen;
  const root = document.documentElement;
  root.lang = chosen;
  root.dir = dirOf(chosen);
  for (const listener of listeners) listener(chosen);
  return chosen;
}

/**
 * @param {(language: string) => void} listener
 * @returns {() => void}
 */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Replaces {name} placeholders.
 * @param {string} text
 * @param {Record<string, string | number>} params
 * @returns {string}
 */
function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? formatValue(params[name]) : whole,
  );
}

/**
 * @param {string | number} value
 * @returns {string}
 */
function formatValue(value) {
  return typeof value === 'number' ? formatNumber(value) : value;
}

/**
 * The translation of `key` with {placeholders} filled in.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function t(key, params = {}) {
  const text = strings[key] ?? english[key] ?? key;
  return fill(text, params);
}

/**
 * A plural-aware translation: looks up `key.<category>` for `count` (falling back to
 * `key.other`), with {count} available as a placeholder.
 * @param {string} key
 * @param {number} count
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function plural(key, count, params = {}) {
  const category = new Intl.PluralRules(current).select(count);
  const exact = `${key}.${category}`;
  const chosen =
    strings[exact] !== undefined || english[exact] !== undefined ? exact : `${key}.other`;
  return t(chosen, { count, ...params });
}

/**
 * @param {number} value
 * @returns {string}
 */
export function formatNumber(value) {
  return new Intl.NumberFormat(current).format(value);
}

/**
 * A language's name in the UI language ("anglais" for 'en' in French).
 * @param {string} code
 * @returns {string}
 */
export function languageName(code) {
  try {
    return new Intl.DisplayNames([current], { type: 'language' }).of(code) || code;
  } catch {
    return code;
  }
}

/** @returns {string} the UI language's decimal separator ('.' in English, ',' in French) */
export function decimalSeparator() {
  const part = new Intl.NumberFormat(current).formatToParts(1.5).find((p) => p.type === 'decimal');
  return part ? part.value : '.';
}

/**
 * A date (and by default time) in the UI language and the phone's time zone.
 * @param {string | Date} when
 * @param {Intl.DateTimeFormatOptions} [options]
 * @returns {string}
 */
export function formatDateTime(when, options = { dateStyle: 'medium', timeStyle: 'short' }) {
  const date = typeof when === 'string' ? new Date(when) : when;
  return new Intl.DateTimeFormat(current, options).format(date);
}
