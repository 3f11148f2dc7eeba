// A small trend chart as inline SVG (no library), with a table of the same numbers for screen
// readers: the picture is hidden from assistive technology, the table is the text alternative.
// Time runs in the reading direction (right to left in Arabic).

import { dirOf, formatDateTime, formatNumber, language, t } from './i18n.js';
import { h } from './ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 320;
const HEIGHT = 160;
const PAD = { top: 12, bottom: 28, side: 36 };

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attributes
 * @param {(Element | string)[]} [children]
 * @returns {SVGElement}
 */
function svg(tag, attributes, children = []) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/**
 * A line chart of values over time.
 * @param {{title: string, label: string, points: {when: string, value: number}[]}} spec
 *   title: what the chart is (figure caption); label: the column heading of the values
 * @returns {HTMLElement}
 */
export function trendChart(spec) {
  const points = [...spec.points].sort((a, b) => a.when.localeCompare(b.when));
  const times = points.map((p) => new Date(p.when).getTime());
  const values = points.map((p) => p.value);
  const low = Math.min(...values, 0);
  let high = Math.max(...values);
  if (high === low) high = low + 1;
  const first = times[0];
  const span = Math.max(times[times.length - 1] - first, 1);
  const rtl = dirOf(language()) === 'rtl';
  const plotWidth = WIDTH - 2 * PAD.side;
  const x = (/** @type {number} */ time) => {
    const offset = points.length === 1 ? plotWidth / 2 : ((time - first) / span) * plotWidth;
    return rtl ? WIDTH - PAD.side - offset : PAD.side + offset;
  };
  const y = (/** @type {number} */ value) => PAD.top + (1 - (value - low) / (high - low)) * (HEIGHT - PAD.top - PAD.bottom);
  const coords = points.map((p, i) => [x(times[i]), y(p.value)].map((n) => n.toFixed(1)).join(','));
  const shortDate = (/** @type {string} */ when) => formatDateTime(when, { day: 'numeric', month: 'short' });
  const base = HEIGHT - PAD.bottom;
  const start = rtl ? WIDTH - PAD.side : PAD.side;
  const end = rtl ? PAD.side : WIDTH - PAD.side;
  const axisSide = rtl ? WIDTH - 4 : 4;
  const anchor = (/** @type {boolean} */ atStart) => (atStart !== rtl ? 'start' : 'end');

  const picture = svg(
    'svg',
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', 'aria-hidden': 'true', focusable: 'false' },
    [
      svg('line', { class: 'axis', x1: start, y1: base, x2: end, y2: base }),
      svg('line', { class: 'grid', x1: start, y1: y(high), x2: end, y2: y(high) }),
      svg('text', { x: axisSide, y: y(high) + 4, 'text-anchor': anchor(true) }, [formatNumber(high)]),
      svg('text', { x: axisSide, y: base + 4, 'text-anchor': anchor(true) }, [formatNumber(low)]),
      svg('text', { x: start, y: HEIGHT - 6, 'text-anchor': anchor(true) }, [shortDate(points[0].when)]),
      points.length > 1
        ? svg('text', { x: end, y: HEIGHT - 6, 'text-anchor': anchor(false) }, [shortDate(points[points.length - 1].when)])
        : '',
      points.length > 1 ? svg('polyline', { class: 'line', points: coords.join(' ') }) : '',
      ...coords.map((c) => {
        const [cx, cy] = c.split(',');
        return svg('circle', { class: 'dot', cx, cy, r: 4 });
      }),
    ],
  );
  return h(
    'figure',
    { class: 'trend' },
    h('figcaption', { text: spec.title }),
    picture,
    // The hidden table sits in a hidden div: a table is as wide as its cells whatever its own
    // width says, and spilled 480 px out of a 360 px History screen (#11).
    h(
      'div',
      { class: 'visually-hidden' },
      h(
      'table',
      {},
      h('caption', { text: spec.title }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('history.chart.date') }), h('th', { scope: 'col', text: spec.label }))),
      h(
        'tbody',
        {},
        points.map((p) => h('tr', {}, h('td', { text: formatDateTime(p.when) }), h('td', { text: formatNumber(p.value) }))),
      ),
      ),
    ),
  );
}
