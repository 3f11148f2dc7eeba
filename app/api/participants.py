"""Participants of a study, for site staff: enrol, invite, caregivers, pause/withdraw, devices.

Staff session and CSRF as every staff endpoint. Scope comes from app.access: a coordinator of
site A lists, enrols and invites only at site A. Participants are addressed by their study
code. Every view of participant data is audited.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any, ClassVar

import segno
from flask import Response
from flask.views import MethodView
from sqlalchemy import select

from app import access
from app.access import ALL_SITES, Permission
from app.accounts.models import StaffUser
from app.api import Blueprint, documented_errors
from app.api.participant_schemas import (
    CaregiverCreateSchema,
    CaregiverLinkCreateSchema,
    CaregiverLinkSchema,
    DeviceSchema,
    InvitationCreateSchema,
    InvitationQrSchema,
    IssuedInvitationSchema,
    ParticipantEnrolSchema,
    ParticipantListQuerySchema,
    ParticipantSchema,
    PauseSchema,
    ReasonSchema,
)
from app.audit import service as audit
from app.auth import current_staff, staff_required
from app.db import utcnow
from app.errors import Invalid, NotFound
from app.extensions import db, settings
from app.participants import service as participants
from app.participants.models import Caregiver, CaregiverLink, Device, Participant
from app.reminders import timetables
from app.studies import service as studies
from app.studies.models import Study

blp = Blueprint(
    "participants",
    __name__,
    url_prefix="/api/v1/studies/<slug>/participants",
    description="Participants, caregivers, invitations and devices (site staff)",
)


def _actor(user: StaffUser) -> str:
    return f"staff:{user.id}"


def _study(slug: str) -> tuple[StaffUser, Study]:
    user = current_staff()
    return user, studies.get_study_for(db.session(), user, slug, Permission.VIEW_PARTICIPANTS)


def _participant(slug: str, code: str, permission: Permission) -> tuple[StaffUser, Participant]:
    user, study = _study(slug)
    participant = participants.participant_for_staff(
        db.session(), user.memberships, study, code, permission
    )
    return user, participant


def _issue(invitee: Participant | Caregiver, days: int, user: StaffUser) -> dict[str, Any]:
    cfg = settings()
    issued = participants.create_invitation(
        db.session(),
        invitee,
        valid_for=dt.timedelta(days=days),
        pepper=cfg.secret_key,
        base_url=cfg.base_url,
        actor=_actor(user),
    )
    db.session.commit()
    return {"link": issued.link, "code": issued.code, "expires_at": issued.expires_at}


def _linked_caregiver(participant: Participant, caregiver_id: int) -> CaregiverLink:
    for link in participants.caregivers_of(db.session(), participant):
        if link.caregiver_id == caregiver_id:
            return link
    raise NotFound("No such caregiver linked to this participant.")


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
    def get(self, query: dict[str, Any], slug: str) -> list[Participant]:
        """Participants at the sites you may see (all sites for study-wide roles)."""
        user, study = _study(slug)
        statement = select(Participant).where(Participant.study_id == study.id)
        if query["site"]:
            site = studies.get_site_for(
                db.session(), user, study, query["site"], Permission.VIEW_PARTICIPANTS
            )
            statement = statement.where(Participant.site_id == site.id)
        else:
            scope = access.sites_in_scope(user.memberships, Permission.VIEW_PARTICIPANTS, study.id)
            if scope is not ALL_SITES:
                statement = statement.where(Participant.site_id.in_(scope))  # type: ignore[arg-type]
        rows = list(db.session.scalars(statement.order_by(Participant.code)))
        # Staff see why a participant gets no reminders ("hospital stay until the 14th").
        pauses = timetables.active_pauses(db.session(), [row.id for row in rows])
        for row in rows:
            row.reminder_pause = pauses.get(row.id)  # type: ignore[attr-defined]
        audit.record(
            db.session(),
            actor=_actor(user),
            action="participants.listed",
            target=f"study:{study.id}",
            details={"count": len(rows)},
        )
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
        site = studies.get_site_for(
            db.session(), user, study, payload.pop("site"), Permission.MANAGE_PARTICIPANTS
        )
        participant = participants.enroll(db.session(), study, site, actor=_actor(user), **payload)
        db.session.commit()
        return participant


@blp.route("/<code>")
class ParticipantDetail(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, ParticipantSchema)
    @_document()
    def get(self, slug: str, code: str) -> Participant:
        """One participant (the view is audited)."""
        user, participant = _participant(slug, code, Permission.VIEW_PARTICIPANTS)
        audit.record(
            db.session(),
            actor=_actor(user),
            action="participant.viewed",
            target=f"participant:{participant.id}",
        )
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
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        return _issue(participant, payload["valid_for_days"], user)


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
        _user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        token = participants.token_from_link(payload["link"])
        invitation = (
            participants.outstanding_invitation_by_token(db.session(), token, utcnow())
            if token
            else None
        )
        caregiver_ids = {
            link.caregiver_id for link in participants.caregivers_of(db.session(), participant)
        }
        if invitation is None or not (
            invitation.participant_id == participant.id or invitation.caregiver_id in caregiver_ids
        ):
            raise Invalid(errors={"link": ["Not an unused invitation link for this participant."]})
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
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        participants.pause(
            db.session(), participant, payload["until"], payload["reason"], _actor(user)
        )
        db.session.commit()
        return participant


@blp.route("/<code>/resume")
class ParticipantResume(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, ParticipantSchema)
    @_document((409, "The participant has withdrawn"))
    def post(self, slug: str, code: str) -> Participant:
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        participants.resume(db.session(), participant, _actor(user))
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
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        participants.withdraw(
            db.session(), participant, reason=payload["reason"], actor=_actor(user)
        )
        db.session.commit()
        return participant


@blp.route("/<code>/devices")
class ParticipantDevices(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, DeviceSchema(many=True))
    @_document()
    def get(self, slug: str, code: str) -> list[Device]:
        """The participant's phones and those of their caregivers, revoked ones included."""
        _user, participant = _participant(slug, code, Permission.VIEW_PARTICIPANTS)
        return participants.devices_of_participant(db.session(), participant)


@blp.route("/<code>/devices/<int:device_id>/revoke")
class DeviceRevoke(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.arguments(ReasonSchema)
    @blp.response(200, DeviceSchema)
    @_document((422, "Reason too long"))
    def post(self, payload: dict[str, Any], slug: str, code: str, device_id: int) -> Device:
        """Revoke a phone at once (lost, replaced, or the family asked). Idempotent."""
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        device = next(
            (
                d
                for d in participants.devices_of_participant(db.session(), participant)
                if d.id == device_id
            ),
            None,
        )
        if device is None:
            raise NotFound("No such device for this participant.")
        participants.revoke_device(
            db.session(), device, actor=_actor(user), reason=payload["reason"]
        )
        db.session.commit()
        return device


@blp.route("/<code>/caregivers")
class ParticipantCaregivers(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [staff_required]

    @blp.response(200, CaregiverLinkSchema(many=True))
    @_document()
    def get(self, slug: str, code: str) -> list[CaregiverLink]:
        _user, participant = _participant(slug, code, Permission.VIEW_PARTICIPANTS)
        return participants.caregivers_of(db.session(), participant)

    @blp.arguments(CaregiverCreateSchema)
    @blp.response(201, CaregiverLinkSchema)
    @_document((409, "The participant has withdrawn"), (422, "A field is missing or not valid"))
    def post(self, payload: dict[str, Any], slug: str, code: str) -> CaregiverLink:
        """Add a new caregiver and link them to this participant."""
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        caregiver = participants.add_caregiver(
            db.session(),
            language=payload["language"],
            time_zone=payload["time_zone"],
            display_name=payload["display_name"],
            actor=_actor(user),
        )
        link = participants.link_caregiver(
            db.session(), caregiver, participant, payload["caregiver_role"], _actor(user)
        )
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
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        caregiver = db.session.get(Caregiver, caregiver_id)
        if caregiver is None:
            raise NotFound("No such caregiver among the participants you manage.")
        # The service refuses a caregiver none of whose children the user manages (404 alike).
        link = participants.link_caregiver(
            db.session(), caregiver, participant, payload["caregiver_role"], _actor(user)
        )
        db.session.commit()
        return link

    @blp.response(204)
    @_document()
    def delete(self, slug: str, code: str, caregiver_id: int) -> Response:
        """End the link: the caregiver's phones stop offering this participant at once."""
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        link = _linked_caregiver(participant, caregiver_id)
        participants.unlink_caregiver(
            db.session(), link.caregiver, participant, reason=None, actor=_actor(user)
        )
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
        user, participant = _participant(slug, code, Permission.MANAGE_PARTICIPANTS)
        link = _linked_caregiver(participant, caregiver_id)
        return _issue(link.caregiver, payload["valid_for_days"], user)
