"""Schemas for timetables, push subscriptions, snoozes, history and news.

Phones and staff get different classes (staff also see who changed what). The shapes of
windows, quiet hours and push subscriptions are documented here but judged by the services
(``app.reminders.timetables``, ``app.reminders.push``), whose errors name the exact input,
e.g. ``windows.sat[0]`` or ``keys.p256dh``.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.api.parsing import RowId
from app.api.schemas import StrictSchema
from app.participants.preferences import APP_LANGUAGES
from app.reminders.timetables import SNOOZE_MINUTES
from app.scheduling.model import DAY_NAMES

_HHMM = {"description": "24-hour local time HH:MM", "example": "18:00"}

# ── Timetables ────────────────────────────────────────────────────────────────────────────


class WindowSchema(StrictSchema):
    """A span in which reminders may come. It ends the same day unless `overnight` (an end of
    00:00 means the coming midnight)."""

    start = ma.fields.String(required=True, metadata=_HHMM)
    end = ma.fields.String(required=True, metadata=_HHMM)
    overnight = ma.fields.Boolean(load_default=False, dump_default=False)


class QuietHoursSchema(StrictSchema):
    """No reminders in this span, every day; it crosses midnight when end is not after start."""

    start = ma.fields.String(required=True, metadata=_HHMM)
    end = ma.fields.String(required=True, metadata=_HHMM)


def _windows_field(**kwargs: object) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(metadata={"enum": list(DAY_NAMES)}),
        values=ma.fields.List(ma.fields.Nested(WindowSchema)),
        allow_none=True,
        metadata={
            "description": "Allowed reminder windows per weekday (mon..sun); a day left out has "
            "none; null: no window restriction (quiet hours and pauses still apply)",
            "example": {
                "mon": [{"start": "18:00", "end": "21:00"}],
                "sat": [{"start": "09:00", "end": "12:00"}],
            },
        },
        **kwargs,  # type: ignore[arg-type]
    )


class TimetableUpdateSchema(StrictSchema):
    """Send only the fields to change; each one sent replaces what was stored."""

    time_zone = ma.fields.String(metadata={"description": "IANA time zone, e.g. Europe/Paris"})
    windows = _windows_field()
    quiet_hours = ma.fields.List(
        ma.fields.Nested(QuietHoursSchema),
        metadata={"description": "[] for none; default before any change: 21:00-08:00"},
    )
    reminder_email = ma.fields.String(
        allow_none=True,
        validate=validate.Length(max=254),
        metadata={"description": "Where e-mail reminders go when push is unavailable; null: none"},
    )


class PauseCreateSchema(StrictSchema):
    starts_on = ma.fields.Date(required=True, metadata={"description": "First paused local day"})
    ends_on = ma.fields.Date(
        required=True, metadata={"description": "Last paused local day; reminders resume after"}
    )
    reason = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "Shown to the site team, e.g. 'hospital stay'"},
    )


class TimetablePauseSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    starts_on = ma.fields.Date(dump_only=True)
    ends_on = ma.fields.Date(dump_only=True)
    reason = ma.fields.String(dump_only=True)


class StaffTimetablePauseSchema(TimetablePauseSchema):
    created_at = ma.fields.DateTime(dump_only=True)
    created_by = ma.fields.String(dump_only=True)


class TimetableSchema(ma.Schema):
    """When reminders may come. `pauses` lists pauses not yet over, soonest first."""

    time_zone = ma.fields.String(dump_only=True)
    windows = _windows_field(dump_only=True)
    quiet_hours = ma.fields.List(ma.fields.Nested(QuietHoursSchema), dump_only=True)
    reminder_email = ma.fields.String(dump_only=True, allow_none=True)
    pauses = ma.fields.List(ma.fields.Nested(TimetablePauseSchema), dump_only=True)
    paused_reason = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Set while a pause covers today (local): its reason"},
    )
    paused_until = ma.fields.Function(
        lambda view: view.active_pause.ends_on.isoformat() if view.active_pause else None,
        dump_only=True,
        allow_none=True,
        metadata={"description": "Last day of the pause covering today, if any"},
    )
    updated_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class StaffTimetableSchema(TimetableSchema):
    pauses = ma.fields.List(ma.fields.Nested(StaffTimetablePauseSchema), dump_only=True)
    updated_by = ma.fields.String(dump_only=True, allow_none=True)


# ── Phone settings ────────────────────────────────────────────────────────────────────────


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


# ── News ──────────────────────────────────────────────────────────────────────────────────


class NewsItemSchema(ma.Schema):
    """A news post as a phone shows it."""

    id = ma.fields.Integer(dump_only=True)
    study = ma.fields.Function(lambda p: p.study.slug, dump_only=True)
    scope = ma.fields.Function(
        lambda p: "site" if p.site_id is not None else "study",
        dump_only=True,
        metadata={"enum": ["site", "study"]},
    )
    language = ma.fields.String(dump_only=True)
    title = ma.fields.String(dump_only=True)
    body = ma.fields.String(dump_only=True)
    posted_at = ma.fields.DateTime(dump_only=True)


class NewsListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NewsItemSchema), dump_only=True)


class NewsCreateSchema(StrictSchema):
    site = ma.fields.String(
        load_default=None, allow_none=True, metadata={"description": "Site code; null: whole study"}
    )
    language = ma.fields.String(required=True, metadata={"description": "BCP 47, e.g. fr"})
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True)


class NewsPostSchema(NewsItemSchema):
    """A news post as staff see it, withdrawn ones included."""

    site = ma.fields.Function(
        lambda p: p.site.code if p.site_id is not None else None, dump_only=True
    )
    posted_by = ma.fields.Integer(dump_only=True, allow_none=True)
    withdrawn_at = ma.fields.DateTime(dump_only=True, allow_none=True)
