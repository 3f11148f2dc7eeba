"""A caregiver answers for two children on one phone: Today shows each child with nickname and
colour, the answering screen always says whose questionnaire it is (proxy wording), switching
child keeps the phone signed in, and each response records the right child, the respondent
type and the caregiver."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.responses.models import Response
from tests.browser.conftest import PwaWorld, sign_in, wait_for_today
from tests.browser.test_answer import choose, next_, question


def start(page: Any, child: str, title: str) -> None:
    section = page.locator("section.person", has=page.get_by_role("heading", name=child))
    section.locator(".due-item", has_text=title).get_by_role("link").click()
    page.get_by_role("heading", level=1, name=title).wait_for()
    assert page.locator(".answering-for").inner_text().startswith(f"Answering for {child}")
    page.get_by_role("button", name="Start").click()


def send(page: Any) -> None:
    page.get_by_role("heading", level=1, name="Your answers").wait_for()
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("[data-outcome]").get_attribute("data-outcome") == "sent"
    page.get_by_role("link", name="Back to Today").click()
    wait_for_today(page)


@pytest.mark.both_engines
def test_caregiver_answers_for_two_children(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.caregiver))
    sections = page.locator("section.person")
    assert sections.locator("h2").all_inner_texts() == ["Léa", "Sam"]
    colours = sections.evaluate_all(
        "(all) => all.map((s) => s.style.getPropertyValue('--person-colour'))"
    )
    assert colours == ["#1f77b4", "#d62728"]

    # Léa's diary, proxy wording; switch to Sam half-way without signing out.
    start(page, "Léa", "Daily symptom diary")
    question(page, "How tired did your child seem today?")
    banner = page.locator(".answering-for")
    assert banner.evaluate("(b) => b.style.getPropertyValue('--person-colour')") == "#1f77b4"
    choose(page, "7")
    next_(page)
    question(page, "How much pain did your child seem to have today?")
    page.get_by_role("link", name="Switch").click()
    wait_for_today(page)
    lea = page.locator("section.person", has=page.get_by_role("heading", name="Léa"))
    assert (
        lea.locator(".due-item", has_text="Daily symptom diary")
        .get_by_role("link")
        .inner_text()
        .startswith("Continue")
    )

    start(page, "Sam", "Your child's week")
    question(page, "Overall, how was your child's week?")
    assert page.locator(".answering-for").inner_text().startswith("Answering for Sam")
    choose(page, "6")
    next_(page)
    for text in (
        "play or do things they enjoy?",
        "sleep well?",
        "eat well?",
        "spend happy time with friends or family?",
        "seem worried, sad or upset?",
    ):
        question(page, text)
        assert page.locator(".page-title").inner_text() == (
            "In the last 7 days, how often did your child..."
        )
        choose(page, "Often")
        next_(page)
    question(
        page, "How many days of school or nursery did your child miss because of their health?"
    )
    page.get_by_role("textbox").fill("1")
    next_(page)
    question(page, "Did your child need an unplanned visit to a doctor or hospital?")
    choose(page, "No")
    next_(page)
    # unplanned_care == true is false: the details question is skipped.
    question(page, "Is there anything else you want to tell us about your child's week?")
    next_(page)
    send(page)

    # Back to Léa: the draft resumes at the question where it stopped.
    lea.locator(".due-item", has_text="Daily symptom diary").get_by_role("link").click()
    question(page, "How much pain did your child seem to have today?")
    assert page.locator(".answering-for").inner_text().startswith("Answering for Léa")
    choose(page, "0")
    next_(page)
    choose(page, "Well")
    next_(page)
    choose(page, "Good")
    next_(page)
    next_(page)
    send(page)

    rows = {row.participant_id: row for row in db_session.scalars(select(Response)).all()}
    assert set(rows) == {pwa_world.lea.id, pwa_world.sam.id}
    assert rows[pwa_world.lea.id].instrument_version.instrument_key == "daily_symptom_diary"
    assert rows[pwa_world.sam.id].instrument_version.instrument_key == "child_weekly_wellbeing"
    for row in rows.values():
        assert row.respondent_type == "parent"
        assert row.answered_by_caregiver_id == pwa_world.caregiver.id
