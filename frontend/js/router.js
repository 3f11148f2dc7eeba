// A tiny hash router: "#/today", "#/answer/12/daily_symptom_diary/1.0.0". Screens register a
// pattern and a render function; on every change the old screen is cleaned up, the new one is
// rendered into <main>, the page title is set and focus moves to the new screen's heading so a
// screen reader announces it. (The invitation fragment "#join=…" is handled in main.js before
// the router starts.)

/**
 * @typedef {Record<string, string>} Params
 * @typedef {object} Screen
 * @property {(root: HTMLElement, params: Params) => (void | (() => void) | Promise<void | (() => void)>)} render
 *   draws into `root` (already empty); may return a cleanup function
 * @property {boolean} [public] shown without a device credential (welcome, redeem)
 */

/** @type {{pattern: string, parts: string[], screen: Screen}[]} */
const routes = [];
/** @type {HTMLElement | null} */
let outlet = null;
/** @type {(() => void) | null} */
let cleanup = null;
/** @type {(path: string, screen: Screen) => string | null} */
let guard = () => null;
/** @type {Set<(path: string) => void>} */
const listeners = new Set();
let renderCount = 0;

/**
 * Registers a screen for a path pattern; ":name" segments become params.
 * @param {string} pattern e.g. '/answer/:participant/:key/:version'
 * @param {Screen} screen
 */
export function register(pattern, screen) {
  routes.push({ pattern, parts: pattern.split('/').filter(Boolean), screen });
}

/**
 * @param {string} path
 * @returns {{screen: Screen, params: Params} | null}
 */
export function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    if (route.parts.length !== parts.length) continue;
    /** @type {Params} */
    const params = {};
    const ok = route.parts.every((part, i) => {
      if (part.startsWith(':')) {
        params[part.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return part === parts[i];
    });
    if (ok) return { screen: route.screen, params };
  }
  return null;
}

/** @returns {string} the current route path, e.g. '/today' */
export function currentPath() {
  const hash = location.hash.replace(/^#/, '');
  return hash.startsWith('/') ? hash : '/today';
}

/**
 * Goes to a route (adds a history entry unless `replace`).
 * @param {string} path
 * @param {{replace?: boolean}} [options]
 */
export function navigate(path, options = {}) {
  const url = `${location.pathname}${location.search}#${path}`;
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

/**
 * Calls `listener` after each screen change (the nav marks the current page with it).
 * @param {(path: string) => void} listener
 */
export function onNavigate(listener) {
  listeners.add(listener);
}

/**
 * Re-renders the current route (e.g. after the language changed or the user signed in).
 * @returns {Promise<void>}
 */
export async function render() {
  if (!outlet) return;
  const ticket = ++renderCount;
  let path = currentPath();
  let found = match(path);
  const redirect = found ? guard(path, found.screen) : '/today';
  if (redirect && redirect !== path) {
    history.replaceState(null, '', `${location.pathname}${location.search}#${redirect}`);
    path = redirect;
    found = match(path);
  }
  if (!found) return;
  if (cleanup) cleanup();
  cleanup = null;
  // Each render draws into its own container: a screen still loading when the participant
  // has already moved on draws into a detached element, never over the new screen.
  const container = document.createElement('div');
  container.className = 'screen-body';
  outlet.replaceChildren(container);
  const result = await found.screen.render(container, found.params);
  if (ticket !== renderCount) {
    if (typeof result === 'function') result();
    return; // a newer navigation already took over
  }
  cleanup = typeof result === 'function' ? result : null;
  for (const listener of listeners) listener(path);
  focusHeading(container);
}

/**
 * Moves focus to the screen's first heading, so screen readers announce the new screen and
 * keyboard users start from the top. Also sets the document title from it.
 * @param {HTMLElement} root
 */
export function focusHeading(root) {
  const heading = root.querySelector('h1');
  if (!heading) return;
  heading.setAttribute('tabindex', '-1');
  heading.focus({ preventScroll: false });
  document.title = `${heading.textContent} · Chorus`;
}

/**
 * Starts routing into `root`. `check` may redirect (e.g. to the welcome screen when signed out).
 * @param {HTMLElement} root
 * @param {(path: string, screen: Screen) => string | null} check
 * @returns {Promise<void>}
 */
export function start(root, check) {
  outlet = root;
  guard = check;
  // Links (<a href="#/today">) and the back button both fire popstate.
  globalThis.addEventListener('popstate', () => render());
  return render();
}
