"""Reminder and alert wording: every language, no health words, no leftovers, safe labels."""

from __future__ import annotations

import pytest

from app.delivery.messages import (
    SUPPORTED_LANGUAGES,
    Notice,
    caregiver_reminder,
    participant_reminder,
    push_payload,
    resolve_language,
    staff_alert_notice,
)
from app.delivery.webpush import encode_payload

LINK = "https://chorus.example.org/app/today"

# Lower-case stems in the supported languages that would reveal health information.
HEALTH_WORDS = (
    # en
    "diagnos", "disease", "symptom", "pain", "depress", "anxiety", "score", "answer", "illness",
    "medic", "syndrome", "disorder", "condition", "suicid", "severe",
    # fr
    "maladie", "symptôme", "douleur", "diagnostic", "réponses", "médic", "trouble",
    # es
    "enfermedad", "síntoma", "dolor", "diagnóstico", "respuestas", "medicamento",
    # de
    "krankheit", "symptom", "schmerz", "diagnose", "antworten", "medikament", "störung",
    # it
    "malattia", "sintom", "dolore", "diagnosi", "farmac",
    # pt
    "doença", "sintoma", "dor ", "diagnóstico", "medicament",
)  # fmt: skip


def _all_notices() -> list[Notice]:
    notices = []
    for lang in sorted(SUPPORTED_LANGUAGES):
        notices.append(participant_reminder(lang, LINK))
        notices.append(caregiver_reminder(lang, LINK, nickname="Sam"))
        notices.append(
            staff_alert_notice(lang, LINK, study="FAT-01", site="LYON", participant_code="P-7Q2K")
        )
    return notices


def test_at_least_the_four_study_languages_are_supported() -> None:
    assert {"en", "fr", "es", "de", "ar"} <= SUPPORTED_LANGUAGES


def test_arabic_reminders_are_arabic_and_right_to_left() -> None:
    """#11: the app speaks Arabic, so its reminders do too."""
    notice = caregiver_reminder("ar", LINK, nickname="Sam")
    assert notice.language == "ar"
    assert notice.body == "لديك استبيان قصير عن Sam في انتظارك في تطبيق Chorus."
    assert '<html lang="ar" dir="rtl">' in notice.html
    assert '<html lang="en">' in participant_reminder("en", LINK).html


@pytest.mark.parametrize("notice", _all_notices(), ids=lambda n: f"{n.language}-{n.subject[:20]}")
def test_no_message_in_any_language_carries_health_words_or_placeholders(notice: Notice) -> None:
    everything = " ".join([notice.subject, notice.title, notice.body, notice.text, notice.html])
    lowered = everything.lower()
    assert [w for w in HEALTH_WORDS if w in lowered] == []
    assert "{" not in everything and "}" not in everything
    assert LINK in notice.text


def test_english_participant_reminder_reads_as_agreed() -> None:
    notice = participant_reminder("en", LINK)
    assert f"You have a short questionnaire waiting in Chorus. Open: {LINK}" in notice.text
    assert notice.body == "You have a short questionnaire waiting in Chorus."
    assert notice.kind == "reminder"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "You have a short questionnaire waiting in Chorus for Sam."),
        ("fr", "Un court questionnaire pour Sam vous attend dans Chorus."),
        ("es", "Tiene un breve cuestionario para Sam esperándole en Chorus."),
        ("de", "In Chorus wartet ein kurzer Fragebogen für Sam auf Sie."),
    ],
)
def test_caregiver_reminder_names_the_child_by_nickname(lang: str, expected: str) -> None:
    notice = caregiver_reminder(lang, LINK, nickname="  Sam ")
    assert notice.body == expected
    assert "Sam" in notice.subject


def test_staff_alert_says_where_and_nothing_about_the_answers() -> None:
    notice = staff_alert_notice("en", LINK, study="FAT-01", site="LYON")
    assert notice.body == "A response in study FAT-01 at site LYON needs your attention."
    assert f"Sign in to see it: {LINK}" in notice.text
    assert "P-" not in notice.text
    with_code = staff_alert_notice("en", LINK, study="FAT-01", site="LYON", participant_code="P-7")
    assert "Participant code: P-7" in with_code.text


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("fr-CA", "fr"), ("de_AT", "de"), ("ES", "es"), ("ja", "en"), ("", "en"), (None, "en")],
)
def test_language_resolution_falls_back_to_english(tag: str | None, expected: str) -> None:
    assert resolve_language(tag) == expected
    assert participant_reminder(tag, LINK).language == expected


def test_html_alternative_escapes_the_nickname() -> None:
    notice = caregiver_reminder("en", LINK, nickname="<b>Sam</b>")
    assert "<b>Sam</b>" not in notice.html
    assert "&lt;b&gt;Sam&lt;/b&gt;" in notice.html
    assert 'lang="en"' in notice.html


@pytest.mark.parametrize("nickname", ["", "   ", "Sam\nBcc: x@y.z", "S" * 41, "Sam\u202e"])
def test_nicknames_must_be_short_single_line_labels(nickname: str) -> None:
    with pytest.raises(ValueError, match="nickname"):
        caregiver_reminder("en", LINK, nickname=nickname)


@pytest.mark.parametrize(
    "link",
    ["http://chorus.example.org/app", "javascript:alert(1)", "/app/today", "https://x y"],
)
def test_links_must_be_https(link: str) -> None:
    with pytest.raises(ValueError, match="link"):
        participant_reminder("en", link)


def test_http_links_are_allowed_for_local_development() -> None:
    assert participant_reminder("en", "http://127.0.0.1:5000/app").link.startswith("http://")


def test_push_payload_is_small_and_carries_only_the_notice() -> None:
    notice = caregiver_reminder("pt", LINK, nickname="Sam")
    payload = push_payload(notice, tag="occ-42")
    assert set(payload) == {"v", "kind", "lang", "title", "body", "url", "tag"}
    assert len(encode_payload(payload).encode()) < 512
