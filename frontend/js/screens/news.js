// News: what the study team tells families (lay summaries of progress), newest first. The
// worker keeps the last good copy of GET /me/news, so the news can be read with no connection.
// Posts are plain text: paragraphs split on blank lines, never HTML.

import { request } from '../api.js';
import { formatDateTime, t, textIn } from '../i18n.js';
import { fill, h } from '../ui.js';

/**
 * @typedef {{id: number, study: string, scope: 'site' | 'study', language: string, title: string, body: string, posted_at: string}} NewsItem
 */

/**
 * @param {NewsItem} item
 * @returns {HTMLElement}
 */
function article(item) {
  const titleId = `news-${item.id}`;
  return h(
    'article',
    { class: 'news-item', 'aria-labelledby': titleId, dataset: { news: String(item.id) }, ...textIn(item.language) },
    h('h2', { id: titleId, text: item.title }),
    h('p', { class: 'muted' }, h('time', { datetime: item.posted_at, text: formatDateTime(item.posted_at, { dateStyle: 'long' }) })),
    item.body
      .split(/\n\s*\n/)
      .map((paragraph) => paragraph.trim())
      .filter(Boolean)
      .map((paragraph) => h('p', { text: paragraph })),
  );
}

/** @type {import('../router.js').Screen} */
export const screen = {
  render(root) {
    let alive = true;
    const body = h('div', { class: 'news-body', 'aria-busy': 'true' }, h('p', { text: t('common.loading') }));
    root.append(h('h1', { text: t('news.title') }), body);
    const draw = async () => {
      /** @type {{data: {items: NewsItem[]}, offlineCopy: boolean}} */
      let answer;
      try {
        answer = await request('/me/news', { meta: true });
      } catch (error) {
        if (!alive) return;
        body.removeAttribute('aria-busy');
        const offline = /** @type {any} */ (error)?.status === 0;
        fill(body,
          h('p', { class: 'notice error', text: t(offline ? 'news.offline' : 'news.failed') }),
          h('button', { type: 'button', text: t('common.tryAgain'), onclick: () => draw() }),
        );
        return;
      }
      if (!alive) return;
      body.removeAttribute('aria-busy');
      const items = [...answer.data.items].sort((a, b) => Date.parse(b.posted_at) - Date.parse(a.posted_at));
      fill(body,
        answer.offlineCopy ? h('p', { class: 'notice', text: t('news.offlineCopy') }) : null,
        items.length === 0 ? h('p', { text: t('news.none') }) : null,
        items.map(article),
      );
    };
    draw();
    return () => {
      alive = false;
    };
  },
};
