"""The planner: turns study schedules into occurrences and reminder rows, and keeps them right.

* ``materialise`` (called by the scheduler tick): for a bounded batch of participants whose
  planned horizon (``Participant.occurrences_until``) runs low, insert the occurrences of every
  live schedule that applies to them up to ``now + horizon`` and the reminder rows for them.
  The participants are found through the index on ``occurrences_until``, so a tick's work
  follows how many people need planning, not how many are enrolled.
* ``replan_person`` (after a timetable edit, a pause, a time-zone move, a new caregiver link):
  re-times the person's occurrences that have not opened yet and reconciles their pending
  reminder rows with what the timetable now allows.
* ``cancel_for_completion``: an answered questionnaire needs no more reminders.

Idempotency rests on UNIQUE constraints, not on checks: occurrences on (schedule, participant,
key) and reminder rows on ``dedupe_key`` = ``rem:<occurrence>:<p|c><recipient>:<sequence>``,
both inserted with "on conflict do nothing". Running a tick twice, or two nodes at once, stores
each row once. Plain functions over a session; callers commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import scheduling
from app.errors import Invalid
from app.participants import people as participants
from app.participants.models import (
    Caregiver,
    CaregiverLink,
    Participant,
    ParticipantStatus,
)
from app.reminders import outbox
from app.reminders.models import (
    AnchorDate,
    Occurrence,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    StudySchedule,
)
from app.reminders.stored_timetables import scheduling_timetable
from app.reminders.study_schedules import ENROLLMENT, policy_of, schedule_of
from app.scheduling import OccurrenceWindow, ReminderPolicy, Schedule, occurrences_between
from app.scheduling.localtime import load_zone

log = logging.getLogger(__name__)

HORIZON: Final = dt.timedelta(days=14)
# A withdrawn participant is planned once more (to cancel what is left) and then parked here,
# past every threshold, so the index scan never meets them again.
PARKED: Final = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
# Recurring windows last at most 7 days (app.scheduling caps them) plus a DST shift: looking
# back 8 days finds every recurring occurrence that is still open.
_RECURRING_LOOKBACK: Final = dt.timedelta(days=8)
# A horizon older than this (the scheduler was stopped) restarts from now instead of filling
# weeks of occurrences that nobody was reminded of.
_CATCH_UP: Final = dt.timedelta(days=7)
# Offsets differ by at most ~26 h (and a day can be skipped): margins for re-timing.
_ZONE_MARGIN: Final = dt.timedelta(days=3)
# Row notes the planner writes and reads back (never answers or health words).
REPLANNED: Final = "replanned"
SNOOZED: Final = "snoozed"


# ── Who receives reminders, under which timetable ─────────────────────────────────────────


@dataclass(frozen=True)
class _Recipient:
    kind: str  # "p" (participant answering for themselves) or "c" (caregiver)
    person: Participant | Caregiver

    @property
    def key(self) -> tuple[str, int]:
        return self.kind, self.person.id


@dataclass
class _Plan:
    """What one planning run has looked up, so each thing is read once per run."""

    session: Session
    now: dt.datetime
    schedules: dict[int, list[StudySchedule]] = field(default_factory=dict)  # by study id
    parsed: dict[int, tuple[Schedule, ReminderPolicy] | None] = field(default_factory=dict)
    timetables: dict[tuple[str, int], scheduling.Timetable] = field(default_factory=dict)
    asked: dict[tuple[int, str, str], frozenset[int]] = field(default_factory=dict)

    def live_schedules(self, study_ids: Iterable[int]) -> None:
        missing = set(study_ids) - set(self.schedules)
        if not missing:
            return
        for study_id in missing:
            self.schedules[study_id] = []
        rows = self.session.scalars(
            select(StudySchedule)
            .where(StudySchedule.study_id.in_(missing), StudySchedule.retired_at.is_(None))
            .order_by(StudySchedule.id)
        )
        for row in rows:
            self.schedules[row.study_id].append(row)

    def parse(self, row: StudySchedule) -> tuple[Schedule, ReminderPolicy] | None:
        if row.id not in self.parsed:
            try:
                self.parsed[row.id] = (schedule_of(row), policy_of(row))
            except Invalid as error:
                # Stored specs were validated when added; one bad row must not stop the tick.
                log.error("schedule %s has an invalid stored spec: %s", row.id, error.errors)
                self.parsed[row.id] = None
        return self.parsed[row.id]

    def timetable(self, recipient: _Recipient) -> scheduling.Timetable:
        if recipient.key not in self.timetables:
            person = recipient.person
            self.timetables[recipient.key] = scheduling_timetable(
                self.session,
                participant=person if isinstance(person, Participant) else None,
                caregiver=person if isinstance(person, Caregiver) else None,
            )
        return self.timetables[recipient.key]

    def asks(self, participant: Participant, respondent: str) -> frozenset[int]:
        """Instrument versions the study asks of this respondent for this age band -- the one
        rule (participants.available_instruments), read once per (study, band, respondent)."""
        key = (participant.study_id, participant.age_band, respondent)
        if key not in self.asked:
            self.asked[key] = frozenset(
                row.instrument_version_id
                for row in participants.available_instruments(self.session, participant, respondent)
            )
        return self.asked[key]


def _applies(
    plan: _Plan, row: StudySchedule, participant: Participant, has_caregivers: bool
) -> bool:
    if row.arm is not None and row.arm != participant.arm:
        return False
    if row.participant_id is not None and row.participant_id != participant.id:
        return False
    if row.respondent == "proxy" and not has_caregivers:
        return False
    return row.instrument_version_id in plan.asks(participant, row.respondent)


def _anchor(
    row: StudySchedule, participant: Participant, anchors: dict[str, dt.date]
) -> dt.date | None:
    if row.anchor == ENROLLMENT:
        return participant.enrolled_at.astimezone(load_zone(participant.time_zone)).date()
    return anchors.get(row.anchor)


def _anchors_of(session: Session, participant_ids: Sequence[int]) -> dict[int, dict[str, dt.date]]:
    found: dict[int, dict[str, dt.date]] = defaultdict(dict)
    if participant_ids:
        for anchor in session.scalars(
            select(AnchorDate).where(AnchorDate.participant_id.in_(participant_ids))
        ):
            found[anchor.participant_id][anchor.name] = anchor.date
    return found


def _links_of(session: Session, participant_ids: Sequence[int]) -> dict[int, list[CaregiverLink]]:
    found: dict[int, list[CaregiverLink]] = defaultdict(list)
    if participant_ids:
        for link in session.scalars(
            select(CaregiverLink)
            .where(
                CaregiverLink.participant_id.in_(participant_ids), CaregiverLink.ended_at.is_(None)
            )
            .order_by(CaregiverLink.id)
        ):
            found[link.participant_id].append(link)
    return found


def _recipients(
    occurrence: Occurrence, participant: Participant, links: list[CaregiverLink]
) -> list[_Recipient]:
    if occurrence.respondent == "self":
        return [_Recipient("p", participant)]
    return [_Recipient("c", link.caregiver) for link in links]


# ── Inserting without duplicates ──────────────────────────────────────────────────────────


def _insert_ignoring_duplicates(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: the UNIQUE constraint decides, in one statement."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model).on_conflict_do_nothing(), rows)


def dedupe_key(occurrence_id: int, recipient_kind: str, recipient_id: int, sequence: int) -> str:
    return f"rem:{occurrence_id}:{recipient_kind}{recipient_id}:{sequence}"


def _window(occurrence: Occurrence) -> OccurrenceWindow:
    return OccurrenceWindow(occurrence.key, occurrence.opens_at, occurrence.closes_at)


def _chain(
    plan: _Plan, occurrence: Occurrence, policy: ReminderPolicy, recipient: _Recipient
) -> list[dt.datetime]:
    """Every reminder of the occurrence for this recipient, counted from the opening (so the
    sequence numbers stay stable however often it is recomputed)."""
    return scheduling.reminder_times(
        _window(occurrence), policy, plan.timetable(recipient), occurrence.completed_at
    )


def _reminder_row(
    occurrence: Occurrence,
    recipient: _Recipient,
    sequence: int,
    send_at: dt.datetime,
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "dedupe_key": dedupe_key(occurrence.id, recipient.kind, recipient.person.id, sequence),
        "kind": OutboxKind.REMINDER.value,
        "channel": "push",
        "occurrence_id": occurrence.id,
        "sequence": sequence,
        "participant_id": recipient.person.id if recipient.kind == "p" else None,
        "caregiver_id": recipient.person.id if recipient.kind == "c" else None,
        "staff_user_id": None,
        "alert_id": None,
        "send_at": send_at,
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "created_at": now,
    }


# ── Materialising ─────────────────────────────────────────────────────────────────────────


def materialise(
    session: Session, now: dt.datetime, *, horizon: dt.timedelta = HORIZON, batch: int = 500
) -> int:
    """Plan up to ``batch`` participants whose horizon is unset or ends before
    ``now + horizon / 2``: their occurrences up to ``now + horizon`` and reminder rows.
    Returns how many participants were planned; call again while it returns ``batch``.

    Idempotent: rerunning (or running on two nodes at once) inserts nothing twice. On
    PostgreSQL the chosen participant rows are locked with SKIP LOCKED, so concurrent ticks
    share the work instead of repeating it.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    threshold = now + horizon / 2
    ids = _due_for_planning(session, threshold, batch)
    if not ids:
        return 0
    people = list(
        session.scalars(select(Participant).where(Participant.id.in_(ids)).order_by(Participant.id))
    )
    plan_participants(session, people, now, horizon=horizon)
    return len(people)


def _due_for_planning(session: Session, threshold: dt.datetime, batch: int) -> list[int]:
    # Two index range scans rather than one "IS NULL OR <" that PostgreSQL cannot serve from
    # the index. Never-planned participants (new, or reset by a new schedule) come first.
    chosen: list[int] = []
    for condition, order in (
        (Participant.occurrences_until.is_(None), Participant.id),
        (Participant.occurrences_until < threshold, Participant.occurrences_until),
    ):
        if len(chosen) >= batch:
            break
        statement = (
            select(Participant.id)
            .where(condition)
            .order_by(order)
            .limit(batch - len(chosen))
            .with_for_update(skip_locked=True)
        )
        chosen.extend(session.scalars(statement))
    return chosen


def plan_participants(
    session: Session,
    people: Sequence[Participant],
    now: dt.datetime,
    *,
    horizon: dt.timedelta = HORIZON,
) -> None:
    """Materialise the given participants now, whatever their horizon (``materialise`` picks
    them; ``/me/due`` calls it for a phone whose person was never planned)."""
    plan = _Plan(session, now)
    plan.live_schedules({p.study_id for p in people})
    ids = [p.id for p in people]
    anchors = _anchors_of(session, ids)
    links = _links_of(session, ids)
    end = now + horizon
    for participant in people:
        if participant.status == ParticipantStatus.WITHDRAWN:
            _cancel_remaining(session, participant, now, "participant withdrawn")
            participant.occurrences_until = PARKED
            continue
        rows: list[dict[str, Any]] = []
        for schedule_row in plan.schedules[participant.study_id]:
            if not _applies(plan, schedule_row, participant, bool(links[participant.id])):
                continue
            windows = _new_windows(
                plan, schedule_row, participant, anchors[participant.id], now, end
            )
            rows.extend(
                {
                    "schedule_id": schedule_row.id,
                    "participant_id": participant.id,
                    "respondent": schedule_row.respondent,
                    "key": w.key,
                    "opens_at": w.opens_at_utc,
                    "closes_at": w.closes_at_utc,
                }
                for w in windows
            )
        _insert_ignoring_duplicates(session, Occurrence, rows)
        participant.occurrences_until = end
        _plan_reminders(plan, participant, links[participant.id], only_missing=True)
    session.flush()


def _new_windows(
    plan: _Plan,
    row: StudySchedule,
    participant: Participant,
    anchors: dict[str, dt.date],
    now: dt.datetime,
    end: dt.datetime,
) -> list[OccurrenceWindow]:
    parsed = plan.parse(row)
    anchor = _anchor(row, participant, anchors)
    if parsed is None or anchor is None:
        return []  # a participant without that date (no surgery yet) has no such visits
    schedule = parsed[0]
    since = participant.occurrences_until
    if since is not None and since >= now - _CATCH_UP:
        # The rolling horizon: an occurrence belongs to the range holding its opening, so
        # [since, end) adds exactly what the last run did not.
        return occurrences_between(schedule, anchor, participant.time_zone, since, end)
    # First planning (or after a long stop): whatever is still open or opens before `end`.
    if schedule.kind == "visits":
        earliest = min(v.day_offset - v.before_days for v in schedule.visits)
        start = dt.datetime.combine(
            anchor + dt.timedelta(days=earliest - 2), dt.time(0), tzinfo=dt.UTC
        )
    else:
        start = now - _RECURRING_LOOKBACK
    return [
        w
        for w in occurrences_between(schedule, anchor, participant.time_zone, start, end)
        if w.closes_at_utc > now
    ]


def _pending_occurrences(
    session: Session, participant: Participant, now: dt.datetime
) -> list[Occurrence]:
    return list(
        session.scalars(
            select(Occurrence)
            .where(
                Occurrence.participant_id == participant.id,
                Occurrence.closes_at > now,
                Occurrence.completed_at.is_(None),
                Occurrence.cancelled_at.is_(None),
            )
            .order_by(Occurrence.opens_at, Occurrence.id)
        )
    )


def _plan_reminders(
    plan: _Plan,
    participant: Participant,
    links: list[CaregiverLink],
    *,
    only_missing: bool,
    only_recipient: tuple[str, int] | None = None,
) -> None:
    """Reminder rows for the participant's occurrences still waiting for an answer.

    ``only_missing``: add rows for (occurrence, recipient) pairs that have none yet (a new
    occurrence, a newly linked caregiver) and touch nothing else -- the cheap tick path.
    Otherwise reconcile every pending row with the timetable as it is now (``replan_person``).
    """
    session, now = plan.session, plan.now
    occurrences = _pending_occurrences(session, participant, now)
    if not occurrences:
        return
    existing: dict[tuple[int, str, int], list[OutboxMessage]] = defaultdict(list)
    for message in session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.occurrence_id.in_([o.id for o in occurrences]),
            OutboxMessage.kind == OutboxKind.REMINDER.value,
        )
    ):
        kind, person_id = (
            ("p", message.participant_id)
            if message.participant_id is not None
            else ("c", message.caregiver_id)
        )
        assert message.occurrence_id is not None and person_id is not None
        existing[(message.occurrence_id, kind, person_id)].append(message)
    inserts: list[dict[str, Any]] = []
    served: set[tuple[int, str, int]] = set()
    for occurrence in occurrences:
        parsed = plan.parse(occurrence.schedule)
        if parsed is None:
            continue
        policy = parsed[1]
        for recipient in _recipients(occurrence, participant, links):
            served.add((occurrence.id, *recipient.key))
            if only_recipient is not None and recipient.key != only_recipient:
                continue
            rows = existing.get((occurrence.id, *recipient.key), [])
            if only_missing and rows:
                continue
            chain = _chain(plan, occurrence, policy, recipient)
            if not rows:
                inserts.extend(
                    _reminder_row(occurrence, recipient, i, at, now)
                    for i, at in enumerate(chain)
                    if at >= now
                )
            else:
                inserts.extend(_reconcile(plan, occurrence, recipient, chain, rows))
    if not only_missing and only_recipient is None:
        # A caregiver unlinked since planning no longer receives this child's reminders. The
        # REPLANNED note lets a later re-link revive the rows.
        gone = [
            row.id
            for key, rows in existing.items()
            if key not in served
            for row in rows
            if row.state == OutboxState.PENDING
        ]
        if gone:
            outbox.cancel_pending(
                session, OutboxMessage.id.in_(gone), f"{REPLANNED}: no longer answers"
            )
    _insert_ignoring_duplicates(session, OutboxMessage, inserts)


def _reconcile(
    plan: _Plan,
    occurrence: Occurrence,
    recipient: _Recipient,
    chain: list[dt.datetime],
    rows: list[OutboxMessage],
) -> list[dict[str, Any]]:
    """Bring one recipient's reminder rows for one occurrence in line with ``chain``.

    Only rows still pending change (the dispatcher owns claimed and sent ones), each by a
    conditional UPDATE so a row claimed meanwhile is left alone. A reminder whose new time has
    passed is cancelled, not sent late: the chain counts from the opening and the past part
    of it is over (the rule of ``reminder_times``). A row the planner cancelled earlier comes
    back if the chain wants it again (a pause that was lifted). A snoozed row keeps the time
    the person chose while that time is still allowed.
    """
    session, now = plan.session, plan.now
    by_sequence: dict[int, list[OutboxMessage]] = defaultdict(list)
    for row in rows:
        by_sequence[row.sequence].append(row)
    timetable = plan.timetable(recipient)
    inserts: list[dict[str, Any]] = []
    for sequence in sorted(set(by_sequence) | set(range(len(chain)))):
        wanted = chain[sequence] if sequence < len(chain) else None
        group = by_sequence.get(sequence, [])
        if not group:
            if wanted is not None and wanted >= now:
                inserts.append(_reminder_row(occurrence, recipient, sequence, wanted, now))
            continue
        for row in group:
            note = row.note or ""
            revivable = row.state == OutboxState.CANCELLED and note.startswith(REPLANNED)
            if row.state != OutboxState.PENDING and not revivable:
                continue
            target = wanted
            if wanted is not None and row.state == OutboxState.PENDING and note.startswith(SNOOZED):
                if row.send_at < occurrence.closes_at and scheduling.is_allowed(
                    timetable, row.send_at
                ):
                    continue
                target = scheduling.next_allowed_instant(
                    timetable, max(row.send_at, now), occurrence.closes_at
                )
            if target is not None and target >= now:
                if row.state == OutboxState.PENDING and row.send_at == target:
                    continue
                values: dict[str, Any] = {"send_at": target, "state": OutboxState.PENDING.value}
                if revivable:
                    values["note"] = None
            elif row.state == OutboxState.PENDING:
                outbox.cancel_pending(session, OutboxMessage.id == row.id, REPLANNED)
                session.refresh(row)  # what the row holds now, whoever wrote it
                continue
            else:
                continue
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.state == row.state)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            session.refresh(row)  # what the row holds now, whoever wrote it
    return inserts


def _cancel_remaining(
    session: Session, participant: Participant, now: dt.datetime, note: str
) -> None:
    """Cancel every occurrence of the participant still waiting, and their pending reminders."""
    waiting = select(Occurrence.id).where(
        Occurrence.participant_id == participant.id,
        Occurrence.closes_at > now,
        Occurrence.completed_at.is_(None),
        Occurrence.cancelled_at.is_(None),
    )
    outbox.cancel_pending(session, OutboxMessage.occurrence_id.in_(waiting.scalar_subquery()), note)
    session.execute(
        update(Occurrence)
        .where(
            Occurrence.participant_id == participant.id,
            Occurrence.closes_at > now,
            Occurrence.completed_at.is_(None),
            Occurrence.cancelled_at.is_(None),
        )
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )


# ── Re-planning one person ────────────────────────────────────────────────────────────────


def replan_person(
    session: Session,
    *,
    participant: Participant | None = None,
    caregiver: Caregiver | None = None,
    now: dt.datetime,
) -> None:
    """Re-plan after something about one person changed: their timetable, a pause, their time
    zone, or (for a participant) a caregiver link. Cheap: it reads only that person's waiting
    occurrences and reminder rows.

    For a participant: occurrences not yet open are re-timed in the participant's current
    time zone, by the rule of ``app.scheduling.occurrences_after_move`` -- opened ones keep
    their window; a key whose new window would already be over keeps its old one; keys that no
    longer exist go; keys the move brings inside the planned horizon are added. The stored rows
    are the old plan, so no old zone is needed and an unchanged zone writes nothing. Then every
    pending reminder of their waiting occurrences (their own, and their caregivers' for proxy
    questionnaires) is reconciled. For a caregiver: their reminders for their linked children.
    """
    if (participant is None) == (caregiver is None):
        raise TypeError("give exactly one of participant= or caregiver=")
    plan = _Plan(session, now)
    if participant is not None:
        session.flush()
        if participant.status == ParticipantStatus.WITHDRAWN:
            _cancel_remaining(session, participant, now, "participant withdrawn")
            return
        links = _links_of(session, [participant.id])[participant.id]
        _retime(plan, participant, links)
        _plan_reminders(plan, participant, links, only_missing=False)
        session.flush()
        return
    assert caregiver is not None
    session.flush()
    for link in participants.active_links(session, caregiver):
        child = link.participant
        links = _links_of(session, [child.id])[child.id]
        _plan_reminders(plan, child, links, only_missing=False, only_recipient=("c", caregiver.id))
    session.flush()


def _retime(plan: _Plan, participant: Participant, links: list[CaregiverLink]) -> None:
    session, now = plan.session, plan.now
    until = participant.occurrences_until
    if until is None or until == PARKED:
        return  # never planned: the next tick plans it in the current zone anyway
    plan.live_schedules([participant.study_id])
    anchors = _anchors_of(session, [participant.id])[participant.id]
    not_open: dict[tuple[int, str], Occurrence] = {
        (o.schedule_id, o.key): o
        for o in session.scalars(
            select(Occurrence).where(
                Occurrence.participant_id == participant.id,
                Occurrence.opens_at > now,
                Occurrence.completed_at.is_(None),
                Occurrence.cancelled_at.is_(None),
            )
        )
    }
    live = [
        row
        for row in plan.schedules[participant.study_id]
        if _applies(plan, row, participant, bool(links))
    ]
    latest = max([until, *(o.opens_at for o in not_open.values())])
    inserts: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for row in live:
        parsed = plan.parse(row)
        anchor = _anchor(row, participant, anchors)
        if parsed is None or anchor is None:
            continue
        for window in occurrences_between(
            parsed[0], anchor, participant.time_zone, now - _ZONE_MARGIN, latest + _ZONE_MARGIN
        ):
            key = (row.id, window.key)
            seen.add(key)
            stored = not_open.get(key)
            if stored is not None:
                if window.closes_at_utc > now and (
                    stored.opens_at != window.opens_at_utc
                    or stored.closes_at != window.closes_at_utc
                ):
                    stored.opens_at = window.opens_at_utc
                    stored.closes_at = window.closes_at_utc
            elif now < window.opens_at_utc < until or (
                window.opens_at_utc <= now < window.closes_at_utc
            ):
                # Inside the planned horizon but not stored: the move brought it in (or a
                # schedule/caregiver became applicable). Existing rows are left as they are.
                inserts.append(
                    {
                        "schedule_id": row.id,
                        "participant_id": participant.id,
                        "respondent": row.respondent,
                        "key": window.key,
                        "opens_at": window.opens_at_utc,
                        "closes_at": window.closes_at_utc,
                    }
                )
    for key, stored in not_open.items():
        if key not in seen and stored.schedule_id in {row.id for row in live}:
            # Not produced any more in the new zone (nothing has referenced it but its own
            # not-yet-due reminder rows, which go with it).
            session.delete(stored)
    session.flush()
    _insert_ignoring_duplicates(session, Occurrence, inserts)


# ── Completion ────────────────────────────────────────────────────────────────────────────


def cancel_for_completion(session: Session, occurrence: Occurrence, now: dt.datetime) -> int:
    """Cancel the pending reminders of an answered occurrence; returns how many. Rows already
    claimed by a tick are left to the dispatcher, which re-checks the occurrence at send time."""
    return outbox.cancel_pending(session, OutboxMessage.occurrence_id == occurrence.id, "answered")
