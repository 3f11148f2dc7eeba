// Today: for each person this phone answers for (oneself, or each child with nickname and
// colour), what is due now and what opens soon; answers still waiting to be sent; answers the
// server refused, with the reason and what to do.

import * as auth from '../auth.js';
import { allDrafts, draftKey } from '../drafts.js';
import { isAnswerable, loadDue, personName, prefetchInstruments, warmUp } from '../data.js';
import { STORES } from '../config.js';
import * as db from '../db.js';
import { formatDateTime, language, languageName, t, textIn } from '../i18n.js';
import * as outbox from '../outbox.js';
import { fill, h, withColour } from '../ui.js';

/**
 * The route of the answering screen for one due item.
 * @param {number} participantId
 * @param {import('../data.js').DueItem} item
 * @returns {string}
 */
export function answerPath(participantId, item) {
  const parts = ['answer', participantId, item.key, item.version];
  if (item.occurrence_id != null) parts.push(item.occurrence_id);
  return '/' + parts.map((p) => encodeURIComponent(String(p))).join('/');
}

/**
 * Resolves once a service worker controls this page (at once if one already does).
 * @returns {Promise<void>}
 */
function whenControlled() {
  const sw = navigator.serviceWorker;
  if (!sw) return new Promise(() => {});
  if (sw.controller) return Promise.resolve();
  return new Promise((resolve) => sw.addEventListener('controllerchange', () => resolve(), { once: true }));
}

/**
 * Fetches every due instrument through the worker so it is saved for offline use, then marks
 * the page (data-offline-ready on <html>) and says so on screen.
 * @param {{people: import('../data.js').PersonDue[]}} due
 * @param {HTMLElement} line
 */
async function makeReadyOffline(due, line) {
  await whenControlled();
  await warmUp(due);
  document.documentElement.dataset.offlineReady = 'true';
  if (line.isConnected) {
    line.textContent = t('today.offlineReady');
    line.hidden = false;
  }
}

/**
 * The list of answers the server refused for good (409, 422, 401…), each with what to do.
 * @param {outbox.OutboxRecord[]} failed
 * @returns {HTMLElement | null}
 */
function failedSection(failed) {
  if (failed.length === 0) return null;
  return h(
    'section',
    { class: 'notice error', 'aria-labelledby': 'failed-title' },
    h('h2', { id: 'failed-title', text: t('today.failed.title') }),
    h(
      'ul',
      { class: 'outbox-failed' },
      failed.map((record) =>
        h(
          'li',
          {},
          h('p', {}, h('strong', { text: record.summary.title }), ' – ', failureReason(record)),
          h(
            'div',
            { class: 'actions' },
            h('button', {
              type: 'button',
              class: 'secondary',
              text: t('today.failed.retry'),
              'aria-label': t('today.failed.retryFor', { title: record.summary.title }),
              onclick: () => outbox.retry(record.id),
            }),
            h('button', {
              type: 'button',
              class: 'danger',
              text: t('today.failed.discard'),
              'aria-label': t('today.failed.discardFor', { title: record.summary.title }),
              onclick: async () => {
                if (confirm(t('today.failed.confirmDiscard'))) await outbox.discard(record.id);
              },
            }),
          ),
        ),
      ),
    ),
  );
}

/**
 * @param {outbox.OutboxRecord} record
 * @returns {string}
 */
function failureReason(record) {
  const status = record.error?.status;
  if (status === 409) return t('today.failed.conflict');
  if (status === 422) return t('today.failed.invalid');
  if (status === 401) return t('today.failed.signedOut');
  if (status === 403 || status === 404) return t('today.failed.notAllowed');
  return t('today.failed.other');
}

/** @type {import('../router.js').Screen} */
export const todayScreen = {
  async render(root) {
    const heading = h('h1', { text: t('today.title') });
    const body = h('div', { class: 'today-body', 'aria-busy': 'true' }, h('p', { text: t('common.loading') }));
    root.append(heading, body);
    let alive = true;

    const draw = async () => {
      /** @type {{data: {people: import('../data.js').PersonDue[]}, offlineCopy: boolean}} */
      let due;
      try {
        due = await loadDue();
      } catch (error) {
        if (!alive) return;
        body.removeAttribute('aria-busy');
        const problem = /** @type {import('../api.js').ApiError} */ (error);
        if (problem.status === 401) {
          await auth.dropCredential();
          fill(body,
            h('p', { class: 'notice error', text: t('today.signedOut') }),
            h('a', { class: 'button', href: '#/welcome', text: t('today.signInAgain') }),
          );
        } else {
          fill(body,
            h('p', { class: 'notice error', text: t(problem.offline ? 'today.offlineNoCopy' : 'today.loadFailed') }),
            h('button', { type: 'button', text: t('common.tryAgain'), onclick: () => draw() }),
          );
        }
        return;
      }
      const [records, drafts, submitted] = await Promise.all([
        outbox.records(),
        allDrafts(),
        db.getAll(STORES.submitted),
      ]);
      if (!alive) return;
      const people = due.data.people;
      const draftKeys = new Set(drafts.map((d) => d.key));
      const failed = records.filter((r) => r.state === 'failed');

      /**
       * @param {number} pid
       * @param {string} key
       * @returns {string | null}
       */
      const lastSent = (pid, key) => {
        const mine = submitted
          .filter((s) => s.participant_id === pid && s.instrument === key)
          .map((s) => String(s.finished_at))
          .sort();
        return mine.length ? mine[mine.length - 1] : null;
      };

      const offlineLine = h('p', { class: 'muted', id: 'offline-ready', hidden: true });
      const phoneZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      fill(body,
        due.offlineCopy ? h('p', { class: 'notice', text: t('today.offlineCopy') }) : null,
        failedSection(failed),
        people.length === 0 ? h('p', { text: t('today.nobody') }) : null,
        ...people.map((person) => {
          const name = personName(person, people);
          // A child in another time zone than the phone: their times are shown in their own
          // zone, and said so, rather than two children's 18:00 reading 18:00 and 19:00 (#11).
          const zone = person.time_zone && person.time_zone !== phoneZone ? person.time_zone : null;
          /** @param {string} iso */
          const when = (iso) => formatDateTime(iso, zone ? { dateStyle: 'medium', timeStyle: 'short', timeZone: zone } : undefined);
          const open = person.instruments.filter(isAnswerable);
          const upcoming = person.instruments.filter((i) => !isAnswerable(i));
          const titleId = `person-${person.participant_id}`;
          const section = h(
            'section',
            { class: 'person', 'aria-labelledby': titleId, dataset: { participant: String(person.participant_id) } },
            h('h2', { id: titleId, class: 'person-chip', text: name }),
            person.respondent === 'proxy'
              ? h('p', { class: 'muted', text: t('today.answeringAbout', { name }) })
              : null,
            zone ? h('p', { class: 'muted zone-note', text: t('today.ownZone', { name, zone }) }) : null,
            open.length === 0
              ? h('p', { text: t('today.nothingDue') })
              : h(
                  'ul',
                  { class: 'due-list', 'aria-label': t('today.dueNow') },
                  open.map((item) => {
                    const key = draftKey(person.participant_id, item.key, item.version, item.occurrence_id);
                    const started = draftKeys.has(key);
                    // An answer waiting to be sent (or sent for this visit) shows the visit as
                    // done; answering again is a deliberate, warned choice (#11).
                    const earlier = outbox.earlierAnswer(records, submitted, person.participant_id, item.key, item.occurrence_id);
                    const waiting = earlier === 'waiting';
                    const sent = lastSent(person.participant_id, item.key);
                    const verb = started ? t('today.continue') : earlier ? t('today.again') : t('today.start');
                    return h(
                      'li',
                      { class: 'due-item', dataset: { instrument: item.key } },
                      h(
                        'div',
                        {},
                        h('span', { class: 'title', ...textIn(item.language), text: item.title }),
                        item.language && item.language.split('-')[0] !== language().split('-')[0]
                          ? h('p', { class: 'muted', text: t('today.inLanguage', { language: languageName(item.language) }) })
                          : null,
                        item.closes_at
                          ? h('p', { class: 'muted', text: t('today.closes', { when: when(item.closes_at) }) })
                          : null,
                        earlier
                          ? h('p', { class: 'done-line' }, h('strong', { text: t('today.done') }), ' ', waiting ? h('span', { class: 'badge', text: t('today.waiting') }) : null)
                          : null,
                        !waiting && sent
                          ? h('p', { class: 'muted', text: t('today.lastSent', { when: formatDateTime(sent) }) })
                          : null,
                      ),
                      h(
                        'a',
                        { class: earlier && !started ? 'button secondary' : 'button', href: `#${answerPath(person.participant_id, item)}` },
                        verb,
                        // "for you" is its own string: Arabic attaches the pronoun (لك), it cannot
                        // put "أنت" after a preposition (#11).
                        h('span', { class: 'visually-hidden', text: ` ${person.respondent === 'self' && !person.nickname ? t('today.itemForSelf', { title: item.title }) : t('today.itemFor', { title: item.title, name })}` }),
                      ),
                    );
                  }),
                ),
            upcoming.length
              ? h(
                  'div',
                  {},
                  h('h3', { text: t('today.comingUp') }),
                  h(
                    'ul',
                    { class: 'due-list' },
                    upcoming.map((item) =>
                      h(
                        'li',
                        { class: 'due-item' },
                        h('span', { class: 'title', ...textIn(item.language), text: item.title }),
                        item.opens_at
                          ? h('span', { class: 'muted', text: t('today.opens', { when: when(item.opens_at) }) })
                          : null,
                      ),
                    ),
                  ),
                )
              : null,
          );
          return withColour(section, person.colour);
        }),
        offlineLine,
      );
      body.removeAttribute('aria-busy');
      if (!due.offlineCopy) {
        prefetchInstruments(due.data);
        makeReadyOffline(due.data, offlineLine).catch(() => {});
      }
    };

    await draw();
    let redrawing = false;
    const stop = outbox.onChange(async () => {
      if (redrawing || !alive) return;
      redrawing = true;
      try {
        await draw();
      } finally {
        redrawing = false;
      }
    });
    return () => {
      alive = false;
      stop();
    };
  },
};
