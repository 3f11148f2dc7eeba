// Chorus staff workspace, version 1 (no build step). Keeps the header's open-alerts count
// current without reloading: asks the server every 30 s while the tab is visible. The page
// works without it (the count is rendered server-side on every page).
const link = document.querySelector('[data-alert-count-url]');
const output = document.querySelector('[data-alert-count]');
const EVERY_MS = 30_000;

/** Fetches the count and shows it; keeps the old one on any failure. */
async function refresh() {
  if (!link || !output || document.hidden) return;
  try {
    const response = await fetch(link.getAttribute('data-alert-count-url'), {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (!response.ok) return;
    const body = await response.json();
    if (typeof body.open === 'number' && output.textContent !== String(body.open)) {
      output.textContent = String(body.open);
    }
  } catch {
    // offline or signed out: the next page load shows the count again
  }
}

if (link && output) {
  setInterval(refresh, EVERY_MS);
  document.addEventListener('visibilitychange', refresh);
}
