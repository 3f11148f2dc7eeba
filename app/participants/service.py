"""Enrol participants, link caregivers, invite them onto a phone, and know who a device may
answer for. Plain functions over a SQLAlchemy session: no Flask; callers commit.

Secrets handed out here (invitation links and codes, device tokens) are returned once and
stored only as hashes. See `create_invitation` and `redeem` for the design.

Who may reach whom (issue #10). A caregiver is one person shared by every site and study of
the children they care for, so a staff action on a caregiver can touch children the actor may
not see. The rule, enforced here and in `app.reminders.timetables` rather than in views: no
staff action creates, changes or ends access to a participant the acting staff member may not
manage (MANAGE_PARTICIPANTS at the participant's site, `app.access`).

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

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
import unicodedata
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from app import access, crypto
from app.access import Permission
from app.accounts import throttle
from app.audit import service as audit
from app.db import insert_unique, utcnow
from app.errors import (
    ChorusError,
    Conflict,
    ErrorCode,
    Forbidden,
    Invalid,
    NotFound,
    TooManyAttempts,
)
from app.library.models import InstrumentVersion
from app.library.service import instrument_of
from app.participants.models import (
    AgeBand,
    Caregiver,
    CaregiverLink,
    Device,
    Invitation,
    Participant,
    ParticipantStatus,
    StudyInstrument,
)
from app.studies.models import Membership, Site, Study

# ── Validation ────────────────────────────────────────────────────────────────────────────

_PARTICIPANT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
# BCP 47, the shapes studies use: "fr", "en-GB", "es-419", "zh-Hant".
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-([A-Za-z]{4}|[A-Z]{2}|[0-9]{3}))?$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
CAREGIVER_ROLES = ("parent", "other_caregiver")
RESPONDENTS = ("self", "proxy", "both")


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # Not zones but files some systems keep beside them, meaning whatever the server is set to.
    return frozenset(zoneinfo.available_timezones() - {"localtime", "posixrules", "Factory"})


def check_time_zone(value: str) -> str:
    # A known list rather than ZoneInfo(value), which also opens any file under the zoneinfo
    # folder (e.g. "localtime", the server's own zone).
    if value not in _known_zones():
        raise Invalid(
            errors={
                "time_zone": [
                    f"Unknown time zone {value!r}. Use an IANA name, e.g. 'Europe/Paris'."
                ]
            }
        )
    return value


def check_language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise Invalid(
            errors={"language": [f"Unknown language code {value!r}. Use e.g. 'fr' or 'en-GB'."]}
        )
    return value


def _check_optional(field: str, value: str | None, max_length: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > max_length or any(unicodedata.category(c).startswith("C") for c in value):
        raise Invalid(
            errors={field: [f"Use at most {max_length} characters, with no control characters."]}
        )
    return value


def age_band_on(date_of_birth: dt.date, today: dt.date) -> AgeBand:
    if date_of_birth > today:
        raise Invalid(errors={"date_of_birth": ["The date of birth is in the future."]})
    years = (
        today.year
        - date_of_birth.year
        - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))
    )
    if years < 12:
        return AgeBand.CHILD
    if years < 18:
        return AgeBand.ADOLESCENT
    return AgeBand.ADULT


# ── Enrolment ─────────────────────────────────────────────────────────────────────────────


def enroll(
    session: Session,
    study: Study,
    site: Site,
    *,
    code: str,
    time_zone: str,
    language: str,
    date_of_birth: dt.date | None = None,
    age_band: AgeBand | str | None = None,
    arm: str | None = None,
    nickname: str | None = None,
    colour: str | None = None,
    actor: str,
    today: dt.date | None = None,
) -> Participant:
    """Enrol one participant. A date of birth only chooses the age band and is not stored."""
    errors: dict[str, list[str]] = {}
    if site.study_id != study.id:
        errors["site"] = [f"Site '{site.code}' is not part of study '{study.slug}'."]
    if not _PARTICIPANT_CODE.match(code):
        errors["code"] = ["Use up to 32 letters, digits, '-' or '_', e.g. 'LYON-0042'."]
    for check, value in ((check_time_zone, time_zone), (check_language, language)):
        try:
            check(value)
        except Invalid as error:
            errors.update(error.errors)
    band: AgeBand | None = None
    if date_of_birth is None and age_band is None:
        # Say what is missing (#11): the old "either ..., not both" read as if both were given.
        errors["age_band"] = [
            "Missing: give the participant's age band (child, adolescent or adult) "
            "or their date of birth."
        ]
    elif date_of_birth is not None and age_band is not None:
        errors["age_band"] = ["Give either a date of birth or an age band, not both."]
    elif date_of_birth is not None:
        try:
            band = age_band_on(date_of_birth, today or utcnow().date())
        except Invalid as error:
            errors.update(error.errors)
    else:
        try:
            band = AgeBand(str(age_band))
        except ValueError:
            errors["age_band"] = [f"Use one of: {', '.join(b.value for b in AgeBand)}."]
    if colour is not None and colour != "" and not _COLOUR.match(colour):
        errors["colour"] = ["Use a colour like '#1f77b4'."]
    try:
        arm = _check_optional("arm", arm, 64)
        nickname = _check_optional("nickname", nickname, 40)
    except Invalid as error:
        errors.update(error.errors)
    if errors:
        raise Invalid(errors=errors)
    assert band is not None
    participant = Participant(
        study_id=study.id,
        site_id=site.id,
        code=code,
        time_zone=time_zone,
        language=language,
        age_band=band.value,
        arm=arm,
        nickname=nickname,
        colour=colour.lower() if colour else None,
    )
    if not insert_unique(session, participant):
        raise Conflict(f"Study '{study.slug}' already has a participant with code '{code}'.")
    audit.record(
        session,
        actor=actor,
        action="participant.enrolled",
        target=f"participant:{participant.id}",
        details={"study_id": study.id, "site_id": site.id, "age_band": band.value},
    )
    return participant


def _require_not_withdrawn(participant: Participant) -> None:
    if participant.status == ParticipantStatus.WITHDRAWN:
        raise Conflict(f"Participant '{participant.code}' has withdrawn from the study.")


def pause(
    session: Session,
    participant: Participant,
    until: dt.date | None,
    reason: str | None,
    actor: str,
    *,
    today: dt.date | None = None,
) -> Participant:
    """Pause reminders ("in hospital until the 14th"); `until` None means until resumed."""
    _require_not_withdrawn(participant)
    if until is not None and until < (today or utcnow().date()):
        raise Invalid(errors={"until": ["The pause must end today or later."]})
    participant.status = ParticipantStatus.PAUSED.value
    participant.paused_until = until
    audit.record(
        session,
        actor=actor,
        action="participant.paused",
        target=f"participant:{participant.id}",
        reason=_check_optional("reason", reason, 500),
        details={"until": until.isoformat() if until else None},
    )
    session.flush()
    return participant


def resume(session: Session, participant: Participant, actor: str) -> Participant:
    _require_not_withdrawn(participant)
    participant.status = ParticipantStatus.ACTIVE.value
    participant.paused_until = None
    audit.record(
        session, actor=actor, action="participant.resumed", target=f"participant:{participant.id}"
    )
    session.flush()
    return participant


def is_paused(participant: Participant, today: dt.date) -> bool:
    """Paused today? A pause with an end date lifts by itself after that date."""
    if participant.status != ParticipantStatus.PAUSED:
        return False
    return participant.paused_until is None or today <= participant.paused_until


def withdraw(
    session: Session,
    participant: Participant,
    *,
    reason: str | None,
    actor: str,
    now: dt.datetime | None = None,
) -> Participant:
    """Withdraw: the participant's devices and open invitations stop working at once; their
    data is kept. Caregiver links stay as a record of who answered, but a withdrawn
    participant is no longer offered to any caregiver's device."""
    _require_not_withdrawn(participant)
    now = now or utcnow()
    participant.status = ParticipantStatus.WITHDRAWN.value
    participant.withdrawn_at = now
    participant.paused_until = None
    session.execute(
        update(Device)
        .where(Device.participant_id == participant.id, Device.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(Invitation)
        .where(
            Invitation.participant_id == participant.id,
            Invitation.redeemed_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    audit.record(
        session,
        actor=actor,
        action="participant.withdrawn",
        target=f"participant:{participant.id}",
        reason=_check_optional("reason", reason, 500),
    )
    _replan(session, participant, now)
    return participant


def _replan(session: Session, participant: Participant, now: dt.datetime) -> None:
    """Re-plan the participant's reminders at once after a change of who receives them, so a
    withdrawn child's caregivers get no more reminders and a newly linked caregiver gets them
    without waiting for the scheduler's next horizon run."""
    # Imported here: the planner builds on this module (people, age bands, instruments).
    from app.reminders import planner

    session.flush()
    planner.replan_person(session, participant=participant, now=now)


# ── Reach of staff actors (see the module docstring) ──────────────────────────────────────

_STAFF_ACTOR = re.compile(r"^staff:([0-9]+)$")


def _staff_memberships(session: Session, actor: str) -> list[Membership] | None:
    """The memberships of a staff actor ("staff:12"), or None for actors staff scope does not
    apply to (an operator's "cli", "demo", a device holder acting for themselves)."""
    match = _STAFF_ACTOR.match(actor)
    if match is None:
        return None
    return list(session.scalars(select(Membership).where(Membership.user_id == int(match[1]))))


def may_manage(session: Session, actor: str, participant: Participant) -> bool:
    memberships = _staff_memberships(session, actor)
    return memberships is None or access.can(
        memberships, Permission.MANAGE_PARTICIPANTS, participant.study_id, participant.site_id
    )


def require_may_manage(session: Session, actor: str, participant: Participant) -> None:
    if not may_manage(session, actor, participant):
        # Alike for "not there" and "not yours": codes of other sites cannot be probed.
        raise NotFound("No such participant.")


def participant_for_staff(
    session: Session,
    memberships: Sequence[access.MembershipLike],
    study: Study,
    code: str,
    permission: Permission,
) -> Participant:
    """The participant `code` of `study` for a staff member. Another site's participant gets
    the same 404 as an unknown code, so codes of other sites cannot be listed by probing; a
    visible participant the role may not act on is a 403."""
    participant = session.scalar(
        select(Participant).where(Participant.study_id == study.id, Participant.code == code)
    )
    if participant is None or not access.can(
        memberships, Permission.VIEW_PARTICIPANTS, study.id, participant.site_id
    ):
        raise NotFound(f"Study '{study.slug}' has no participant '{code}'.")
    access.require(memberships, permission, study.id, participant.site_id)
    return participant


def linked_children(session: Session, caregiver: Caregiver) -> list[Participant]:
    """Children the caregiver is linked to now and who have not withdrawn."""
    return [link.participant for link in active_links(session, caregiver)]


def unmanaged_children(session: Session, actor: str, caregiver: Caregiver) -> list[Participant]:
    """The caregiver's current children `actor` may not manage (empty for non-staff actors)."""
    return [p for p in linked_children(session, caregiver) if not may_manage(session, actor, p)]


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


def _narrow_reach(
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
        display_name = _check_optional("display_name", display_name, 80)
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
    _require_not_withdrawn(participant)
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
    _replan(session, participant, utcnow())
    return link


def _require_reachable_caregiver(session: Session, actor: str, caregiver: Caregiver) -> None:
    """Staff may link an existing caregiver only through a child they manage who is or was
    linked to them; a caregiver with no link yet is one just added by this same action."""
    if _staff_memberships(session, actor) is None:
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
        reason=_check_optional("reason", reason, 500),
        details={"participant_id": participant.id},
    )
    _replan(session, participant, utcnow())


def active_links(session: Session, caregiver: Caregiver) -> list[CaregiverLink]:
    return list(
        session.scalars(
            select(CaregiverLink)
            .join(Participant, Participant.id == CaregiverLink.participant_id)
            .where(
                CaregiverLink.caregiver_id == caregiver.id,
                CaregiverLink.ended_at.is_(None),
                Participant.status != ParticipantStatus.WITHDRAWN.value,
            )
            .order_by(CaregiverLink.id)
        )
    )


def caregivers_of(session: Session, participant: Participant) -> list[CaregiverLink]:
    return list(
        session.scalars(
            select(CaregiverLink)
            .where(CaregiverLink.participant_id == participant.id, CaregiverLink.ended_at.is_(None))
            .order_by(CaregiverLink.id)
        )
    )


# ── Invitations ───────────────────────────────────────────────────────────────────────────
#
# An invitation carries two secrets, either of which redeems it once:
#   * a link token: 256 random bits (crypto.new_token), placed in the URL *fragment*
#     ({base_url}/app/#join=<token>) so it never reaches server logs or Referer headers, and
#     stored as SHA-256 (crypto.hash_token; enough for a high-entropy secret);
#   * a short code to type: 10 Crockford base32 characters (50 bits), shown as ABCD-EFGH-JK.
#     50 bits hashed with plain SHA-256 could be enumerated offline from a stolen database,
#     so it is stored as HMAC-SHA256 keyed by a server pepper (the app's SECRET_KEY) that is
#     not in the database. Online guessing is bounded by the per-address throttle in `redeem`
#     and by expiry. Changing SECRET_KEY voids outstanding codes (links keep working).

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 10
_CODE_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
DEFAULT_INVITATION_DAYS = 14
MAX_INVITATION_DAYS = 60


@dataclass(frozen=True)
class IssuedInvitation:
    """What to hand to the person, once. Only hashes of `link`'s token and `code` are kept."""

    link: str
    code: str
    expires_at: dt.datetime
    invitation_id: int


def new_invitation_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_code(typed: str) -> str | None:
    """The canonical 10 characters of a typed code, or None if it cannot be one. Spaces,
    dashes and case do not matter; O reads as 0 and I/L as 1, as Crockford specifies."""
    cleaned = re.sub(r"[\s\-]", "", typed).upper().translate(_CODE_READS_AS)
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def hash_invitation_code(code: str, pepper: str) -> str:
    canonical = normalize_code(code)
    if canonical is None:
        raise ValueError("not an invitation code")
    return hmac.new(
        pepper.encode("utf-8"), b"chorus/invitation-code/v1:" + canonical.encode(), hashlib.sha256
    ).hexdigest()


def invitation_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/app/#join={token}"


def create_invitation(
    session: Session,
    invitee: Participant | Caregiver,
    *,
    valid_for: dt.timedelta,
    pepper: str,
    base_url: str,
    actor: str,
    now: dt.datetime | None = None,
) -> IssuedInvitation:
    """Issue a new invitation; any earlier unused one for the same person stops working, so
    only the latest printout or message is live.

    A caregiver's invitation reaches the linked children the issuer manages (its `reach`);
    an earlier unused invitation stops working for those children only (module docstring)."""
    if not dt.timedelta(minutes=5) <= valid_for <= dt.timedelta(days=MAX_INVITATION_DAYS):
        raise Invalid(
            errors={
                "valid_for_days": [
                    f"An invitation lasts between 5 minutes and {MAX_INVITATION_DAYS} days."
                ]
            }
        )
    if len(pepper) < 32:
        raise ValueError("the invitation-code pepper must be the app's SECRET_KEY (32+ characters)")
    now = now or utcnow()
    reach: list[int] | None = None
    if isinstance(invitee, Participant):
        is_participant = True
        require_may_manage(session, actor, invitee)
        _require_not_withdrawn(invitee)
        session.execute(
            update(Invitation)
            .where(
                Invitation.participant_id == invitee.id,
                Invitation.redeemed_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    else:
        is_participant = False
        reach = _caregiver_invitation_reach(session, invitee, actor)
        _supersede_caregiver_invitations(session, invitee, actor, now)
    # A collision of 50-bit codes is vanishingly rare; the unique index decides, and we draw again.
    for _attempt in range(5):
        token, code = crypto.new_token(), new_invitation_code()
        invitation = Invitation(
            participant_id=invitee.id if is_participant else None,
            caregiver_id=None if is_participant else invitee.id,
            token_hash=crypto.hash_token(token),
            code_hash=hash_invitation_code(code, pepper),
            created_at=now,
            expires_at=now + valid_for,
            created_by=actor,
            reach=reach,
        )
        if insert_unique(session, invitation):
            break
    else:  # pragma: no cover - needs five 50-bit collisions in a row
        raise RuntimeError("could not draw a unique invitation code")
    audit.record(
        session,
        actor=actor,
        action="invitation.created",
        target=f"invitation:{invitation.id}",
        details={
            ("participant_id" if is_participant else "caregiver_id"): invitee.id,
            "expires_at": invitation.expires_at.isoformat(),
            **({} if reach is None else {"reach": reach}),
        },
    )
    return IssuedInvitation(
        link=invitation_link(base_url, token),
        code=code,
        expires_at=invitation.expires_at,
        invitation_id=invitation.id,
    )


def _caregiver_invitation_reach(session: Session, caregiver: Caregiver, actor: str) -> list[int]:
    reach = [p.id for p in linked_children(session, caregiver) if may_manage(session, actor, p)]
    if not reach and _staff_memberships(session, actor) is not None:
        raise NotFound("No such caregiver among the participants you manage.")
    return reach


def _supersede_caregiver_invitations(
    session: Session, caregiver: Caregiver, actor: str, now: dt.datetime
) -> None:
    """Earlier unused invitations stop working for the children `actor` manages; one that
    still reaches children of other sites keeps working for them alone."""
    earlier = session.scalars(
        select(Invitation).where(
            Invitation.caregiver_id == caregiver.id,
            Invitation.redeemed_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    )
    for invitation in earlier:
        _ended, kept = _narrow_reach(session, invitation, actor)
        if kept:
            invitation.reach = kept
        else:
            invitation.revoked_at = now
    session.flush()


def outstanding_invitation_by_token(
    session: Session, token: str, now: dt.datetime
) -> Invitation | None:
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == crypto.hash_token(token))
    )
    if invitation is None or not _usable(invitation, now):
        return None
    return invitation


def token_from_link(link: str) -> str | None:
    _, sep, fragment = link.partition("#join=")
    return fragment if sep and fragment else None


def _usable(invitation: Invitation, now: dt.datetime) -> bool:
    return (
        invitation.redeemed_at is None
        and invitation.revoked_at is None
        and invitation.expires_at > now
    )


@dataclass(frozen=True)
class RedeemThrottle:
    """Failed redemptions per client address before a lockout, within `window`."""

    max_failures: int = 10
    window: dt.timedelta = dt.timedelta(minutes=15)


class InvitationRefused(ChorusError):
    """One answer for unknown, mistyped, expired, revoked and used invitations alike, so a
    guesser learns nothing about which codes exist. The failure has been counted: the caller
    commits before reporting."""

    code = ErrorCode.INVALID_CREDENTIALS

    def __init__(self) -> None:
        super().__init__(
            "This invitation link or code does not work. It may be mistyped, expired or already "
            "used. Ask your study team for a new one."
        )


def redeem(
    session: Session,
    *,
    token: str | None = None,
    code: str | None = None,
    device_label: str | None,
    client_ip: str,
    pepper: str,
    now: dt.datetime,
    policy: RedeemThrottle = RedeemThrottle(),  # noqa: B008 - frozen, immutable default
) -> tuple[Device, str]:
    """Exchange an invitation (link token or typed code) for a device credential, once.

    Returns the new device and its bearer token (shown once, stored as a hash). Raises
    TooManyAttempts while the client address is locked out, InvitationRefused otherwise.
    """
    if (token is None) == (code is None):
        raise Invalid(errors={"code": ["Give the invitation code or the link token, not both."]})
    label = _check_optional("device_label", device_label, 80) or "phone"
    ip_key = throttle.throttle_key("invite-ip", client_ip)
    locked_for = throttle.seconds_locked(session, [ip_key], now)
    if locked_for:
        raise _too_many(locked_for)

    invitation: Invitation | None = None
    if token is not None:
        invitation = session.scalar(
            select(Invitation).where(Invitation.token_hash == crypto.hash_token(token))
        )
    else:
        assert code is not None
        if normalize_code(code) is None:
            raise Invalid(
                errors={
                    "code": ["An invitation code has 10 letters and digits, like ABCD-EFGH-JK."]
                }
            )
        invitation = session.scalar(
            select(Invitation).where(Invitation.code_hash == hash_invitation_code(code, pepper))
        )

    claimed = False
    if invitation is not None and _usable(invitation, now):
        # The conditional UPDATE is the single-use guarantee: of two concurrent redeems only one
        # sees redeemed_at still NULL (PostgreSQL re-checks the WHERE after the row lock; SQLite
        # serialises writers with BEGIN IMMEDIATE).
        result = session.execute(
            update(Invitation)
            .where(
                Invitation.id == invitation.id,
                Invitation.redeemed_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .values(redeemed_at=now)
            .execution_options(synchronize_session=False)
        )
        claimed = result.rowcount == 1  # type: ignore[attr-defined]
    if not claimed or invitation is None or not _holder_may_sign_in(session, invitation):
        throttle.record_failure(
            session, ip_key, limit=policy.max_failures, window=policy.window, now=now
        )
        raise InvitationRefused()

    device_token = crypto.new_token()
    device = Device(
        participant_id=invitation.participant_id,
        caregiver_id=invitation.caregiver_id,
        reach=invitation.reach,
        token_hash=crypto.hash_token(device_token),
        label=label,
        created_at=now,
        last_seen_at=now,
    )
    session.add(device)
    session.flush()
    audit.record(
        session,
        actor=_holder_actor(device),
        action="invitation.redeemed",
        target=f"device:{device.id}",
        details={"invitation_id": invitation.id},
        now=now,
    )
    return device, device_token


def _holder_may_sign_in(session: Session, invitation: Invitation) -> bool:
    if invitation.participant_id is None:
        return True
    participant = session.get(Participant, invitation.participant_id)
    return participant is not None and participant.status != ParticipantStatus.WITHDRAWN


def _too_many(seconds: int) -> TooManyAttempts:
    # seconds_locked rounds up by a second; do not let that turn 15 minutes into 16.
    minutes = max(1, -(-(seconds - 1) // 60))
    return TooManyAttempts(
        seconds,
        f"Too many invitation attempts from this network. Try again in {minutes} "
        f"minute{'s' if minutes > 1 else ''}.",
    )


# ── Devices ───────────────────────────────────────────────────────────────────────────────

LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)


def _holder_actor(device: Device) -> str:
    if device.participant_id is not None:
        return f"participant:{device.participant_id}"
    return f"caregiver:{device.caregiver_id}"


@lru_cache(maxsize=1)
def _device_by_token() -> Select[Device]:
    """Built once: on every device request, building the statement cost more CPU than the
    database spent running it."""
    return (
        select(Device)
        .where(Device.token_hash == bindparam("token_hash"), Device.revoked_at.is_(None))
        # Every device request reads the participant next: one round trip, not two.
        .options(joinedload(Device.participant))
    )


def authenticate_device(session: Session, token: str, now: dt.datetime) -> Device | None:
    """The live device holding `token`, or None (unknown, revoked, or participant withdrawn).
    last_seen_at is touched at most once a minute, so reads do not write on every request."""
    if not token:
        return None
    device = session.scalar(_device_by_token(), {"token_hash": crypto.hash_token(token)})
    if device is None:
        return None
    if device.participant is not None and device.participant.status == ParticipantStatus.WITHDRAWN:
        return None
    if now - device.last_seen_at >= LAST_SEEN_RESOLUTION:
        device.last_seen_at = now
        session.flush()
    return device


def revoke_device(
    session: Session,
    device: Device,
    *,
    actor: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> Device:
    """Revoke at once (the next request with its token is refused). Revoking twice is a no-op.

    A staff member revoking a caregiver's phone that also answers for children they do not
    manage ends its access to their own children only: the phone is narrowed to the others
    (audited as device.narrowed) and revoked outright once it reaches nobody else."""
    if device.revoked_at is not None:
        return device
    if device.participant is not None:
        require_may_manage(session, actor, device.participant)
    if device.caregiver_id is not None:
        ended, kept = _narrow_reach(session, device, actor)
        if kept:
            device.reach = kept
            audit.record(
                session,
                actor=actor,
                action="device.narrowed",
                target=f"device:{device.id}",
                reason=_check_optional("reason", reason, 500),
                details={"ended_for": ended},
            )
            session.flush()
            return device
    device.revoked_at = now or utcnow()
    audit.record(
        session,
        actor=actor,
        action="device.revoked",
        target=f"device:{device.id}",
        reason=_check_optional("reason", reason, 500),
        details={"by_holder": actor == _holder_actor(device)},
    )
    session.flush()
    return device


def revoke_by_holder(session: Session, device: Device, now: dt.datetime | None = None) -> Device:
    return revoke_device(session, device, actor=_holder_actor(device), reason="signed out", now=now)


def devices_of_participant(session: Session, participant: Participant) -> list[Device]:
    """The participant's own devices and those of caregivers linked to them (now or before)."""
    caregiver_ids = select(CaregiverLink.caregiver_id).where(
        CaregiverLink.participant_id == participant.id
    )
    return list(
        session.scalars(
            select(Device)
            .where(
                (Device.participant_id == participant.id) | Device.caregiver_id.in_(caregiver_ids)
            )
            .order_by(Device.id)
        )
    )


# ── Who a device answers for ──────────────────────────────────────────────────────────────


class Respondent(enum.StrEnum):
    SELF = "self"
    PROXY = "proxy"


@dataclass(frozen=True)
class Person:
    """Someone a device may answer for, and how."""

    participant: Participant
    respondent: Respondent
    caregiver_role: str | None  # "parent" / "other_caregiver" for proxies

    @property
    def answered_by(self) -> str:
        """The respondent_type a response records: self, parent or other_caregiver."""
        return self.caregiver_role or "self"


def people_for_device(session: Session, device: Device) -> list[Person]:
    if device.participant_id is not None:
        participant = device.participant
        if participant is None or participant.status == ParticipantStatus.WITHDRAWN:
            return []
        return [Person(participant, Respondent.SELF, None)]
    caregiver = device.caregiver
    assert caregiver is not None
    # reach None: a caregiver phone from before reach was recorded, which answers for every
    # linked child (migration 0005 records the reach of those that existed then).
    reach = None if device.reach is None else {int(i) for i in device.reach}
    return [
        Person(link.participant, Respondent.PROXY, link.caregiver_role)
        for link in active_links(session, caregiver)
        if reach is None or link.participant_id in reach
    ]


def person_for_device(session: Session, device: Device, participant_id: int) -> Person:
    """The person `participant_id` as this device may answer for them, or Forbidden."""
    for person in people_for_device(session, device):
        if person.participant.id == participant_id:
            return person
    raise Forbidden("This device may not answer for that participant.")


def holder_language(device: Device) -> str:
    """Whoever holds the phone reads the questions: a caregiver reads in their own language."""
    holder = device.participant if device.participant_id is not None else device.caregiver
    assert holder is not None
    return str(holder.language)


# ── Instruments assigned to a study ───────────────────────────────────────────────────────

_BAND_RESPONDENTS: dict[str, frozenset[Respondent]] = {
    AgeBand.CHILD: frozenset({Respondent.PROXY}),
    AgeBand.ADOLESCENT: frozenset({Respondent.SELF, Respondent.PROXY}),
    AgeBand.ADULT: frozenset({Respondent.SELF}),
}


def assign_instrument(
    session: Session,
    study: Study,
    instrument_version: InstrumentVersion,
    respondents: str,
    actor: str,
) -> StudyInstrument:
    if respondents not in RESPONDENTS:
        raise Invalid(errors={"respondents": [f"Use one of: {', '.join(RESPONDENTS)}."]})
    offered = instrument_of(instrument_version).respondents
    wanted = ("self", "proxy") if respondents == "both" else (respondents,)
    missing = [r for r in wanted if r not in offered]
    if missing:
        raise Invalid(
            errors={
                "respondents": [
                    f"{instrument_version.label} has no {'/'.join(missing)} wording "
                    f"(it is answered by: {', '.join(offered)})."
                ]
            }
        )
    row = StudyInstrument(
        study_id=study.id, instrument_version_id=instrument_version.id, respondents=respondents
    )
    if not insert_unique(session, row):
        raise Conflict(f"{instrument_version.label} is already assigned to '{study.slug}'.")
    audit.record(
        session,
        actor=actor,
        action="instrument.assigned",
        target=f"study:{study.id}",
        details={"instrument_version_id": instrument_version.id, "respondents": respondents},
    )
    return row


def available_instruments(
    session: Session, participant: Participant, respondent: Respondent | str
) -> list[StudyInstrument]:
    """Instruments this participant's study asks of `respondent` for someone of their age band:
    a child is answered for (proxy), an adult answers (self), an adolescent either way."""
    respondent = Respondent(respondent)
    if respondent not in _BAND_RESPONDENTS[AgeBand(participant.age_band)]:
        return []
    return list(
        session.scalars(
            select(StudyInstrument)
            .where(
                StudyInstrument.study_id == participant.study_id,
                StudyInstrument.respondents.in_((respondent.value, "both")),
            )
            .order_by(StudyInstrument.id)
        )
    )
