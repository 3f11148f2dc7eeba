"""Schemas shared by more than one resource, and the strict base every input schema uses.

A resource's own schemas sit in its module (``app/api/<resource>.py``), above its views; one
used by two resources (a phone's and a staff member's view of the same thing) comes here.
Schemas are named after what they carry; server-owned fields are dump_only. The shapes of
windows, quiet hours and push subscriptions are documented here but judged by the services
(``app.reminders.timetables``, ``app.reminders.push``), whose errors name the exact input,
e.g. ``windows.sat[0]`` or ``keys.p256dh``.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.scheduling.model import DAY_NAMES


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # a misspelt field is an error, not silently ignored


_HHMM = {"description": "24-hour local time HH:MM", "example": "18:00"}


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
