"""WCAG 2.2 A/AA in a real browser: axe-core scans every participant screen (signed out and
in, each question type, errors shown, review, done, the outbox's refusals, Arabic) and must
find nothing. Also: keyboard focus lands on each new screen's heading, and 200 % text zoom
needs no sideways scrolling."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import PwaWorld, sign_in, wait_for_today
from tests.browser.test_answer import choose, next_, question
from tests.browser.test_outbox import ENQUEUE, call, diary_body

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE = Axe()


def assert_accessible(page: Any, screen: str) -> None:
    results = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    violations = [
        (v["id"], v["impact"], [node["target"] for node in v["nodes"]][:5])
        for v in results.response["violations"]
    ]
    assert violations == [], f"{screen}: {violations}"


def test_signed_out_screens(page: Any, live_server: Any) -> None:
    page.goto("/app/")
    page.get_by_role("heading", level=1, name="Welcome to Chorus").wait_for()
    assert_accessible(page, "welcome")
    page.get_by_role("button", name="Sign in").click()  # empty code: the error is shown
    page.locator("#code-error").wait_for()
    assert_accessible(page, "welcome with error")
    page.goto("about:blank")
    page.goto("/app/#join=not-a-real-token")
    page.get_by_role("alert").filter(has_text="does not work any more").wait_for()
    assert_accessible(page, "welcome after a refused link")


def test_participant_screens(page: Any, pwa_world: PwaWorld) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    assert_accessible(page, "today")
    for name in ("History", "News", "Settings"):
        page.get_by_role("navigation").get_by_role("link", name=name).click()
        page.get_by_role("heading", level=1, name=name).wait_for()
        assert_accessible(page, name)
    page.get_by_role("navigation").get_by_role("link", name="Today").click()
    wait_for_today(page)

    page.locator(".due-item", has_text="Daily symptom diary").get_by_role("link").click()
    page.get_by_role("button", name="Start").wait_for()
    assert_accessible(page, "questionnaire introduction")
    page.get_by_role("button", name="Start").click()
    question(page, "How tired did you feel today?")
    assert page.evaluate("document.activeElement.id") == "question-heading"
    assert_accessible(page, "0-10 rating")
    next_(page, moves=False)
    page.locator("#answer-error").wait_for()
    assert_accessible(page, "required error")
    choose(page, "5")
    next_(page)
    choose(page, "5")
    next_(page)
    question(page, "Where was the pain? Choose all that apply.")
    assert_accessible(page, "multiple choice")
    next_(page)
    question(page, "How did you sleep last night?")
    page.get_by_label("This question was hard to understand").check()
    assert_accessible(page, "single choice")
    choose(page, "Well")
    next_(page)
    choose(page, "OK")
    next_(page)
    question(page, "Is there anything else you want to tell us about today?")
    assert_accessible(page, "long text")
    next_(page)
    page.get_by_role("heading", level=1, name="Your answers").wait_for()
    assert_accessible(page, "review")
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert_accessible(page, "done")

    # Refused answers on Today (409), and a waiting one.
    first = "5b0a8c1e-6a51-4c1e-9a57-0d6d3f1b2a11"
    body = diary_body(first, pwa_world.adult.id, 3)
    call(page, "outbox.js", ENQUEUE, {"id": first, "body": body, "title": "Diary"})
    changed = {**body, "answers": {**body["answers"], "fatigue": 4}}
    call(page, "outbox.js", ENQUEUE, {"id": first, "body": changed, "title": "Changed"})
    page.get_by_role("link", name="Back to Today").click()
    wait_for_today(page)
    page.get_by_role("heading", name="Answers that could not be sent").wait_for()
    assert_accessible(page, "today with refused answers")


def test_caregiver_screens_and_other_question_types(page: Any, pwa_world: PwaWorld) -> None:
    sign_in(page, pwa_world.invite(pwa_world.caregiver))
    assert_accessible(page, "caregiver today")
    sam = page.locator("section.person", has=page.get_by_role("heading", name="Sam"))
    sam.locator(".due-item", has_text="Your child's week").get_by_role("link").click()
    page.get_by_role("button", name="Start").click()
    question(page, "Overall, how was your child's week?")
    choose(page, "6")
    next_(page)
    for text in ("play or do", "sleep well?", "eat well?", "spend happy time", "seem worried"):
        question(page, text)
        choose(page, "Often")
        next_(page)
    question(page, "How many days of school or nursery did your child miss")
    assert_accessible(page, "integer with unit")
    page.get_by_role("textbox").fill("12")
    next_(page, moves=False)
    page.locator("#answer-error").wait_for()
    assert page.get_by_role("textbox").get_attribute("aria-invalid") == "true"
    assert_accessible(page, "integer out of range")
    page.get_by_role("textbox").fill("2")
    next_(page)
    question(page, "Did your child need an unplanned visit")
    assert_accessible(page, "yes/no")
    choose(page, "Yes")
    next_(page)
    question(page, "What happened? A few words are enough.")
    assert_accessible(page, "short text")


def test_arabic_screens(page: Any, pwa_world: PwaWorld) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    call(page, "i18n.js", "await m.setLanguage('ar', {remember: true});")
    page.get_by_role("heading", level=1, name="اليوم").wait_for()
    page.locator(".today-body:not([aria-busy])").wait_for()
    assert_accessible(page, "today (ar)")
    page.locator(".due-item", has_text="Daily symptom diary").get_by_role("link").click()
    page.get_by_role("button", name="ابدأ").click()
    question(page, "How tired did you feel today?")
    assert_accessible(page, "question (ar UI, en questionnaire)")
    page.get_by_role("button", name="التالي").click()
    page.locator("#answer-error").wait_for()
    assert_accessible(page, "required error (ar)")


def test_text_at_200_percent_needs_no_sideways_scrolling(
    browser: Any, live_server: Any, pwa_world: PwaWorld
) -> None:
    """A 320 CSS px wide phone with text at twice its size (WCAG 1.4.4 and 1.4.10)."""
    # bypass_csp: only so the test can inject the larger-text style; the app runs as usual.
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 320, "height": 640}, bypass_csp=True
    )

    def overflow(page: Any) -> int:
        return int(
            page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
        )

    try:
        page = context.new_page()
        sign_in(page, pwa_world.invite(pwa_world.caregiver))
        page.add_style_tag(content="html { font-size: 200% !important; }")
        assert overflow(page) <= 0, "Today"
        lea = page.locator("section.person", has=page.get_by_role("heading", name="Léa"))
        lea.locator(".due-item", has_text="Daily symptom diary").get_by_role("link").click()
        page.get_by_role("button", name="Start").click()
        question(page, "How tired did your child seem today?")
        assert overflow(page) <= 0, "0-10 rating"
        choose(page, "3")
        next_(page)
        choose(page, "1")
        next_(page)
        question(page, "Where did your child seem to have pain?")
        assert overflow(page) <= 0, "multiple choice"
    finally:
        context.close()
