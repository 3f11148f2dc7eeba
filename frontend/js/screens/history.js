// History: for each person this phone answers for, the questionnaires sent (from the server,
// metadata only: answers are sealed there) with dates in the reader's language, and for scored
// instruments a trend chart of the scores this phone computed when it sent them (IndexedDB
// `submitted`), since the server cannot give scores back.

import { request } from '../api.js';
import * as auth from '../auth.js';
import { trendChart } from '../chart.js';
import { STORES } from '../config.js';
import { loadMe, personName } from '../data.js';
import * as db from '../db.js';
import { formatDateTime, t } from '../i18n.js';
import { fill, h, withColour } from '../ui.js';

const PER_PAGE = 20;

/**
 * @typedef {{response_id: string, participant_id: number, instrument: string, version: string, title: string, submitted_at: string, respondent_type: string}} HistoryItem
 * @typedef {{participant_id: number, instrument: string, title: string, finished_at: string, scores?: Record<string, number>, score_labels?: Record<string, string>}} Submitted
 */

/**
 * One chart per instrument and score, from the scores kept on this phone.
 * @param {Submitted[]} kept this person's sent responses, as kept on the phone
 * @returns {HTMLElement[]}
 */
function charts(kept) {
  /** @type {Map<string, {title: string, label: string, points: {when: string, value: number}[]}>} */
  const series = new Map();
  for (const record of kept) {
    for (const [id, value] of Object.entries(record.scores || {})) {
      if (typeof value !== 'number') continue;
      const key = `${record.instrument}\u0000${id}`;
      if (!series.has(key)) {
        // Score labels are the study team's ("exploratory, not a validated scale"): families
        // see the questionnaire's name and "your score", numbered if it has several (#11).
        const ids = Object.keys(record.scores || {});
        const title = ids.length > 1
          ? t('history.chart.titleNumbered', { instrument: record.title, number: ids.indexOf(id) + 1 })
          : t('history.chart.title', { instrument: record.title });
        series.set(key, { title, label: t('history.chart.value'), points: [] });
      }
      series.get(key)?.points.push({ when: String(record.finished_at), value });
    }
  }
  return [...series.values()].map(trendChart);
}

/**
 * @param {HistoryItem} item
 * @returns {HTMLElement}
 */
function historyRow(item) {
  return h(
    'li',
    { dataset: { response: item.response_id, instrument: item.instrument } },
    h('span', { class: 'title', text: item.title }),
    h('time', { datetime: item.submitted_at, class: 'muted', text: formatDateTime(item.submitted_at, { dateStyle: 'full', timeStyle: 'short' }) }),
  );
}

/**
 * @param {import('../data.js').Person} person
 * @param {import('../data.js').Person[]} people
 * @param {Submitted[]} kept
 * @param {() => boolean} alive
 * @returns {HTMLElement}
 */
function personSection(person, people, kept, alive) {
  const name = personName(person, people);
  const titleId = `history-person-${person.participant_id}`;
  const list = h('ol', { class: 'history-list' });
  const status = h('div', { 'aria-live': 'polite' }, h('p', { text: t('common.loading') }));
  const mine = kept.filter((k) => k.participant_id === person.participant_id);
  const trend = charts(mine);
  let page = 0;

  const more = async () => {
    page += 1;
    /** @type {{data: {items: HistoryItem[], total: number}, offlineCopy: boolean}} */
    let answer;
    try {
      answer = await request(`/me/history?for=${person.participant_id}&page=${page}&per_page=${PER_PAGE}`, { meta: true });
    } catch (error) {
      page -= 1;
      if (!alive()) return;
      const problem = /** @type {any} */ (error);
      if (problem?.status === 401) await auth.dropCredential();
      fill(status,
        h('p', { class: 'notice error', text: t(problem?.status === 0 ? 'history.offline' : problem?.status === 401 ? 'today.signedOut' : 'history.failed') }),
        problem?.status === 401 ? null : h('button', { type: 'button', text: t('common.tryAgain'), onclick: () => more() }),
      );
      return;
    }
    if (!alive()) return;
    const { items, total } = answer.data;
    list.append(...items.map(historyRow));
    const shown = list.children.length;
    fill(status,
      answer.offlineCopy ? h('p', { class: 'notice', text: t('history.offlineCopy') }) : null,
      shown === 0 ? h('p', { text: t('history.none') }) : null,
      shown < total
        ? h('button', {
            type: 'button',
            class: 'secondary',
            text: t('history.more'),
            onclick: async (/** @type {Event} */ event) => {
              /** @type {HTMLButtonElement} */ (event.currentTarget).disabled = true;
              const before = list.children.length;
              await more();
              // Keyboard and screen-reader users continue from the first new entry.
              const first = /** @type {HTMLElement | null} */ (list.children[before]?.querySelector('.title') || null);
              first?.setAttribute('tabindex', '-1');
              first?.focus();
            },
          })
        : null,
    );
  };
  more();

  return withColour(
    h(
      'section',
      { class: 'person history', 'aria-labelledby': titleId, dataset: { participant: String(person.participant_id) } },
      h('h2', { id: titleId, class: 'person-chip', text: name }),
      trend.length ? h('h3', { text: t('history.scores') }) : null,
      trend,
      h('h3', { text: t('history.sent') }),
      list,
      status,
    ),
    person.colour,
  );
}

/** @type {import('../router.js').Screen} */
export const screen = {
  render(root) {
    let alive = true;
    const body = h('div', { class: 'history-body', 'aria-busy': 'true' }, h('p', { text: t('common.loading') }));
    root.append(h('h1', { text: t('history.title') }), body);
    const draw = async () => {
      /** @type {import('../data.js').Me} */
      let me;
      /** @type {Submitted[]} */
      let kept;
      try {
        [me, kept] = await Promise.all([loadMe(), db.getAll(STORES.submitted)]);
      } catch (error) {
        if (!alive) return;
        body.removeAttribute('aria-busy');
        const problem = /** @type {any} */ (error);
        fill(body,
          h('p', { class: 'notice error', text: t(problem?.status === 0 ? 'history.offline' : 'history.failed') }),
          h('button', { type: 'button', text: t('common.tryAgain'), onclick: () => draw() }),
        );
        return;
      }
      if (!alive) return;
      body.removeAttribute('aria-busy');
      fill(body,
        me.people.length === 0 ? h('p', { text: t('today.nobody') }) : null,
        me.people.map((person) => personSection(person, me.people, kept, () => alive)),
      );
    };
    draw();
    return () => {
      alive = false;
    };
  },
};
