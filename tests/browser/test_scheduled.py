"""Scheduled questionnaires: Today shows an open occurrence with its closing time and the next
one as "coming up" (not answerable yet); answering sends the occurrence id, so the server
records which due questionnaire was completed and Today no longer offers it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.reminders import study_schedules as schedules
from app.reminders.models import Occurrence
from app.responses.models import Response
from tests.browser.conftest import PwaWorld, sign_in, wait_for_today
from tests.browser.test_answer import choose, next_, question

# Open all day, every day, in the participant's own time zone.
ALL_DAY = {"kind": "daily", "open_time": "00:00", "window_minutes": 1440}


def test_answering_an_open_occurrence_completes_it(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    schedules.add_schedule(
        db_session,
        pwa_world.study,
        name="Daily diary",
        instrument_key="daily_symptom_diary",
        instrument_version="1.0.0",
        respondent="self",
        spec=ALL_DAY,
        actor="test",
    )
    db_session.commit()
    sign_in(page, pwa_world.invite(pwa_world.adult))
    section = page.locator("section.person")
    diary = section.locator(".due-list li", has_text="Daily symptom diary")
    open_now = diary.filter(has=page.get_by_role("link"))
    assert open_now.count() == 1
    assert "Open until" in open_now.inner_text()
    link = open_now.get_by_role("link").get_attribute("href")
    occurrence_id = int(link.rsplit("/", 1)[1])
    coming = section.locator("h3", has_text="Coming up")
    assert coming.count() == 1
    assert (
        "Opens" in section.locator(".due-list li", has_text="Daily symptom diary").last.inner_text()
    )

    open_now.get_by_role("link").click()
    page.get_by_role("button", name="Start").click()
    question(page, "How tired did you feel today?")
    choose(page, "2")
    next_(page)
    choose(page, "0")
    next_(page)
    choose(page, "Well")
    next_(page)
    choose(page, "Good")
    next_(page)
    next_(page)
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("[data-outcome]").get_attribute("data-outcome") == "sent"

    response = db_session.scalars(select(Response)).one()
    db_session.expire_all()
    occurrence = db_session.get(Occurrence, occurrence_id)
    assert occurrence is not None
    assert occurrence.response_id == response.id and occurrence.completed_at is not None

    page.get_by_role("link", name="Back to Today").click()
    wait_for_today(page)
    answerable = page.locator(f"a[href$='/{occurrence_id}']")
    assert answerable.count() == 0
