"""Caregivers: add, link to children, unlink; and the *reach* of their phones and invitations.
No Flask; callers commit.

Who may reach whom (issue #10). A caregiver is one person shared by every site and study of
the children they care for, so a staff action on a caregiver can touch children the actor may
not see. The rule, enforced here, in `invitations.py` and in `app.reminders.timetables`
rather than in views: no staff action creates, changes or ends access to a participant the
acting staff member may not manage (MANAGE_PARTICIPANTS at the participant's site,
`app.access`).

* A caregiver's invitation, and the device redeemed from it, carry a *reach*: the children
  the device may answer for, fixed when the invitation is issued to those linked children the
  issuer manages. A phone issued by the Lyon team never sees a Leeds child.
* Linking a caregiver to a child needs the child's site; linking an existing caregiver also
  needs one of the children they are already linked to (so ids cannot be probed). The linker
  may add the child to the reach of the caregiver's live phones and open invitations: the
  child is theirs to share.
* Revoking a caregiver's phone, or issuing a new invitation that supersedes an unused one,
  ends access only to the children the actor manages: the phone keeps the others (narrowed),
  and is revoked outright once it reaches nobody else.
* Changing a caregiver's timetable or pauses (`app.reminders.timetables`) changes every
  child's reminders, so staff may do it only when they manage every child the caregiver is
  linked to; otherwise the caregiver changes it on their phone.

Actors other than staff ("cli" for an operator on the server, "demo", the holder of a device
acting for themselves) are not scoped by staff memberships.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.db import insert_unique, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.participants.enrolment import replan_reminders
from app.participants.models import (
    Caregiver,
    CaregiverLink,
    Device,
    Invitation,
    Participant,
)
from app.participants.people import (
    CAREGIVER_ROLES,
    check_language,
    check_optional,
    check_time_zone,
    linked_children,
    may_manage,
    require_may_manage,
    require_not_withdrawn,
    staff_memberships,
)

# ── Reach ─────────────────────────────────────────────────────────────────────────────────


def _reach_ids(holder: Invitation | Device) -> list[int] | None:
    return None if holder.reach is None else [int(i) for i in holder.reach]


def _live_reach_holders(session: Session, caregiver: Caregiver) -> list[Invitation | Device]:
    devices = session.scalars(
        select(Device).where(Device.caregiver_id == caregiver.id, Device.revoked_at.is_(None))
    )
    invitations = session.scalars(
        select(Invitation).where(
            Invitation.caregiver_id == caregiver.id,
            Invitation.redeemed_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    )
    return [*devices, *invitations]


def _extend_reach(session: Session, caregiver: Caregiver, participant: Participant) -> None:
    """A newly linked child joins the reach of the caregiver's live phones and invitations."""
    for holder in _live_reach_holders(session, caregiver):
        ids = _reach_ids(holder)
        if ids is not None and participant.id not in ids:
            holder.reach = sorted({*ids, participant.id})


def narrow_reach(
    session: Session, holder: Invitation | Device, actor: str
) -> tuple[list[int], list[int]]:
    """Split what `holder` reaches into (ids the actor may end, ids it must keep): the kept
    ones are current children of the caregiver the actor may not manage."""
    assert holder.caregiver_id is not None
    caregiver = session.get(Caregiver, holder.caregiver_id)
    assert caregiver is not None
    ids = _reach_ids(holder)
    reached = [p for p in linked_children(session, caregiver) if ids is None or p.id in set(ids)]
    kept = [p.id for p in reached if not may_manage(session, actor, p)]
    ended = [p.id for p in reached if p.id not in kept]
    return ended, kept


# ── Caregivers ────────────────────────────────────────────────────────────────────────────


def add_caregiver(
    session: Session,
    *,
    language: str,
    time_zone: str,
    display_name: str | None = None,
    actor: str,
) -> Caregiver:
    errors: dict[str, list[str]] = {}
    for check, value in ((check_time_zone, time_zone), (check_language, language)):
        try:
            check(value)
        except Invalid as error:
            errors.update(error.errors)
    try:
        display_name = check_optional("display_name", display_name, 80)
    except Invalid as error:
        errors.update(error.errors)
    if errors:
        raise Invalid(errors=errors)
    caregiver = Caregiver(language=language, time_zone=time_zone, display_name=display_name)
    session.add(caregiver)
    session.flush()
    audit.record(session, actor=actor, action="caregiver.added", target=f"caregiver:{caregiver.id}")
    return caregiver


def link_caregiver(
    session: Session,
    caregiver: Caregiver,
    participant: Participant,
    caregiver_role: str,
    actor: str,
) -> CaregiverLink:
    """Link a caregiver to a child; one caregiver may be linked to several, across studies.
    Re-linking an ended link opens it again."""
    if caregiver_role not in CAREGIVER_ROLES:
        raise Invalid(errors={"caregiver_role": [f"Use one of: {', '.join(CAREGIVER_ROLES)}."]})
    require_may_manage(session, actor, participant)
    _require_reachable_caregiver(session, actor, caregiver)
    require_not_withdrawn(participant)
    existing = session.scalar(
        select(CaregiverLink).where(
            CaregiverLink.caregiver_id == caregiver.id,
            CaregiverLink.participant_id == participant.id,
        )
    )
    if existing is not None and existing.ended_at is None:
        raise Conflict("That caregiver is already linked to this participant.")
    if existing is not None:
        existing.ended_at = None
        existing.caregiver_role = caregiver_role
        link = existing
        session.flush()
    else:
        link = CaregiverLink(
            caregiver_id=caregiver.id, participant_id=participant.id, caregiver_role=caregiver_role
        )
        if not insert_unique(session, link):
            raise Conflict("That caregiver is already linked to this participant.")
    _extend_reach(session, caregiver, participant)
    audit.record(
        session,
        actor=actor,
        action="caregiver.linked",
        target=f"caregiver:{caregiver.id}",
        details={"participant_id": participant.id, "caregiver_role": caregiver_role},
    )
    replan_reminders(session, participant, utcnow())
    return link


def _require_reachable_caregiver(session: Session, actor: str, caregiver: Caregiver) -> None:
    """Staff may link an existing caregiver only through a child they manage who is or was
    linked to them; a caregiver with no link yet is one just added by this same action."""
    if staff_memberships(session, actor) is None:
        return
    linked = list(
        session.scalars(
            select(Participant)
            .join(CaregiverLink, CaregiverLink.participant_id == Participant.id)
            .where(CaregiverLink.caregiver_id == caregiver.id)
        )
    )
    if linked and not any(may_manage(session, actor, p) for p in linked):
        # One answer for "no such caregiver" and "not one of yours": ids cannot be probed.
        raise NotFound("No such caregiver among the participants you manage.")


def unlink_caregiver(
    session: Session,
    caregiver: Caregiver,
    participant: Participant,
    *,
    reason: str | None,
    actor: str,
) -> None:
    require_may_manage(session, actor, participant)
    link = session.scalar(
        select(CaregiverLink).where(
            CaregiverLink.caregiver_id == caregiver.id,
            CaregiverLink.participant_id == participant.id,
            CaregiverLink.ended_at.is_(None),
        )
    )
    if link is None:
        raise Conflict("That caregiver is not linked to this participant.")
    link.ended_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="caregiver.unlinked",
        target=f"caregiver:{caregiver.id}",
        reason=check_optional("reason", reason, 500),
        details={"participant_id": participant.id},
    )
    replan_reminders(session, participant, utcnow())
