"""Participants as site staff see and manage them in the workspace.

The list is one page of participants picked by an indexed query (search, filter, sort, limit),
then a fixed handful of batched queries for that page's devices, caregivers, next due, last
response and pauses: the cost follows the page size, not the study's size (no N+1). Every
list and every participant page is audited. The staff API (app/api/participants.py) calls
the same functions: the scoped lookup, the full list with pauses, the actions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.errors import Invalid, NotFound
from app.participants import service as participants
from app.participants.models import (
    Caregiver,
    CaregiverLink,
    Device,
    Invitation,
    Participant,
    ParticipantStatus,
)
from app.reminders import adherence, timetables
from app.reminders.models import Occurrence, TimetablePause
from app.responses.models import Alert, Response
from app.studies import service as studies
from app.studies.models import Site, Study
from app.workspace import common

PAGE_SIZE = 50
SORTS: dict[str, Any] = {
    "code": Participant.code,
    "site": Site.code,
    "status": Participant.status,
    "language": Participant.language,
    "enrolled": Participant.enrolled_at,
}


@dataclass(frozen=True)
class ListQuery:
    search: str = ""
    site: str = ""  # a site code, or "" for every site in scope
    status: str = ""
    sort: str = "code"
    descending: bool = False
    page: int = 1


@dataclass
class ParticipantRow:
    participant: Participant
    site_code: str
    devices: int = 0
    caregivers: int = 0
    next_due: dt.datetime | None = None
    last_response: dt.datetime | None = None
    pause: TimetablePause | None = None


@dataclass(frozen=True)
class ParticipantPage:
    rows: list[ParticipantRow]
    total: int
    query: ListQuery
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_participants(
    session: Session, user: StaffUser, study: Study, query: ListQuery, now: dt.datetime
) -> ParticipantPage:
    access.require_somewhere(user.memberships, Permission.VIEW_PARTICIPANTS, study.id)
    errors: dict[str, list[str]] = {}
    if query.sort not in SORTS:
        errors["sort"] = [f"Sort by one of: {', '.join(SORTS)}."]
    if query.status and query.status not in {s.value for s in ParticipantStatus}:
        errors["status"] = [f"Use one of: {', '.join(s.value for s in ParticipantStatus)}."]
    if query.page < 1:
        errors["page"] = ["Pages start at 1."]
    if errors:
        raise Invalid(errors=errors)
    conditions = [
        Participant.study_id == study.id,
        common.site_filter(user, study, Permission.VIEW_PARTICIPANTS, Participant.site_id),
    ]
    if query.site:
        site = studies.get_site_for(session, user, study, query.site, Permission.VIEW_PARTICIPANTS)
        conditions.append(Participant.site_id == site.id)
    if query.status:
        conditions.append(Participant.status == query.status)
    if query.search.strip():
        pattern = f"%{_like_escaped(query.search.strip().lower())}%"
        conditions.append(func.lower(Participant.code).like(pattern, escape="\\"))
    total = session.scalar(select(func.count(Participant.id)).where(*conditions)) or 0
    order = SORTS[query.sort]
    ordering: list[Any] = [
        order.desc() if query.descending else order.asc(),
        Participant.code.asc(),
    ]
    found = session.execute(
        select(Participant, Site.code)
        .join(Site, Site.id == Participant.site_id)
        .where(*conditions)
        .order_by(*ordering)
        .limit(PAGE_SIZE)
        .offset((query.page - 1) * PAGE_SIZE)
    ).all()
    rows = [ParticipantRow(p, site_code) for p, site_code in found]
    _fill_page(session, rows, now)
    audit.record(
        session,
        actor=common.actor(user),
        action="participants.listed",
        target=f"study:{study.id}",
        details={"count": len(rows), "page": query.page, "via": "workspace"},
    )
    return ParticipantPage(rows, total, query)


def _fill_page(session: Session, rows: list[ParticipantRow], now: dt.datetime) -> None:
    """Five grouped queries for the whole page, each by participant id (indexed)."""
    by_id = {row.participant.id: row for row in rows}
    ids = list(by_id)
    if not ids:
        return
    links = select(CaregiverLink.caregiver_id, CaregiverLink.participant_id).where(
        CaregiverLink.participant_id.in_(ids), CaregiverLink.ended_at.is_(None)
    )
    for participant_id, count in session.execute(
        select(CaregiverLink.participant_id, func.count(CaregiverLink.id))
        .where(CaregiverLink.participant_id.in_(ids), CaregiverLink.ended_at.is_(None))
        .group_by(CaregiverLink.participant_id)
    ):
        by_id[participant_id].caregivers = count
    for own_id, own_count in session.execute(
        select(Device.participant_id, func.count(Device.id))
        .where(Device.participant_id.in_(ids), Device.revoked_at.is_(None))
        .group_by(Device.participant_id)
    ):
        by_id[int(own_id or 0)].devices += own_count
    # A caregiver's phone answers for the child too: count it on each linked child.
    caregiver_links = links.subquery()
    for child_id, child_count in session.execute(
        select(caregiver_links.c.participant_id, func.count(Device.id))
        .join(Device, Device.caregiver_id == caregiver_links.c.caregiver_id)
        .where(Device.revoked_at.is_(None))
        .group_by(caregiver_links.c.participant_id)
    ):
        by_id[int(child_id)].devices += int(child_count)  # type: ignore[call-overload]
    for participant_id, next_due in session.execute(
        select(Occurrence.participant_id, func.min(Occurrence.opens_at))
        .where(
            Occurrence.participant_id.in_(ids),
            Occurrence.closes_at > now,
            Occurrence.completed_at.is_(None),
            Occurrence.cancelled_at.is_(None),
        )
        .group_by(Occurrence.participant_id)
    ):
        by_id[participant_id].next_due = next_due
    for participant_id, last in session.execute(
        select(Response.participant_id, func.max(Response.received_at))
        .where(Response.participant_id.in_(ids))
        .group_by(Response.participant_id)
    ):
        by_id[participant_id].last_response = last
    for participant_id, pause in timetables.active_pauses(session, ids, now).items():
        by_id[participant_id].pause = pause


def get_participant(
    session: Session, user: StaffUser, study: Study, code: str, permission: Permission
) -> Participant:
    """The participant `code` of `study` for a staff member: the one scoped lookup behind the
    API and the pages. Another site's participant gets the same 404 as an unknown code, so
    codes of other sites cannot be listed by probing (issue #10); a visible participant the
    role may not act on is a 403."""
    participant = session.scalar(
        select(Participant).where(Participant.study_id == study.id, Participant.code == code)
    )
    if participant is None or not access.can(
        user.memberships, Permission.VIEW_PARTICIPANTS, study.id, participant.site_id
    ):
        raise NotFound(f"Study '{study.slug}' has no participant '{code}'.")
    access.require(user.memberships, permission, study.id, participant.site_id)
    return participant


def linked_caregiver(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    caregiver_id: int,
    permission: Permission,
) -> CaregiverLink:
    """The live link between participant `code` and caregiver `caregiver_id`, reached through a
    participant `permission` covers (a caregiver has no site of their own)."""
    participant = get_participant(session, user, study, code, permission)
    for link in participants.caregivers_of(session, participant):
        if link.caregiver_id == caregiver_id:
            return link
    raise NotFound("No such caregiver linked to this participant.")


@dataclass(frozen=True)
class ListedParticipant:
    """A participant with the reminder pause covering today: staff see why a participant gets
    no reminders ("hospital stay until the 14th"). Reads through to the participant."""

    participant: Participant
    reminder_pause: TimetablePause | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.participant, name)


def participants_in_scope(
    session: Session, user: StaffUser, study: Study, site_code: str | None
) -> list[ListedParticipant]:
    """Every participant at the sites the user may see (or at `site_code`, one of them), by
    code, each with their own reminder pause covering today. The list is audited."""
    access.require_somewhere(user.memberships, Permission.VIEW_PARTICIPANTS, study.id)
    statement = select(Participant).where(Participant.study_id == study.id)
    if site_code:
        site = studies.get_site_for(session, user, study, site_code, Permission.VIEW_PARTICIPANTS)
        statement = statement.where(Participant.site_id == site.id)
    else:
        statement = statement.where(
            common.site_filter(user, study, Permission.VIEW_PARTICIPANTS, Participant.site_id)
        )
    rows = list(session.scalars(statement.order_by(Participant.code)))
    pauses = timetables.active_pauses(session, [row.id for row in rows])
    audit.record(
        session,
        actor=common.actor(user),
        action="participants.listed",
        target=f"study:{study.id}",
        details={"count": len(rows)},
    )
    return [ListedParticipant(row, pauses.get(row.id)) for row in rows]


def view_participant(session: Session, user: StaffUser, study: Study, code: str) -> Participant:
    """One participant as the API shows them; the view is audited."""
    participant = get_participant(session, user, study, code, Permission.VIEW_PARTICIPANTS)
    _audit_view(session, user, participant, "participant.viewed")
    return participant


def devices_of(session: Session, user: StaffUser, study: Study, code: str) -> list[Device]:
    """The participant's phones and those of their caregivers, revoked ones included; the view
    is audited."""
    participant = get_participant(session, user, study, code, Permission.VIEW_PARTICIPANTS)
    _audit_view(session, user, participant, "participant.devices_viewed")
    return participants.devices_of_participant(session, participant)


def caregivers_of(
    session: Session, user: StaffUser, study: Study, code: str
) -> list[CaregiverLink]:
    """The caregivers linked to the participant; the view is audited."""
    participant = get_participant(session, user, study, code, Permission.VIEW_PARTICIPANTS)
    _audit_view(session, user, participant, "participant.caregivers_viewed")
    return participants.caregivers_of(session, participant)


def _audit_view(session: Session, user: StaffUser, participant: Participant, action: str) -> None:
    audit.record(
        session, actor=common.actor(user), action=action, target=f"participant:{participant.id}"
    )


def check_invitation_link(
    session: Session, user: StaffUser, study: Study, code: str, link: str, now: dt.datetime
) -> None:
    """Refuses (422) a link that is not an unused invitation of this participant or of a
    caregiver linked to them: staff print QR codes only for their own participants' links."""
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    token = participants.token_from_link(link)
    invitation = (
        participants.outstanding_invitation_by_token(session, token, now) if token else None
    )
    caregiver_ids = {link.caregiver_id for link in participants.caregivers_of(session, participant)}
    if invitation is None or not (
        invitation.participant_id == participant.id or invitation.caregiver_id in caregiver_ids
    ):
        raise Invalid(errors={"link": ["Not an unused invitation link for this participant."]})


@dataclass(frozen=True)
class ResponseMeta:
    """What staff may see of a response: when, what, by whom. Never the answers (sealed)."""

    id: str
    instrument: str
    version: str
    respondent_type: str
    language: str
    finished_at: dt.datetime
    received_at: dt.datetime


@dataclass
class ParticipantDetail:
    participant: Participant
    site: Site
    occurrences: adherence.ParticipantOccurrences
    timetable: timetables.TimetableView
    devices: list[Device]
    caregivers: list[CaregiverLink]
    alerts: list[Alert]
    responses: list[ResponseMeta]
    invitations: list[Invitation]
    may_manage: bool
    weeks: list[tuple[dt.date, dict[str, int]]] = field(default_factory=list)


def participant_detail(
    session: Session, user: StaffUser, study: Study, code: str, now: dt.datetime
) -> ParticipantDetail:
    participant = get_participant(session, user, study, code, Permission.VIEW_PARTICIPANTS)
    occurrences = adherence.occurrences_of(session, participant, now)
    responses = [
        ResponseMeta(
            r.id,
            r.instrument_version.instrument_key,
            r.instrument_version.version,
            r.respondent_type,
            r.language,
            r.finished_at,
            r.received_at,
        )
        for r in session.scalars(
            select(Response)
            .where(Response.participant_id == participant.id)
            .options(selectinload(Response.instrument_version))
            .order_by(Response.received_at.desc())
            .limit(100)
        )
    ]
    alerts = list(
        session.scalars(
            select(Alert)
            .join(Response, Response.id == Alert.response_id)
            .where(Response.participant_id == participant.id)
            .order_by(Alert.raised_at.desc())
        )
    )
    invitations = list(
        session.scalars(
            select(Invitation)
            .where(Invitation.participant_id == participant.id)
            .order_by(Invitation.created_at.desc())
            .limit(10)
        )
    )
    weeks: dict[dt.date, dict[str, int]] = {}
    for view in occurrences.occurrences:
        monday = view.closes_at.date() - dt.timedelta(days=view.closes_at.weekday())
        weeks.setdefault(monday, {})
        weeks[monday][view.state.value] = weeks[monday].get(view.state.value, 0) + 1
    audit.record(
        session,
        actor=common.actor(user),
        action="participant.viewed",
        target=f"participant:{participant.id}",
        details={"via": "workspace"},
    )
    return ParticipantDetail(
        participant=participant,
        site=participant.site,
        occurrences=occurrences,
        timetable=timetables.get_timetable(session, participant, now=now),
        devices=participants.devices_of_participant(session, participant),
        caregivers=participants.caregivers_of(session, participant),
        alerts=alerts,
        responses=responses,
        invitations=invitations,
        may_manage=common.may(user, Permission.MANAGE_PARTICIPANTS, study, participant.site_id),
        weeks=sorted(weeks.items()),
    )


# ── Actions (the same domain services as the API) ─────────────────────────────────────────


def enrol(
    session: Session, user: StaffUser, study: Study, site_code: str, **fields: Any
) -> Participant:
    site = studies.get_site_for(session, user, study, site_code, Permission.MANAGE_PARTICIPANTS)
    return participants.enroll(session, study, site, actor=common.actor(user), **fields)


def invite(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    *,
    days: int,
    pepper: str,
    base_url: str,
) -> tuple[Participant, participants.IssuedInvitation]:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    issued = participants.create_invitation(
        session,
        participant,
        valid_for=dt.timedelta(days=days),
        pepper=pepper,
        base_url=base_url,
        actor=common.actor(user),
    )
    return participant, issued


def revoke_invitations(
    session: Session, user: StaffUser, study: Study, code: str, now: dt.datetime
) -> int:
    """Stop every unused invitation of the participant (a lost letter)."""
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    open_ones = list(
        session.scalars(
            select(Invitation).where(
                Invitation.participant_id == participant.id,
                Invitation.redeemed_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
        )
    )
    for invitation in open_ones:
        invitation.revoked_at = now
        audit.record(
            session,
            actor=common.actor(user),
            action="invitation.revoked",
            target=f"invitation:{invitation.id}",
            details={"participant_id": participant.id},
        )
    return len(open_ones)


def pause(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    until: dt.date | None,
    reason: str | None,
) -> Participant:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    return participants.pause(session, participant, until, reason, common.actor(user))


def resume(session: Session, user: StaffUser, study: Study, code: str) -> Participant:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    return participants.resume(session, participant, common.actor(user))


def withdraw(
    session: Session, user: StaffUser, study: Study, code: str, reason: str | None
) -> Participant:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    return participants.withdraw(session, participant, reason=reason, actor=common.actor(user))


def add_caregiver(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    *,
    display_name: str | None,
    language: str,
    time_zone: str,
    caregiver_role: str,
) -> CaregiverLink:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    if caregiver_role not in ("parent", "other_caregiver"):
        raise Invalid(errors={"caregiver_role": ["Choose parent or other caregiver."]})
    caregiver = participants.add_caregiver(
        session,
        language=language,
        time_zone=time_zone,
        display_name=display_name,
        actor=common.actor(user),
    )
    return participants.link_caregiver(
        session, caregiver, participant, caregiver_role, common.actor(user)
    )


def link_existing_caregiver(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    caregiver_id: int,
    caregiver_role: str,
) -> CaregiverLink:
    """Link a caregiver already known (a sibling's parent, possibly in another study); the
    domain service refuses one none of whose children the user manages (404 alike)."""
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    caregiver = session.get(Caregiver, caregiver_id)
    if caregiver is None:
        raise NotFound("No such caregiver among the participants you manage.")
    return participants.link_caregiver(
        session, caregiver, participant, caregiver_role, common.actor(user)
    )


def unlink_caregiver(
    session: Session, user: StaffUser, study: Study, code: str, caregiver_id: int
) -> None:
    link = linked_caregiver(
        session, user, study, code, caregiver_id, Permission.MANAGE_PARTICIPANTS
    )
    participants.unlink_caregiver(
        session, link.caregiver, link.participant, reason=None, actor=common.actor(user)
    )


def revoke_device(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    device_id: int,
    reason: str | None,
) -> Device:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    device = next(
        (d for d in participants.devices_of_participant(session, participant) if d.id == device_id),
        None,
    )
    if device is None:
        raise NotFound("No such device for this participant.")
    return participants.revoke_device(session, device, actor=common.actor(user), reason=reason)


def add_timetable_pause(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    *,
    starts_on: dt.date,
    ends_on: dt.date,
    reason: str,
) -> TimetablePause:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    return timetables.add_pause(
        session,
        participant,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason or None,
        actor=common.actor(user),
    )


def cancel_timetable_pause(
    session: Session, user: StaffUser, study: Study, code: str, pause_id: int
) -> TimetablePause:
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    return timetables.cancel_pause(session, participant, pause_id, actor=common.actor(user))


def invite_caregiver(
    session: Session,
    user: StaffUser,
    study: Study,
    code: str,
    caregiver_id: int,
    *,
    days: int,
    pepper: str,
    base_url: str,
) -> tuple[Participant, Caregiver, participants.IssuedInvitation]:
    """An invitation for a caregiver linked to this participant: one phone then answers for
    all their children."""
    link = linked_caregiver(
        session, user, study, code, caregiver_id, Permission.MANAGE_PARTICIPANTS
    )
    issued = participants.create_invitation(
        session,
        link.caregiver,
        valid_for=dt.timedelta(days=days),
        pepper=pepper,
        base_url=base_url,
        actor=common.actor(user),
    )
    return link.participant, link.caregiver, issued


def caregiver_of(
    session: Session, user: StaffUser, study: Study, code: str, caregiver_id: int
) -> tuple[Participant, Caregiver]:
    link = linked_caregiver(
        session, user, study, code, caregiver_id, Permission.MANAGE_PARTICIPANTS
    )
    return link.participant, link.caregiver


def set_quiet_hours(
    session: Session, user: StaffUser, study: Study, code: str, start: str, end: str
) -> timetables.TimetableView:
    """Staff set the participant's quiet hours (say, on the phone with the family); both empty
    means none. Audited by the timetable service."""
    participant = get_participant(session, user, study, code, Permission.MANAGE_PARTICIPANTS)
    spans = [{"start": start, "end": end}] if start or end else []
    return timetables.update_timetable(
        session, participant, quiet_hours=spans, actor=common.actor(user)
    )
