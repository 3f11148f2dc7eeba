// The entry point. An invitation link's token is redeemed here, first: this module needs only
// auth.js and what it imports, so the redeem request goes out while the browser is still
// fetching the rest of the app (the shell preloads it, app.js), instead of after it. On a slow
// link that overlaps a whole round trip. Then app.js starts everything else.

import * as auth from './auth.js';

// The invitation token must not stay in the address bar or in history: clear it first.
const token = auth.joinToken(location.hash);
if (token) history.replaceState(null, '', `${location.pathname}${location.search}#/join`);
const signingIn = token ? auth.redeem({ token }) : null;
// The join screen reports a refusal; until it awaits the answer, a rejection is not unhandled.
signingIn?.catch(() => undefined);

import('./app.js')
  .then((app) => app.start(signingIn))
  .catch((error) => {
    console.error(error);
    const main = document.getElementById('screen');
    if (main) main.textContent = 'Chorus could not start. Please reload the page.';
  });
