"""Signing a phone in: the invitation link lands on Today; a typed code works; a used link is
refused with a clear message; the token never stays in the address bar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.participants import service as participants
from app.participants.models import Device
from tests.browser.conftest import PwaWorld, sign_in, wait_for_today
from tests.factories import PEPPER


def test_invitation_link_redeems_and_lands_on_today(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    link = pwa_world.invite(pwa_world.adult)
    token = link.split("#join=", 1)[1]

    sign_in(page, link)

    assert token not in page.url
    assert page.url.endswith("/app/#/today")
    assert page.evaluate("history.length") >= 1
    section = page.locator("section.person")
    assert section.count() == 1
    assert section.get_by_role("heading", level=2).inner_text() == "You"
    titles = section.locator(".due-item .title").all_inner_texts()
    assert titles == ["Daily symptom diary", "Patient Health Questionnaire (PHQ-9)"]
    devices = db_session.scalars(
        select(Device).where(Device.participant_id == pwa_world.adult.id)
    ).all()
    assert len(devices) == 1 and devices[0].revoked_at is None


def test_a_used_link_is_refused_with_a_clear_message(
    browser: Any, page: Any, pwa_world: PwaWorld, live_server: Any
) -> None:
    link = pwa_world.invite(pwa_world.adult)
    sign_in(page, link)

    other = browser.new_context(base_url=live_server.url)
    try:
        second = other.new_page()
        second.goto(link)
        second.get_by_role("heading", level=1, name="Welcome to Chorus").wait_for()
        assert "does not work any more" in second.get_by_role("alert").first.inner_text()
        assert "#join=" not in second.url
    finally:
        other.close()


def test_typed_code_signs_in(page: Any, pwa_world: PwaWorld, db_session: Session) -> None:
    issued = participants.create_invitation(
        db_session,
        pwa_world.caregiver,
        valid_for=dt.timedelta(days=1),
        pepper=PEPPER,
        base_url="http://unused",
        actor="test",
    )
    db_session.commit()
    page.goto("/app/")
    page.get_by_role("heading", level=1, name="Welcome to Chorus").wait_for()
    page.get_by_label("Invitation code").fill("WRONG-CODE-XX")
    page.get_by_role("button", name="Sign in").click()
    error = page.locator("#code-error")
    error.wait_for()
    assert page.get_by_label("Invitation code").get_attribute("aria-invalid") == "true"

    page.get_by_label("Invitation code").fill(issued.code.lower())
    page.get_by_role("button", name="Sign in").click()
    wait_for_today(page)
    names = page.locator("section.person h2").all_inner_texts()
    assert names == ["Léa", "Sam"]
