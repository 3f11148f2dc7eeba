"""Browser tests: the participant PWA in real headless Chromium against the real app.

Fixtures (use them in new browser tests, e.g. tests/browser/test_settings.py):

- ``live_server``: the real Flask app (``create_app``) served by werkzeug on 127.0.0.1 and a
  free port, in a thread, on a freshly migrated database. 127.0.0.1 is a secure context, so
  service workers, Background Sync and push subscription work without TLS. It runs on
  SQLite, and on PostgreSQL as well for tests marked ``@pytest.mark.both_engines`` (when
  CHORUS_TEST_DATABASE_URL is set, as in CI).
- ``pwa_world``: demo-like data made with the factories: a study with a key, the shipped
  instruments assigned (diary for self and proxy, PHQ-9 for self, the child weekly form for
  proxy), an adult participant ``adult`` and a caregiver of two children ``lea`` (blue) and
  ``sam`` (red), and ``invite(holder)`` which returns a fresh invitation link into the live app.
- ``browser``: one Chromium for the session (``/usr/bin/chromium``, or CHORUS_CHROMIUM). A
  missing browser FAILS the tests with the install command; it never skips them.
- ``context``/``page``: a fresh browser context per test (own storage, own service worker).
  ``sign_in(page, link)`` opens an invitation link and waits for Today.
- ``db_session`` (from tests/conftest.py) reads the same database for assertions.

Never run ``playwright install``: the tests drive the system Chromium.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from app.library import service as library
from app.library.models import InstrumentVersion
from app.participants import service as participants
from app.responses import keys
from tests.conftest import PG_URL_VAR, _pg_url, _reset_postgresql
from tests.factories import PEPPER, make_caregiver, make_participant, make_study

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
CHROMIUM_VAR = "CHORUS_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Generous: a cold service-worker install on a loaded CI machine can take a few seconds.
TIMEOUT_MS = 20_000


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """SQLite for every browser test; PostgreSQL too for the ones marked both_engines."""
    if "database_url" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_engines") is not None
        metafunc.parametrize(
            "database_url", ["sqlite", "postgresql"] if both else ["sqlite"], indirect=True
        )


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Overrides tests/conftest.py's fixture of the same name: same databases, fewer legs."""
    if request.param == "sqlite":
        path = tmp_path / "chorus.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    if not _pg_url():
        pytest.skip(f"PostgreSQL leg: set {PG_URL_VAR} to run it (.ci/run does)")
    url: str = request.getfixturevalue("migrated_postgresql")
    _reset_postgresql(url)
    return url


# ── Chromium ──────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get(CHROMIUM_VAR, DEFAULT_CHROMIUM)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"The browser tests need Chromium at {path} (set {CHROMIUM_VAR} to use another). "
            "Install it with: apt-get install -y chromium chromium-driver",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Any, chromium_path: str) -> Iterator[Any]:
    browser = playwright.chromium.launch(executable_path=chromium_path)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Any:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    # An uncaught exception in the app is a failure even if the test's checks passed.
    assert errors == [], f"uncaught errors in the page: {errors}"


# ── The live app ──────────────────────────────────────────────────────────────────────────


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()


@dataclass
class PwaWorld:
    study: Any
    adult: Any
    lea: Any
    sam: Any
    caregiver: Any
    invite: Callable[[Any], str]
    recovery: str = ""  # the study key's recovery key, to open stored answers in assertions


@pytest.fixture
def pwa_world(db_session: Session, live_server: LiveServer) -> PwaWorld:
    library.publish_paths(db_session, [LIBRARY], actor="test")
    study = make_study(db_session, "fatigue")
    recovery = keys.create_study_key(db_session, study, actor="test")
    for key, respondents in (
        ("daily_symptom_diary", "both"),
        ("phq9", "self"),
        ("child_weekly_wellbeing", "proxy"),
    ):
        version = db_session.scalars(
            select(InstrumentVersion).where(InstrumentVersion.instrument_key == key)
        ).one()
        participants.assign_instrument(db_session, study, version, respondents, "test")
    db_session.commit()
    adult = make_participant(db_session, study, "A-001")
    lea = make_participant(
        db_session, study, "A-002", age_band="child", nickname="Léa", colour="#1f77b4"
    )
    sam = make_participant(
        db_session, study, "A-003", age_band="child", nickname="Sam", colour="#d62728"
    )
    caregiver = make_caregiver(db_session, lea, sam)

    def invite(holder: Any) -> str:
        issued = participants.create_invitation(
            db_session,
            holder,
            valid_for=dt.timedelta(days=1),
            pepper=PEPPER,
            base_url=live_server.url,
            actor="test",
        )
        db_session.commit()
        return issued.link

    return PwaWorld(study, adult, lea, sam, caregiver, invite, recovery)


def eventually(
    check: Callable[[], bool],
    what: str | Callable[[], str],
    seconds: float = TIMEOUT_MS / 1000,
) -> None:
    """Polls `check` (e.g. a database count) until it holds, for things the page does in the
    background, such as the outbox sending. `what` may be a callable, to describe the state
    found at the deadline."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.1)


def sign_in(page: Any, link: str) -> None:
    """Opens an invitation link like a participant would and waits for Today."""
    page.goto(link)
    wait_for_today(page)


def wait_for_today(page: Any) -> None:
    """Waits until Today has loaded what is due (not just drawn its heading)."""
    page.get_by_role("heading", level=1, name="Today").wait_for()
    page.locator(".today-body:not([aria-busy])").wait_for()
