"""Invite people onto a phone (link + code + QR), redeem invitations, authenticate and revoke
devices. No Flask; callers commit.

Secrets handed out here (invitation links and codes, device tokens) are returned once and
stored only as hashes. See `create_invitation` and `redeem` for the design; reach (which
children a caregiver's phone answers for) is explained in `caregivers.py`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from app import crypto
from app.accounts import throttle
from app.audit import service as audit
from app.db import insert_unique, utcnow
from app.errors import ChorusError, ErrorCode, Invalid, NotFound, TooManyAttempts
from app.participants.caregivers import narrow_reach
from app.participants.models import (
    Caregiver,
    CaregiverLink,
    Device,
    Invitation,
    Participant,
    ParticipantStatus,
)
from app.participants.people import (
    check_optional,
    linked_children,
    may_manage,
    require_may_manage,
    require_not_withdrawn,
    staff_memberships,
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
        require_not_withdrawn(invitee)
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
    if not reach and staff_memberships(session, actor) is not None:
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
        _ended, kept = narrow_reach(session, invitation, actor)
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
    label = check_optional("device_label", device_label, 80) or "phone"
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
        ended, kept = narrow_reach(session, device, actor)
        if kept:
            device.reach = kept
            audit.record(
                session,
                actor=actor,
                action="device.narrowed",
                target=f"device:{device.id}",
                reason=check_optional("reason", reason, 500),
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
        reason=check_optional("reason", reason, 500),
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
