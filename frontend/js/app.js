// Start-up, after main.js (which redeems an invitation link's token at once): pick the
// language, draw the chrome (navigation, outbox count), start routing, start sending waiting
// answers, and register the service worker.

import * as auth from './auth.js';
import { APP_PATH, STORES } from './config.js';
import * as db from './db.js';
import * as i18n from './i18n.js';
import * as outbox from './outbox.js';
import * as router from './router.js';
import { startChrome } from './chrome.js';
import { registerScreens } from './screens/index.js';
import { preview, previewSource, startPreview } from './preview.js';
import { setJoinAttempt } from './screens/welcome.js';

/** Registers the service worker (a module worker; scope /app/). Failure only costs offline use. */
function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker
    .register(`${APP_PATH}sw.js`, { type: 'module', scope: APP_PATH })
    .catch((error) => console.warn('service worker not registered:', error.message));
}

/** The language to start in: this phone's choice, else the study's for this person, else the browser's. */
async function startLanguage() {
  const saved = await i18n.savedLanguage();
  /** @type {string | undefined} */
  const holder = await db.get(STORES.kv, 'holder_language');
  return i18n.pickLanguage([saved, holder, ...(navigator.languages || [navigator.language])]);
}

/**
 * Preview mode (a staff page frames this shell with ?instrument=<staff URL>): the answer
 * screens only, in the instrument's language, with no service worker, sign-in or outbox.
 * @param {string} source
 */
async function bootPreview(source) {
  const first = await startPreview(source);
  await i18n.setLanguage(preview.instrument.language);
  registerScreens();
  history.replaceState(null, '', `${location.pathname}${location.search}#${first}`);
  const main = /** @type {HTMLElement} */ (document.getElementById('screen'));
  await router.start(main, (path) => (path.startsWith('/answer/') ? null : first));
}

/**
 * @param {ReturnType<typeof auth.redeem> | null} signingIn main.js's redeem of an invitation
 *   link, still running or done; the join screen shows its outcome
 * @returns {Promise<void>}
 */
export async function start(signingIn) {
  const source = previewSource(location);
  if (source) return bootPreview(source);
  if (signingIn) setJoinAttempt(signingIn);
  registerServiceWorker();
  await auth.refreshSignedIn();
  await i18n.setLanguage(await startLanguage());
  registerScreens();
  startChrome();
  i18n.onLanguageChange(() => router.render());
  const main = /** @type {HTMLElement} */ (document.getElementById('screen'));
  // Sending waiting answers does not wait for the first screen (nor the reverse).
  await Promise.all([
    router.start(main, (path, screen) => {
      if (!auth.signedIn() && !screen.public) return '/welcome';
      if (auth.signedIn() && path === '/welcome') return '/today';
      return null;
    }),
    outbox.startAutoFlush(),
  ]);
}
