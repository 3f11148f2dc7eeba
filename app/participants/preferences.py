"""Preferences a phone's holder sets for themselves: the language they read.

``APP_LANGUAGES`` is **the one list** of the participant app's user-interface languages,
English (the fallback of every string) first. Each has ``frontend/locales/<code>.json``; the app
reads the list from its shell (``app/web/pwa.py`` writes it into ``<html data-languages>``), the
API documents it as the enum of ``PUT /me/language`` and ``tests/test_languages.py`` fails when
any of them disagree. A holder may choose only those, so the app, the questions (where the
instrument has the language; else its default) and the reminders follow one choice.
Reminder wording exists in fewer or other languages (``app.delivery.messages``) and falls back
to English where missing.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.errors import Invalid
from app.participants.models import Device

APP_LANGUAGES: Final = ("en", "fr", "ar")


def set_holder_language(session: Session, device: Device, language: str) -> str:
    """Set the language of whoever holds ``device`` (the participant, or the caregiver)."""
    if language not in APP_LANGUAGES:
        raise Invalid(
            errors={"language": [f"Choose one of: {', '.join(APP_LANGUAGES)}; got {language!r}."]}
        )
    holder = device.participant if device.participant_id is not None else device.caregiver
    assert holder is not None
    if holder.language != language:
        kind = "participant" if device.participant_id is not None else "caregiver"
        holder.language = language
        audit.record(
            session,
            actor=f"{kind}:{holder.id}",
            action=f"{kind}.language_changed",
            target=f"{kind}:{holder.id}",
            details={"language": language, "device_id": device.id},
        )
        session.flush()
    return language
