"""History and News on the phone, in real Chromium against the real app: sent questionnaires
listed with their dates, the trend chart (and its table) for a scored instrument from the scores
the phone kept, the phone's score twin agreeing with the server's scoring, news posted with
``chorus news post`` shown newest first and readable offline."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.instruments.loader import load_instrument, parse_instrument
from app.instruments.model import Instrument
from app.instruments.rendering import render_instrument
from app.instruments.scoring import compute_scores
from app.responses.models import Response
from app.studies.models import Role
from tests.browser.conftest import LIBRARY, PwaWorld, sign_in, wait_for_today
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_answer import choose, next_, open_questionnaire, question
from tests.browser.test_outbox import call
from tests.factories import make_staff
from tests.instruments.test_instrument_engine_and_scoring import LOOKUP_INSTRUMENT

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def answer_diary(page: Any, fatigue: int) -> None:
    """The daily diary with no pain (so "where was the pain?" is skipped), sent online."""
    open_questionnaire(page, "Daily symptom diary")
    question(page, "How tired did you feel today?")
    choose(page, str(fatigue))
    next_(page)
    choose(page, "0")
    next_(page)
    choose(page, "Well")
    next_(page)
    choose(page, "OK")
    next_(page)
    next_(page)  # "anything else" is optional
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("[data-outcome]").get_attribute("data-outcome") == "sent"
    page.get_by_role("link", name="Back to Today").click()
    wait_for_today(page)


def open_screen(page: Any, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name).click()
    page.get_by_role("heading", level=1, name=name).wait_for()


@pytest.mark.both_engines
def test_history_lists_sent_questionnaires_with_dates_and_a_trend_chart(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    answer_diary(page, 6)
    answer_diary(page, 2)
    db_session.expire_all()
    stored = db_session.scalars(select(Response).order_by(Response.finished_at.desc())).all()
    assert len(stored) == 2

    open_screen(page, "History")
    rows = page.locator(".history-list li")
    expect(rows).to_have_count(2)
    # Newest first, each with the server's time as datetime and a date in the reader's language.
    for row, response in zip(rows.all(), stored, strict=True):
        assert row.get_attribute("data-response") == response.id
        expect(row.locator(".title")).to_have_text("Daily symptom diary")
        when = row.locator("time")
        shown = page.evaluate(
            "(iso) => new Intl.DateTimeFormat('en', {dateStyle: 'full', timeStyle: 'short'})"
            ".format(new Date(iso))",
            when.get_attribute("datetime"),
        )
        expect(when).to_have_text(shown)
        assert str(response.finished_at.year) in shown

    # symptom_burden = mean(fatigue, pain): 3 then 1, drawn from the scores kept on the phone.
    chart = page.locator("figure.trend")
    expect(chart).to_have_count(1)
    # Families see "your score", not the study team's label ("exploratory, not validated").
    expect(chart.locator("figcaption")).to_have_text("Daily symptom diary: your score")
    assert chart.locator("svg").get_attribute("aria-hidden") == "true"
    expect(chart.locator("svg circle")).to_have_count(2)
    expect(chart.locator("svg polyline")).to_have_count(1)
    # The text alternative: a table with a caption and the same values, oldest first.
    table = chart.get_by_role("table", name="Daily symptom diary: your score")
    expect(table.get_by_role("columnheader")).to_have_text(["Date", "Score"])
    expect(table.locator("tbody tr td:nth-child(2)")).to_have_text(["3", "1"])
    assert_accessible(page, "history with a chart")


def test_history_of_a_caregiver_is_per_child(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.caregiver))
    sam = page.locator("section.person", has=page.get_by_role("heading", name="Sam"))
    sam.locator(".due-item", has_text="Daily symptom diary").get_by_role("link").click()
    page.get_by_role("button", name="Start").click()
    question(page, "How tired did your child seem today?")
    choose(page, "7")
    next_(page)
    choose(page, "0")
    next_(page)
    choose(page, "Well")
    next_(page)
    choose(page, "OK")
    next_(page)
    next_(page)
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("[data-outcome]").get_attribute("data-outcome") == "sent"

    open_screen(page, "History")
    lea = page.locator("section.person", has=page.get_by_role("heading", name="Léa"))
    sam = page.locator("section.person", has=page.get_by_role("heading", name="Sam"))
    expect(sam.locator(".history-list li")).to_have_count(1)
    expect(sam.locator("figure.trend svg circle")).to_have_count(1)
    expect(lea.get_by_text("Nothing sent yet.")).to_be_visible()
    expect(lea.locator("figure.trend")).to_have_count(0)
    assert_accessible(page, "caregiver history")


def _instrument(name: str) -> Instrument:
    instrument, problems = load_instrument(LIBRARY / f"{name}.yaml")
    assert instrument is not None, problems
    return instrument


def _score_cases() -> list[tuple[Instrument, str, dict[str, Any]]]:
    child = _instrument("child_weekly_wellbeing")
    diary = _instrument("daily_symptom_diary")
    phq9 = _instrument("phq9")
    lookup, problems = parse_instrument(LOOKUP_INSTRUMENT, "t.yaml")
    assert lookup is not None, problems
    child_all = {
        "played": "often",
        "slept_well": "sometimes",
        "ate_well": "rarely",
        "with_others": "rarely",
        "worried": "never",
    }
    return [
        (child, "proxy", child_all),
        (child, "proxy", {k: v for k, v in child_all.items() if k != "ate_well"}),  # prorated
        (child, "proxy", {**child_all, "played": "sometimes", "ate_well": None}),  # 12.5 -> 13
        (child, "proxy", {"played": "often", "worried": "always"}),  # too many missing
        (diary, "self", {"fatigue": 3, "pain": 4}),
        (diary, "self", {"fatigue": 7}),
        (diary, "self", {}),
        (phq9, "self", {f"phq9_{i}": i % 4 for i in range(1, 10)}),
        (phq9, "self", {f"phq9_{i}": 1 for i in range(1, 9)}),  # one missing: no total
        (lookup, "self", {"a": 3, "b": 2}),  # weights and lookup
        (lookup, "self", {"b": 2}),  # condition not met
        (lookup, "self", {"a": 3, "b": 3}),  # raw 9.0 is in the table
    ]


def test_the_phones_scores_match_the_servers(page: Any, live_server: Any) -> None:
    page.goto("/app/")
    page.get_by_role("heading", level=1).wait_for()
    for instrument, respondent, answers in _score_cases():
        given = {k: v for k, v in answers.items() if v is not None}
        expected = {
            score_id: result.value
            for score_id, result in compute_scores(instrument, given).items()
            if result.value is not None
        }
        rendered = render_instrument(instrument, "en", respondent)
        got = call(page, "scores.js", "return m.computeScores(arg[0], arg[1]);", [rendered, given])
        assert got == pytest.approx(expected), (instrument.id, given)


def post_news(runner: Any, title: str, body: str) -> None:
    result = runner.invoke(
        args=[
            "news",
            "post",
            "--study",
            "fatigue",
            "--language",
            "en",
            "--title",
            title,
            "--body",
            body,
            "--as",
            "admin@example.org",
        ]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.both_engines
def test_news_posted_by_staff_is_shown_newest_first_and_readable_offline(
    context: Any, page: Any, pwa_world: PwaWorld, db_session: Session, runner: Any
) -> None:
    make_staff(db_session, "admin@example.org", study=pwa_world.study, role=Role.ADMIN)
    post_news(runner, "Welcome to the study", "Thank you for taking part.")
    post_news(
        runner,
        "100 families have joined",
        "We passed 100 families this month.\n\nThe first results come next spring.",
    )
    sign_in(page, pwa_world.invite(pwa_world.adult))
    page.locator("html[data-offline-ready='true']").wait_for(state="attached")
    open_screen(page, "News")
    articles = page.locator("article.news-item")
    expect(articles).to_have_count(2)
    expect(articles.locator("h2")).to_have_text(
        ["100 families have joined", "Welcome to the study"]
    )
    newest = articles.first
    expect(newest.locator("p:not(.muted)")).to_have_text(
        ["We passed 100 families this month.", "The first results come next spring."]
    )
    assert newest.get_attribute("lang") == "en"
    expect(newest.locator("time")).to_have_attribute("datetime", ISO_TIME)
    assert_accessible(page, "news")

    # Offline: the app opens from the worker and the news from its saved copy.
    context.set_offline(True)
    page.goto("/app/#/today")
    wait_for_today(page)
    open_screen(page, "News")
    expect(
        page.get_by_text("You are offline. This is the news as saved on this phone.")
    ).to_be_visible()
    expect(page.locator("article.news-item h2")).to_have_text(
        ["100 families have joined", "Welcome to the study"]
    )
    context.set_offline(False)


def test_empty_news_and_history_are_accessible(page: Any, pwa_world: PwaWorld) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    open_screen(page, "News")
    expect(page.get_by_text("No news from the study yet.")).to_be_visible()
    assert_accessible(page, "empty news")
    open_screen(page, "History")
    expect(page.get_by_text("Nothing sent yet.")).to_be_visible()
    assert_accessible(page, "empty history")
