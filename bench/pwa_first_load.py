"""The participant app's first load: bytes transferred and time to a usable first question.

A phone with nothing cached opens an invitation link; the app signs in, shows Today, the
participant taps the daily diary and "Start", and the first question can be answered. This
runs that in the system Chromium (Playwright, never ``playwright install``) against the real
app served on 127.0.0.1 by werkzeug, twice per round: unthrottled (the baseline) and on
emulated slow 4G through the DevTools protocol (``Network.emulateNetworkConditions``: 150 ms
latency, 1.6 Mbps down, 750 kbps up; ``Emulation.setCPUThrottlingRate`` 4x).

Bytes come from CDP ``Network.loadingFinished.encodedDataLength`` of the page's own requests
(what crossed the wire, HTTP headers included, with Flask gzipping the shell and every asset);
a WSGI counter on the server gives the gzip bodies alone, and everything the worker fetched
in the background to precache the release. Times are ``performance.now()`` marks taken in the
page by a MutationObserver (from navigation start): Today usable, first question usable. The
taps are made by the script as soon as their targets appear. The issue's budget: HTML + JS +
CSS within 30 KB gzip; the exit status is 1 when it is exceeded.

Caveat: the emulation applies to the page's requests; the service worker's background precache
(it starts once the shell has loaded) is not throttled by it. On a real link it shares the
bandwidth; the worker's bytes are reported so that they can be judged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import logging
import os
import statistics
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAME = "pwa_first_load"
DESCRIPTION = "PWA first load: gzip bytes and time to a usable first question, slow 4G vs none"

BUDGET_BYTES = 30 * 1024
# The target: the first question usable within 1.5 s on slow 4G (reported, not enforced:
# wall-clock times move with the machine's load).
TARGET_MS = 1500
# (figure, value, baseline, ratio) rows for `make bench`'s summary table, filled by main().
summary: list[tuple[str, str, str, str]] = []
SLOW_4G = {
    "offline": False,
    "latency": 150,  # ms, added to every request
    "downloadThroughput": 1_600_000 / 8,  # bytes/s
    "uploadThroughput": 750_000 / 8,
}
CPU_SLOWDOWN = 4
LIBRARY = Path(__file__).resolve().parents[1] / "instruments"
CHROMIUM = os.environ.get("CHORUS_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 60_000

# Marks taken in the page: the first moment each thing is on screen, in ms since navigation.
MARKS = """
(() => {
  const marks = (window.__marks = {});
  const seen = (name, selector) => {
    if (!(name in marks) && document.querySelector(selector)) marks[name] = performance.now();
  };
  new MutationObserver(() => {
    seen('today', '.due-item a');
    seen('question', 'main form .option input');
  }).observe(document, { childList: true, subtree: true });
  addEventListener('click', () => { if (!('tap' in marks)) marks.tap = performance.now(); }, true);
})();
"""


# ── The server ────────────────────────────────────────────────────────────────────────────


class _Counted:
    """A WSGI response body that records its size once it has been sent."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._body = body
        self._done = done
        self._size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._size += len(chunk)
            yield chunk

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
        self._done(self._size)


class ByteCounter:
    """WSGI middleware: (path, body bytes) of every response, page and worker alike."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.sent: list[tuple[str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> _Counted:
        path = str(environ.get("PATH_INFO", ""))

        def done(size: int) -> None:
            with self.lock:
                self.sent.append((path, size))

        return _Counted(self.app(environ, start_response), done)

    def take(self) -> list[tuple[str, int]]:
        with self.lock:
            sent, self.sent = self.sent, []
        return sent


@dataclass
class Server:
    url: str
    app: Any
    counter: ByteCounter
    participant_id: int
    stop: Callable[[], None]


def start_server(folder: Path) -> Server:
    """A migrated SQLite database with the shipped instruments, one study with the daily diary
    assigned, one participant; the app served on 127.0.0.1 in a thread."""
    from flask_migrate import upgrade
    from sqlalchemy import select
    from werkzeug.serving import make_server

    from app import create_app
    from app.config import Settings
    from app.extensions import db
    from app.library import service as library
    from app.library.models import InstrumentVersion
    from app.participants import service as participants
    from app.responses import keys
    from app.studies import service as studies

    settings = Settings.from_env(
        {
            "CHORUS_ENV": "test",
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "SECRET_KEY": "p" * 48,
        },
        instance_path=folder / "instance",
    )
    app = create_app(settings)
    logging.disable(logging.INFO)  # Alembic's progress lines and werkzeug's request log
    with app.app_context():
        upgrade()
        session = db.session()
        library.publish_paths(session, [LIBRARY], actor="bench")
        study = studies.create_study(session, slug="bench", name="Bench", actor="bench")
        site = studies.add_site(session, study, code="S", name="Site", actor="bench")
        keys.create_study_key(session, study, actor="bench")
        diary = session.scalars(
            select(InstrumentVersion).where(
                InstrumentVersion.instrument_key == "daily_symptom_diary"
            )
        ).one()
        participants.assign_instrument(session, study, diary, "self", "bench")
        person = participants.enroll(
            session,
            study,
            site,
            code="B-001",
            time_zone="Europe/Paris",
            language="en",
            age_band="adult",
            actor="bench",
        )
        session.commit()
        participant_id = person.id
    counter = ByteCounter(app.wsgi_app)
    app.wsgi_app = counter  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()
        with app.app_context():
            db.engine.dispose()
        logging.disable(logging.NOTSET)

    return Server(f"http://127.0.0.1:{server.server_port}", app, counter, participant_id, stop)


def invitation(server: Server) -> str:
    """A fresh single-use invitation link for the bench participant."""
    from app.extensions import db
    from app.participants import service as participants
    from app.participants.models import Participant

    with server.app.app_context():
        session = db.session()
        person = session.get(Participant, server.participant_id)
        assert person is not None
        issued = participants.create_invitation(
            session,
            person,
            valid_for=dt.timedelta(hours=1),
            pepper="p" * 48,
            base_url=server.url,
            actor="bench",
        )
        session.commit()
        return issued.link


# ── One load ──────────────────────────────────────────────────────────────────────────────


@dataclass
class Load:
    today_ms: float  # navigation start -> Today lists the diary
    tap_to_question_ms: float  # tap on the diary -> first question answerable (incl. "Start")
    bodies: dict[str, int]  # kind -> response body bytes (gzip where served so) of page requests
    wire: dict[str, int]  # kind -> encodedDataLength of page requests (HTTP headers included)
    requests: dict[str, int]  # kind -> page requests that went to the network
    not_gzipped: list[str]
    gzip_of_plain: int  # gzip size of the HTML/JS/CSS the server sent uncompressed
    api_requests: int  # server count: every API call (page and worker)
    api_bytes: int
    worker_bytes: int  # server count of app files minus the page's own: the worker's precache

    @property
    def question_ms(self) -> float:
        """Navigation start -> first question answerable, with taps made at once (the
        script's own reaction time between Today and its tap is left out)."""
        return self.today_ms + self.tap_to_question_ms


def _kind(url: str, resource_type: str) -> str:
    if resource_type in ("Document", "Script", "Stylesheet"):
        return "html+js+css"
    if "/locales/" in url:
        return "strings"
    if "/api/" in url:
        return "api"
    return "other"


def load_once(browser: Any, server: Server, *, slow: bool) -> Load:
    link = invitation(server)
    server.counter.take()
    context = browser.new_context(base_url=server.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(MARKS)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    seen: dict[str, dict[str, Any]] = {}

    def received(event: dict[str, Any]) -> None:
        response = event["response"]
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        seen[event["requestId"]] = {
            "url": response["url"],
            "type": event.get("type", "Other"),
            "gzip": "gzip" in headers.get("content-encoding", ""),
            "from_worker": bool(response.get("fromServiceWorker")),
            "headers": int(response.get("encodedDataLength") or 0),
            "bytes": None,
        }

    def finished(event: dict[str, Any]) -> None:
        if event["requestId"] in seen:
            seen[event["requestId"]]["bytes"] = int(event["encodedDataLength"])

    cdp.on("Network.responseReceived", received)
    cdp.on("Network.loadingFinished", finished)
    cdp.send("Network.enable")
    if slow:
        cdp.send("Network.emulateNetworkConditions", SLOW_4G)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    bodies: dict[str, int] = {}
    wire: dict[str, int] = {}
    counts: dict[str, int] = {}
    not_gzipped: list[str] = []
    gzip_of_plain = 0
    try:
        page.goto(link, wait_until="commit")
        page.locator(".due-item a").first.click()
        page.get_by_role("button", name="Start").click()
        page.locator("main form .option input").first.wait_for()
        marks = page.evaluate("window.__marks")
        for request_id, info in seen.items():
            if info["bytes"] is None or info["from_worker"] or not info["url"].startswith("http"):
                continue
            kind = _kind(info["url"], info["type"])
            wire[kind] = wire.get(kind, 0) + info["bytes"]
            bodies[kind] = bodies.get(kind, 0) + info["bytes"] - info["headers"]
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "html+js+css" and not info["gzip"]:
                not_gzipped.append(info["url"])
                body = cdp.send("Network.getResponseBody", {"requestId": request_id})
                gzip_of_plain += len(gzip.compress(body["body"].encode("utf-8"), 9))
    finally:
        context.close()
    sent = server.counter.take()
    api = [size for path, size in sent if path.startswith("/api/")]
    app_files = sum(size for path, size in sent if path.startswith("/app"))
    page_app = sum(bodies.get(kind, 0) for kind in ("html+js+css", "strings", "other"))
    return Load(
        today_ms=float(marks["today"]),
        tap_to_question_ms=float(marks["question"]) - float(marks["tap"]),
        bodies=bodies,
        wire=wire,
        requests=counts,
        not_gzipped=not_gzipped,
        gzip_of_plain=gzip_of_plain,
        api_requests=len(api),
        api_bytes=sum(api),
        worker_bytes=max(app_files - page_app, 0),
    )


# ── Report ────────────────────────────────────────────────────────────────────────────────


def _kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def _median(loads: list[Load], get: Callable[[Load], float]) -> float:
    return float(statistics.median(get(load) for load in loads))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m bench {NAME}", description=DESCRIPTION)
    parser.add_argument("--rounds", type=int, default=3, help="loads per condition (median)")
    args = parser.parse_args(argv)
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        print(f"{NAME}: needs Chromium at {CHROMIUM} (set CHORUS_CHROMIUM)")
        return 2
    from playwright.sync_api import sync_playwright

    logging.getLogger().setLevel(logging.WARNING)
    load_before = os.getloadavg()[0]
    runs: dict[str, list[Load]] = {"baseline": [], "slow": []}
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp, sync_playwright() as pw:
        server = start_server(Path(tmp))
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            for _ in range(args.rounds):
                # Interleaved, so a slow moment of the machine hits both conditions alike.
                runs["baseline"].append(load_once(browser, server, slow=False))
                runs["slow"].append(load_once(browser, server, slow=True))
        finally:
            browser.close()
            server.stop()

    base, slow = runs["baseline"], runs["slow"]
    first = slow[0]
    assets = _median(slow, lambda r: r.bodies.get("html+js+css", 0))
    print(
        f"{NAME}: cold cache, invitation link -> Today -> diary -> first question; "
        f"medians of {args.rounds} loads per condition; {CHROMIUM}; werkzeug on 127.0.0.1"
    )
    print(
        f"  machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before and"
        f" {os.getloadavg()[0]:.1f} after (times are wall clock and move with it)"
    )
    print(
        "  slow 4G = CDP Network.emulateNetworkConditions latency 150 ms, 1.6 Mbps down, "
        "750 kbps up + Emulation.setCPUThrottlingRate 4"
    )
    if first.not_gzipped:
        print(
            f"  NOT gzipped by the server: {len(first.not_gzipped)} HTML/JS/CSS responses; "
            f"the gzip size of those bytes would be {_kb(first.gzip_of_plain)}"
        )
    else:
        print("  server gzip: every HTML/JS/CSS response came with Content-Encoding: gzip")
    print()
    print(
        f"  {'transfer (CDP, page requests)':<32} {'requests':>8} {'bodies':>9} {'+ headers':>10}"
    )
    for kind, label in (
        ("html+js+css", "HTML + JS + CSS"),
        ("strings", "UI strings (locale JSON)"),
        ("other", "manifest, icons"),
    ):
        print(
            f"  {label:<32} {first.requests.get(kind, 0):>8}"
            f" {_kb(_median(slow, lambda r, k=kind: r.bodies.get(k, 0))):>9}"  # type: ignore[misc]
            f" {_kb(_median(slow, lambda r, k=kind: r.wire.get(k, 0))):>10}"  # type: ignore[misc]
        )
    print(
        f"  {'API calls (server count)':<32} {first.api_requests:>8}"
        f" {_kb(_median(slow, lambda r: r.api_bytes)):>9}"
    )
    print(
        f"  {'worker precache (background)':<32} {'':>8}"
        f" {_kb(_median(slow, lambda r: r.worker_bytes)):>9}"
    )
    verdict = "within" if assets <= BUDGET_BYTES else "OVER"
    print(f"  HTML + JS + CSS gzip: {_kb(assets)}, {verdict} the 30 KB budget")
    print()
    print(f"  {'time, ms':<32} {'baseline':>9} {'slow 4G':>9} {'ratio':>7}")
    for label, get in (
        ("Today usable", lambda r: r.today_ms),
        ("tap -> first question usable", lambda r: r.tap_to_question_ms),
        ("first question usable", lambda r: r.question_ms),
    ):
        b, s = _median(base, get), _median(slow, get)
        print(f"  {label:<32} {b:>9.0f} {s:>9.0f} {s / b:>6.1f}x")
    print(
        "  (from navigation start of the invitation link; taps counted as instant: the script's"
        " reaction time is left out)"
    )
    summary.append(
        (
            "first load HTML+JS+CSS gzip",
            _kb(assets),
            _kb(BUDGET_BYTES) + " budget",
            f"{assets / BUDGET_BYTES:.0%}",
        )
    )
    question = (_median(slow, lambda r: r.question_ms), _median(base, lambda r: r.question_ms))
    target = "within" if question[0] <= TARGET_MS else "OVER"
    print(
        f"  first question usable on slow 4G: {question[0]:.0f} ms, {target} the issue's target of {TARGET_MS} ms"
    )
    summary.append(
        (
            "first question usable, slow 4G",
            f"{question[0]:.0f} ms",
            f"{question[1]:.0f} ms unthrottled",
            f"{question[0] / question[1]:.1f}x",
        )
    )
    return 0 if assets <= BUDGET_BYTES else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
