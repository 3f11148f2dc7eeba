"""The phone's settings, history and news screens: timetable, pauses, language, push, snooze.

Authenticated by the device's bearer token (app/device_auth.py), so CSRF-exempt. A phone edits
the timetable of whoever holds it: a participant's own, or a caregiver's (one timetable for
all their children, since the caregiver receives their reminders).
"""

from __future__ import annotations

from typing import Any, cast

import marshmallow as ma
from flask import Response
from marshmallow import validate

from app.api import Blueprint, documented_errors
from app.api.parsing import RowId
from app.api.schemas import (
    NewsItemSchema,
    PauseCreateSchema,
    StrictSchema,
    TimetablePauseSchema,
    TimetableSchema,
    TimetableUpdateSchema,
)
from app.device_auth import current_device, device_required
from app.extensions import csrf, db, settings
from app.news import service as news
from app.participants import people as participants
from app.participants import preferences
from app.participants.models import Caregiver, Device, Participant
from app.participants.preferences import APP_LANGUAGES
from app.reminders import push, timetables
from app.reminders.models import TimetablePause
from app.reminders.timetables import SNOOZE_MINUTES
from app.responses import history


class LanguageSchema(StrictSchema):
    language = ma.fields.String(
        required=True,
        metadata={"description": "One of the app's languages", "enum": list(APP_LANGUAGES)},
    )


class PushSubscriptionInSchema(ma.Schema):
    """The browser's `PushSubscription.toJSON()`, as is. Other members are ignored."""

    class Meta:
        unknown = ma.EXCLUDE

    endpoint = ma.fields.Raw(
        load_default=None,
        metadata={"type": "string", "description": "https URL of the push service"},
    )
    expirationTime = ma.fields.Raw(load_default=None, metadata={"type": "number", "nullable": True})
    keys = ma.fields.Raw(
        load_default=None,
        metadata={
            "type": "object",
            "description": "p256dh: base64url P-256 point (65 bytes); auth: base64url 16 bytes",
            "properties": {"p256dh": {"type": "string"}, "auth": {"type": "string"}},
        },
    )


class PushStatusSchema(ma.Schema):
    vapid_public_key = ma.fields.String(
        dump_only=True,
        metadata={"description": "base64url applicationServerKey for pushManager.subscribe"},
    )
    subscribed = ma.fields.Boolean(dump_only=True)


class SnoozeSchema(StrictSchema):
    minutes = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=SNOOZE_MINUTES[0], max=SNOOZE_MINUTES[1]),
    )


class SnoozedSchema(ma.Schema):
    occurrence_id = ma.fields.Integer(dump_only=True)
    send_at = ma.fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={"description": "When the reminder now comes; null: none before it closes"},
    )


class HistoryQuerySchema(StrictSchema):
    for_ = RowId(
        load_default=None,
        data_key="for",
        metadata={"description": "One person (an id from GET /api/v1/me); default: all of them"},
    )
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class HistoryItemSchema(ma.Schema):
    response_id = ma.fields.String(dump_only=True)
    participant_id = ma.fields.Integer(dump_only=True)
    instrument = ma.fields.String(dump_only=True, metadata={"description": "Instrument key"})
    version = ma.fields.String(dump_only=True)
    title = ma.fields.String(dump_only=True, metadata={"description": "In the reader's language"})
    submitted_at = ma.fields.DateTime(dump_only=True)
    respondent_type = ma.fields.String(
        dump_only=True, metadata={"enum": ["self", "parent", "other_caregiver", "staff_assisted"]}
    )


class HistoryPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(HistoryItemSchema), dump_only=True)
    page = ma.fields.Integer(dump_only=True)
    per_page = ma.fields.Integer(dump_only=True)
    total = ma.fields.Integer(dump_only=True)


class NewsListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NewsItemSchema), dump_only=True)


blp = Blueprint(
    "me_settings",
    __name__,
    url_prefix="/api/v1/me",
    description="Settings, history and news on participants' and caregivers' phones "
    "(Authorization: Bearer <device token>)",
)
csrf.exempt(blp)

_NOT_SIGNED_IN = (401, "No device token, or the device was revoked")


_document = documented_errors(blp, _NOT_SIGNED_IN)


def _holder(device: Device) -> Participant | Caregiver:
    holder = device.participant if device.participant_id is not None else device.caregiver
    assert holder is not None
    return cast(Participant | Caregiver, holder)


def _actor(device: Device) -> str:
    kind = "participant" if device.participant_id is not None else "caregiver"
    return f"{kind}:{_holder(device).id}"


# ── Timetable ─────────────────────────────────────────────────────────────────────────────


@blp.get("/timetable")
@device_required
@blp.response(200, TimetableSchema)
@_document()
def get_timetable() -> timetables.TimetableView:
    """When this phone's holder may be reminded (defaults until they choose: no window limit,
    quiet hours 21:00-08:00 in their time zone)."""
    return timetables.get_timetable(db.session(), _holder(current_device()))


@blp.put("/timetable")
@device_required
@blp.arguments(TimetableUpdateSchema)
@blp.response(200, TimetableSchema)
@_document((422, "A field is not valid; `errors` names it, e.g. windows.sat[0]; nothing changed"))
def put_timetable(payload: dict[str, Any]) -> timetables.TimetableView:
    """Change the fields sent (time_zone, windows, quiet_hours, reminder_email); others stay."""
    device = current_device()
    view = timetables.update_timetable(
        db.session(),
        _holder(device),
        actor=_actor(device),
        **{key: payload[key] for key in TimetableUpdateSchema().fields if key in payload},
    )
    db.session.commit()
    return view


@blp.post("/timetable/pauses")
@device_required
@blp.arguments(PauseCreateSchema)
@blp.response(201, TimetablePauseSchema)
@_document(
    (409, "Too many pauses planned already"),
    (422, "The end is before the start or already past, or the reason is too long"),
)
def add_pause(payload: dict[str, Any]) -> TimetablePause:
    """No reminders from starts_on to ends_on (local days, inclusive); they resume by
    themselves. The reason is shown to the site team."""
    device = current_device()
    pause = timetables.add_pause(db.session(), _holder(device), actor=_actor(device), **payload)
    db.session.commit()
    return pause


@blp.delete("/timetable/pauses/<int:pause_id>")
@device_required
@blp.response(204)
@_document((404, "No such pause in this phone's timetable"))
def cancel_pause(pause_id: int) -> Response:
    """End a pause now (or drop a planned one); reminders resume."""
    device = current_device()
    timetables.cancel_pause(db.session(), _holder(device), pause_id, actor=_actor(device))
    db.session.commit()
    return Response(status=204)


# ── Language ──────────────────────────────────────────────────────────────────────────────


@blp.put("/language")
@device_required
@blp.arguments(LanguageSchema)
@blp.response(200, LanguageSchema)
@_document((422, "Not one of the app's languages"))
def put_language(payload: dict[str, str]) -> dict[str, str]:
    """The language this phone's holder reads: the app, the questions and the reminders."""
    language = preferences.set_holder_language(db.session(), current_device(), payload["language"])
    db.session.commit()
    return {"language": language}


# ── Push ──────────────────────────────────────────────────────────────────────────────────


def _vapid_public_key() -> str:
    cfg = settings()
    return push.vapid_public_key(
        cfg.instance_path, subject=cfg.push_subject, create_if_missing=not cfg.is_production
    )


@blp.get("/push")
@device_required
@blp.response(200, PushStatusSchema)
@_document((503, "Web Push is not configured on this server"))
def push_status() -> dict[str, Any]:
    """The key to subscribe with, and whether this phone has a subscription stored."""
    device = current_device()
    return {
        "vapid_public_key": _vapid_public_key(),
        "subscribed": push.subscription_of(db.session(), device) is not None,
    }


@blp.put("/push")
@device_required
@blp.arguments(PushSubscriptionInSchema)
@blp.response(200, PushStatusSchema)
@_document(
    (422, "Not a usable subscription; `errors` names endpoint, keys.p256dh or keys.auth"),
    (503, "Web Push is not configured on this server"),
)
def put_push(payload: dict[str, Any]) -> dict[str, Any]:
    """Store this phone's subscription (the browser's PushSubscription.toJSON()). Sending the
    same one again changes nothing; one already stored for another phone moves here."""
    device = current_device()
    key = _vapid_public_key()
    push.subscribe(db.session(), device, payload, allow_local_http=not settings().is_production)
    db.session.commit()
    return {"vapid_public_key": key, "subscribed": True}


@blp.delete("/push")
@device_required
@blp.response(204)
@_document()
def delete_push() -> Response:
    """Stop push reminders to this phone (idempotent)."""
    push.unsubscribe(db.session(), current_device())
    db.session.commit()
    return Response(status=204)


# ── Snooze ────────────────────────────────────────────────────────────────────────────────


@blp.post("/occurrences/<int:occurrence_id>/snooze")
@device_required
@blp.arguments(SnoozeSchema)
@blp.response(200, SnoozedSchema)
@_document(
    (404, "No such questionnaire for this phone"),
    (409, "Already answered, closed, or no reminder waiting"),
    (422, "minutes out of range (5 to 720)"),
)
def snooze(payload: dict[str, int], occurrence_id: int) -> timetables.Snoozed:
    """Remind me later: the next reminder for this questionnaire comes at the first moment
    the timetable allows after `minutes`, and never after the questionnaire closes."""
    device = current_device()
    result = timetables.snooze(db.session(), _holder(device), occurrence_id, payload["minutes"])
    db.session.commit()
    return result


# ── History and news ──────────────────────────────────────────────────────────────────────


@blp.get("/history")
@device_required
@blp.arguments(HistoryQuerySchema, location="query")
@blp.response(200, HistoryPageSchema)
@_document(
    (403, "This phone does not answer for that participant"),
    (422, "Unknown query parameter or out of range"),
)
def get_history(query: dict[str, Any]) -> dict[str, Any]:
    """Past submissions of this phone's people, newest first: metadata only (instrument,
    version, title, when, who answered). Answers are sealed to the study key and never come
    back; the app keeps its own copy of scores for the trend chart."""
    items, total = history.history_for_device(
        db.session(),
        current_device(),
        query["for_"],
        page=query["page"],
        per_page=query["per_page"],
    )
    return {"items": items, "page": query["page"], "per_page": query["per_page"], "total": total}


@blp.get("/news")
@device_required
@blp.response(200, NewsListSchema)
@_document()
def get_news() -> dict[str, Any]:
    """News from the studies and sites of this phone's people, newest first, each post once,
    in the reader's language when there is any in it."""
    device = current_device()
    readers = [p.participant for p in participants.people_for_device(db.session(), device)]
    items = news.news_for_participants(db.session(), readers, participants.holder_language(device))
    return {"items": items}
