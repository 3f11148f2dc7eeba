// DOM helpers shared by the screens. Text always goes in as text (never innerHTML), so
// nothing the server or a translator sends can become markup.

/**
 * @typedef {Record<string, any>} Props
 *   `class`, `text`, `dataset`, on<event> handlers, anything else becomes an attribute
 *   (false/null/undefined attributes are left out, true becomes "").
 * @typedef {Node | string | number | null | undefined | false} Child
 */

/**
 * Creates an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'text') element.textContent = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name in element && typeof value !== 'string' && name !== 'list') {
      // @ts-ignore - DOM properties such as checked, value, disabled
      element[name] = value;
    } else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/**
 * @param {Element} parent
 * @param {(Child | Child[])[]} children
 */
function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Replaces an element's children, skipping null/undefined/false (replaceChildren would
 * print them as text).
 * @param {Element} parent
 * @param {...(Child | Child[])} children
 */
export function fill(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/** @type {number} */
let announceSeq = 0;

/**
 * Says something to screen-reader users through the page's live regions.
 * @param {string} message
 * @param {{assertive?: boolean}} [options] assertive: errors that need attention now
 */
export function announce(message, options = {}) {
  const region = document.getElementById(options.assertive ? 'alert' : 'status');
  if (!region) return;
  // Clearing first makes the same message be read again when repeated.
  region.textContent = '';
  const seq = ++announceSeq;
  setTimeout(() => {
    if (seq === announceSeq) region.textContent = message;
  }, 50);
}

/**
 * A person's colour as a CSS custom property (set through CSSOM: the CSP forbids inline
 * style attributes, not this). Only #rgb/#rrggbb are accepted.
 * @param {HTMLElement} element
 * @param {string | null | undefined} colour
 * @returns {HTMLElement}
 */
export function withColour(element, colour) {
  if (colour && /^#(?:[0-9a-fA-F]{3}){1,2}$/.test(colour)) {
    element.style.setProperty('--person-colour', colour);
    element.classList.add('has-colour');
  }
  return element;
}

/**
 * A random UUID (v4). crypto.randomUUID exists in secure contexts, which a PWA always is.
 * @returns {string}
 */
export function uuid() {
  return crypto.randomUUID();
}

/**
 * Now as an ISO timestamp with the phone's UTC offset (the server wants the offset).
 * @param {Date} [date]
 * @returns {string}
 */
export function localIsoTimestamp(date = new Date()) {
  const pad = (/** @type {number} */ n, width = 2) => String(Math.abs(n)).padStart(width, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}
