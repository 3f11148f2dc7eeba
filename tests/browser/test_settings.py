"""Settings on the phone, in real Chromium against the real app: the language (the UI re-renders,
Arabic mirrors, the server records it), reminder windows, quiet hours, time zone and e-mail
(stored on the server), the server's field errors shown next to the control and nothing
changed, pauses added and cancelled, push opt-in and opt-out, and signing this phone out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.delivery.vapid import load_vapid_keys
from app.delivery.webpush import PushDelivered, send_push
from app.delivery.webpush import PushSubscription as WebPushSubscription
from app.participants.models import Device, Participant
from app.reminders.models import PushSubscription, Timetable, TimetablePause
from tests.browser.conftest import TIMEOUT_MS, LiveServer, PwaWorld, sign_in, wait_for_today
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_outbox import ENQUEUE, call, diary_body
from tests.support.push_endpoint import PushEndpoint, b64url_decode

DEVICE = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('chorus');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const read = (store, how) => new Promise((resolve, reject) => {
    const request = db.transaction(store).objectStore(store)[how]();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const out = {kv: await read('kv', 'getAllKeys'), outbox: await read('outbox', 'getAll'),
               drafts: await read('drafts', 'count'), submitted: await read('submitted', 'count')};
  const device = await new Promise((resolve) => {
    const request = db.transaction('kv').objectStore('kv').get('device');
    request.onsuccess = () => resolve(request.result);
  });
  db.close();
  return {...out, token: device ? device.token : null};
}"""


def open_settings(page: Any) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Settings").click()
    page.get_by_role("heading", level=1, name="Settings").wait_for()
    page.locator("#timetable-form").wait_for()


def span_row(page: Any, group: str, index: int = 0) -> Any:
    """The index-th from/until row in a fieldset named `group` (a weekday or "Quiet hours")."""
    fieldset = page.get_by_role("group", name=group, exact=True)
    return fieldset.locator("li.span-row").nth(index)


def set_span(row: Any, start: str, end: str) -> None:
    row.get_by_label("From").fill(start)
    row.get_by_label("Until").fill(end)


def timetable_of(db_session: Session, participant: Any) -> Timetable | None:
    db_session.expire_all()
    return db_session.scalar(select(Timetable).where(Timetable.participant_id == participant.id))


@pytest.fixture
def toronto_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A phone set to Toronto time (the participant was enrolled in Europe/Paris)."""
    context = browser.new_context(
        base_url=live_server.url, locale="en-GB", timezone_id="America/Toronto"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def test_changing_the_language_re_renders_the_app_and_arabic_mirrors(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    open_settings(page)
    page.get_by_role("radio", name="Français").check()
    page.get_by_role("button", name="Change language").click()
    page.get_by_role("heading", level=1, name="Réglages").wait_for()
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "fr",
        "ltr",
    ]
    expect(page.locator("#settings-flash")).to_have_text(
        "L'application est maintenant en français."
    )
    expect(page.get_by_role("navigation").get_by_role("link").first).to_have_text("Aujourd'hui")

    page.get_by_role("radio", name="العربية").check()
    page.get_by_role("button", name="Changer de langue").click()
    page.get_by_role("heading", level=1, name="الإعدادات").wait_for()
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "ar",
        "rtl",
    ]
    # Mirrored: the first navigation entry sits to the right of the second, headings start
    # at the right edge, and the reminder form's weekday names are Arabic.
    links = page.get_by_role("navigation").get_by_role("link")
    first, second = links.nth(0).bounding_box(), links.nth(1).bounding_box()
    assert first["x"] > second["x"]
    heading = page.get_by_role("heading", level=1).bounding_box()
    main = page.locator("main").bounding_box()
    assert heading["x"] + heading["width"] > main["x"] + main["width"] - 40
    # (The per-day fieldsets are hidden while "At any time" is chosen; their names still are.)
    expect(page.locator("fieldset.day legend", has_text="الاثنين")).to_have_count(1)

    db_session.expire_all()
    assert db_session.get(Participant, pwa_world.adult.id).language == "ar"  # type: ignore[union-attr]

    # The choice is this phone's from now on: a reload opens in Arabic.
    page.reload()
    page.get_by_role("heading", level=1, name="الإعدادات").wait_for()
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert_accessible(page, "settings (ar)")


@pytest.mark.both_engines
def test_windows_quiet_hours_zone_and_email_are_stored_on_the_server(
    toronto_page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    page = toronto_page
    sign_in(page, pwa_world.invite(pwa_world.adult))
    open_settings(page)
    # Never chosen: the time zone comes from the phone, and says so.
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_value("America/Toronto")
    expect(page.get_by_text("Taken from this phone.")).to_be_visible()
    # Defaults: no window restriction, quiet hours 21:00-08:00.
    expect(page.get_by_role("radio", name="At any time")).to_be_checked()
    expect(span_row(page, "Quiet hours").get_by_label("From")).to_have_value("21:00")

    page.get_by_role("radio", name="Only at the times I choose").check()
    # Every day starts with an evening window; change Saturday, clear Sunday, add Monday noon.
    set_span(span_row(page, "Saturday"), "09:00", "12:00")
    page.get_by_role("button", name="Remove Sunday, time 1").click()
    expect(page.get_by_role("group", name="Sunday", exact=True)).to_contain_text(
        "No reminders on this day."
    )
    page.get_by_role("button", name="Add a time on Monday").click()
    set_span(span_row(page, "Monday", 1), "12:00", "13:00")
    # A window past midnight is marked as ending the next day.
    set_span(span_row(page, "Friday"), "22:00", "01:00")
    expect(span_row(page, "Friday").get_by_text("(ends the next day)")).to_be_visible()
    set_span(span_row(page, "Quiet hours"), "22:30", "06:30")
    page.get_by_label("E-mail for reminders").fill("  ana@example.org ")
    page.get_by_role("button", name="Save reminder times").click()
    expect(page.locator("#settings-flash")).to_have_text("Your reminder times are saved.")
    expect(page.locator("#settings-flash")).to_be_focused()

    row = timetable_of(db_session, pwa_world.adult)
    assert row is not None
    evening = [["18:00", "21:00"]]
    assert row.windows == {
        "mon": [["18:00", "21:00"], ["12:00", "13:00"]],
        "tue": evening,
        "wed": evening,
        "thu": evening,
        "fri": [["22:00", "01:00", "overnight"]],
        "sat": [["09:00", "12:00"]],
        "sun": [],
    }
    assert row.quiet_hours == [["22:30", "06:30"]]
    assert row.reminder_email == "ana@example.org"
    assert db_session.get(Participant, pwa_world.adult.id).time_zone == "America/Toronto"  # type: ignore[union-attr]

    # Drawn again from the server's answer, and the same after a reload.
    page.reload()
    open_settings(page)
    expect(page.get_by_role("radio", name="Only at the times I choose")).to_be_checked()
    expect(span_row(page, "Monday", 1).get_by_label("Until")).to_have_value("13:00")
    expect(page.get_by_label("E-mail for reminders")).to_have_value("ana@example.org")

    # Back to "any time": windows null on the server.
    page.get_by_role("radio", name="At any time").check()
    page.get_by_role("button", name="Save reminder times").click()
    expect(page.locator("#settings-flash")).to_have_text("Your reminder times are saved.")
    row = timetable_of(db_session, pwa_world.adult)
    assert row is not None and row.windows is None


@pytest.mark.both_engines
def test_bad_values_show_the_servers_errors_next_to_their_controls_and_change_nothing(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    open_settings(page)
    page.get_by_role("radio", name="Only at the times I choose").check()
    set_span(span_row(page, "Wednesday"), "18:00", "18:00")
    set_span(span_row(page, "Quiet hours"), "22:00", "22:00")
    page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    page.get_by_role("button", name="Save reminder times").click()

    wednesday = span_row(page, "Wednesday")
    expect(wednesday.locator(".field-error")).to_contain_text("so it is empty")
    expect(wednesday.get_by_label("From")).to_have_attribute("aria-invalid", "true")
    quiet = span_row(page, "Quiet hours")
    expect(quiet.locator(".field-error")).to_contain_text("22:00")
    expect(quiet.get_by_label("Until")).to_have_attribute("aria-invalid", "true")
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_attribute("aria-invalid", "true")
    zone_error = page.locator(f"#{zone.get_attribute('aria-describedby').split()[-1]}")
    expect(zone_error).to_contain_text("Mars/Olympus_Mons")
    expect(zone).to_be_focused()
    # Other rows are not blamed, and the problems are announced.
    expect(span_row(page, "Tuesday").locator(".field-error")).to_be_hidden()
    expect(page.locator("#alert")).to_contain_text("Nothing was changed.")
    expect(page.locator("#settings-flash")).to_have_count(0)
    assert_accessible(page, "settings with field errors")

    assert timetable_of(db_session, pwa_world.adult) is None
    assert db_session.get(Participant, pwa_world.adult.id).time_zone == "Europe/Paris"  # type: ignore[union-attr]

    # Fixing them saves, and the errors go away.
    page.get_by_label("Time zone").fill("Europe/Paris")
    set_span(span_row(page, "Wednesday"), "18:00", "20:00")
    set_span(span_row(page, "Quiet hours"), "22:00", "07:00")
    page.get_by_role("button", name="Save reminder times").click()
    expect(page.locator("#settings-flash")).to_have_text("Your reminder times are saved.")
    expect(page.locator("#timetable-form .field-error:visible")).to_have_count(0)
    row = timetable_of(db_session, pwa_world.adult)
    assert row is not None and row.windows is not None
    assert row.windows["wed"] == [["18:00", "20:00"]]


@pytest.mark.both_engines
def test_a_pause_is_added_with_its_reason_and_cancelled(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    open_settings(page)
    today = dt.date.today()
    page.get_by_label("First day without reminders").fill(today.isoformat())
    page.get_by_label("Last day without reminders").fill((today - dt.timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Pause reminders").click()
    until = page.get_by_label("Last day without reminders")
    expect(until).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#pause-form .field-error:visible")).to_contain_text("before it starts")
    db_session.expire_all()
    assert db_session.scalars(select(TimetablePause)).all() == []

    end = today + dt.timedelta(days=9)
    until.fill(end.isoformat())
    page.get_by_label("Reason (optional)").fill("I'm in hospital")
    page.get_by_role("button", name="Pause reminders").click()
    expect(page.locator("#settings-flash")).to_have_text("Reminders are paused for those days.")
    paused_now = page.locator("#paused-now")
    expect(paused_now).to_contain_text("Reminders are paused until")
    expect(paused_now).to_contain_text(str(end.year))
    pause_item = page.locator(".pause-list li")
    expect(pause_item).to_have_count(1)
    expect(pause_item).to_contain_text("I'm in hospital")

    db_session.expire_all()
    (pause,) = db_session.scalars(select(TimetablePause)).all()
    assert (pause.starts_on, pause.ends_on, pause.reason) == (today, end, "I'm in hospital")
    assert pause.cancelled_at is None
    assert_accessible(page, "settings with a pause")

    pause_item.get_by_role("button", name="End the pause").click()
    expect(page.locator("#settings-flash")).to_have_text(
        "The pause is cancelled. Reminders come again as usual."
    )
    expect(page.locator(".pause-list li")).to_have_count(0)
    expect(page.locator("#paused-now")).to_have_count(0)
    db_session.expire_all()
    assert db_session.get(TimetablePause, pause.id).cancelled_at is not None  # type: ignore[union-attr]


# Headless Chromium here cannot make a real PushSubscription: in Playwright's (incognito)
# contexts pushManager.subscribe() rejects with "AbortError: Registration failed - permission
# denied" even with the notifications permission granted, and in a persistent profile it never
# settles (it waits for Google's FCM registration, which needs network access and API keys).
# So the test stands in for the browser's push service only: subscribe() returns a
# subscription made on the local push service (tests/support/push_endpoint.py, real P-256 keys
# and auth secret), and everything after it is real: the app's request, the server's checks and
# storage, and a real Web Push sent to that stored subscription and decrypted by the service.
FAKE_PUSH_SERVICE = """
(() => {
  let current = null;
  window.__subscribeCalls = [];
  const make = (options) => ({
    options: {userVisibleOnly: options.userVisibleOnly, applicationServerKey: options.applicationServerKey.buffer},
    toJSON: () => JSON.parse(localStorage.getItem('fake-subscription')),
    unsubscribe: async () => { current = null; return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    window.__subscribeCalls.push({
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(options.applicationServerKey)),
    });
    current = make(options);
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


@pytest.mark.both_engines
def test_push_opt_in_stores_a_working_subscription_for_this_device_and_opt_out_removes_it(
    context: Any, page: Any, pwa_world: PwaWorld, db_session: Session, live_server: LiveServer
) -> None:
    context.grant_permissions(["notifications"])
    context.add_init_script(FAKE_PUSH_SERVICE)
    with PushEndpoint() as service:
        subscriber = service.subscribe()
        sign_in(page, pwa_world.invite(pwa_world.adult))
        page.evaluate(
            "(s) => localStorage.setItem('fake-subscription', s)", json.dumps(subscriber.to_json())
        )
        open_settings(page)
        expect(page.locator("#push-state")).to_have_text("Notifications are off on this phone.")
        page.get_by_role("button", name="Turn on notifications").click()
        expect(page.locator("#push-state")).to_have_text("Notifications are on for this phone.")
        expect(page.locator("#status")).to_have_text("Notifications are now on.")

        # Subscribed as the Push API requires, with the server's VAPID public key.
        calls = page.evaluate("window.__subscribeCalls")
        settings = live_server.app.extensions["chorus_settings"]
        keys = load_vapid_keys(subject=settings.push_subject, instance_path=settings.instance_path)
        server_key = b64url_decode(keys.application_server_key)
        assert calls == [{"userVisibleOnly": True, "key": list(server_key)}]

        db_session.expire_all()
        device = db_session.scalars(
            select(Device).where(Device.participant_id == pwa_world.adult.id)
        ).one()
        (row,) = db_session.scalars(select(PushSubscription)).all()
        assert (row.device_id, row.endpoint) == (device.id, subscriber.endpoint)
        assert (row.p256dh, row.auth) == (subscriber.p256dh, subscriber.auth)

        # The stored subscription works: a real push reaches the service and decrypts.
        notice = {"title": "Chorus", "body": "Time for your diary"}
        stored = WebPushSubscription(endpoint=row.endpoint, p256dh=row.p256dh, auth=row.auth)
        outcome = send_push(stored, notice, keys, ttl=60, urgency="normal", timeout=10)
        assert isinstance(outcome, PushDelivered)
        assert service.requests[-1].json() == notice

        page.get_by_role("button", name="Turn off notifications").click()
        expect(page.locator("#push-state")).to_have_text("Notifications are off on this phone.")
        db_session.expire_all()
        assert db_session.scalars(select(PushSubscription)).all() == []


@pytest.mark.both_engines
def test_signing_out_warns_about_unsent_answers_keeps_them_and_the_token_stops_working(
    page: Any, pwa_world: PwaWorld, live_server: LiveServer
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    # An answer the server refused (a changed resend: 409) stays in the outbox, unsent.
    first = "7c0a8c1e-6a51-4c1e-9a57-0d6d3f1b2a21"
    body = diary_body(first, pwa_world.adult.id, 3)
    call(page, "outbox.js", ENQUEUE, {"id": first, "body": body, "title": "Diary"})
    changed = {**body, "answers": {**body["answers"], "fatigue": 4}}
    call(page, "outbox.js", ENQUEUE, {"id": first, "body": changed, "title": "Changed"})
    before = page.evaluate(DEVICE)
    assert [r["state"] for r in before["outbox"]] == ["failed"]
    token = before["token"]

    open_settings(page)
    page.get_by_role("button", name="Sign out this phone").click()
    panel = page.locator("#sign-out-confirm")
    expect(panel.get_by_role("heading", name="Sign out this phone?")).to_be_focused()
    expect(panel.locator("#unsent-warning")).to_contain_text(
        "1 answer has not reached the study yet. It stays on this phone"
    )
    assert_accessible(page, "settings, sign-out confirmation")
    # Changing one's mind closes the panel and changes nothing.
    panel.get_by_role("button", name="No, keep it signed in").click()
    expect(panel).to_be_hidden()
    assert status_of(live_server, token) == 200

    page.get_by_role("button", name="Sign out this phone").click()
    panel.get_by_role("button", name="Yes, sign out this phone").click()
    page.get_by_role("heading", level=1, name="Welcome to Chorus").wait_for()
    expect(page.get_by_role("navigation")).to_be_hidden()

    assert status_of(live_server, token) == 401
    after = page.evaluate(DEVICE)
    assert after["token"] is None
    assert "device" not in after["kv"]
    assert [r["id"] for r in after["outbox"]] == [first]  # not dropped
    assert after["drafts"] == 0 and after["submitted"] == 0


def status_of(live_server: LiveServer, token: str) -> int:
    """What the server answers this token now (the same app and database as the browser)."""
    client = live_server.app.test_client()
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_settings_screen_is_accessible(page: Any, pwa_world: PwaWorld) -> None:
    sign_in(page, pwa_world.invite(pwa_world.caregiver))
    open_settings(page)
    page.get_by_role("radio", name="Only at the times I choose").check()
    assert_accessible(page, "settings with windows")
    page.get_by_role("navigation").get_by_role("link", name="Today").click()
    wait_for_today(page)


def test_error_paths_from_marshmallow_and_services_read_the_same(
    page: Any, live_server: Any
) -> None:
    page.goto("/app/")
    page.get_by_role("heading", level=1).wait_for()
    flat = call(
        page,
        "screens/settings.js",
        "return [m.flattenErrors(arg[0]), m.flattenErrors(arg[1])];",
        [
            {"json": {"quiet_hours": {"0": {"start": ["Not a valid string."]}}}},
            {"windows.mon[1].end": ["Use a 24-hour time", "HH:MM."], "time_zone": ["Unknown."]},
        ],
    )
    assert flat == [
        [["quiet_hours[0].start", "Not a valid string."]],
        [["windows.mon[1].end", "Use a 24-hour time HH:MM."], ["time_zone", "Unknown."]],
    ]


def test_settings_history_and_news_reflow_at_320_px_with_200_percent_text(
    browser: Any, live_server: LiveServer, pwa_world: PwaWorld
) -> None:
    """WCAG 1.4.4 and 1.4.10: no sideways scrolling on a narrow phone with large text."""
    # bypass_csp: only so the test can inject the larger-text style; the app runs as usual.
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 320, "height": 640}, bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, pwa_world.invite(pwa_world.adult))
        page.add_style_tag(content="html { font-size: 200% !important; }")
        overflow = (
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        open_settings(page)
        page.get_by_role("radio", name="Only at the times I choose").check()
        page.get_by_role("button", name="Sign out this phone").click()
        assert page.evaluate(overflow) <= 0, "Settings"
        for name in ("History", "News"):
            page.get_by_role("navigation").get_by_role("link", name=name).click()
            page.get_by_role("heading", level=1, name=name).wait_for()
            assert page.evaluate(overflow) <= 0, name
    finally:
        context.close()
