// A stand-in for a screen that is not built yet, so the navigation already has its place.

import { t } from '../i18n.js';
import { h } from '../ui.js';

/**
 * @param {string} titleKey i18n key of the screen's title
 * @returns {import('../router.js').Screen}
 */
export function placeholder(titleKey) {
  return {
    render(root) {
      root.append(h('h1', { text: t(titleKey) }), h('p', { text: t('placeholder.soon') }));
    },
  };
}
