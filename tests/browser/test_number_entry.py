"""Number entry never loses an answer (#11): "2 days" is refused on the spot with a message that
says what is expected and "2" is stored; a French decimal comma is accepted; the shared
answer-check vectors give the server's verdicts in Chromium too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.library import service as library
from app.library.models import InstrumentVersion
from app.participants import service as participants
from app.responses import keys
from app.responses import service as responses
from app.responses.models import Response
from tests.browser.conftest import TIMEOUT_MS, PwaWorld, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_answer import choose, next_, question
from tests.browser.test_caregiver import send, start
from tests.factories import make_participant
from tests.instruments.test_answer_vectors import mismatches, phone_input

RUN_VECTORS = """async (input) => {
  const main = document.querySelector('script[type=module]').src;
  const q = await import(main.replace(/js\\/main\\.js$/, 'js/questionnaire.js'));
  const items = Object.fromEntries(q.allSteps(input.instrument).map((s) => [s.item.id, s.item]));
  return {
    checks: input.checks.map(({ item, value }) => {
      const problem = q.checkStep(input.instrument, items[item], { [item]: value });
      return problem ? problem.code : null;
    }),
    typed: input.typed.map(({ text, type, separator }) =>
      q.parseTypedNumber(text, type === 'integer', separator) ?? null),
    patterns: input.patterns.map((p) => {
      try { new RegExp(`^(?:${p})$`, 'u'); return null; } catch (e) { return String(e); }
    }),
  };
}"""

WEIGHT_FORM = """
id: weight_check
version: "1.0.0"
title: {en: Weight, fr: Poids}
languages: [en, fr]
default_language: en
licence: CC0-1.0
copyright: none
authors: [tests]
respondents: [self]
estimated_minutes: 1
pages:
  - id: body
    items:
      - id: weight
        type: decimal
        required: true
        decimals: 1
        min: 1
        max: 300
        unit: {en: kg, fr: kg}
        text: {en: "What do you weigh?", fr: "Combien pesez-vous ?"}
"""


def opened(db_session: Session, world: PwaWorld) -> dict[str, Any]:
    row = db_session.scalars(select(Response)).one()
    credential = keys.HolderCredential("recovery", world.recovery)
    return responses.open_one(db_session, row.id, credential)["answers"]


def test_typed_words_are_refused_with_a_message_and_the_number_is_stored(
    page: Any, pwa_world: PwaWorld, db_session: Session
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.caregiver))
    # The phone's answer checks, as shipped, agree with the server's on every shared vector.
    assert mismatches(page.evaluate(RUN_VECTORS, phone_input())) == []

    start(page, "Léa", "Your child's week")
    question(page, "Overall, how was your child's week?")
    choose(page, "7")
    next_(page)
    for text in ("play", "sleep", "eat", "spend", "seem"):
        page.locator("legend", has_text=text).wait_for()
        choose(page, "Sometimes")
        next_(page)
    days = question(page, "How many days of school or nursery")
    field = page.get_by_role("textbox")
    assert field.get_attribute("inputmode") == "numeric"
    # The allowed range is shown before anything is typed, and read with the field.
    expect(page.locator("#answer-hint")).to_have_text("A whole number from 0 to 7.")
    assert "answer-hint" in (field.get_attribute("aria-describedby") or "")
    field.fill("2 days")
    next_(page, moves=False)
    message = "Type the number only, in digits (for example 2). A whole number from 0 to 7."
    expect(page.locator("#answer-error")).to_have_text(message)
    expect(field).to_have_attribute("aria-invalid", "true")
    assert days.is_visible()
    assert_accessible(page, "number refused with a message")
    field.fill("2")
    next_(page)
    question(page, "Did your child need an unplanned visit")
    choose(page, "No")
    next_(page)
    question(page, "Is there anything else")
    next_(page)
    send(page)
    assert opened(db_session, pwa_world)["school_days_missed"] == 2


def test_a_french_decimal_comma_is_accepted(
    browser: Any, live_server: Any, pwa_world: PwaWorld, db_session: Session, tmp_path: Path
) -> None:
    form = tmp_path / "weight_check.yaml"
    form.write_text(WEIGHT_FORM, "utf-8")
    library.publish_paths(db_session, [form], actor="test")
    version = db_session.scalars(
        select(InstrumentVersion).where(InstrumentVersion.instrument_key == "weight_check")
    ).one()
    participants.assign_instrument(db_session, pwa_world.study, version, "self", "test")
    db_session.commit()
    marie = make_participant(db_session, pwa_world.study, "A-010", language="fr")
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(pwa_world.invite(marie))
        page.get_by_role("heading", level=1, name="Aujourd'hui").wait_for()
        page.locator(".due-item", has_text="Poids").get_by_role("link").click()
        page.get_by_role("heading", level=1, name="Poids").wait_for()
        page.get_by_role("button", name="Commencer").click()
        page.get_by_role("heading", level=1, name="Combien pesez-vous ?").wait_for()
        field = page.get_by_role("textbox")
        assert field.get_attribute("inputmode") == "decimal"
        expect(page.locator("#answer-hint")).to_have_text("Un nombre de 1 à 300.")
        field.fill("72,5")
        page.get_by_role("button", name="Suivant").click()
        page.get_by_role("heading", level=1, name="Vos réponses").wait_for()
        assert "72,5" in page.locator(".review-list").inner_text()
        page.get_by_role("button", name="Envoyer mes réponses").click()
        page.locator("[data-outcome=sent]").wait_for()
    finally:
        context.close()
    assert opened(db_session, pwa_world) == {"weight": 72.5}
    assert json.dumps(opened(db_session, pwa_world)) == '{"weight": 72.5}'
