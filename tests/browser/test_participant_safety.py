"""One visit, one answer; the safety message; the questionnaire's language (#11).

- Offline, a finished PHQ-9 waiting in the outbox shows on Today as done and waiting; answering
  again takes a deliberate choice after a warning; both answers reach the server, the second
  kept and flagged as a repeat of the first.
- PHQ-9 item 9 above "Not at all" shows the instrument's safety message with the study's own
  contacts on the thank-you screen: evaluated on the phone, so offline too, in English, French
  and Arabic; a French or Arabic reader is told the questionnaire is in English.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.reminders import study_schedules as schedules
from app.reminders.models import Occurrence
from app.responses.models import Response
from app.studies.models import Study
from tests.browser.conftest import PwaWorld, eventually, sign_in, wait_for_today
from tests.browser.test_accessibility import assert_accessible
from tests.factories import make_participant

ALL_DAY = {"kind": "daily", "open_time": "00:00", "window_minutes": 1440}
CONTACTS = {
    "en": "Study nurse: 01 23 45 67 89 (weekdays). Suicide prevention line 3114, any time.",
    "fr": "Infirmière de l'étude : 01 23 45 67 89 (en semaine). Numéro national de prévention du suicide : 3114, 24 h/24.",
    "ar": "ممرضة الدراسة: 01 23 45 67 89 (أيام الأسبوع). خط الوقاية من الانتحار 3114 على مدار الساعة.",
}
SAFETY_START = {
    "en": "Thank you for telling us.",
    "fr": "Merci de nous l'avoir dit.",
    "ar": "شكرًا لإخبارنا.",
}


def set_contacts(db_session: Session, study: Study) -> None:
    study.safety_contacts = dict(CONTACTS)
    db_session.commit()


def next_any(page: Any) -> None:
    """Next (in any language), then waits for the following screen."""
    current = page.locator("main h1").element_handle()
    page.locator("form button.next").click()
    current.wait_for_element_state("hidden")


def answer_phq9(page: Any, item9: str) -> None:
    """From the introduction: items 1-8 "Not at all", item 9 as given, then the review."""
    page.locator("button.next").click()
    for number in range(1, 10):
        expect(page.locator("progress")).to_have_attribute("value", str(number))
        label = item9 if number == 9 else "Not at all"
        page.get_by_role("radio", name=label, exact=True).check()
        next_any(page)
    if item9 != "Not at all":  # the "how difficult" question is asked; it is optional
        next_any(page)
    page.locator("#send-status").wait_for(state="attached")
    page.locator("button.next").click()


@pytest.mark.both_engines
def test_one_visit_one_answer_offline_unless_deliberately_repeated(
    context: Any, page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    set_contacts(db_session, pwa_world.study)
    schedules.add_schedule(
        db_session,
        pwa_world.study,
        name="PHQ-9 daily",
        instrument_key="phq9",
        instrument_version="1.1.0",
        respondent="self",
        spec=ALL_DAY,
        actor="test",
    )
    db_session.commit()
    sign_in(page, pwa_world.invite(pwa_world.adult))
    page.locator("html[data-offline-ready='true']").wait_for(state="attached")
    visit = page.locator(".due-item", has_text="PHQ-9").filter(has=page.get_by_role("link"))
    occurrence_id = int(visit.get_by_role("link").get_attribute("href").rsplit("/", 1)[1])

    context.set_offline(True)
    visit.get_by_role("link").click()
    answer_phq9(page, "Several days")
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("[data-outcome]").get_attribute("data-outcome") == "waiting"
    # The safety message with the study's contacts, worked out on the phone while offline.
    safety = page.locator("#safety")
    expect(safety.get_by_role("heading", level=2)).to_have_text("Help is available")
    expect(safety).to_contain_text(SAFETY_START["en"])
    expect(safety).to_contain_text(CONTACTS["en"])
    page.get_by_role("link", name="Back to Today").click()
    wait_for_today(page)

    # Today: the visit is done and waiting, not offered as a fresh start.
    expect(visit).to_contain_text("Done")
    expect(visit).to_contain_text("Waiting to be sent")
    again = visit.get_by_role("link")
    expect(again).to_contain_text("Answer again")
    assert "Start" not in again.inner_text()
    again.click()
    warning = page.locator("#answered-already")
    expect(warning).to_contain_text("Your answers are waiting to be sent.")
    expect(warning).to_contain_text("the study team will get both sets of answers")
    expect(page.locator("button.next")).to_have_text("Answer again anyway")
    answer_phq9(page, "Not at all")  # deliberately, offline too
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("#safety").count() == 0

    context.set_offline(False)
    eventually(lambda: len(db_session.scalars(select(Response)).all()) == 2, "both answers stored")
    db_session.expire_all()
    rows = sorted(db_session.scalars(select(Response)).all(), key=lambda r: r.finished_at)
    occurrence = db_session.get(Occurrence, occurrence_id)
    assert occurrence is not None and occurrence.response_id == rows[0].id
    assert rows[0].repeat_of_response_id is None
    assert rows[1].repeat_of_response_id == rows[0].id


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_safety_message_and_language_notice_in_the_readers_language(
    page: Any, pwa_world: PwaWorld, db_session: Session, language: str
) -> None:
    set_contacts(db_session, pwa_world.study)
    reader = make_participant(db_session, pwa_world.study, f"A-0{language}", language=language)
    page.goto(pwa_world.invite(reader))
    page.locator(".today-body:not([aria-busy])").wait_for()
    phq9 = page.locator(".due-item", has_text="PHQ-9")
    english = {"fr": "anglais", "ar": "الإنجليزية"}[language]
    expect(phq9).to_contain_text(english)  # Today says which language it is in
    link = phq9.get_by_role("link").text_content() or ""
    # "for you": French "pour vous"; Arabic attaches the pronoun ("لك"), never "عن أنت".
    assert link.endswith({"fr": "pour vous", "ar": "لك"}[language]), link
    assert "أنت" not in link
    phq9.get_by_role("link").click()
    notice = page.locator("#language-notice")
    expect(notice).to_contain_text(english)
    answer_phq9(page, "Several days")
    safety = page.locator("#safety")
    expect(safety).to_contain_text(SAFETY_START[language])
    expect(safety).to_contain_text(CONTACTS[language])
    assert safety.locator("p").first.get_attribute("lang") == language
    page.locator("[data-outcome=sent]").wait_for()
    assert_accessible(page, f"thank-you with the safety message ({language})")
