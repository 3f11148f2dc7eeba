"""Arabic, a right-to-left language: the document says dir=rtl and the layout really mirrors
(measured positions flip), while an English questionnaire inside it still reads left to
right. A phone whose browser is in Arabic gets the Arabic welcome screen."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import PwaWorld, sign_in
from tests.browser.test_outbox import call


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return dict(found)


def test_arabic_layout_mirrors(page: Any, pwa_world: PwaWorld) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    width = page.viewport_size["width"]
    person = page.locator("section.person")
    assert person.evaluate("(s) => getComputedStyle(s).borderLeftWidth") == "8px"
    page.locator(".due-item", has_text="Daily symptom diary").get_by_role("link").click()
    start = page.get_by_role("button", name="Start")
    back = page.get_by_role("link", name="Back to Today")
    start.wait_for()
    ltr_start, ltr_back = box(start), box(back)
    assert ltr_back["x"] < ltr_start["x"]  # Back on the left, Start on the right

    call(page, "i18n.js", "await m.setLanguage('ar', {remember: true});")
    start = page.get_by_role("button", name="ابدأ")
    back = page.get_by_role("link", name="العودة إلى اليوم")
    start.wait_for()
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "ar",
        "rtl",
    ]
    rtl_start, rtl_back = box(start), box(back)
    assert rtl_start["x"] < rtl_back["x"]  # mirrored: Start on the left, Back on the right
    # Same distance from the opposite edge (within a pixel or two of rounding).
    assert abs(rtl_start["x"] - (width - ltr_start["x"] - ltr_start["width"])) <= 2
    assert abs(rtl_back["x"] - (width - ltr_back["x"] - ltr_back["width"])) <= 2

    # The English questionnaire keeps its own language and direction inside the Arabic UI.
    title = page.locator("h1")
    assert title.get_attribute("lang") == "en" and title.get_attribute("dir") == "ltr"
    start.click()
    heading = page.locator("h1.question-text")
    heading.wait_for()
    assert heading.get_attribute("dir") == "ltr"
    assert page.get_by_role("button", name="التالي").is_visible()

    # Back on Today, the person's colour bar moved to the right edge.
    page.get_by_role("navigation").get_by_role("link", name="اليوم").click()
    page.locator(".today-body:not([aria-busy])").wait_for()
    assert person.evaluate("(s) => getComputedStyle(s).borderRightWidth") == "8px"
    assert person.evaluate("(s) => getComputedStyle(s).borderLeftWidth") == "1px"


def test_browser_in_arabic_gets_the_arabic_welcome(browser: Any, live_server: Any) -> None:
    context = browser.new_context(base_url=live_server.url, locale="ar-EG")
    try:
        page = context.new_page()
        page.goto("/app/")
        page.get_by_role("heading", level=1, name="مرحبًا بك في Chorus").wait_for()
        assert page.evaluate("document.documentElement.dir") == "rtl"
        label = box(page.get_by_text("رمز الدعوة", exact=True))
        viewport = page.viewport_size["width"]
        # Start-aligned text sits against the right edge in Arabic.
        assert label["x"] + label["width"] > viewport * 0.6
    finally:
        context.close()
