// Answering a questionnaire: an introduction, one question per screen (progress bar, back and
// next, skip logic in the browser, a "hard to understand" flag), a review screen, then the
// answers go to the outbox, online or not. Every change is saved as a draft at once, so the
// participant resumes exactly where they stopped. A caregiver always sees whose questionnaire
// this is (name and colour of the child).

import { ApiError } from '../api.js';
import { STORES } from '../config.js';
import * as db from '../db.js';
import { loadDue, loadInstrument, personName } from '../data.js';
import { draftKey, loadDraft, saveDraft } from '../drafts.js';
import { language as uiLanguage, languageName, plural, t, textIn } from '../i18n.js';
import { preview } from '../preview.js';
import * as outbox from '../outbox.js';
import { allSteps, answersToSend, checkStep, numericSummary, visibleSteps } from '../questionnaire.js';
import { focusHeading, navigate } from '../router.js';
import { announce, fill, h, localIsoTimestamp, uuid, withColour } from '../ui.js';
import { describeAnswer, renderQuestion } from './question.js';

/**
 * @typedef {import('../drafts.js').Draft & {raw?: Record<string, string>, fromReview?: boolean}} WorkingDraft
 * @typedef {import('../questionnaire.js').Instrument & {safety?: {id: string, when: any, message: string, language: string}[], safety_contacts?: string | null}} Instrument
 * @typedef {import('../questionnaire.js').Problem} Problem
 */

/** How long the done screen waits for the first sending attempt before saying "queued". */
const SEND_WAIT_MS = 8000;

/**
 * @param {Problem} problem
 * @returns {string}
 */
function problemText(problem) {
  const text = problem.message || t(problem.key, problem.params || {});
  return problem.hint ? `${text} ${t(problem.hint.key, problem.hint.params)}` : text;
}

/**
 * Who this questionnaire is for, always on screen for a caregiver.
 * @param {import('../data.js').Person} person
 * @param {import('../data.js').Person[]} people
 * @returns {HTMLElement | null}
 */
function answeringFor(person, people) {
  if (person.respondent === 'self' && people.length <= 1) return null;
  const name = personName(person, people);
  // "Answering for yourself", not "for" + "you": Arabic needs the attached pronoun (#11).
  const text = person.respondent === 'self' && !person.nickname ? t('answer.forSelf') : t('answer.for', { name });
  const banner = h(
    'div',
    { class: 'answering-for', dataset: { participant: String(person.participant_id) } },
    h('p', { class: 'person-chip', text }),
    h('a', { class: 'switch', href: '#/today', text: t('answer.switch') }),
  );
  return withColour(banner, person.colour);
}

/** @type {import('../router.js').Screen} */
export const answerScreen = {
  async render(root, params) {
    const participantId = Number(params.participant);
    const occurrenceId = params.occurrence ? Number(params.occurrence) : null;
    root.append(h('h1', { text: t('common.loading') }));

    /** @type {{people: import('../data.js').PersonDue[]}} */
    let due;
    /** @type {Instrument} */
    let instrument;
    try {
      // A staff preview (preview.js) brings its own instrument and made-up person.
      [due, instrument] = preview.active
        ? [{ people: [/** @type {any} */ (preview.person)] }, preview.instrument]
        : await Promise.all([
            loadDue({ fresh: true }).then((r) => r.data),
            loadInstrument(participantId, params.key, params.version),
          ]);
    } catch (error) {
      const offline = error instanceof ApiError && error.offline;
      fill(root,
        h('h1', { text: t('answer.unavailable.title') }),
        h('p', { class: 'notice error', text: t(offline ? 'answer.unavailable.offline' : 'answer.unavailable.other') }),
        h('a', { class: 'button', href: '#/today', text: t('answer.backToToday') }),
      );
      return;
    }
    const person = due.people.find((p) => p.participant_id === participantId);
    if (!person) {
      navigate('/today', { replace: true });
      return;
    }
    const dueItem = person.instruments.find(
      (i) => i.key === params.key && i.version === params.version && (i.occurrence_id ?? null) === occurrenceId,
    );
    const key = draftKey(participantId, params.key, params.version, occurrenceId);
    /** @type {WorkingDraft} */
    const draft = (preview.active ? preview.drafts.get(key) : await loadDraft(key)) || {
      key,
      id: uuid(),
      participant_id: participantId,
      instrument: params.key,
      version: params.version,
      occurrence_id: occurrenceId,
      started_at: localIsoTimestamp(),
      answers: {},
      hard: [],
      position: 'intro',
      updated_at: '',
      raw: {},
    };
    draft.raw = draft.raw || {};
    let stored = Boolean(draft.updated_at);
    // Already answered for this visit (waiting to be sent, or sent): starting again is a
    // deliberate choice after a warning, so one visit gives one answer unless chosen (#11).
    const [queued, sentBefore] = await Promise.all([outbox.records(), db.getAll(STORES.submitted)]);
    const earlier = stored ? null : outbox.earlierAnswer(queued, sentBefore, participantId, params.key, occurrenceId);
    const save = async () => {
      if (preview.active) preview.drafts.set(key, draft);
      else await saveDraft(draft);
      stored = true;
    };
    const banner = () => answeringFor(person, due.people);
    const lang = instrument.language;

    /** Moves to another part of the questionnaire and saves where we are. */
    const go = async (/** @type {string} */ position) => {
      draft.position = position;
      await save();
      draw();
      focusHeading(root);
    };

    const draw = () => {
      if (draft.position === 'intro') drawIntro();
      else if (draft.position === 'review') drawReview();
      else drawStep(draft.position);
    };

    const drawIntro = () => {
      fill(root,
        banner(),
        h('h1', { ...textIn(lang), text: instrument.title }),
        languageNotice(lang),
        instrument.description ? h('p', { ...textIn(lang), text: instrument.description }) : null,
        instrument.recall_period
          ? h('p', {}, h('strong', { text: t('answer.recall') }), ' ', h('span', { ...textIn(lang), text: instrument.recall_period }))
          : null,
        instrument.estimated_minutes
          ? h('p', { class: 'muted', text: plural('answer.minutes', instrument.estimated_minutes) })
          : null,
        earlier
          ? h('div', { class: 'notice warning', id: 'answered-already', role: 'note' },
              h('p', {}, h('strong', { text: t(earlier === 'waiting' ? 'answer.again.waiting' : 'answer.again.sent') })),
              h('p', { text: t('answer.again.warning') }))
          : null,
        h(
          'div',
          { class: 'actions' },
          h('a', { class: 'button secondary', href: '#/today', text: t('answer.backToToday') }),
          h('button', {
            type: 'button',
            class: 'next',
            text: stored ? t('answer.continue') : earlier ? t('answer.again.start') : t('answer.start'),
            onclick: () => {
              const steps = visibleSteps(instrument, draft.answers);
              go(steps.length ? steps[0].item.id : 'review');
            },
          }),
        ),
      );
    };

    /**
     * Where an item id sits among the shown items; a now-hidden item resolves to the next
     * shown one after it in file order.
     * @param {string} itemId
     * @returns {{steps: import('../questionnaire.js').Step[], index: number}}
     */
    const locate = (itemId) => {
      const steps = visibleSteps(instrument, draft.answers);
      let index = steps.findIndex((s) => s.item.id === itemId);
      if (index === -1) {
        const order = allSteps(instrument).map((s) => s.item.id);
        const at = order.indexOf(itemId);
        index = steps.findIndex((s) => order.indexOf(s.item.id) > at);
        if (index === -1) index = steps.length;
      }
      return { steps, index };
    };

    const drawStep = (/** @type {string} */ itemId) => {
      const { steps, index } = locate(itemId);
      if (index >= steps.length) {
        draft.position = 'review';
        drawReview();
        return;
      }
      const step = steps[index];
      const { item } = step;
      draft.position = item.id;
      const total = steps.length;
      const progressText = t('answer.progress', { current: index + 1, total });
      const error = h('p', { class: 'field-error', id: 'answer-error', hidden: true });
      const help = item.help ? h('p', { class: 'help', id: 'answer-help', ...textIn(lang), text: item.help }) : null;
      const describedBy = [help ? 'answer-help' : '', 'answer-error'].filter(Boolean).join(' ');
      const question = renderQuestion({
        step,
        value: draft.answers[item.id],
        raw: draft.raw?.[item.id],
        lang,
        describedBy,
        onChange: (value, raw) => {
          if (value === undefined) delete draft.answers[item.id];
          else draft.answers[item.id] = value;
          if (raw !== undefined && draft.raw) draft.raw[item.id] = raw;
          if (!error.hidden) {
            error.hidden = true;
            markInvalid(question, false);
          }
          save();
        },
      });
      // Help sits between the question and the answer choices.
      if (help) {
        const anchor = question.querySelector('legend') || question.querySelector('h1');
        anchor?.after(help);
      }
      const hard = h('input', {
        type: 'checkbox',
        id: 'hard-toggle',
        checked: draft.hard.includes(item.id),
      });
      hard.addEventListener('change', () => {
        draft.hard = draft.hard.filter((id) => id !== item.id);
        if (hard.checked) draft.hard.push(item.id);
        save();
      });
      const next = async () => {
        const problem = checkStep(instrument, item, draft.answers);
        if (problem) {
          error.textContent = problemText(problem);
          error.hidden = false;
          markInvalid(question, true);
          announce(problemText(problem), { assertive: true });
          const first = /** @type {HTMLElement | null} */ (question.querySelector('input, textarea'));
          first?.focus();
          return;
        }
        const after = locate(item.id);
        const following = after.steps[after.index + 1];
        if (draft.fromReview || !following) {
          draft.fromReview = false;
          await go('review');
        } else {
          await go(following.item.id);
        }
      };
      const back = () => {
        draft.fromReview = false;
        go(index === 0 ? 'intro' : steps[index - 1].item.id);
      };
      const progress = h(
        'div',
        { class: 'progress' },
        h('progress', { max: String(total), value: String(index + 1), 'aria-label': progressText }),
        h('p', { 'aria-hidden': 'true', text: progressText }),
      );
      fill(root,
        banner(),
        h('p', { class: 'instrument-title muted', ...textIn(lang), text: instrument.title }),
        progress,
        h(
          'form',
          {
            novalidate: true,
            onsubmit: (/** @type {Event} */ event) => {
              event.preventDefault();
              next();
            },
          },
          question,
          error,
          h('label', { class: 'hard-toggle', for: 'hard-toggle' }, hard, t('answer.hard')),
          h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', class: 'secondary', text: t('answer.back'), onclick: back }),
            h('button', {
              type: 'submit',
              class: 'next',
              text: draft.fromReview ? t('answer.backToReview') : t('answer.next'),
            }),
          ),
        ),
      );
      announce(progressText);
    };

    const drawReview = () => {
      const steps = visibleSteps(instrument, draft.answers).filter((s) => s.item.type !== 'display');
      const problems = steps
        .map((s) => ({ step: s, problem: checkStep(instrument, s.item, draft.answers) }))
        .filter((p) => p.problem !== null);
      const status = h('p', { class: 'notice', id: 'send-status', hidden: true });
      const send = h('button', {
        type: 'button',
        class: 'next',
        text: t('answer.send'),
        onclick: async () => {
          if (problems.length) {
            draft.fromReview = true;
            await go(problems[0].step.item.id);
            return;
          }
          send.disabled = true;
          await submit();
        },
      });
      fill(root,
        banner(),
        h('h1', { text: t('answer.review.title') }),
        h('p', { ...textIn(lang), class: 'muted', text: instrument.title }),
        problems.length
          ? h('p', { class: 'notice error', text: plural('answer.review.problems', problems.length) })
          : h('p', { text: t('answer.review.intro') }),
        h(
          'ul',
          { class: 'review-list' },
          steps.map((s) => {
            const flagged = draft.hard.includes(s.item.id);
            return h(
              'li',
              {},
              h(
                'div',
                { class: 'q' },
                // The page's stem ("In the last 7 days, how often did your child...") belongs to
                // questions such as "sleep well?", which mean nothing without it (#11).
                s.page.title ? h('p', { ...textIn(lang), class: 'stem', text: s.page.title }) : null,
                h('p', { ...textIn(lang), text: s.item.text || '' }),
                h('p', { class: 'a', text: describeAnswer(s.item, draft.answers[s.item.id]) }),
                flagged ? h('p', { class: 'muted', text: t('answer.review.flagged') }) : null,
              ),
              h('button', {
                type: 'button',
                class: 'secondary',
                text: t('answer.review.change'),
                'aria-label': t('answer.review.changeThis', { question: s.item.text || '' }),
                onclick: () => {
                  draft.fromReview = true;
                  go(s.item.id);
                },
              }),
            );
          }),
        ),
        status,
        h(
          'div',
          { class: 'actions' },
          h('button', {
            type: 'button',
            class: 'secondary',
            text: t('answer.back'),
            onclick: () => {
              const all = visibleSteps(instrument, draft.answers);
              go(all.length ? all[all.length - 1].item.id : 'intro');
            },
          }),
          send,
        ),
      );
    };

    /** Moves the answers into the outbox (removing the draft in the same step), then sends. */
    const submit = async () => {
      if (preview.active) {
        // Never queued or sent: a preview's answers are not study data.
        preview.drafts.delete(key);
        drawDone('preview', null, null);
        return;
      }
      const answers = answersToSend(instrument, draft.answers);
      const visibleIds = new Set(visibleSteps(instrument, draft.answers).map((s) => s.item.id));
      /** @type {Record<string, unknown>} */
      const body = {
        id: draft.id,
        participant_id: participantId,
        instrument: instrument.id,
        version: instrument.version,
        respondent_type: person.answered_by,
        language: instrument.language,
        started_at: draft.started_at,
        finished_at: localIsoTimestamp(),
        answers,
        hard_to_understand: draft.hard.filter((id) => visibleIds.has(id)),
      };
      if (occurrenceId !== null) body.occurrence_id = occurrenceId;
      // Scores for the participant's own trend chart (History): the server seals them; and
      // the safety message (#11). Loaded only now (out of the first load, precached by the
      // worker so offline works); if scores cannot load, the answers go without them.
      const [scoring, safetyModule] = await Promise.all([
        import('../scores.js').catch(() => null),
        import('../safety.js').catch(() => null),
      ]);
      const scored = scoring ? scoring.scoreSummary(instrument, answers) : null;
      const safety = safetyModule
        ? safetyModule.safetySection(instrument, answers, scored ? scored.scores : {})
        : null;
      await outbox.enqueue(
        {
          id: draft.id,
          body,
          summary: {
            participant_id: participantId,
            instrument: instrument.id,
            version: instrument.version,
            title: dueItem?.title || instrument.title,
            occurrence_id: occurrenceId,
            numeric: numericSummary(instrument, answers),
            ...(scored || {}),
          },
        },
        key,
      );
      // Wait a little for the first attempt; a slow network must not keep the participant here.
      const result = await Promise.race([
        outbox.flush({ force: true }).catch(() => null),
        new Promise((resolve) => setTimeout(() => resolve(null), SEND_WAIT_MS)),
      ]);
      const stillQueued = (await outbox.records()).find((r) => r.id === draft.id);
      drawDone(stillQueued ? stillQueued.state : 'sent', result, safety);
    };

    /**
     * @param {'sent' | 'waiting' | 'failed' | 'preview'} outcome
     * @param {{waiting: number} | null} result
     * @param {HTMLElement | null} safety the safety message, if a rule fired
     */
    const drawDone = (outcome, result, safety) => {
      const message =
        outcome === 'preview'
          ? t('preview.done')
          : outcome === 'sent'
            ? t('answer.done.sent')
            : outcome === 'failed'
              ? t('answer.done.failed')
              : t('answer.done.queued');
      fill(root,
        banner(),
        h('h1', { text: t('answer.done.title') }),
        safety,
        h('p', { class: `notice ${outcome === 'failed' ? 'error' : 'ok'}`, dataset: { outcome }, text: message }),
        result && result.waiting > 0 && outcome !== 'failed'
          ? h('p', { class: 'muted', text: plural('outbox.waiting', result.waiting) })
          : null,
        h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/today', text: t('answer.backToToday') })),
      );
      focusHeading(root);
    };

    draw();
  },
};

/**
 * Says which language the questionnaire is in when it is not the app's (#11): a French or
 * Arabic reader may get an instrument that has no translation.
 * @param {string} questionnaireLanguage
 * @returns {HTMLElement | null}
 */
function languageNotice(questionnaireLanguage) {
  if (questionnaireLanguage.split('-')[0] === uiLanguage().split('-')[0]) return null;
  return h('p', { class: 'notice', id: 'language-notice', text: t('answer.languageNotice', { language: languageName(questionnaireLanguage) }) });
}

/**
 * Marks the answer controls invalid or valid for assistive technology.
 * @param {HTMLElement} question
 * @param {boolean} invalid
 */
function markInvalid(question, invalid) {
  // Text fields carry aria-invalid; a group of choices is described by the error instead
  // (aria-invalid is not allowed on a fieldset's group role).
  if (question.matches('fieldset')) return;
  const target = question.querySelector('input, textarea');
  if (!target) return;
  if (invalid) target.setAttribute('aria-invalid', 'true');
  else target.removeAttribute('aria-invalid');
}
