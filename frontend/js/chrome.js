// What surrounds every screen: the main navigation and the "N answers waiting" count.

import * as auth from './auth.js';
import { onLanguageChange, plural, t } from './i18n.js';
import * as outbox from './outbox.js';
import * as router from './router.js';
import { NAV } from './screens/index.js';
import { announce, h } from './ui.js';

function renderNav() {
  const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
  nav.setAttribute('aria-label', t('nav.label'));
  nav.hidden = !auth.signedIn();
  const current = router.currentPath();
  nav.replaceChildren(
    h(
      'ul',
      {},
      NAV.map((entry) =>
        h(
          'li',
          {},
          h('a', {
            href: `#${entry.path}`,
            text: t(entry.label),
            'aria-current': current.startsWith(entry.path) ? 'page' : null,
          }),
        ),
      ),
    ),
  );
}

let lastStatus = '';

/** Shows how many answers wait (and how many failed) in the header; announces changes. */
export async function renderOutboxStatus() {
  const element = /** @type {HTMLElement} */ (document.getElementById('outbox-status'));
  const { waiting, failed } = await outbox.counts();
  const parts = [];
  if (waiting > 0) parts.push(plural('outbox.waiting', waiting));
  if (failed > 0) parts.push(plural('outbox.failed', failed));
  const text = parts.join(' · ');
  element.textContent = text;
  element.hidden = text === '';
  element.classList.toggle('has-failed', failed > 0);
  element.dataset.waiting = String(waiting);
  element.dataset.failed = String(failed);
  if (text !== lastStatus) {
    if (lastStatus !== '' || text !== '') announce(text || t('outbox.allSent'));
    lastStatus = text;
  }
}

function wireSkipLink() {
  const link = /** @type {HTMLAnchorElement} */ (document.getElementById('skip-link'));
  link.textContent = t('nav.skip');
  link.onclick = (event) => {
    // The fragment is the router's: move focus instead of following the link.
    event.preventDefault();
    const main = /** @type {HTMLElement} */ (document.getElementById('screen'));
    router.focusHeading(main);
  };
}

/** Draws the chrome and keeps it current (navigation, language, outbox). */
export function startChrome() {
  const refresh = () => {
    renderNav();
    wireSkipLink();
    lastStatus = '';
    renderOutboxStatus();
  };
  refresh();
  router.onNavigate(renderNav);
  onLanguageChange(refresh);
  outbox.onChange(() => {
    renderOutboxStatus();
  });
}
