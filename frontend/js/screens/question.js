// One question on screen: its heading, help and the control for its type. Choice questions
// are a <fieldset> whose <legend> holds the question heading; single inputs are labelled by
// the heading. Every change is reported at once (the answering screen saves it as a draft).

import { decimalSeparator, formatNumber, t, textIn } from '../i18n.js';
import { numberHint, parseTypedNumber } from '../questionnaire.js';
import { h } from '../ui.js';

/**
 * @typedef {import('../questionnaire.js').Item} Item
 * @typedef {object} QuestionContext
 * @property {import('../questionnaire.js').Step} step
 * @property {unknown} value the current answer
 * @property {string | undefined} raw what was typed, for number fields
 * @property {string} lang language of the questionnaire text
 * @property {string} describedBy ids of the help and error elements
 * @property {(value: unknown, raw?: string) => void} onChange
 */

const HEADING_ID = 'question-heading';

/**
 * The heading block: the page title as context (e.g. "In the last 7 days, how often did your
 * child…") and the question itself as the screen's <h1>.
 * @param {QuestionContext} ctx
 * @returns {HTMLElement[]}
 */
function heading(ctx) {
  const { page, item } = ctx.step;
  return [
    page.title ? h('span', { class: 'page-title', ...textIn(ctx.lang), text: page.title }) : null,
    h('h1', { id: HEADING_ID, class: 'question-text', ...textIn(ctx.lang), text: item.text || '' }),
  ].filter((node) => node !== null);
}

/**
 * @param {QuestionContext} ctx
 * @param {HTMLElement} options
 * @param {HTMLElement | null} [after]
 * @returns {HTMLElement}
 */
function choiceFieldset(ctx, options, after = null) {
  return h(
    'fieldset',
    { 'aria-describedby': ctx.describedBy || null },
    h('legend', {}, heading(ctx)),
    options,
    after,
  );
}

/**
 * @param {string} name
 * @param {string} type 'radio' | 'checkbox'
 * @param {string} label
 * @param {boolean} checked
 * @param {(input: HTMLInputElement) => void} onChange
 * @param {string} [lang]
 * @returns {HTMLLabelElement}
 */
function option(name, type, label, checked, onChange, lang) {
  const input = h('input', { type, name, checked });
  input.addEventListener('change', () => onChange(input));
  return h('label', { class: 'option' }, input, h('span', { ...(lang ? textIn(lang) : {}), text: label }));
}

/**
 * @param {QuestionContext} ctx
 * @returns {HTMLElement}
 */
function singleChoice(ctx) {
  const { item } = ctx.step;
  const choices = item.choices || [];
  return choiceFieldset(
    ctx,
    h(
      'div',
      { class: 'options' },
      choices.map((choice) =>
        option(item.id, 'radio', choice.label, ctx.value === choice.value, () => ctx.onChange(choice.value), ctx.lang),
      ),
    ),
  );
}

/**
 * @param {QuestionContext} ctx
 * @returns {HTMLElement}
 */
function multipleChoice(ctx) {
  const { item } = ctx.step;
  const choices = item.choices || [];
  const chosen = new Set(Array.isArray(ctx.value) ? ctx.value : []);
  /** @type {HTMLInputElement[]} */
  const boxes = [];
  const labels = choices.map((choice, index) =>
    option(
      item.id,
      'checkbox',
      choice.label,
      chosen.has(choice.value),
      (input) => {
        // "None of these" and the other choices exclude each other.
        if (input.checked) {
          choices.forEach((other, i) => {
            if (i !== index && (choice.exclusive || other.exclusive)) boxes[i].checked = false;
          });
        }
        ctx.onChange(choices.filter((_, i) => boxes[i].checked).map((c) => c.value));
      },
      ctx.lang,
    ),
  );
  for (const label of labels) boxes.push(/** @type {HTMLInputElement} */ (label.querySelector('input')));
  return choiceFieldset(
    ctx,
    h('div', { class: 'options' }, labels),
  );
}

/**
 * 0–10 and similar short scales: one big button per number, end labels underneath.
 * @param {QuestionContext} ctx
 * @returns {HTMLElement}
 */
function numberScale(ctx) {
  const { item } = ctx.step;
  const scale = item.scale || { min: 0, max: 10, min_label: null, max_label: null };
  const numbers = [];
  for (let n = scale.min; n <= scale.max; n += 1) numbers.push(n);
  const anchors = h(
    'p',
    { class: 'scale-anchors', id: 'scale-anchors' },
    h('span', { ...textIn(ctx.lang), text: `${formatNumber(scale.min)}: ${scale.min_label || ''}` }),
    h('span', { ...textIn(ctx.lang), text: `${formatNumber(scale.max)}: ${scale.max_label || ''}` }),
  );
  const fieldset = choiceFieldset(
    ctx,
    h(
      'div',
      { class: 'scale' },
      numbers.map((n) => option(item.id, 'radio', formatNumber(n), ctx.value === n, () => ctx.onChange(n))),
    ),
    anchors,
  );
  fieldset.setAttribute('aria-describedby', ['scale-anchors', ctx.describedBy].filter(Boolean).join(' '));
  return fieldset;
}

/**
 * 0–100 visual analogue scale: a slider that records nothing until it is moved.
 * @param {QuestionContext} ctx
 * @returns {HTMLElement}
 */
function slider(ctx) {
  const { item } = ctx.step;
  const scale = item.scale || { min: 0, max: 100, min_label: null, max_label: null };
  const answered = typeof ctx.value === 'number';
  const shown = h('p', {
    class: 'range-value',
    id: 'range-value',
    'aria-hidden': 'true',
    text: answered ? formatNumber(/** @type {number} */ (ctx.value)) : t('answer.slider.unset'),
  });
  const input = h('input', {
    type: 'range',
    min: String(scale.min),
    max: String(scale.max),
    step: '1',
    value: String(answered ? ctx.value : Math.round((scale.min + scale.max) / 2)),
    'aria-labelledby': HEADING_ID,
    'aria-describedby': ['scale-anchors', ctx.describedBy].filter(Boolean).join(' '),
    'aria-valuetext': answered ? formatNumber(/** @type {number} */ (ctx.value)) : t('answer.slider.unset'),
  });
  input.addEventListener('input', () => {
    const n = Number(input.value);
    shown.textContent = formatNumber(n);
    input.setAttribute('aria-valuetext', formatNumber(n));
    ctx.onChange(n);
  });
  return h(
    'div',
    {},
    heading(ctx),
    shown,
    input,
    h(
      'p',
      { class: 'scale-anchors', id: 'scale-anchors' },
      h('span', { ...textIn(ctx.lang), text: `${formatNumber(scale.min)}: ${scale.min_label || ''}` }),
      h('span', { ...textIn(ctx.lang), text: `${formatNumber(scale.max)}: ${scale.max_label || ''}` }),
    ),
  );
}

/**
 * @param {QuestionContext} ctx
 * @returns {HTMLElement}
 */
function yesNo(ctx) {
  const { item } = ctx.step;
  return choiceFieldset(
    ctx,
    h(
      'div',
      { class: 'options' },
      option(item.id, 'radio', t('answer.yes'), ctx.value === true, () => ctx.onChange(true)),
      option(item.id, 'radio', t('answer.no'), ctx.value === false, () => ctx.onChange(false)),
    ),
  );
}

/**
 * A text, number, date or time field labelled by the question heading.
 * @param {QuestionContext} ctx
 * @returns {HTMLElement}
 */
function field(ctx) {
  const { item } = ctx.step;
  const numeric = item.type === 'integer' || item.type === 'decimal';
  /** @type {Record<string, any>} */
  const common = {
    id: 'answer-input',
    name: item.id,
    'aria-labelledby': item.unit ? `${HEADING_ID} answer-unit` : HEADING_ID,
    'aria-describedby': ctx.describedBy || null,
    'aria-required': item.required ? 'true' : null,
  };
  /** @type {HTMLInputElement | HTMLTextAreaElement} */
  let input;
  if (item.type === 'long_text') {
    input = h('textarea', { ...common, maxlength: String(item.max_length || 4000), rows: '6', ...textIn(ctx.lang), dir: 'auto' });
    input.value = typeof ctx.value === 'string' ? ctx.value : '';
  } else if (numeric) {
    input = h('input', {
      ...common,
      type: 'text',
      inputmode: item.type === 'integer' ? 'numeric' : 'decimal',
      autocomplete: 'off',
    });
    input.value = ctx.raw ?? (typeof ctx.value === 'number' ? String(ctx.value).replace('.', decimalSeparator()) : typeof ctx.value === 'string' ? ctx.value : '');
  } else {
    const type = { date: 'date', time: 'time' }[item.type] || 'text';
    input = h('input', {
      ...common,
      type,
      maxlength: type === 'text' ? String(item.max_length || 200) : null,
      autocomplete: 'off',
      lang: type === 'text' ? ctx.lang : null,
      dir: type === 'text' ? 'auto' : null,
    });
    input.value = typeof ctx.value === 'string' ? ctx.value : '';
  }
  input.addEventListener('input', () => {
    if (numeric) ctx.onChange(parseTypedNumber(input.value, item.type === 'integer', decimalSeparator()), input.value);
    else ctx.onChange(input.value);
  });
  // What a number field expects, shown before anything is typed ("A whole number from 0 to 7").
  let hint = null;
  if (numeric) {
    const expected = numberHint(item);
    hint = h('p', { class: 'hint', id: 'answer-hint', text: t(expected.key, expected.params) });
    input.setAttribute('aria-describedby', ['answer-hint', ctx.describedBy].filter(Boolean).join(' '));
  }
  return h(
    'div',
    {},
    heading(ctx),
    hint,
    item.unit
      ? h('div', { class: 'with-unit' }, input, h('span', { id: 'answer-unit', ...textIn(ctx.lang), text: item.unit }))
      : input,
  );
}

/**
 * A display item: text to read, nothing to answer.
 * @param {QuestionContext} ctx
 * @returns {HTMLElement}
 */
function display(ctx) {
  return h('div', {}, heading(ctx));
}

/**
 * The question block for a step.
 * @param {QuestionContext} ctx
 * @returns {HTMLElement}
 */
export function renderQuestion(ctx) {
  const type = ctx.step.item.type;
  if (type === 'single_choice') return singleChoice(ctx);
  if (type === 'multiple_choice') return multipleChoice(ctx);
  if (type === 'rating_0_10') return numberScale(ctx);
  if (type === 'vas_0_100') return slider(ctx);
  if (type === 'yes_no') return yesNo(ctx);
  if (type === 'display') return display(ctx);
  return field(ctx);
}

/**
 * An answer as the review screen shows it.
 * @param {Item} item
 * @param {unknown} value
 * @returns {string}
 */
export function describeAnswer(item, value) {
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) {
    return t('answer.review.none');
  }
  const label = (/** @type {unknown} */ v) => (item.choices || []).find((c) => c.value === v)?.label ?? String(v);
  if (item.type === 'single_choice') return label(value);
  if (item.type === 'multiple_choice' && Array.isArray(value)) return value.map(label).join(', ');
  if (item.type === 'yes_no') return value ? t('answer.yes') : t('answer.no');
  if (typeof value === 'number') return `${formatNumber(value)}${item.unit ? ` ${item.unit}` : ''}`;
  return String(value);
}
