"""The co-design workspace in Chromium (issue #15): a patient-group author and a coordinator take
a new version of the diary from draft to published, through the expression check as typed, a
comment, an accepted suggestion, a translation gone stale, two sessions saving one question, the
phone preview in two languages as participant and caregiver (nothing stored), review with both
approvals, publishing and the diff; participants' "hard to understand" flags show as rates.
axe finds nothing on every co-design page, English and French."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.codesign import service as codesign
from app.db import utcnow
from app.library import service as library
from app.library.models import InstrumentVersion
from app.participants import service as participants
from app.responses import keys
from app.responses.models import Response
from app.responses.service import Submission, submit
from app.studies.models import Role
from tests.browser.conftest import LIBRARY, LiveServer
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_site_workspace import sign_in_staff, staff_context
from tests.factories import make_device, make_participant, make_staff, make_study


@dataclass
class CodesignWorld:
    study: Any
    diary: Any


@pytest.fixture
def codesign_world(db_session: Session, live_server: LiveServer) -> CodesignWorld:
    library.publish_paths(db_session, [LIBRARY], actor="test")
    study = make_study(db_session, "fatigue", sites=("LYON",))
    diary = db_session.scalars(
        select(InstrumentVersion).where(InstrumentVersion.instrument_key == "daily_symptom_diary")
    ).one()
    participants.assign_instrument(db_session, study, diary, "self", "test")
    keys.create_study_key(db_session, study, actor="test")
    db_session.commit()
    make_staff(db_session, "pat@example.org", study=study, role=Role.PATIENT_GROUP_AUTHOR)
    make_staff(
        db_session, "coord@example.org", study=study, role=Role.SITE_COORDINATOR, site_code="LYON"
    )
    db_session.commit()
    return CodesignWorld(study, diary)


def _answer_diary(session: Session, study: Any, code: str, hard: tuple[str, ...]) -> None:
    """A participant answers the published diary on their phone, flagging `hard` items."""
    person = make_participant(session, study, code, site_code="LYON")
    device, _token = make_device(session, person)
    now = utcnow()
    submit(
        session,
        device,
        Submission(
            client_uuid=uuid.uuid4(),
            participant_id=person.id,
            instrument_key="daily_symptom_diary",
            instrument_version="1.0.0",
            respondent_type="self",
            language="en",
            started_at=now - dt.timedelta(minutes=2),
            finished_at=now,
            answers={"fatigue": 3, "pain": 0, "sleep": "well", "mood": "good"},
            hard_to_understand=hard,
        ),
        now=now,
    )
    session.commit()


def _flash(page: Any, text: str) -> None:
    page.locator(".notice", has_text=text).first.wait_for()


def _preview_frame(page: Any) -> Any:
    page.locator("iframe.phone-frame").wait_for()
    handle = page.locator("iframe.phone-frame").element_handle()
    frame = handle.content_frame()
    frame.locator("button.next").wait_for()  # the intro's Start button
    return frame


@pytest.mark.slow
def test_author_and_coordinator_take_a_draft_to_published(
    browser: Any, live_server: LiveServer, codesign_world: CodesignWorld, db_session: Session
) -> None:
    desk = staff_context(browser, live_server)
    pat = desk.new_page()
    sign_in_staff(pat, "pat@example.org")
    pat.goto("/staff/studies/fatigue/")
    pat.get_by_role("navigation", name="Study sections").get_by_role(
        "link", name="Instruments"
    ).click()
    pat.get_by_label("Published version to start from").select_option(
        label="daily_symptom_diary 1.0.0"
    )
    pat.get_by_role("button", name="Start the new version").click()
    _flash(pat, "Draft created from the published version.")
    draft_url = pat.url.split("#")[0]
    assert draft_url.endswith("/")

    # An invalid skip-logic expression: the error shows as it is typed; fixed, it saves.
    pat.goto(draft_url + "items/pain_where")
    rule = pat.get_by_label("Show this question only when (optional)")
    rule.fill("")
    rule.press_sequentially("pain >")
    status = pat.locator("#show_when-status")
    pat.locator("#show_when-status.error-message").wait_for()
    assert "show_when" in status.inner_text() and rule.get_attribute("aria-invalid") == "true"
    rule.fill("pain >= 2")
    pat.locator("#show_when-status.ok").wait_for()
    assert status.inner_text() == "This rule is correct."
    pat.get_by_role("button", name="Save changes").click()
    _flash(pat, "Saved.")

    pat.goto(draft_url)
    pat.get_by_label("Comment", exact=True).fill("Is 'tired' the word families use?")
    pat.get_by_role("button", name="Add comment").click()
    _flash(pat, "Comment added.")

    # The coordinator suggests French wording; the owner accepts it.
    coord_context = staff_context(browser, live_server)
    coord = coord_context.new_page()
    sign_in_staff(coord, "coord@example.org")
    coord.goto(draft_url)
    assert "Is &#39;tired&#39; the word families use?" in coord.content() or (
        "Is 'tired' the word families use?" in coord.content()
    )
    coord.goto(draft_url + "items/fatigue")
    coord.get_by_label("Which text").select_option(label="Question, participant (fr)")
    coord.get_by_label("Suggested wording").fill("Êtes-vous fatigué(e) aujourd'hui ?")
    coord.get_by_role("button", name="Send suggestion").click()
    _flash(coord, "Suggestion sent to the draft's owner.")
    pat.goto(draft_url)
    pat.get_by_role("button", name="Accept suggestion 1").click()
    _flash(pat, "Suggestion accepted.")

    # Two sessions edit one question: the second gets the conflict with both versions.
    other_desk = staff_context(browser, live_server)
    pat_too = other_desk.new_page()
    sign_in_staff(pat_too, "pat@example.org")
    pat.goto(draft_url + "items/fatigue")
    pat_too.goto(draft_url + "items/fatigue")
    pat.get_by_label("Question wording, the participant, en").fill("How tired were you today?")
    pat.get_by_role("button", name="Save changes").click()
    _flash(pat, "Saved.")
    pat_too.get_by_label("Question wording, the participant, en").fill("How worn out were you?")
    pat_too.get_by_role("button", name="Save changes").click()
    conflict = pat_too.locator("#conflict")
    conflict.wait_for()
    assert conflict.locator("[data-yours]").first.inner_text() == "How worn out were you?"
    assert conflict.locator("[data-theirs]").first.inner_text() == "How tired were you today?"
    other_desk.close()

    # The French wording was made from the old English text: now it is out of date.
    pat.goto(draft_url + "translations")
    assert int(pat.locator("tr[data-language=fr] [data-stale]").inner_text()) >= 1
    assert "Êtes-vous fatigué(e)" in pat.locator("table.stale").first.inner_text()

    # Preview as the phone shows it: French for the participant, English for a caregiver.
    api_calls: list[str] = []
    pat.on("request", lambda r: api_calls.append(r.url) if "/api/" in r.url else None)
    responses_before = db_session.scalar(select(func.count()).select_from(Response))
    pat.goto(draft_url + "preview?language=fr&respondent=self")
    frame = _preview_frame(pat)
    frame.locator("button.next").click()
    frame.get_by_text("Êtes-vous fatigué(e) aujourd'hui ?").wait_for()
    pat.get_by_label("Language").select_option("en")
    pat.get_by_label("Who answers").select_option("proxy")
    pat.get_by_role("button", name="Show").click()
    frame = _preview_frame(pat)
    frame.locator("button.next").click()
    frame.get_by_text("How tired did your child seem today?").wait_for()
    for _step in range(10):  # answer everything and send
        if frame.locator("[data-outcome]").count():
            break
        heading = frame.locator("main h1").element_handle()
        radios = frame.locator("main input[type=radio]")
        if radios.count():
            radios.first.check()
        frame.locator("button.next").click()
        heading.wait_for_element_state("hidden")
    assert frame.locator("[data-outcome]").get_attribute("data-outcome") == "preview"
    assert db_session.scalar(select(func.count()).select_from(Response)) == responses_before
    assert api_calls == []

    # Review: sent, approved by the study team and the patient group, published.
    pat.goto(draft_url)
    pat.get_by_role("button", name="Send for review").click()
    _flash(pat, "Sent for review.")
    coord.goto(draft_url)
    coord.get_by_role("button", name="Approve this draft").click()
    _flash(coord, "Your approval is recorded.")
    pat.goto(draft_url)
    pat.get_by_role("button", name="Approve this draft").click()
    _flash(pat, "Your approval is recorded.")
    approvals = pat.locator("table", has_text="Approvals of the text as it is now").inner_text()
    assert "the study team" in approvals and "the patient group" in approvals
    pat.get_by_role("link", name="Publish", exact=True).click()
    pat.get_by_role("button", name="Yes, publish it").click()
    _flash(pat, "Published as daily_symptom_diary 1.1.0.")

    # The diff against the previous version, with comparability flags.
    pat.get_by_role("navigation", name="This draft").get_by_role(
        "link", name="Compare versions"
    ).click()
    pat.get_by_role("button", name="Compare").click()
    pat.get_by_label("Older").select_option(label="daily_symptom_diary 1.0.0 (published)")
    pat.get_by_label("Newer").select_option(label="daily_symptom_diary 1.1.0 (published)")
    pat.get_by_role("button", name="Compare").click()
    changes = pat.locator("table.diff tbody tr")
    changes.first.wait_for()
    kinds = {row.get_attribute("data-kind") for row in changes.all()}
    assert "logic_changed" in kinds and "reworded" in kinds
    assert (
        pat.locator("table.diff tr[data-kind=logic_changed]")
        .first.inner_text()
        .startswith("pain_where")
    )

    # Participants flag a question as hard to understand: the authors see the rate.
    _answer_diary(db_session, codesign_world.study, "LYON-0001", ("fatigue",))
    _answer_diary(db_session, codesign_world.study, "LYON-0002", ())
    pat.goto("/staff/studies/fatigue/instruments/feedback?instrument=daily_symptom_diary")
    row = pat.locator("table[data-version='1.0.0'] tr[data-item=fatigue]")
    assert row.locator("[data-rate]").get_attribute("data-rate") == "0.500"
    assert "LYON-0001" not in pat.content()
    coord_context.close()
    desk.close()


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_axe_finds_nothing_on_any_codesign_page(
    browser: Any,
    live_server: LiveServer,
    codesign_world: CodesignWorld,
    db_session: Session,
    locale: str,
) -> None:
    author = db_session.scalars(select(StaffUser).where(StaffUser.email == "pat@example.org")).one()
    draft = codesign.create_draft_from_published(
        db_session, author, codesign_world.study, codesign_world.diary.id
    )
    codesign.add_comment(db_session, author, draft.id, "A first thought")
    sleep = next(
        p for p in codesign.get_draft(db_session, author, draft.id).items if p.key == "sleep"
    )
    # Skip logic that compares with an answer option: removing that option is refused.
    codesign.edit(
        db_session, author, draft.id, "sleep", {"show_when": "'head' in pain_where"}, sleep.revision
    )
    db_session.commit()
    context = staff_context(browser, live_server, locale)
    page = context.new_page()
    sign_in_staff(page, "pat@example.org")
    base = "/staff/studies/fatigue/instruments"
    for path in (
        "/",
        f"/drafts/{draft.id}/",
        f"/drafts/{draft.id}/items/fatigue",
        f"/drafts/{draft.id}/items/sleep",
        f"/drafts/{draft.id}/items/anything_else/remove",
        f"/drafts/{draft.id}/items/pain_where",
        f"/drafts/{draft.id}/items/sleep/move",
        f"/drafts/{draft.id}/choice-sets/sleep",
        f"/drafts/{draft.id}/settings",
        f"/drafts/{draft.id}/translations",
        f"/drafts/{draft.id}/readability",
        f"/drafts/{draft.id}/publish",
        "/diff?instrument=daily_symptom_diary",
        f"/diff?instrument=daily_symptom_diary&older=published:{codesign_world.diary.id}"
        f"&newer=draft:{draft.id}",
        "/feedback?instrument=daily_symptom_diary",
    ):
        page.goto(base + path)
        assert_accessible(page, f"{path} {locale}")
    page.goto(base + f"/drafts/{draft.id}/preview")
    _preview_frame(page)
    assert_accessible(page, f"preview {locale}")
    page.goto(base + f"/drafts/{draft.id}/items/pain_where")
    page.locator("#show_when").fill("pain >")
    page.locator("#item-form button[type=submit]").click()
    page.locator(".error-summary").wait_for()
    # axe's target-size check measures the header as laid out now: the page fully loaded and
    # at the top, as a person arriving on it sees it (a busy machine can catch it mid-layout).
    page.wait_for_load_state("load")
    page.evaluate("window.scrollTo(0, 0)")
    assert_accessible(page, f"item with an error {locale}")
    page.goto(base + f"/drafts/{draft.id}/items/pain_where")
    page.locator("#option-value").fill("head")  # already an option: the loader refuses it
    page.locator("#answer-options button[type=submit]").click()
    page.locator(".error-summary").wait_for()
    page.wait_for_load_state("load")
    page.evaluate("window.scrollTo(0, 0)")
    assert_accessible(page, f"answer option refused {locale}")
    page.goto(base + f"/drafts/{draft.id}/choice-sets/sleep")
    page.locator("[id='choice_sets.sleep.0.score']").fill("many")
    page.locator("#choice-set-form button[type=submit]").click()
    page.locator(".error-summary").wait_for()
    page.wait_for_load_state("load")
    page.evaluate("window.scrollTo(0, 0)")
    assert_accessible(page, f"answer list with an error {locale}")
    page.goto(base + f"/drafts/{draft.id}/items/pain_where")
    page.locator("#option-order form[action$='/0/down'] button").click()
    page.wait_for_url("**#option-order")
    assert page.locator("#option-order tbody th code").all_inner_texts()[:2] == ["tummy", "head"]
    assert_accessible(page, f"answer option moved {locale}")
    page.locator("#option-order form[action$='/1/remove'] button").click()
    page.locator(".error-summary").wait_for()
    page.wait_for_load_state("load")
    page.evaluate("window.scrollTo(0, 0)")
    assert_accessible(page, f"answer option removal refused {locale}")
    page.goto(base + "/")
    page.locator("form[action$='/new'] button[type=submit]").click()
    page.locator(".error-summary").wait_for()
    assert_accessible(page, f"new draft with errors {locale}")
    context.close()
