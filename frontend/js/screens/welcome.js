// Signing in: the invitation link (/app/#join=<token>, handled by the join screen) or the
// code typed from a letter (the welcome screen). Both end on Today.

import { ApiError } from '../api.js';
import * as auth from '../auth.js';
import { STORES } from '../config.js';
import { useSignInDue } from '../data.js';
import * as db from '../db.js';
import * as i18n from '../i18n.js';
import { t } from '../i18n.js';
import * as outbox from '../outbox.js';
import { navigate } from '../router.js';
import { announce, h } from '../ui.js';

/** @type {ReturnType<typeof auth.redeem> | null} */
let pendingSignIn = null;
/** @type {string | null} an error from the link, shown on the welcome screen */
let linkError = null;

/**
 * main.js redeems the token it took out of the address bar and hands the attempt over.
 * @param {ReturnType<typeof auth.redeem>} attempt
 */
export function setJoinAttempt(attempt) {
  pendingSignIn = attempt;
}

/**
 * The participant-facing message for a failed redeem.
 * @param {unknown} error
 * @param {'link' | 'code'} how
 * @returns {string}
 */
function refusal(error, how) {
  if (!(error instanceof ApiError)) return t('welcome.error.unknown');
  if (error.offline) return t('welcome.error.offline');
  if (error.status === 429) return t('welcome.error.tooMany');
  if (error.status === 422) return t('welcome.error.malformed');
  if (error.status === 401) return t(how === 'link' ? 'welcome.error.link' : 'welcome.error.code');
  return t('welcome.error.unknown');
}

/**
 * After a successful redeem: remember the study's language for this person, go to Today, which
 * draws the due list the redeem answer carried (no further round trip).
 * @param {{me: import('../data.js').Me, due: {people: import('../data.js').PersonDue[]}}} signedIn
 */
async function afterSignIn({ me, due }) {
  outbox.retrySignedOut().catch(() => undefined);
  try {
    await db.put(STORES.kv, 'holder_language', me.language);
    if (!(await i18n.savedLanguage())) {
      await i18n.setLanguage(i18n.pickLanguage([me.language, i18n.language()]));
    }
  } catch {
    // The browser's language stays; the sign-in itself worked.
  }
  useSignInDue(due);
  navigate('/today', { replace: true });
}

/** @type {import('../router.js').Screen} */
export const joinScreen = {
  public: true,
  async render(root) {
    const attempt = pendingSignIn;
    pendingSignIn = null;
    if (!attempt) {
      navigate('/welcome', { replace: true });
      return;
    }
    root.append(h('h1', { text: t('join.title') }), h('p', { text: t('join.wait') }));
    /** @type {Awaited<ReturnType<typeof auth.redeem>>} */
    let signedIn;
    try {
      signedIn = await attempt;
    } catch (error) {
      linkError = refusal(error, 'link');
      navigate(auth.signedIn() ? '/today' : '/welcome', { replace: true });
      return;
    }
    await afterSignIn(signedIn);
  },
};

/** @type {import('../router.js').Screen} */
export const welcomeScreen = {
  public: true,
  render(root) {
    const error = h('p', { class: 'notice error', id: 'code-error', hidden: true });
    const input = h('input', {
      id: 'invitation-code',
      name: 'code',
      type: 'text',
      autocomplete: 'one-time-code',
      autocapitalize: 'characters',
      spellcheck: 'false',
      required: true,
      maxlength: '40',
      'aria-describedby': 'code-hint',
    });
    const submit = h('button', { type: 'submit', text: t('welcome.signIn') });
    const form = h(
      'form',
      { novalidate: true },
      h('label', { for: 'invitation-code', text: t('welcome.codeLabel') }),
      h('p', { class: 'help', id: 'code-hint', text: t('welcome.codeHint') }),
      input,
      error,
      h('div', { class: 'actions' }, submit),
    );
    /** @param {string} message */
    const showError = (message) => {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'code-hint code-error');
      announce(message, { assertive: true });
    };
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const code = input.value.trim();
      if (!code) {
        showError(t('welcome.error.empty'));
        input.focus();
        return;
      }
      submit.disabled = true;
      try {
        await afterSignIn(await auth.redeem({ code }));
      } catch (problem) {
        showError(refusal(problem, 'code'));
        input.focus();
      } finally {
        submit.disabled = false;
      }
    });
    const linkNotice = linkError ? h('p', { class: 'notice error', role: 'alert', text: linkError }) : '';
    // No null child: append() would print it as the text "null" (#11).
    root.append(h('h1', { text: t('welcome.title') }), h('p', { text: t('welcome.intro') }), linkNotice, h('h2', { text: t('welcome.codeTitle') }), form);
    linkError = null;
  },
};
