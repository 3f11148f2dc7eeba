"""Participants of a study, for site staff: enrol, invite, caregivers, pause/withdraw, devices.

Staff session and CSRF as every staff endpoint. Views parse, call app.workspace.participants
(which checks scope with app.access, a coordinator of site A lists, enrols and invites only at
site A, and audits every view of participant data) and serialize. Participants are addressed
by their study code.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, ClassVar

import marshmallow as ma
import segno
from flask import Response
from flask.views import MethodView
from marshmallow import validate

from app.access import Permission
from app.accounts.models import StaffUser
from app.api import Blueprint, documented_errors
from app.api.schemas import StrictSchema
from app.auth import current_staff, staff_required
from app.db import utcnow
from app.extensions import db, settings
from app.participants.models import AgeBand, CaregiverLink, Device, Participant
from app.participants.service import (
    CAREGIVER_ROLES,
    DEFAULT_INVITATION_DAYS,
    MAX_INVITATION_DAYS,
    IssuedInvitation,
)
from app.studies.models import Study
from app.workspace import common
from app.workspace import participants as workspace


class ParticipantEnrolSchema(StrictSchema):
    """Give `date_of_birth` or `age_band`; a date of birth only sets the age band and is not stored."""

    site = ma.fields.String(required=True, metadata={"description": "Site code, e.g. LYON"})
    code = ma.fields.String(
        required=True, metadata={"description": "Pseudonymous study code, e.g. LYON-0042"}
    )
    time_zone = ma.fields.String(
        required=True, metadata={"description": "IANA time zone, e.g. Europe/Paris"}
    )
    language = ma.fields.String(required=True, metadata={"description": "BCP 47, e.g. fr"})
    date_of_birth = ma.fields.Date(load_default=None, load_only=True)
    age_band = ma.fields.String(
        load_default=None, validate=validate.OneOf([b.value for b in AgeBand])
    )
    arm = ma.fields.String(load_default=None, validate=validate.Length(max=64))
    nickname = ma.fields.String(load_default=None, validate=validate.Length(max=40))
    colour = ma.fields.String(load_default=None, metadata={"description": "e.g. #1f77b4"})


class ReminderPauseSchema(ma.Schema):
    starts_on = ma.fields.Date(dump_only=True)
    ends_on = ma.fields.Date(dump_only=True)
    reason = ma.fields.String(dump_only=True)


class ParticipantSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(dump_only=True)
    site = ma.fields.Function(lambda p: p.site.code, dump_only=True)
    time_zone = ma.fields.String(dump_only=True)
    language = ma.fields.String(dump_only=True)
    age_band = ma.fields.String(dump_only=True)
    arm = ma.fields.String(dump_only=True, allow_none=True)
    nickname = ma.fields.String(dump_only=True, allow_none=True)
    colour = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.String(dump_only=True)
    paused_until = ma.fields.Date(dump_only=True, allow_none=True)
    enrolled_at = ma.fields.DateTime(dump_only=True)
    withdrawn_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    reminder_pause = ma.fields.Nested(
        ReminderPauseSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The participant's own reminder pause covering today (list only)"},
    )


class ParticipantListQuerySchema(StrictSchema):
    site = ma.fields.String(load_default=None, metadata={"description": "Only this site (code)"})


class InvitationCreateSchema(StrictSchema):
    valid_for_days = ma.fields.Integer(
        load_default=DEFAULT_INVITATION_DAYS,
        validate=validate.Range(min=1, max=MAX_INVITATION_DAYS),
    )


class IssuedInvitationSchema(ma.Schema):
    """Shown once: only hashes are stored, so a lost link or code means a new invitation."""

    link = ma.fields.String(
        dump_only=True,
        metadata={"description": "Open on the phone; the secret is in the #fragment"},
    )
    code = ma.fields.String(
        dump_only=True, metadata={"description": "To type instead: 10 characters, ABCD-EFGH-JK"}
    )
    expires_at = ma.fields.DateTime(dump_only=True)


class InvitationQrSchema(StrictSchema):
    link = ma.fields.String(
        required=True,
        validate=validate.Length(max=2000),
        metadata={"description": "The link from the invitation response"},
    )


class PauseSchema(StrictSchema):
    until = ma.fields.Date(
        load_default=None, metadata={"description": "Last paused day; null: until resumed"}
    )
    reason = ma.fields.String(load_default=None, validate=validate.Length(max=500))


class ReasonSchema(StrictSchema):
    reason = ma.fields.String(load_default=None, validate=validate.Length(max=500))


class CaregiverCreateSchema(StrictSchema):
    language = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    caregiver_role = ma.fields.String(required=True, validate=validate.OneOf(CAREGIVER_ROLES))
    display_name = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=80),
        metadata={"description": "Optional; how the study team refers to them"},
    )


class CaregiverLinkCreateSchema(StrictSchema):
    caregiver_role = ma.fields.String(required=True, validate=validate.OneOf(CAREGIVER_ROLES))


class CaregiverLinkSchema(ma.Schema):
    caregiver_id = ma.fields.Integer(dump_only=True)
    caregiver_role = ma.fields.String(dump_only=True)
    display_name = ma.fields.Function(lambda link: link.caregiver.display_name, dump_only=True)
    language = ma.fields.Function(lambda link: link.caregiver.language, dump_only=True)
    time_zone = ma.fields.Function(lambda link: link.caregiver.time_zone, dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


def _holder(device: Any) -> str:
    return "participant" if device.participant_id is not None else "caregiver"


class DeviceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    holder = ma.fields.Function(
        _holder, dump_only=True, metadata={"enum": ["participant", "caregiver"]}
    )
    caregiver_id = ma.fields.Integer(dump_only=True, allow_none=True)
    label = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    last_seen_at = ma.fields.DateTime(dump_only=True)
    revoked_at = ma.fields.DateTime(dump_only=True, allow_none=True)


blp = Blueprint(
    "participants",
    __name__,
    url_prefix="/api/v1/studies/<slug>/participants",
    description="Participants, caregivers, invitations and devices (site staff)",
)


def _study(slug: str) -> tuple[StaffUser, Study]:
    user = current_staff()
    return user, common.study_for(db.session(), user, slug, Permission.VIEW_PARTICIPANTS)


def _issued(issued: IssuedInvitation) -> dict[str, Any]:
    return {"link": issued.link, "code": issued.code, "expires_at": issued.expires_at}


_ERRORS_FOR_ONE = [
    (401, "Not signed in"),
    (403, "Outside your sites or role (or CSRF token missing)"),
    (404, "No such study or participant"),
]


_document = documented_errors(blp, *_ERRORS_FOR_ONE)


@blp.route("/")
class ParticipantCollection(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(ParticipantListQuerySchema, location="query")
    @blp.response(200, ParticipantSchema(many=True))
    @_document((422, "Unknown query parameter"))
    def get(self, query: dict[str, Any], slug: str) -> list[workspace.ListedParticipant]:
        """Participants at the sites you may see (all sites for study-wide roles)."""
        user, study = _study(slug)
        rows = workspace.participants_in_scope(db.session(), user, study, query["site"])
        db.session.commit()
        return rows

    @blp.arguments(ParticipantEnrolSchema)
    @blp.response(201, ParticipantSchema)
    @_document(
        (409, "The study already has a participant with that code"),
        (422, "A field is missing or not valid (named in errors)"),
    )
    def post(self, payload: dict[str, Any], slug: str) -> Participant:
        """Enrol a participant at one of your sites."""
        user, study = _study(slug)
        participant = workspace.enrol(db.session(), user, study, payload.pop("site"), **payload)
        db.session.commit()
        return participant


@blp.route("/<code>")
class ParticipantDetail(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, ParticipantSchema)
    @_document()
    def get(self, slug: str, code: str) -> Participant:
        """One participant (the view is audited)."""
        user, study = _study(slug)
        participant = workspace.view_participant(db.session(), user, study, code)
        db.session.commit()
        return participant


@blp.route("/<code>/invitations")
class ParticipantInvitations(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, IssuedInvitationSchema)
    @_document((409, "The participant has withdrawn"), (422, "valid_for_days out of range"))
    def post(self, payload: dict[str, Any], slug: str, code: str) -> dict[str, Any]:
        """A new single-use invitation (link + typable code), shown once. Any earlier unused
        invitation for this participant stops working."""
        user, study = _study(slug)
        cfg = settings()
        _participant, issued = workspace.invite(
            db.session(),
            user,
            study,
            code,
            days=payload["valid_for_days"],
            pepper=cfg.secret_key,
            base_url=cfg.base_url,
        )
        db.session.commit()
        return _issued(issued)


@blp.route("/<code>/invitations/qr")
class InvitationQr(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(InvitationQrSchema)
    @blp.response(200, description="The link as a QR code (SVG)")
    @blp.doc(
        responses={
            "200": {
                "description": "The link as a QR code (SVG)",
                "content": {"image/svg+xml": {"schema": {"type": "string"}}},
            }
        }
    )
    @_document((422, "Not an unused invitation link of this participant or their caregivers"))
    def post(self, payload: dict[str, str], slug: str, code: str) -> Response:
        """The QR code of an invitation link, for printing or showing on screen.

        POST, not GET: the link carries the invitation secret, which must stay out of URLs
        (server logs, browser history). Only hashes are stored, so the link is sent back."""
        user, study = _study(slug)
        workspace.check_invitation_link(db.session(), user, study, code, payload["link"], utcnow())
        buffer = io.BytesIO()
        segno.make(payload["link"], error="m").save(
            buffer, kind="svg", scale=4, border=4, title="Chorus invitation"
        )
        return Response(buffer.getvalue(), mimetype="image/svg+xml")


@blp.route("/<code>/pause")
class ParticipantPause(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(PauseSchema)
    @blp.response(200, ParticipantSchema)
    @_document((409, "The participant has withdrawn"), (422, "The end date is in the past"))
    def post(self, payload: dict[str, Any], slug: str, code: str) -> Participant:
        """Pause reminders, until a date (inclusive) or until resumed."""
        user, study = _study(slug)
        participant = workspace.pause(
            db.session(), user, study, code, payload["until"], payload["reason"]
        )
        db.session.commit()
        return participant


@blp.route("/<code>/resume")
class ParticipantResume(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, ParticipantSchema)
    @_document((409, "The participant has withdrawn"))
    def post(self, slug: str, code: str) -> Participant:
        user, study = _study(slug)
        participant = workspace.resume(db.session(), user, study, code)
        db.session.commit()
        return participant


@blp.route("/<code>/withdraw")
class ParticipantWithdraw(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(ReasonSchema)
    @blp.response(200, ParticipantSchema)
    @_document((409, "Already withdrawn"), (422, "Reason too long"))
    def post(self, payload: dict[str, Any], slug: str, code: str) -> Participant:
        """Withdraw: their devices and open invitations stop working at once; data is kept."""
        user, study = _study(slug)
        participant = workspace.withdraw(db.session(), user, study, code, payload["reason"])
        db.session.commit()
        return participant


@blp.route("/<code>/devices")
class ParticipantDevices(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, DeviceSchema(many=True))
    @_document()
    def get(self, slug: str, code: str) -> list[Device]:
        """The participant's phones and those of their caregivers, revoked ones included (the
        view is audited)."""
        user, study = _study(slug)
        devices = workspace.devices_of(db.session(), user, study, code)
        db.session.commit()
        return devices


@blp.route("/<code>/devices/<int:device_id>/revoke")
class DeviceRevoke(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(ReasonSchema)
    @blp.response(200, DeviceSchema)
    @_document((422, "Reason too long"))
    def post(self, payload: dict[str, Any], slug: str, code: str, device_id: int) -> Device:
        """Revoke a phone at once (lost, replaced, or the family asked). Idempotent."""
        user, study = _study(slug)
        device = workspace.revoke_device(
            db.session(), user, study, code, device_id, payload["reason"]
        )
        db.session.commit()
        return device


@blp.route("/<code>/caregivers")
class ParticipantCaregivers(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, CaregiverLinkSchema(many=True))
    @_document()
    def get(self, slug: str, code: str) -> list[CaregiverLink]:
        """The caregivers linked to the participant (the view is audited)."""
        user, study = _study(slug)
        links = workspace.caregivers_of(db.session(), user, study, code)
        db.session.commit()
        return links

    @blp.arguments(CaregiverCreateSchema)
    @blp.response(201, CaregiverLinkSchema)
    @_document((409, "The participant has withdrawn"), (422, "A field is missing or not valid"))
    def post(self, payload: dict[str, Any], slug: str, code: str) -> CaregiverLink:
        """Add a new caregiver and link them to this participant."""
        user, study = _study(slug)
        link = workspace.add_caregiver(db.session(), user, study, code, **payload)
        db.session.commit()
        return link


@blp.route("/<code>/caregivers/<int:caregiver_id>")
class ParticipantCaregiver(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(CaregiverLinkCreateSchema)
    @blp.response(201, CaregiverLinkSchema)
    @_document((409, "Already linked, or the participant has withdrawn"), (422, "Unknown role"))
    def put(
        self, payload: dict[str, Any], slug: str, code: str, caregiver_id: int
    ) -> CaregiverLink:
        """Link an existing caregiver (e.g. a sibling's parent, possibly in another study).
        You must manage a participant the caregiver is already linked to."""
        user, study = _study(slug)
        link = workspace.link_existing_caregiver(
            db.session(), user, study, code, caregiver_id, payload["caregiver_role"]
        )
        db.session.commit()
        return link

    @blp.response(204)
    @_document()
    def delete(self, slug: str, code: str, caregiver_id: int) -> Response:
        """End the link: the caregiver's phones stop offering this participant at once."""
        user, study = _study(slug)
        workspace.unlink_caregiver(db.session(), user, study, code, caregiver_id)
        db.session.commit()
        return Response(status=204)


@blp.route("/<code>/caregivers/<int:caregiver_id>/invitations")
class CaregiverInvitations(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, IssuedInvitationSchema)
    @_document((422, "valid_for_days out of range"))
    def post(
        self, payload: dict[str, Any], slug: str, code: str, caregiver_id: int
    ) -> dict[str, Any]:
        """Invite a caregiver linked to this participant; one phone serves all their children."""
        user, study = _study(slug)
        cfg = settings()
        _participant, _caregiver, issued = workspace.invite_caregiver(
            db.session(),
            user,
            study,
            code,
            caregiver_id,
            days=payload["valid_for_days"],
            pepper=cfg.secret_key,
            base_url=cfg.base_url,
        )
        db.session.commit()
        return _issued(issued)
