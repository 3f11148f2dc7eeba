"""The outbox's rules in the real browser: backoff doubles from 2 s and stops growing at five
minutes; answers the server refuses for good (409 changed resend, 422 invalid) stay on the
phone, are shown with the reason, are not retried on their own, and can be removed."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.participants import service as participants
from app.participants.models import Device
from app.responses.models import Response
from tests.browser.conftest import PwaWorld, eventually, sign_in


def call(page: Any, module: str, body: str, arg: Any = None) -> Any:
    """Runs `body` (a JS function body with `m` = one of the app's modules, the same instance
    the app uses, and `arg`) in the page."""
    script = (
        "async ([name, arg]) => {"
        " const main = document.querySelector('script[type=module]').src;"
        " const m = await import(main.replace(/js\\/main\\.js$/, 'js/' + name));"
        f" {body} }}"
    )
    return page.evaluate(script, [module, arg])


def test_backoff_doubles_from_two_seconds_and_is_capped_at_five_minutes(
    page: Any, pwa_world: PwaWorld
) -> None:
    page.goto("/app/")
    page.get_by_role("heading", level=1).wait_for()
    low = call(
        page, "outbox.js", "return arg.map((n) => m.backoffDelay(n, 0));", list(range(1, 13))
    )
    assert low == [2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000] + [300000] * 4
    high = call(page, "outbox.js", "return [m.backoffDelay(1, 0.999), m.backoffDelay(40, 0.999)];")
    assert 2000 < high[0] <= 2400
    assert high[1] == 300000
    permanent = call(
        page,
        "outbox.js",
        "return [400, 401, 403, 404, 408, 409, 422, 429, 500, 503].map(m.isPermanent);",
    )
    assert permanent == [True, True, True, True, False, True, True, False, False, False]


def diary_body(record_id: str, participant_id: int, fatigue: int) -> dict[str, Any]:
    return {
        "id": record_id,
        "participant_id": participant_id,
        "instrument": "daily_symptom_diary",
        "version": "1.0.0",
        "respondent_type": "self",
        "language": "en",
        "started_at": "2026-11-20T18:00:00+01:00",
        "finished_at": "2026-11-20T18:03:00+01:00",
        "answers": {"fatigue": fatigue, "pain": 0, "sleep": "ok", "mood": "ok"},
        "hard_to_understand": [],
    }


ENQUEUE = """
  await m.enqueue({id: arg.id, body: arg.body, summary: {participant_id: arg.body.participant_id,
    instrument: 'daily_symptom_diary', version: '1.0.0', title: arg.title, occurrence_id: null,
    numeric: {}}}, null);
  // The worker's Background Sync may send it first; either way, once this flush returns
  // nothing that can be sent is left.
  await m.flush({force: true});
  return m.counts();
"""


def test_refused_answers_stay_visible_and_are_not_retried(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    pid = pwa_world.adult.id
    first = "0b8f3c1e-6a51-4c1e-9a57-0d6d3f1b2a01"
    sent = call(
        page,
        "outbox.js",
        ENQUEUE,
        {"id": first, "body": diary_body(first, pid, 3), "title": "Daily symptom diary"},
    )
    assert sent == {"waiting": 0, "failed": 0}
    assert db_session.scalar(select(func.count()).select_from(Response)) == 1

    # Same id, other answers: 409. Out-of-range answer: 422.
    call(
        page,
        "outbox.js",
        ENQUEUE,
        {"id": first, "body": diary_body(first, pid, 4), "title": "Changed resend"},
    )
    bad = "0b8f3c1e-6a51-4c1e-9a57-0d6d3f1b2a02"
    result = call(
        page,
        "outbox.js",
        ENQUEUE,
        {"id": bad, "body": diary_body(bad, pid, 99), "title": "Invalid answers"},
    )
    assert result == {"waiting": 0, "failed": 2}
    status = page.locator("#outbox-status")
    expect(status).to_have_text("2 answers could not be sent")

    failed = page.locator(
        "section", has=page.get_by_role("heading", name="Answers that could not be sent")
    )
    expect(failed.locator("li")).to_have_count(2)
    assert (
        "already sent under the same reference"
        in failed.locator("li", has_text="Changed resend").inner_text()
    )
    assert (
        "could not accept these answers"
        in failed.locator("li", has_text="Invalid answers").inner_text()
    )

    # Not retried by themselves: another forced flush sends nothing and attempts stay at 1.
    again = call(
        page,
        "outbox.js",
        "await m.flush({force: true}); return (await m.records()).map((r) => [r.state, r.attempts, r.error.status]);",
    )
    assert sorted(again) == [["failed", 1, 409], ["failed", 1, 422]]
    assert db_session.scalar(select(func.count()).select_from(Response)) == 1

    page.once("dialog", lambda dialog: dialog.accept())
    failed.get_by_role("button", name="Remove Invalid answers").click()
    expect(status).to_have_text("1 answer could not be sent")


def test_answers_refused_because_signed_out_are_sent_after_signing_in_again(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    device = db_session.scalars(
        select(Device).where(Device.participant_id == pwa_world.adult.id)
    ).one()
    participants.revoke_device(db_session, device, actor="test", reason="lost phone")
    db_session.commit()

    first = "0b8f3c1e-6a51-4c1e-9a57-0d6d3f1b2a21"
    result = call(
        page,
        "outbox.js",
        ENQUEUE,
        {"id": first, "body": diary_body(first, pwa_world.adult.id, 5), "title": "Diary"},
    )
    assert result == {"waiting": 0, "failed": 1}
    assert db_session.scalar(select(func.count()).select_from(Response)) == 0

    page.goto("about:blank")
    sign_in(page, pwa_world.invite(pwa_world.adult))
    eventually(
        lambda: db_session.scalar(select(func.count()).select_from(Response)) == 1,
        "the refused answer to be sent with the new credential",
    )
    expect(page.locator("#outbox-status")).to_be_hidden()
