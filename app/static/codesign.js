// Chorus co-design pages, version 1 (no build step): checks a skip-logic expression as it is
// typed. The server answers with the same checker that refuses a bad expression on saving
// (app/codesign/document.py:check_expression, the expression language the phone evaluates),
// so the message here is the message the save would give. The page works without this module:
// saving checks the expression too.
const DELAY_MS = 300;

/**
 * Wires one expression field: <div data-expression-check="url" data-part data-field> holding
 * an <input> and a live status paragraph.
 * @param {HTMLElement} box
 */
function watch(box) {
  const input = /** @type {HTMLInputElement | null} */ (box.querySelector('input'));
  const status = /** @type {HTMLElement | null} */ (box.querySelector('.expression-status'));
  const url = box.getAttribute('data-expression-check');
  if (!input || !status || !url) return;
  let timer = 0;
  let ticket = 0;

  /** Asks the server about the current text and shows its verdict (the latest one only). */
  async function check() {
    const source = input.value.trim();
    const mine = ++ticket;
    if (!source) {
      status.textContent = '';
      status.className = 'expression-status';
      input.removeAttribute('aria-invalid');
      return;
    }
    const query = new URLSearchParams({
      source,
      part: box.getAttribute('data-part') || '',
      field: box.getAttribute('data-field') || 'show_when',
    });
    try {
      const response = await fetch(`${url}?${query}`, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
      if (!response.ok || mine !== ticket) return;
      /** @type {{ok: boolean, message: string | null, column: number | null}} */
      const verdict = await response.json();
      if (mine !== ticket) return;
      if (verdict.ok) {
        status.textContent = status.getAttribute('data-ok-text') || 'OK';
        status.className = 'expression-status ok';
        input.removeAttribute('aria-invalid');
      } else {
        status.textContent = verdict.message || '';
        status.className = 'expression-status error-message';
        input.setAttribute('aria-invalid', 'true');
      }
    } catch {
      // offline or signed out: saving still checks the expression
    }
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(check, DELAY_MS);
  });
}

for (const box of document.querySelectorAll('[data-expression-check]')) {
  watch(/** @type {HTMLElement} */ (box));
}
