"""Deliver claimed outbox rows: re-check each is still wanted, send it, record the outcome.

Idempotency assumption (style.md #10): a row is acted on only while this worker holds its claim
(``app.reminders.outbox``), and everything is re-read from the database first, so a reminder
whose questionnaire was answered, closed or cancelled, whose participant paused or withdrew, or
whose caregiver link ended since it was planned is cancelled instead of sent; one that falls in
the recipient's quiet hours or outside their windows moves to their next allowed instant.

Three steps per row, so that no database transaction is open while we talk to the network (on
SQLite an open write transaction would block every web request for the length of a send):

1. :func:`prepare` (database, short): re-check and build a :class:`Plan` of plain values.
2. :func:`execute` (network only, in a small thread pool): push to every live subscription of
   the recipient's active devices; if none accepts and none asks to retry, the e-mail fallback.
3. :func:`record` (database, short): SENT / retry with backoff / FAILED, drop subscriptions the
   push service called gone (404/410), commit.

Duplicates: a crash between a push service accepting a message and step 3's commit makes the
row be claimed and sent again. The copy carries the same ``Topic`` (the push service replaces
an undelivered one) and the same ``tag`` (the outbox id: the phone replaces the notification
it shows); an e-mail carries the same ``Message-ID``. Nothing personal is ever logged: rows are
named by outbox id only.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ALL_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from app import access, scheduling
from app.access import Permission
from app.accounts.models import StaffUser
from app.db import utcnow
from app.delivery import messages
from app.delivery import webpush as wp
from app.delivery.email import (
    EmailDelivered,
    EmailRejected,
    EmailRetry,
    OutgoingEmail,
    SmtpSettings,
    send_email,
)
from app.delivery.vapid import VapidKeys
from app.participants import people as participants
from app.participants.models import (
    Caregiver,
    CaregiverLink,
    Device,
    Participant,
    ParticipantStatus,
)
from app.reminders import outbox
from app.reminders.models import (
    Occurrence,
    OutboxKind,
    OutboxMessage,
    PushSubscription,
    Timetable,
)
from app.reminders.stored_timetables import scheduling_timetable, timetable_from_row
from app.responses.models import Alert
from app.scheduling.localtime import local_to_utc
from app.scheduling.reminder_times import pause_reason
from app.studies.models import Site, Study

log = logging.getLogger("chorus.dispatch")

URGENCY: Final[wp.Urgency] = "normal"
# Seconds of lease a send must still have when it starts, on top of its own timeouts: a send
# that could outlive the claim might race the worker that re-claims the row.
LEASE_MARGIN: Final = 2.0
# Seconds of finished sends recorded together in one commit (see Dispatcher._batch).
RECORD_INTERVAL: Final = 0.25


@dataclass(frozen=True)
class DeliveryConfig:
    """What the dispatcher needs from settings. ``vapid`` None: Web Push is off (every
    reminder goes by e-mail if it can); ``smtp`` None: e-mail is off."""

    base_url: str
    vapid: VapidKeys | None
    smtp: SmtpSettings | None
    max_attempts: int = 8
    push_timeout: float = 10.0

    @property
    def app_link(self) -> str:
        return f"{self.base_url}/app/"

    @property
    def staff_link(self) -> str:
        return f"{self.base_url}/staff/"


# ── Plans and results (plain values: they cross into the sending threads) ──────────────────


@dataclass(frozen=True)
class PushTarget:
    subscription_id: int
    subscription: wp.PushSubscription


@dataclass(frozen=True)
class Plan:
    outbox_id: int
    channel: str  # as planned; the e-mail fallback records "email"
    targets: tuple[PushTarget, ...] = ()
    payload: Mapping[str, str] | None = None
    topic: str | None = None
    ttl: int = 0
    email: OutgoingEmail | None = None
    no_email: str = ""  # why there is no e-mail fallback, for last_error
    claimed_until: dt.datetime | None = None

    def budget(self, config: DeliveryConfig) -> float:
        """Worst-case seconds the sends of this plan can take."""
        seconds = config.push_timeout * len(self.targets)
        if self.email is not None and config.smtp is not None:
            seconds += config.smtp.timeout
        return seconds + LEASE_MARGIN


@dataclass
class Result:
    via: str | None = None  # "push" / "email": delivered
    delivered: list[int] = field(default_factory=list)  # subscription ids that accepted
    gone: list[int] = field(default_factory=list)  # subscription ids to delete
    retry: str | None = None
    retry_after: int | None = None
    error: str | None = None
    skipped: bool = False  # not started: shutting down, or too little lease left


# ── 1. Prepare ─────────────────────────────────────────────────────────────────────────────

PersonKey = tuple[str, int]  # ("p", participant id) or ("c", caregiver id)


def _key(person: Participant | Caregiver) -> PersonKey:
    return ("p" if isinstance(person, Participant) else "c", person.id)


@dataclass
class Preloaded:
    """What a batch of reminders needs, read in a few queries instead of several per row.

    Holding the objects here also keeps them in the session's (weak) identity map, so the
    ``session.get`` calls of :func:`prepare` are answered from memory."""

    keep: list[object] = field(default_factory=list)
    subscriptions: dict[PersonKey, list[PushSubscription]] = field(default_factory=dict)
    emails: dict[PersonKey, str | None] = field(default_factory=dict)
    timetables: dict[PersonKey, Timetable | None] = field(default_factory=dict)


def preload(session: Session, rows: list[OutboxMessage]) -> Preloaded:
    loaded = Preloaded()
    occurrence_ids = {r.occurrence_id for r in rows if r.occurrence_id is not None}
    if not occurrence_ids:
        return loaded
    occurrences = list(session.scalars(select(Occurrence).where(Occurrence.id.in_(occurrence_ids))))
    participant_ids = {o.participant_id for o in occurrences}
    participant_ids |= {r.participant_id for r in rows if r.participant_id is not None}
    caregiver_ids = {r.caregiver_id for r in rows if r.caregiver_id is not None}
    loaded.keep += occurrences
    loaded.keep += session.scalars(select(Participant).where(Participant.id.in_(participant_ids)))
    if caregiver_ids:
        loaded.keep += session.scalars(select(Caregiver).where(Caregiver.id.in_(caregiver_ids)))
    # One query per kind of person: "participant_id IN (...) OR caregiver_id IN (...)" (or an
    # empty IN list) makes SQLite scan the whole table instead of using either index.
    for kind, ids, owner_column, holder_column in (
        ("p", participant_ids, Timetable.participant_id, Device.participant_id),
        ("c", caregiver_ids, Timetable.caregiver_id, Device.caregiver_id),
    ):
        if not ids:
            continue
        for timetable in session.scalars(
            select(Timetable)
            .where(owner_column.in_(sorted(ids)))
            .options(selectinload(Timetable.pauses))
        ):
            loaded.keep.append(timetable)
            owner = timetable.participant_id if kind == "p" else timetable.caregiver_id
            loaded.emails[(kind, int(owner or 0))] = timetable.reminder_email
            loaded.timetables[(kind, int(owner or 0))] = timetable
        for sub, holder in session.execute(
            select(PushSubscription, holder_column)
            .join(Device, Device.id == PushSubscription.device_id)
            .where(holder_column.in_(sorted(ids)), Device.revoked_at.is_(None))
            .order_by(PushSubscription.id)
        ):
            loaded.subscriptions.setdefault((kind, int(holder or 0)), []).append(sub)
    for pid in participant_ids:
        loaded.subscriptions.setdefault(("p", pid), [])
        loaded.emails.setdefault(("p", pid), None)
        loaded.timetables.setdefault(("p", pid), None)
    for cid in caregiver_ids:
        loaded.subscriptions.setdefault(("c", cid), [])
        loaded.emails.setdefault(("c", cid), None)
        loaded.timetables.setdefault(("c", cid), None)
    return loaded


def prepare(
    session: Session,
    row: OutboxMessage,
    now: dt.datetime,
    config: DeliveryConfig,
    preloaded: Preloaded | None = None,
) -> tuple[str, Plan | None]:
    """Re-check a claimed row. Returns (outcome, plan): ``("send", plan)`` when it should go
    now; otherwise the row was settled here (``cancelled``, ``moved``, ``failed``) and the
    caller commits. ``preloaded`` (from :func:`preload`) saves queries, nothing else."""
    token = outbox.token_of(row)
    if token.attempts > config.max_attempts:
        # Claimed again and again without an outcome: a worker died on it each time.
        outbox.mark_failed(
            session, row, f"claimed {token.attempts - 1} times without an outcome", now
        )
        return "failed", None
    if row.kind == OutboxKind.ALERT.value:
        return _prepare_alert(session, row, now, config)
    return _prepare_reminder(session, row, now, config, preloaded)


def _cancelled(session: Session, row: OutboxMessage, why: str) -> tuple[str, None]:
    outbox.cancel(session, row, why)
    return "cancelled", None


def _failed(session: Session, row: OutboxMessage, why: str, now: dt.datetime) -> tuple[str, None]:
    outbox.mark_failed(session, row, why, now)
    return "failed", None


def _unwanted(occurrence: Occurrence, participant: Participant, now: dt.datetime) -> str | None:
    if occurrence.cancelled_at is not None:
        return "questionnaire cancelled"
    if occurrence.completed_at is not None:
        return "questionnaire answered"
    if now >= occurrence.closes_at:
        return "questionnaire closed"
    if participant.status == ParticipantStatus.WITHDRAWN.value:
        return "participant withdrawn"
    return None


def _recipient(
    session: Session, row: OutboxMessage, participant: Participant
) -> Participant | Caregiver | str:
    """The person the reminder goes to, or why there is none any more."""
    if row.caregiver_id is not None:
        link = session.scalar(
            select(CaregiverLink).where(
                CaregiverLink.caregiver_id == row.caregiver_id,
                CaregiverLink.participant_id == participant.id,
                CaregiverLink.ended_at.is_(None),
            )
        )
        caregiver = session.get(Caregiver, row.caregiver_id)
        if link is None or caregiver is None:
            return "caregiver no longer linked"
        return caregiver
    if row.participant_id != participant.id:
        return "recipient is not this questionnaire's participant"
    return participant


def _earliest_after_staff_pause(
    participant: Participant, now: dt.datetime
) -> dt.datetime | str | None:
    """A pause set by site staff (``Participant.status == paused``): None if not paused today,
    the instant it lifts (local midnight after ``paused_until``), or why it never does."""
    zone = scheduling.Timetable(participant.time_zone).zone
    today = now.astimezone(zone).date()
    if not participants.is_paused(participant, today):
        return None
    if participant.paused_until is None:
        return "paused by the site"
    return local_to_utc(participant.paused_until + dt.timedelta(days=1), dt.time(0), zone)


def _prepare_reminder(
    session: Session,
    row: OutboxMessage,
    now: dt.datetime,
    config: DeliveryConfig,
    preloaded: Preloaded | None,
) -> tuple[str, Plan | None]:
    occurrence = session.get(Occurrence, row.occurrence_id) if row.occurrence_id else None
    if occurrence is None:
        return _cancelled(session, row, "questionnaire removed")
    participant = session.get(Participant, occurrence.participant_id)
    assert participant is not None  # occurrences.participant_id is a NOT NULL foreign key
    why = _unwanted(occurrence, participant, now)
    if why:
        return _cancelled(session, row, why)
    person = _recipient(session, row, participant)
    if isinstance(person, str):
        return _cancelled(session, row, person)

    earliest = now
    lifted = _earliest_after_staff_pause(participant, now)
    if isinstance(lifted, str):
        return _cancelled(session, row, lifted)
    if lifted is not None:
        earliest = max(earliest, lifted)
    if now < occurrence.opens_at:
        earliest = max(earliest, occurrence.opens_at)
    if preloaded is not None and _key(person) in preloaded.timetables:
        timetable = timetable_from_row(person, preloaded.timetables[_key(person)])
    else:
        timetable = scheduling_timetable(
            session,
            participant=person if isinstance(person, Participant) else None,
            caregiver=person if isinstance(person, Caregiver) else None,
        )
    if earliest > now or not scheduling.is_allowed(timetable, now):
        later = scheduling.next_allowed_instant(timetable, earliest, occurrence.closes_at)
        if later is None:
            local_day = now.astimezone(timetable.zone).date()
            paused = pause_reason(timetable, local_day)
            return _cancelled(
                session,
                row,
                f"paused: {paused}"
                if paused
                else "no allowed time before the questionnaire closes",
            )
        outbox.reschedule(session, row, later, "moved to the next allowed time")
        return "moved", None

    link = config.app_link
    try:
        if isinstance(person, Caregiver) and participant.nickname:
            notice = messages.caregiver_reminder(
                person.language, link, nickname=participant.nickname
            )
        else:
            notice = messages.participant_reminder(person.language, link)
    except ValueError as exc:
        return _failed(session, row, f"could not word the reminder: {exc}", now)

    targets = _push_targets(session, person, preloaded) if config.vapid is not None else ()
    email, no_email = _email_fallback(session, row, person, notice, config, preloaded)
    if not targets and email is None:
        reason = "no push subscription" if config.vapid is not None else "Web Push is off"
        return _failed(session, row, f"{reason}, and {no_email}", now)
    ttl = int((occurrence.closes_at - now).total_seconds())
    return "send", Plan(
        outbox_id=row.id,
        channel=row.channel,
        targets=targets,
        payload=messages.push_payload(notice, tag=str(row.id)),
        # One topic per questionnaire: a follow-up (or a crash re-send) replaces an undelivered
        # earlier reminder at the push service instead of queueing a second one.
        topic=f"chorus-occ-{occurrence.id}",
        ttl=max(0, min(ttl, wp.MAX_TTL_SECONDS)),
        email=email,
        no_email=no_email,
        claimed_until=outbox.token_of(row).until,
    )


def _push_targets(
    session: Session, person: Participant | Caregiver, preloaded: Preloaded | None
) -> tuple[PushTarget, ...]:
    rows: list[PushSubscription]
    if preloaded is not None and _key(person) in preloaded.subscriptions:
        rows = preloaded.subscriptions[_key(person)]
    else:
        holder = (
            Device.participant_id == person.id
            if isinstance(person, Participant)
            else Device.caregiver_id == person.id
        )
        rows = list(
            session.scalars(
                select(PushSubscription)
                .join(Device, Device.id == PushSubscription.device_id)
                .where(holder, Device.revoked_at.is_(None))
                .order_by(PushSubscription.id)
            )
        )
    targets = []
    for sub in rows:
        try:
            parsed = wp.PushSubscription(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth)
        except ValueError:
            # Stored before validation existed, or edited by hand: it can never work.
            log.warning("push subscription %s is unusable; skipped", sub.id)
            continue
        targets.append(PushTarget(sub.id, parsed))
    return tuple(targets)


def _email_fallback(
    session: Session,
    row: OutboxMessage,
    person: Participant | Caregiver,
    notice: messages.Notice,
    config: DeliveryConfig,
    preloaded: Preloaded | None,
) -> tuple[OutgoingEmail | None, str]:
    if preloaded is not None and _key(person) in preloaded.emails:
        address = preloaded.emails[_key(person)]
    else:
        owner = (
            Timetable.participant_id == person.id
            if isinstance(person, Participant)
            else Timetable.caregiver_id == person.id
        )
        address = session.scalar(select(Timetable.reminder_email).where(owner))
    if not address:
        return None, "no reminder e-mail address"
    if config.smtp is None:
        return None, "e-mail is off (CHORUS_SMTP_HOST is not set)"
    try:
        return _email(row, address, notice), ""
    except ValueError as exc:
        return None, f"reminder e-mail unusable: {exc}"


def _email(row: OutboxMessage, address: str, notice: messages.Notice) -> OutgoingEmail:
    # The outbox id makes Message-ID and X-Chorus-Reminder-Id: a re-send is recognisably
    # the same message.
    return OutgoingEmail(
        to=address,
        subject=notice.subject,
        text=notice.text,
        html=notice.html,
        idempotency_key=f"chorus-outbox-{row.id}",
        language=notice.language,
    )


def _prepare_alert(
    session: Session, row: OutboxMessage, now: dt.datetime, config: DeliveryConfig
) -> tuple[str, Plan | None]:
    alert = session.get(Alert, row.alert_id) if row.alert_id else None
    user = session.get(StaffUser, row.staff_user_id) if row.staff_user_id else None
    if alert is None or user is None:
        return _cancelled(session, row, "alert or staff account removed")
    if not user.is_active:
        return _cancelled(session, row, "staff account deactivated")
    if not access.can(user.memberships, Permission.VIEW_ALERTS, alert.study_id, alert.site_id):
        return _cancelled(session, row, "no longer sees alerts at this site")
    if alert.acknowledged_at is not None:
        return _cancelled(session, row, "alert already acknowledged")
    if config.smtp is None:
        return _failed(session, row, "e-mail is off (CHORUS_SMTP_HOST is not set)", now)
    study = session.get(Study, alert.study_id)
    site = session.get(Site, alert.site_id)
    assert study is not None and site is not None  # NOT NULL foreign keys
    try:
        # In the staff member's own language (#11). No participant code, no rule, no answer:
        # the notice says only where to look, and the staff page shows the rest.
        notice = messages.staff_alert_notice(
            user.language, config.staff_link, study=study.slug, site=site.code
        )
        email = _email(row, user.email, notice)
    except ValueError as exc:
        return _failed(session, row, f"could not build the alert e-mail: {exc}", now)
    return "send", Plan(
        outbox_id=row.id, channel=row.channel, email=email, claimed_until=outbox.token_of(row).until
    )


# ── 2. Execute (network only) ──────────────────────────────────────────────────────────────


def execute(
    plan: Plan,
    config: DeliveryConfig,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    stop: threading.Event | None = None,
    client: wp.PushClient | None = None,
) -> Result:
    """Send one plan. Touches no database. Skips (``skipped``) when shutting down or when the
    claim has too little time left to cover the worst case of these sends."""
    if stop is not None and stop.is_set():
        return Result(skipped=True)
    if plan.claimed_until is not None:
        left = (plan.claimed_until - clock()).total_seconds()
        if left < plan.budget(config):
            log.warning(
                "outbox %s: %.0f s of lease left, sends may take %.0f s; released"
                " (raise CHORUS_SCHEDULER_LEASE_SECONDS or lower the batch size)",
                plan.outbox_id,
                left,
                plan.budget(config),
            )
            return Result(skipped=True)
    try:
        return _execute(plan, config, client)
    except Exception as exc:  # a bug must cost one message, not the tick
        log.exception("outbox %s: sending failed unexpectedly", plan.outbox_id)
        return Result(retry=f"unexpected {type(exc).__name__}")


def _execute(plan: Plan, config: DeliveryConfig, client: wp.PushClient | None) -> Result:
    result = Result()
    retries: list[wp.PushRetry] = []
    rejected: list[str] = []
    for target in plan.targets:
        assert config.vapid is not None and plan.payload is not None
        try:
            outcome = wp.send_push(
                target.subscription,
                plan.payload,
                config.vapid,
                ttl=plan.ttl,
                urgency=URGENCY,
                timeout=config.push_timeout,
                topic=plan.topic,
                client=client,
            )
        except ValueError as exc:  # PushPayloadTooLarge and argument errors: never retry
            rejected.append(str(exc))
            continue
        if isinstance(outcome, wp.PushDelivered):
            result.delivered.append(target.subscription_id)
        elif isinstance(outcome, wp.PushGone):
            result.gone.append(target.subscription_id)
        elif isinstance(outcome, wp.PushRetry):
            retries.append(outcome)
        else:
            rejected.append(outcome.reason)
    if result.delivered:
        result.via = "push"
        return result
    if retries:
        # Push is the person's channel and will likely work again soon: try it again rather
        # than switching to e-mail on a push service's bad minute.
        result.retry = retries[0].reason
        hints = [r.after_seconds for r in retries if r.after_seconds is not None]
        result.retry_after = max(hints) if hints else None
        return result
    if plan.email is not None and config.smtp is not None:
        mailed = send_email(plan.email, config.smtp)
        if isinstance(mailed, EmailDelivered):
            result.via = "email"
        elif isinstance(mailed, EmailRetry):
            result.retry = mailed.reason
        else:
            assert isinstance(mailed, EmailRejected)
            result.error = mailed.reason
        return result
    parts = []
    if result.gone:
        parts.append("every push subscription is gone")
    parts += rejected
    if plan.no_email:
        parts.append(plan.no_email)
    result.error = "; ".join(parts) or "nowhere to send"
    return result


# ── 3. Record ──────────────────────────────────────────────────────────────────────────────


def record(
    session: Session,
    row: OutboxMessage,
    plan: Plan,
    result: Result,
    now: dt.datetime,
    config: DeliveryConfig,
    *,
    touch: bool = True,
) -> str:
    """Store what happened to ``row`` (the caller commits). Returns the outcome name. Reads
    nothing from ``row`` itself (after a commit that would cost a query per message).
    ``touch=False``: the caller stamps ``last_success_at`` of ``result.delivered`` itself
    (:func:`touch_subscriptions`, once for many messages)."""
    if result.gone:
        session.execute(delete(PushSubscription).where(PushSubscription.id.in_(result.gone)))
        log.info(
            "outbox %s: removed %d gone push subscription(s)", plan.outbox_id, len(result.gone)
        )
    if touch:
        touch_subscriptions(session, result.delivered, now)
    if result.skipped:
        outbox.release(session, row)
        return "released"
    if result.via is not None:
        channel = result.via if result.via != plan.channel else None
        outbox.mark_sent(session, row, now, channel=channel)
        return "sent"
    if result.retry is not None:
        at_least = dt.timedelta(seconds=result.retry_after) if result.retry_after else None
        attempts = outbox.token_of(row).attempts
        outbox.mark_retry(
            session, row, result.retry, now, max_attempts=config.max_attempts, at_least=at_least
        )
        return "failed" if attempts >= config.max_attempts else "retry"
    outbox.mark_failed(session, row, result.error or "not delivered", now)
    return "failed"


def _plainly_sent(plan: Plan, result: Result) -> bool:
    """Delivered on the planned channel with nothing else to record."""
    return result.via == plan.channel and not result.gone and not result.skipped


def touch_subscriptions(session: Session, ids: list[int], now: dt.datetime) -> None:
    """Remember when each of these subscriptions last took a message."""
    if ids:
        session.execute(
            update(PushSubscription)
            .where(PushSubscription.id.in_(sorted(set(ids))))
            .values(last_success_at=now)
        )


def dispatch_one(
    session: Session, row: OutboxMessage, config: DeliveryConfig, now: dt.datetime
) -> str:
    """prepare → execute → record for one claimed row, committing between the steps."""
    outcome, plan = prepare(session, row, now, config)
    session.commit()
    if plan is None:
        return outcome
    result = execute(plan, config, clock=lambda: now)
    outcome = record(session, row, plan, result, now, config)
    session.commit()
    return outcome


# ── The batch loop ────────────────────────────────────────────────────────────────────────


@dataclass
class TickReport:
    batches: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def claimed(self) -> int:
        return sum(self.outcomes.values())

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        return f"{self.claimed} claimed in {self.batches} batch(es)" + (
            f": {parts}" if parts else ""
        )


class Dispatcher:
    """Claims and sends due rows, batch after batch, until nothing is due or ``stop`` is set.

    ``session_factory`` opens a session on the database (each tick uses one and closes it).
    Sends run on ``threads`` threads; all database work stays on the calling thread.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        config: DeliveryConfig,
        *,
        worker: str,
        batch_size: int,
        lease: dt.timedelta,
        threads: int = 4,
        clock: Callable[[], dt.datetime] = utcnow,
        stop: threading.Event | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.config = config
        self.worker = worker
        self.batch_size = batch_size
        self.lease = lease
        self.clock = clock
        self.stop = stop or threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chorus-send")
        # Kept for the dispatcher's life: pooled connections per push service, one VAPID token
        # per audience for most of its lifetime.
        self._push = (
            wp.PushClient(config.vapid, connections=threads) if config.vapid is not None else None
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._push is not None:
            self._push.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tick(self) -> TickReport:
        report = TickReport()
        with self.session_factory() as session:
            while not self.stop.is_set():
                rows = outbox.claim(
                    session,
                    self.clock(),
                    worker=self.worker,
                    limit=self.batch_size,
                    lease=self.lease,
                )
                if not rows:
                    break
                report.batches += 1
                outcomes = self._batch(session, rows)
                report.outcomes.update(outcomes)
                if outcomes["released"] == len(rows):
                    break  # nothing could be sent (shutting down, or leases too short)
        return report

    def _batch(self, session: Session, rows: list[OutboxMessage]) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        pending: dict[Future[Result], tuple[OutboxMessage, Plan]] = {}
        preloaded = preload(session, rows)
        for row in rows:
            if self.stop.is_set():
                outbox.release(session, row)
                outcomes["released"] += 1
                continue
            outcome, plan = prepare(session, row, self.clock(), self.config, preloaded)
            if plan is None:
                outcomes[outcome] += 1
                log.info("outbox %s: %s", row.id, outcome)
                continue
            # Sending starts now; nothing a send needs waits for the commit below.
            future = self._pool.submit(
                execute, plan, self.config, clock=self.clock, stop=self.stop, client=self._push
            )
            pending[future] = (row, plan)
        # One commit for the batch's re-checks (cancelled / moved / failed rows), which also
        # ends the read transaction before the slow part. The preloaded objects are let go
        # first, so that the commit does not expire hundreds of objects nobody reads again.
        del preloaded
        session.commit()
        # Record as sends complete, in group commits: whatever has finished within
        # RECORD_INTERVAL goes in one transaction (so a fast push service costs one commit per
        # batch, not one per message), and a slow send never holds up the outcomes of the
        # others for longer than that. A crash loses at most the outcomes not yet committed --
        # those rows are sent again after their lease, with the same Topic and tag.
        waiting = set(pending)
        while waiting:
            done, waiting = wait(waiting, timeout=RECORD_INTERVAL, return_when=ALL_COMPLETED)
            if not done:
                continue
            now = self.clock()
            delivered: list[int] = []
            plainly_sent: list[OutboxMessage] = []
            for future in done:
                row, plan = pending[future]
                result = future.result()
                delivered += result.delivered
                if _plainly_sent(plan, result):
                    plainly_sent.append(row)
                    continue
                outcome = record(session, row, plan, result, now, self.config, touch=False)
                outcomes[outcome] += 1
                log.debug("outbox %s: %s", plan.outbox_id, outcome)
            # The common case, one statement for all of them (each still only while our claim
            # holds; a row whose claim was lost keeps the newer claim's outcome).
            if plainly_sent:
                recorded = outbox.mark_sent_many(session, plainly_sent, now)
                outcomes["sent"] += recorded
                if recorded < len(plainly_sent):
                    outcomes["claim lost"] += len(plainly_sent) - recorded
            touch_subscriptions(session, delivered, now)
            session.commit()
        return outcomes
