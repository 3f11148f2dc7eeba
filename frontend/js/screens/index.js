// The screen registry: every route of the app and the main navigation, in one place.
// To add a screen: write js/screens/<name>.js exporting `screen` ({render(root, params)}),
// import it here, register its route, and (if it belongs in the navigation) list it in NAV.
// Its strings go in frontend/locales/*.json under "<name>.…" keys.

import { register } from '../router.js';
import { answerScreen } from './answer.js';
import { placeholder } from './placeholder.js';
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
  // Placeholders until the History, News and Settings screens land (issue #5).
  register('/history', placeholder('nav.history'));
  register('/news', placeholder('nav.news'));
  register('/settings', placeholder('nav.settings'));
}
