// The screen registry: every route of the app and the main navigation, in one place.
// To add a screen: write js/screens/<name>.js exporting `screen` ({render(root, params)}),
// import it here, register its route, and (if it belongs in the navigation) list it in NAV.
// Its strings go in frontend/locales/*.json under "<name>.…" keys.

import { register } from '../router.js';
import { answerScreen } from './answer.js';
import { todayScreen } from './today.js';
import { joinScreen, welcomeScreen } from './welcome.js';

/** Main navigation: path and i18n key of the label, in display order. */
export const NAV = [
  { path: '/today', label: 'nav.today' },
  { path: '/history', label: 'nav.history' },
  { path: '/news', label: 'nav.news' },
  { path: '/settings', label: 'nav.settings' },
];

export function registerScreens() {
  register('/welcome', welcomeScreen);
  register('/join', joinScreen);
  register('/today', todayScreen);
  register('/answer/:participant/:key/:version', answerScreen);
  register('/answer/:participant/:key/:version/:occurrence', answerScreen);
  // Loaded on first visit, so they add nothing to the first load of a questionnaire.
  register('/history', lazy(() => import('./history.js')));
  register('/news', lazy(() => import('./news.js')));
  register('/settings', lazy(() => import('./settings.js')));
}

/**
 * A screen whose module is fetched when it is first shown (from the worker's cache offline).
 * @param {() => Promise<{screen: import('../router.js').Screen}>} load
 * @returns {import('../router.js').Screen}
 */
function lazy(load) {
  return {
    async render(root, params) {
      const { screen } = await load();
      return screen.render(root, params);
    },
  };
}
