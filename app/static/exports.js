// Chorus staff workspace: progress of a dataset export, version 1 (no build step).
// The form works without this module (the ZIP downloads all the same). With it, each submission
// carries a fresh random export token, and while the download streams the page asks the server
// every 2.5 s how many responses are written, and says so in a polite live region.
const form = document.querySelector('[data-export-form]');
const output = document.querySelector('[data-export-progress]');
const EVERY_MS = 2500;
const MAX_POLLS = 2880; // two hours: a bounded loop even if the tab is left open
let current = null; // the poll of the latest submission

/** A random version-4 UUID (crypto.randomUUID needs a secure context; this does not). */
function randomToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function say(kind, body) {
  const template = form.getAttribute(`data-text-${kind}`) || '';
  const text = template
    .replace('{done}', String(body ? body.responses_done : 0))
    .replace('{total}', String(body ? body.responses : 0))
    .replace('{reason}', body && body.failure ? body.failure : '');
  if (output.textContent !== text) output.textContent = text;
}

async function poll(token, state) {
  if (state !== current) return; // a newer submission took over
  state.polls += 1;
  const url = form.getAttribute('data-progress-url').replace('EXPORT-ID', token);
  let done = false;
  try {
    const response = await fetch(url, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (response.ok) {
      const body = await response.json();
      if (body.status === 'completed') {
        say('completed', body);
        done = true;
      } else if (body.status === 'incomplete') {
        say('interrupted', body);
        done = true;
      } else if (body.status === 'failed') {
        say('failed', body);
        done = true;
      } else {
        say('running', body);
      }
    }
    // 404: not started yet (the key is being unlocked); keep the "preparing" text.
  } catch {
    // a network hiccup: try again at the next tick
  }
  if (!done && state === current && state.polls < MAX_POLLS) {
    state.timer = setTimeout(() => poll(token, state), EVERY_MS);
  }
}

if (form && output) {
  form.addEventListener('submit', () => {
    if (current) clearTimeout(current.timer);
    const token = randomToken();
    form.elements.namedItem('export_token').value = token;
    current = { polls: 0, timer: null };
    say('preparing', null);
    const state = current;
    state.timer = setTimeout(() => poll(token, state), 1000);
  });
}
