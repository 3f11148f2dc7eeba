"""Answering on the phone: one question per screen, skip logic in the browser, required
answers, the review screen, the "hard to understand" flag, resuming after a reload, and the
response stored once with what the participant chose."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.responses.models import Response
from tests.browser.conftest import PwaWorld, sign_in

DRAFTS = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('chorus');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const all = await new Promise((resolve, reject) => {
    const request = db.transaction('drafts').objectStore('drafts').getAll();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
  return all.map((draft) => draft.answers);
}"""
DRAFT_HAS_HEAD = "'pain_where': ['head']"


def open_questionnaire(page: Any, title: str) -> None:
    item = page.locator(".due-item", has_text=title)
    item.get_by_role("link").click()
    page.get_by_role("heading", level=1, name=title).wait_for()
    page.get_by_role("button", name="Start").click()


def question(page: Any, text: str) -> Any:
    heading = page.get_by_role("heading", level=1, name=text)
    heading.wait_for()
    return heading


def choose(page: Any, label: str) -> None:
    page.get_by_role("radio", name=label, exact=True).check()


def next_(page: Any, *, moves: bool = True) -> None:
    """Presses Next; unless the answer is expected to be refused (`moves=False`), waits until
    the next screen has replaced this one, so the following step cannot act on a stale one."""
    current = page.locator("main h1").element_handle()
    page.get_by_role("button", name="Next").click()
    if moves:
        current.wait_for_element_state("hidden")
    else:
        page.locator("#answer-error").wait_for()


def test_answer_with_skip_logic_review_and_send(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    open_questionnaire(page, "Daily symptom diary")

    question(page, "How tired did you feel today?")
    assert page.locator("progress").get_attribute("value") == "1"
    assert "Question 1 of" in page.locator(".progress p").inner_text()
    # Required: Next without an answer stays here and says why, to screen readers too.
    next_(page, moves=False)
    assert page.locator("#answer-error").inner_text() == "Please answer this question to go on."
    expect(page.locator("#alert")).to_have_text("Please answer this question to go on.")
    question(page, "How tired did you feel today?")
    choose(page, "6")
    next_(page)

    question(page, "How much pain did you have today?")
    choose(page, "0")
    next_(page)
    # pain > 0 is false: "Where was the pain?" is skipped.
    question(page, "How did you sleep last night?")
    assert page.locator(".progress p").inner_text() == "Question 3 of 5"
    choose(page, "OK")
    page.get_by_label("This question was hard to understand").check()
    next_(page)
    question(page, "How was your mood today?")
    choose(page, "Good")
    next_(page)
    question(page, "Is there anything else you want to tell us about today?")
    page.get_by_role("textbox").fill("A quiet day")
    next_(page)

    page.get_by_role("heading", level=1, name="Your answers").wait_for()
    review = page.locator(".review-list li")
    assert review.count() == 5
    assert "Where was the pain?" not in page.locator(".review-list").inner_text()

    # Change pain to 3 from the review: the pain location question appears.
    page.get_by_role(
        "button", name="Change the answer to: How much pain did you have today?"
    ).click()
    question(page, "How much pain did you have today?")
    choose(page, "3")
    page.get_by_role("button", name="Back to the summary").click()
    page.get_by_role("heading", level=1, name="Your answers").wait_for()
    assert review.count() == 6
    assert "Where was the pain? Choose all that apply." in page.locator(".review-list").inner_text()
    page.get_by_role(
        "button", name="Change the answer to: Where was the pain? Choose all that apply."
    ).click()
    question(page, "Where was the pain? Choose all that apply.")
    page.get_by_role("checkbox", name="Back").check()
    page.get_by_role("checkbox", name="Joints").check()
    page.get_by_role("button", name="Back to the summary").click()

    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("[data-outcome]").get_attribute("data-outcome") == "sent"

    rows = db_session.scalars(select(Response)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.participant_id == pwa_world.adult.id
    assert row.respondent_type == "self"
    assert row.hard_to_understand == ["sleep"]
    assert row.language == "en"


def test_a_reload_resumes_at_the_same_question_with_answers_kept(
    page: Any, pwa_world: PwaWorld
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    open_questionnaire(page, "Daily symptom diary")
    question(page, "How tired did you feel today?")
    choose(page, "8")
    next_(page)
    question(page, "How much pain did you have today?")
    choose(page, "2")
    next_(page)
    question(page, "Where was the pain? Choose all that apply.")
    page.get_by_role("checkbox", name="Head").check()
    # The draft write is asynchronous; a tab closed within those milliseconds loses the tap.
    for _ in range(100):
        if DRAFT_HAS_HEAD in str(page.evaluate(DRAFTS)):
            break
        page.wait_for_timeout(50)
    else:
        raise AssertionError("the draft never recorded the tap")

    page.reload()

    question(page, "Where was the pain? Choose all that apply.")
    assert page.get_by_role("checkbox", name="Head").is_checked()
    page.get_by_role("button", name="Back").click()
    question(page, "How much pain did you have today?")
    assert page.get_by_role("radio", name="2", exact=True).is_checked()
