"""Offline first: after one online visit the app opens, shows what is due and takes answers with
no connection; finished answers wait in the IndexedDB outbox (surviving a reload) and are sent
when the connection returns, each stored exactly once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.responses.models import Response
from app.responses.service import idempotency_key
from tests.browser.conftest import PwaWorld, sign_in, wait_for_today
from tests.browser.test_answer import choose, next_, open_questionnaire, question

OUTBOX_IDS = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('chorus');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const keys = await new Promise((resolve, reject) => {
    const request = db.transaction('outbox').objectStore('outbox').getAllKeys();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
  return keys;
}"""


def answer_diary(page: Any) -> None:
    open_questionnaire(page, "Daily symptom diary")
    question(page, "How tired did you feel today?")
    choose(page, "4")
    next_(page)
    choose(page, "5")
    next_(page)
    question(page, "Where was the pain? Choose all that apply.")
    page.get_by_role("checkbox", name="Head").check()
    next_(page)
    choose(page, "Well")
    next_(page)
    choose(page, "OK")
    next_(page)
    next_(page)  # "anything else" is optional
    page.get_by_role("button", name="Send my answers").click()


def answer_phq9(page: Any) -> None:
    open_questionnaire(page, "Patient Health Questionnaire (PHQ-9)")
    for number in range(1, 10):
        expect(page.locator(".progress p")).to_have_text(f"Question {number} of 9")
        choose(page, "Not at all")
        next_(page)
    # All zero: the "how difficult" page is skipped, straight to the review.
    page.get_by_role("heading", level=1, name="Your answers").wait_for()
    page.get_by_role("button", name="Send my answers").click()


def finish_offline(page: Any) -> None:
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("[data-outcome]").get_attribute("data-outcome") == "waiting"
    page.get_by_role("link", name="Back to Today").click()
    wait_for_today(page)


def stored(db_session: Session, participant_id: int) -> list[Response]:
    return list(
        db_session.scalars(select(Response).where(Response.participant_id == participant_id))
    )


@pytest.mark.both_engines
def test_offline_answers_wait_survive_a_reload_and_are_stored_exactly_once(
    context: Any, page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    page.locator("html[data-offline-ready='true']").wait_for(state="attached")

    context.set_offline(True)
    answer_diary(page)
    finish_offline(page)
    status = page.locator("#outbox-status")
    expect(status).to_have_text("1 answer waiting to be sent")
    # Chromium: a Background Sync is registered, so the worker sends even if the app is closed.
    tags = page.evaluate("async () => (await navigator.serviceWorker.ready).sync.getTags()")
    assert "chorus-outbox" in tags
    answer_phq9(page)
    finish_offline(page)
    expect(status).to_have_text("2 answers waiting to be sent")
    assert page.locator(".today-body .notice", has_text="You are offline").count() == 1

    page.reload()  # still offline: the worker serves the shell, the outbox is in IndexedDB
    wait_for_today(page)
    expect(status).to_have_text("2 answers waiting to be sent")
    queued = page.evaluate(OUTBOX_IDS)
    assert len(queued) == 2
    assert stored(db_session, pwa_world.adult.id) == []

    context.set_offline(False)  # the browser fires `online`; the app sends at once
    expect(status).to_be_hidden()
    rows = stored(db_session, pwa_world.adult.id)
    assert sorted(row.idempotency_key for row in rows) == sorted(
        idempotency_key(uuid.UUID(client_id)) for client_id in queued
    )
    assert {row.instrument_version.instrument_key for row in rows} == {
        "daily_symptom_diary",
        "phq9",
    }
    assert page.evaluate(OUTBOX_IDS) == []

    # Coming back again (a reload sends whatever is left) changes nothing on the server.
    page.reload()
    wait_for_today(page)
    assert db_session.scalar(select(func.count()).select_from(Response)) == 2
