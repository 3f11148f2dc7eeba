// Settings: the language, when reminders may come (time zone, windows per weekday, quiet
// hours, e-mail), pauses ("I'm in hospital until the 14th"), push notifications, and signing
// this phone out. The server judges every value; its field errors (`errors`, keyed by paths
// such as windows.mon[0] or quiet_hours[1].start) are shown next to the control they name and
// announced, and nothing changes until the server has accepted the whole form.

import { ApiError, request } from '../api.js';
import * as auth from '../auth.js';
import { API_CACHE, STORES } from '../config.js';
import * as db from '../db.js';
import { formatDateTime, language, plural, setLanguage, t, textIn, uiLanguages } from '../i18n.js';
import * as outbox from '../outbox.js';
import * as push from '../push.js';
import { navigate } from '../router.js';
import { announce, fill, h } from '../ui.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** A message to show (and announce) once after the screen is drawn again, e.g. in a new language. */
let flash = '';

/**
 * @typedef {{start: string, end: string, overnight?: boolean}} Span
 * @typedef {object} TimetableView GET /me/timetable
 * @property {string} time_zone
 * @property {Record<string, Span[]> | null} windows
 * @property {Span[]} quiet_hours
 * @property {string | null} reminder_email
 * @property {{id: number, starts_on: string, ends_on: string, reason: string | null}[]} pauses
 * @property {string | null} paused_until
 * @property {string | null} updated_at
 */

// ── Field errors ─────────────────────────────────────────────────────────────────────────

/**
 * The server's `errors` as flat paths: {"json": {"quiet_hours": {"0": {"start": [...]}}}}
 * (marshmallow) and {"quiet_hours[0].start": [...]} (services) both become
 * "quiet_hours[0].start".
 * @param {Record<string, any>} errors
 * @param {string} [prefix]
 * @returns {[string, string][]}
 */
export function flattenErrors(errors, prefix = '') {
  /** @type {[string, string][]} */
  const out = [];
  for (const [key, value] of Object.entries(errors || {})) {
    const path = !prefix && ['json', 'query'].includes(key) ? '' : /^\d+$/.test(key) ? `${prefix}[${key}]` : prefix ? `${prefix}.${key}` : key;
    if (Array.isArray(value)) out.push([path, value.map(String).join(' ')]);
    else if (value && typeof value === 'object') out.push(...flattenErrors(value, path));
    else out.push([path, String(value)]);
  }
  return out;
}

/**
 * A path and the paths that contain it: "windows.mon[0].start", "windows.mon[0]", …, "".
 * @param {string} path
 * @returns {string[]}
 */
function ancestors(path) {
  const out = [path];
  let rest = path;
  while (rest) {
    rest = rest.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
    if (rest === out[out.length - 1]) rest = '';
    out.push(rest);
  }
  return out;
}

/**
 * An (initially hidden) place for the server's message about `path`.
 * @param {string} path
 * @returns {HTMLElement}
 */
function errorSlot(path) {
  return h('p', { class: 'field-error', id: `field-error-${++slots}`, hidden: true, dataset: { errorFor: path } });
}

let slots = 0;

/**
 * Clears earlier errors inside `scope`.
 * @param {HTMLElement} scope
 */
function clearErrors(scope) {
  for (const slot of scope.querySelectorAll('[data-error-for]')) {
    slot.textContent = '';
    /** @type {HTMLElement} */ (slot).hidden = true;
  }
  for (const input of scope.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
}

/**
 * Shows each server error next to the control its path names (or the nearest group that
 * contains it), marks the controls invalid, announces the problems and focuses the first one.
 * @param {HTMLElement} scope
 * @param {Record<string, any>} errors
 * @param {string} fallback message when the server named no field
 */
function showErrors(scope, errors, fallback) {
  clearErrors(scope);
  const flat = flattenErrors(errors);
  if (flat.length === 0) flat.push(['', fallback]);
  for (const [path, message] of flat) {
    /** @type {HTMLElement | null} */
    let slot = null;
    for (const candidate of ancestors(path)) {
      slot = scope.querySelector(`[data-error-for="${CSS.escape(candidate)}"]`);
      if (slot) break;
    }
    if (!slot) continue;
    slot.hidden = false;
    // Messages from the server are English; say so, so a screen reader reads them right.
    const text = h('span', { ...(language() === 'en' ? {} : textIn('en')), text: message });
    slot.append(slot.childNodes.length ? ' ' : '', text);
    const exact = /** @type {HTMLElement | null} */ (scope.querySelector(`[data-field="${CSS.escape(path)}"]`));
    const group = slot.closest('[data-scope]');
    const controls = exact ? [exact] : group ? [...group.querySelectorAll('input, select, textarea')] : [];
    for (const control of controls) control.setAttribute('aria-invalid', 'true');
  }
  announce(`${t('settings.errors.summary')} ${flat.map(([, m]) => m).join(' ')}`, { assertive: true });
  // The first problem in reading order, not in the server's order.
  /** @type {HTMLElement | null} */ (scope.querySelector('[aria-invalid="true"]'))?.focus();
}

/**
 * The problem of a failed request: the field errors if any, else a sentence for the form.
 * @param {any} error
 * @returns {{errors: Record<string, any>, message: string}}
 */
function problemOf(error) {
  if (error?.status === 0) return { errors: {}, message: t('settings.error.offline') };
  if (error?.status === 401) return { errors: {}, message: t('settings.error.signedOut') };
  const errors = error?.errors && Object.keys(error.errors).length ? error.errors : {};
  return { errors, message: error?.message || t('settings.error.other') };
}

// ── Small builders ────────────────────────────────────────────────────────────────────────

/**
 * A labelled input with its hint and error slot; aria-describedby names both.
 * @param {{id: string, path: string, label: string, hint?: string, input: Record<string, any>}} spec
 * @returns {HTMLElement}
 */
function field(spec) {
  const hintId = spec.hint ? `${spec.id}-hint` : null;
  const slot = errorSlot(spec.path);
  return h(
    'div',
    { class: 'field', dataset: { scope: spec.path } },
    h('label', { for: spec.id, text: spec.label }),
    hintId ? h('p', { class: 'help', id: hintId, text: spec.hint }) : null,
    h('input', {
      id: spec.id,
      dataset: { field: spec.path },
      'aria-describedby': [hintId, slot.id].filter(Boolean).join(' '),
      ...spec.input,
    }),
    slot,
  );
}

/**
 * A local calendar date (YYYY-MM-DD) in the reader's language, e.g. "14 March 2025".
 * @param {string} isoDate
 * @returns {string}
 */
export function formatDay(isoDate) {
  const [y, m, d] = isoDate.split('-').map(Number);
  return formatDateTime(new Date(y, m - 1, d), { dateStyle: 'long' });
}

/** @returns {string} today on this phone as YYYY-MM-DD */
function todayIso() {
  const now = new Date();
  return [now.getFullYear(), now.getMonth() + 1, now.getDate()].map((n, i) => String(n).padStart(i ? 2 : 4, '0')).join('-');
}

/**
 * The weekday name of "mon"…"sun" in the reader's language.
 * @param {string} day
 * @returns {string}
 */
function dayName(day) {
  // 2024-01-01 was a Monday.
  return formatDateTime(new Date(2024, 0, 1 + DAYS.indexOf(day)), { weekday: 'long' });
}

/** @returns {string} this phone's IANA time zone */
function phoneZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

// ── Language ──────────────────────────────────────────────────────────────────────────────

/** @returns {HTMLElement} */
function languageSection() {
  const current = language();
  const slot = errorSlot('language');
  const form = h(
    'form',
    { class: 'settings-form', novalidate: true, dataset: { scope: 'language' } },
    h(
      'fieldset',
      { 'aria-describedby': slot.id },
      h('legend', { class: 'visually-hidden', text: t('settings.language.title') }),
      h(
        'div',
        { class: 'options' },
        uiLanguages().map((code) => {
          const name = new Intl.DisplayNames([code], { type: 'language' }).of(code) || code;
          return h(
            'label',
            { class: 'option' },
            h('input', { type: 'radio', name: 'language', value: code, checked: code === current, dataset: { field: 'language' } }),
            h('span', { ...textIn(code), text: name.charAt(0).toLocaleUpperCase(code) + name.slice(1) }),
          );
        }),
      ),
    ),
    slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: t('settings.language.save') })),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = /** @type {HTMLInputElement | null} */ (form.querySelector('input[name="language"]:checked'))?.value;
    if (!chosen || chosen === language()) return;
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button'));
    button.disabled = true;
    try {
      await request('/me/language', { method: 'PUT', body: { language: chosen } });
    } catch (error) {
      button.disabled = false;
      const problem = problemOf(error);
      showErrors(form, problem.errors, problem.message);
      return;
    }
    await db.put(STORES.kv, 'holder_language', chosen);
    // Re-renders every screen in the new language (and direction); the message follows.
    flash = 'settings.language.changed';
    await setLanguage(chosen, { remember: true });
  });
  return h(
    'section',
    { class: 'settings-section', 'aria-labelledby': 'language-title' },
    h('h2', { id: 'language-title', text: t('settings.language.title') }),
    form,
  );
}

// ── Reminder times ────────────────────────────────────────────────────────────────────────

/**
 * One editable span (a window or quiet hours): from, until, "ends the next day" hint, remove.
 * @param {string} kind 'window' or 'quiet'
 * @param {Span} span
 * @param {string} what accessible name of the group, e.g. "Monday, time 1"
 * @returns {HTMLElement}
 */
function spanRow(kind, span, what) {
  // Its path (windows.mon[0]) is given when the form is sent: rows come and go until then.
  const slot = errorSlot('-');
  const next = h('span', { class: 'muted next-day', text: t('settings.times.nextDay'), hidden: true });
  const from = h('input', { type: 'time', value: span.start, class: 'from', 'aria-describedby': slot.id });
  const until = h('input', { type: 'time', value: span.end, class: 'until', 'aria-describedby': slot.id });
  const update = () => {
    next.hidden = !(kind === 'window' && overnight(from.value, until.value));
  };
  from.addEventListener('input', update);
  until.addEventListener('input', update);
  update();
  const row = h(
    'li',
    { class: 'span-row', dataset: { kind } },
    h(
      'fieldset',
      {},
      h('legend', { class: 'visually-hidden', text: what }),
      h('label', { class: 'inline' }, h('span', { text: t('settings.times.from') }), from),
      h('label', { class: 'inline' }, h('span', { text: t('settings.times.until') }), until),
      next,
      h('button', {
        type: 'button',
        class: 'link',
        text: t('settings.times.remove'),
        'aria-label': t('settings.times.removeThis', { what }),
        onclick: () => {
          const list = row.parentElement;
          row.remove();
          announce(t('settings.times.removed'));
          list?.dispatchEvent(new Event('rows-changed'));
        },
      }),
    ),
    slot,
  );
  return row;
}

/**
 * A window ending at or before its start (other than at midnight) runs into the next day.
 * @param {string} start
 * @param {string} end
 * @returns {boolean}
 */
function overnight(start, end) {
  return Boolean(start && end) && end !== '00:00' && end < start;
}

/**
 * A list of span rows with an "add" button.
 * @param {string} kind
 * @param {Span[]} spans
 * @param {(index: number) => string} name accessible name of row `index`
 * @param {string} addLabel
 * @param {string} emptyText
 * @param {Span} fresh the span an added row starts with
 * @returns {{element: HTMLElement, list: HTMLElement}}
 */
function spanList(kind, spans, name, addLabel, emptyText, fresh) {
  const list = h('ul', { class: 'span-list' }, spans.map((span, i) => spanRow(kind, span, name(i))));
  const empty = h('p', { class: 'muted', text: emptyText });
  const sync = () => {
    empty.hidden = list.children.length > 0;
  };
  list.addEventListener('rows-changed', sync);
  sync();
  const add = h('button', {
    type: 'button',
    class: 'secondary',
    text: addLabel,
    onclick: () => {
      const row = spanRow(kind, fresh, name(list.children.length));
      list.append(row);
      sync();
      /** @type {HTMLInputElement} */ (row.querySelector('input')).focus();
    },
  });
  return { element: h('div', {}, list, empty, add), list };
}

/**
 * Reads the rows of a list into spans and tags each row with its path, so the server's errors
 * (windows.mon[0], quiet_hours[1].start) find their row.
 * @param {HTMLElement} list
 * @param {string} prefix
 * @param {boolean} withOvernight
 * @returns {Span[]}
 */
function readSpans(list, prefix, withOvernight) {
  return [...list.children].map((row, index) => {
    const path = `${prefix}[${index}]`;
    const from = /** @type {HTMLInputElement} */ (row.querySelector('input.from'));
    const until = /** @type {HTMLInputElement} */ (row.querySelector('input.until'));
    /** @type {HTMLElement} */ (row).dataset.scope = path;
    from.dataset.field = `${path}.start`;
    until.dataset.field = `${path}.end`;
    const slot = /** @type {HTMLElement} */ (row.querySelector('[data-error-for]'));
    slot.dataset.errorFor = path;
    /** @type {Span} */
    const span = { start: from.value, end: until.value };
    if (withOvernight) span.overnight = overnight(from.value, until.value);
    return span;
  });
}

/**
 * @param {TimetableView} view
 * @param {(view: TimetableView) => void} redraw
 * @returns {HTMLElement}
 */
function timetableForm(view, redraw) {
  const zone = phoneZone();
  // Never chosen: start from this phone's zone (shown, and saved only with the form).
  const zoneValue = view.updated_at ? view.time_zone : zone;
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const zoneField = field({
    id: 'time-zone',
    path: 'time_zone',
    label: t('settings.zone.label'),
    hint: zoneValue === zone ? t('settings.zone.fromPhone') : t('settings.zone.hint'),
    input: { type: 'text', value: zoneValue, list: 'time-zones', autocomplete: 'off', spellcheck: 'false' },
  });
  const zoneInput = /** @type {HTMLInputElement} */ (zoneField.querySelector('input'));
  if (zoneValue !== zone) {
    zoneField.append(
      h('button', {
        type: 'button',
        class: 'link',
        text: t('settings.zone.usePhone', { zone }),
        onclick: () => {
          zoneInput.value = zone;
          zoneInput.focus();
        },
      }),
    );
  }
  zoneField.append(h('datalist', { id: 'time-zones' }, zones.map((z) => h('option', { value: z }))));

  const limited = view.windows !== null;
  const anyTime = h('input', { type: 'radio', name: 'window-mode', value: 'any', checked: !limited });
  const someTimes = h('input', { type: 'radio', name: 'window-mode', value: 'some', checked: limited });
  /** @type {Record<string, HTMLElement>} */
  const dayLists = {};
  const days = h(
    'div',
    { class: 'days', hidden: !limited },
    DAYS.map((day) => {
      const name = dayName(day);
      const { element, list } = spanList(
        'window',
        view.windows?.[day] || [],
        (i) => t('settings.times.windowName', { day: name, number: i + 1 }),
        t('settings.times.add'),
        t('settings.times.noneThatDay'),
        { start: '18:00', end: '21:00' },
      );
      dayLists[day] = list;
      /** @type {HTMLButtonElement} */ (element.lastElementChild).setAttribute('aria-label', t('settings.times.addOn', { day: name }));
      return h(
        'fieldset',
        { class: 'day', dataset: { day, scope: `windows.${day}` } },
        h('legend', { text: name }),
        element,
        errorSlot(`windows.${day}`),
      );
    }),
  );
  const showDays = () => {
    days.hidden = !someTimes.checked;
    // First time "only at these times": offer evenings every day rather than an empty week.
    if (someTimes.checked && DAYS.every((d) => dayLists[d].children.length === 0)) {
      for (const day of DAYS) {
        dayLists[day].append(spanRow('window', { start: '18:00', end: '21:00' }, t('settings.times.windowName', { day: dayName(day), number: 1 })));
        dayLists[day].dispatchEvent(new Event('rows-changed'));
      }
    }
  };
  anyTime.addEventListener('change', showDays);
  someTimes.addEventListener('change', showDays);

  const quiet = spanList(
    'quiet',
    view.quiet_hours,
    (i) => t('settings.quiet.name', { number: i + 1 }),
    t('settings.quiet.add'),
    t('settings.quiet.none'),
    { start: '22:00', end: '07:00' },
  );
  const emailField = field({
    id: 'reminder-email',
    path: 'reminder_email',
    label: t('settings.email.label'),
    hint: t('settings.email.hint'),
    input: { type: 'email', value: view.reminder_email || '', autocomplete: 'email', inputmode: 'email' },
  });

  const form = h(
    'form',
    { class: 'settings-form', id: 'timetable-form', novalidate: true },
    zoneField,
    h(
      'fieldset',
      { class: 'group', dataset: { scope: 'windows' } },
      h('legend', { text: t('settings.times.title') }),
      h('label', { class: 'option' }, anyTime, h('span', { text: t('settings.times.any') })),
      h('label', { class: 'option' }, someTimes, h('span', { text: t('settings.times.some') })),
      errorSlot('windows'),
      days,
    ),
    h(
      'fieldset',
      { class: 'group', dataset: { scope: 'quiet_hours' } },
      h('legend', { text: t('settings.quiet.title') }),
      h('p', { class: 'help', text: t('settings.quiet.hint') }),
      quiet.element,
      errorSlot('quiet_hours'),
    ),
    emailField,
    errorSlot(''),
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: t('settings.times.save') })),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    /** @type {Record<string, Span[]> | null} */
    let windows = null;
    if (someTimes.checked) {
      windows = {};
      for (const day of DAYS) windows[day] = readSpans(dayLists[day], `windows.${day}`, true);
    }
    const email = /** @type {HTMLInputElement} */ (emailField.querySelector('input')).value.trim();
    const body = {
      time_zone: zoneInput.value.trim(),
      windows,
      quiet_hours: readSpans(quiet.list, 'quiet_hours', false),
      reminder_email: email || null,
    };
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
    button.disabled = true;
    try {
      const fresh = await request('/me/timetable', { method: 'PUT', body });
      flash = 'settings.times.saved';
      redraw(fresh);
    } catch (error) {
      button.disabled = false;
      const problem = problemOf(error);
      showErrors(form, problem.errors, problem.message);
    }
  });
  return form;
}

// ── Pauses ────────────────────────────────────────────────────────────────────────────────

/**
 * @param {TimetableView} view
 * @param {() => void} reload
 * @returns {HTMLElement}
 */
function pauseSection(view, reload) {
  const today = todayIso();
  const list = view.pauses.length
    ? h(
        'ul',
        { class: 'pause-list' },
        view.pauses.map((pause) => {
          const dates = t('settings.pause.range', { from: formatDay(pause.starts_on), until: formatDay(pause.ends_on) });
          const running = pause.starts_on <= today;
          return h(
            'li',
            { dataset: { pause: String(pause.id) } },
            h('p', {}, h('strong', { text: dates })),
            pause.reason ? h('p', { class: 'muted', text: pause.reason }) : null,
            h('button', {
              type: 'button',
              class: 'secondary',
              text: running ? t('settings.pause.end') : t('settings.pause.cancel'),
              'aria-label': t(running ? 'settings.pause.endThis' : 'settings.pause.cancelThis', { dates }),
              onclick: async (/** @type {Event} */ event) => {
                const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
                button.disabled = true;
                try {
                  await request(`/me/timetable/pauses/${pause.id}`, { method: 'DELETE' });
                  flash = 'settings.pause.cancelled';
                  reload();
                } catch (error) {
                  button.disabled = false;
                  announce(problemOf(error).message, { assertive: true });
                }
              },
            }),
          );
        }),
      )
    : null;

  const from = field({ id: 'pause-from', path: 'starts_on', label: t('settings.pause.from'), input: { type: 'date', value: today } });
  const until = field({ id: 'pause-until', path: 'ends_on', label: t('settings.pause.until'), input: { type: 'date', min: today } });
  const reason = field({
    id: 'pause-reason',
    path: 'reason',
    label: t('settings.pause.reason'),
    hint: t('settings.pause.reasonHint'),
    input: { type: 'text', maxlength: 200 },
  });
  const form = h(
    'form',
    { class: 'settings-form', id: 'pause-form', novalidate: true },
    h('div', { class: 'field-row' }, from, until),
    reason,
    errorSlot(''),
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: t('settings.pause.add') })),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (/** @type {HTMLElement} */ el) => /** @type {HTMLInputElement} */ (el.querySelector('input')).value.trim();
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
    button.disabled = true;
    try {
      await request('/me/timetable/pauses', {
        method: 'POST',
        // An empty date is sent as it is: the server names the field that needs one.
        body: { starts_on: value(from), ends_on: value(until), reason: value(reason) || null },
      });
      flash = 'settings.pause.added';
      reload();
    } catch (error) {
      button.disabled = false;
      const problem = problemOf(error);
      showErrors(form, problem.errors, problem.message);
    }
  });
  return h(
    'section',
    { class: 'settings-section', 'aria-labelledby': 'pause-title' },
    h('h2', { id: 'pause-title', text: t('settings.pause.title') }),
    view.paused_until
      ? h('p', { class: 'notice', id: 'paused-now', text: t('settings.pause.now', { until: formatDay(view.paused_until) }) })
      : null,
    h('p', { text: t('settings.pause.intro') }),
    list,
    h('h3', { text: t('settings.pause.new') }),
    form,
  );
}

// ── Notifications ─────────────────────────────────────────────────────────────────────────

/** The participant said no to notifications (or blocked them earlier). */
class Denied extends Error {}

/** @returns {HTMLElement} */
function pushSection() {
  const body = h('div', { 'aria-live': 'polite' }, h('p', { text: t('common.loading') }));
  const draw = async () => {
    if (!push.pushSupported()) {
      fill(body, h('p', { text: t('settings.push.unsupported') }));
      return;
    }
    /** @type {{vapidKey: string, server: boolean, browser: boolean}} */
    let state;
    try {
      state = await push.pushState();
    } catch (error) {
      const problem = /** @type {any} */ (error);
      fill(body, h('p', { text: problem?.status === 503 ? t('settings.push.unavailable') : problemOf(error).message }));
      return;
    }
    const on = state.server && state.browser;
    const message = h('p', { class: 'field-error', id: 'push-error', hidden: true });
    const button = h('button', {
      type: 'button',
      class: on ? 'secondary' : '',
      text: on ? t('settings.push.turnOff') : t('settings.push.turnOn'),
      'aria-describedby': 'push-error',
      onclick: async () => {
        button.disabled = true;
        message.hidden = true;
        try {
          if (on) await push.disablePush();
          else if ((await push.enablePush(state.vapidKey)) === 'denied') throw new Denied();
          announce(t(on ? 'settings.push.off' : 'settings.push.on'));
          await draw();
          /** @type {HTMLElement | null} */ (body.querySelector('button'))?.focus();
        } catch (error) {
          button.disabled = false;
          if (error instanceof Denied) message.textContent = t('settings.push.denied');
          else if (error instanceof ApiError) message.textContent = problemOf(error).message;
          else {
            // The browser's own reason (no push service, timed out) is technical: log it.
            console.warn('push subscription failed:', error);
            message.textContent = t('settings.push.failed');
          }
          message.hidden = false;
          announce(message.textContent, { assertive: true });
        }
      },
    });
    fill(
      body,
      h('p', { id: 'push-state', dataset: { on: String(on) }, text: on ? t('settings.push.isOn') : t('settings.push.isOff') }),
      h('p', { class: 'help', text: t('settings.push.hint') }),
      button,
      message,
    );
  };
  draw();
  return h(
    'section',
    { class: 'settings-section', 'aria-labelledby': 'push-title' },
    h('h2', { id: 'push-title', text: t('settings.push.title') }),
    body,
  );
}

// ── This phone ────────────────────────────────────────────────────────────────────────────

/**
 * Forgets this phone's study data after the server revoked it: credential, drafts, the
 * history copy and cached API answers. The outbox stays (answers not yet sent are never
 * dropped silently) and so does the chosen UI language.
 * @returns {Promise<void>}
 */
async function clearLocalData() {
  const keep = new Set(['ui_language']);
  await db.atomically([STORES.kv, STORES.drafts, STORES.submitted], (tx) => {
    tx.objectStore(STORES.drafts).clear();
    tx.objectStore(STORES.submitted).clear();
    const kv = tx.objectStore(STORES.kv);
    const keys = kv.getAllKeys();
    keys.onsuccess = () => {
      for (const key of keys.result) if (!keep.has(String(key))) kv.delete(key);
    };
  });
  await auth.dropCredential();
  if (globalThis.caches) await caches.delete(API_CACHE);
}

/** @returns {HTMLElement} */
function deviceSection() {
  const panel = h('div', { class: 'confirm', id: 'sign-out-confirm', hidden: true });
  const start = h('button', {
    type: 'button',
    class: 'danger',
    text: t('settings.device.signOut'),
    'aria-expanded': 'false',
    'aria-controls': 'sign-out-confirm',
    onclick: async () => {
      const [{ waiting, failed }, drafts] = await Promise.all([outbox.counts(), db.count(STORES.drafts)]);
      const unsent = waiting + failed;
      const error = h('p', { class: 'field-error', id: 'sign-out-error', hidden: true });
      const cancel = () => {
        panel.hidden = true;
        start.setAttribute('aria-expanded', 'false');
        start.focus();
      };
      fill(
        panel,
        h('h3', { id: 'sign-out-title', tabindex: '-1', text: t('settings.device.confirmTitle') }),
        h('p', { text: t('settings.device.confirmText') }),
        unsent
          ? h(
              'div',
              { class: 'notice error', id: 'unsent-warning' },
              h('p', { text: plural('settings.device.unsent', unsent) }),
              h('button', {
                type: 'button',
                class: 'secondary',
                text: t('settings.device.sendNow'),
                onclick: async () => {
                  await outbox.flush({ force: true }).catch(() => null);
                  /** @type {HTMLButtonElement} */ (start).click();
                },
              }),
            )
          : null,
        drafts ? h('p', { class: 'notice', text: plural('settings.device.drafts', drafts) }) : null,
        error,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', text: t('settings.device.keep'), onclick: cancel }),
          h('button', {
            type: 'button',
            class: 'danger',
            text: t('settings.device.confirm'),
            onclick: async (/** @type {Event} */ event) => {
              const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
              button.disabled = true;
              try {
                // Stop pushes first: once revoked, this phone can no longer ask.
                await push.disablePush().catch(() => undefined);
                await request('/me/device', { method: 'DELETE' });
              } catch (failure) {
                const problem = /** @type {any} */ (failure);
                if (problem?.status !== 401) {
                  button.disabled = false;
                  error.textContent = problemOf(failure).message;
                  error.hidden = false;
                  announce(error.textContent, { assertive: true });
                  return;
                }
                // 401: the server had already revoked this phone; forget it here too.
              }
              await clearLocalData();
              announce(t('settings.device.done'));
              navigate('/welcome', { replace: true });
            },
          }),
        ),
      );
      panel.hidden = false;
      start.setAttribute('aria-expanded', 'true');
      /** @type {HTMLElement} */ (panel.querySelector('h3')).focus();
    },
  });
  return h(
    'section',
    { class: 'settings-section', 'aria-labelledby': 'device-title' },
    h('h2', { id: 'device-title', text: t('settings.device.title') }),
    h('p', { text: t('settings.device.intro') }),
    start,
    panel,
  );
}

// ── The screen ────────────────────────────────────────────────────────────────────────────

/** @type {import('../router.js').Screen} */
export const screen = {
  render(root) {
    let alive = true;
    const timetable = h('div', { class: 'timetable', 'aria-busy': 'true' }, h('p', { text: t('common.loading') }));
    const pauses = h('div');
    root.append(
      h('h1', { text: t('settings.title') }),
      languageSection(),
      h(
        'section',
        { class: 'settings-section', 'aria-labelledby': 'times-title' },
        h('h2', { id: 'times-title', text: t('settings.reminders.title') }),
        h('p', { text: t('settings.reminders.intro') }),
        timetable,
      ),
      pauses,
      pushSection(),
      deviceSection(),
    );

    /** Shows and announces the pending message; after a save, focus goes to it. */
    const say = (focus = false) => {
      if (!flash) return;
      const message = t(flash);
      flash = '';
      announce(message);
      const note = /** @type {HTMLElement} */ (
        root.querySelector('#settings-flash') || h('p', { class: 'notice ok', id: 'settings-flash', tabindex: '-1' })
      );
      note.textContent = message;
      root.querySelector('h1')?.after(note);
      if (focus) note.focus();
    };

    /** @param {TimetableView} view */
    const draw = (view) => {
      if (!alive) return;
      timetable.removeAttribute('aria-busy');
      fill(timetable, timetableForm(view, draw));
      fill(pauses, pauseSection(view, load));
      say(true);
    };
    const load = async () => {
      try {
        draw(await request('/me/timetable'));
      } catch (error) {
        if (!alive) return;
        timetable.removeAttribute('aria-busy');
        fill(timetable,
          h('p', { class: 'notice error', text: problemOf(error).message }),
          h('button', { type: 'button', text: t('common.tryAgain'), onclick: () => load() }),
        );
      }
    };
    load();
    say();
    return () => {
      alive = false;
    };
  },
};
