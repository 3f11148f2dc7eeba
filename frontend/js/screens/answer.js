// Answering a questionnaire (stub; filled in by the next slice).
import { h } from '../ui.js';

/** @type {import('../router.js').Screen} */
export const answerScreen = {
  render(root) {
    root.append(h('h1', { text: '…' }));
  },
};
