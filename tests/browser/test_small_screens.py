"""The screen defects of #11 on a 360 px phone: no "null" on the welcome screen; the four tabs
in one row; 0-10 in two even rows; the review keeps question stems; History fits and shows no
researcher score labels; Settings hides per-day times under "At any time"; a child in another
time zone has their times explained; nothing overflows sideways at 200 % text, and axe finds
nothing, on every screen including History."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.browser.conftest import TIMEOUT_MS, PwaWorld, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_answer import choose, next_, question
from tests.browser.test_caregiver import send, start

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def go(page: Any, tab: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=tab).click()
    page.get_by_role("heading", level=1, name=tab).wait_for()
    page.locator("[aria-busy]").first.wait_for(state="detached")


def fits(page: Any, screen: str) -> None:
    assert page.evaluate(OVERFLOW) <= 0, f"{screen} scrolls sideways"


def test_every_screen_fits_a_360px_phone_and_passes_axe(
    browser: Any, live_server: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    pwa_world.sam.time_zone = "Europe/London"  # the phone, Léa and the rest are in Paris
    db_session.commit()
    # bypass_csp: only so the test can inject the larger-text style; the app runs as usual.
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 360, "height": 640},
        timezone_id="Europe/Paris",
        locale="en-GB",
        bypass_csp=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        welcome = context.new_page()
        welcome.goto("/app/")
        welcome.get_by_role("heading", level=1, name="Welcome to Chorus").wait_for()
        assert "null" not in welcome.locator("main").inner_text()
        fits(welcome, "welcome")
        welcome.close()

        page = context.new_page()

        sign_in(page, pwa_world.invite(pwa_world.caregiver))
        tabs = page.locator(".app-nav li")
        assert len({round(box["y"]) for box in (t.bounding_box() for t in tabs.all())}) == 1
        sam = page.locator("section.person", has=page.get_by_role("heading", name="Sam"))
        lea = page.locator("section.person", has=page.get_by_role("heading", name="Léa"))
        expect(sam.locator(".zone-note")).to_have_text(
            "Times for Sam are in Sam's own time zone (Europe/London)."
        )
        assert lea.locator(".zone-note").count() == 0
        fits(page, "today")
        assert_accessible(page, "today")

        start(page, "Léa", "Your child's week")
        question(page, "Overall, how was your child's week?")
        rows: dict[int, int] = {}
        for option in page.locator(".scale .option").all():
            top = round(option.bounding_box()["y"])
            rows[top] = rows.get(top, 0) + 1
        assert sorted(rows.values(), reverse=True) == [6, 5], rows
        choose(page, "7")
        next_(page)
        for text in ("play", "sleep", "eat", "spend", "seem"):
            page.locator("legend", has_text=text).wait_for()
            choose(page, "Sometimes")
            next_(page)
        page.get_by_role("textbox").fill("1")
        next_(page)
        choose(page, "No")
        next_(page)
        next_(page)
        page.get_by_role("heading", level=1, name="Your answers").wait_for()
        sleep = page.locator(".review-list li", has_text="sleep well?")
        expect(sleep.locator(".stem")).to_have_text(
            "In the last 7 days, how often did your child..."
        )
        fits(page, "review")
        assert_accessible(page, "review")
        send(page)

        go(page, "History")
        page.locator(".history-list li").first.wait_for()
        page.locator("figure.trend").first.wait_for()
        history = page.locator("main").inner_text()
        assert "exploratory" not in history and "Weekly wellbeing index" not in history
        expect(page.locator("figure.trend figcaption").first).to_have_text(
            "Your child's week: your score"
        )
        fits(page, "history")
        assert_accessible(page, "history")

        go(page, "Settings")
        expect(page.get_by_label("At any time")).to_be_checked()
        expect(page.get_by_text("No reminders on this day.").first).to_be_hidden()
        fits(page, "settings")
        assert_accessible(page, "settings")
        go(page, "News")
        fits(page, "news")
        assert_accessible(page, "news")

        page.add_style_tag(content="html { font-size: 200% !important; }")
        for tab in ("News", "Settings", "History", "Today"):
            go(page, tab)
            fits(page, f"{tab} at 200 %")
        start(page, "Sam", "Your child's week")
        question(page, "Overall, how was your child's week?")
        fits(page, "0-10 scale at 200 %")
    finally:
        context.close()
