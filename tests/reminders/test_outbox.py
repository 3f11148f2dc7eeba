"""The outbox on both engines: what a claim takes, that concurrent claims never share a row,
that a worker whose lease ran out cannot overwrite the newer claim, backoff and max attempts,
the SQLite single-scheduler lock, and alert e-mails queued with the alert."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.reminders import outbox
from app.reminders.models import OutboxMessage
from app.reminders.outbox import SchedulerBusy, SchedulerLock
from app.responses import service as responses
from app.responses.models import Alert
from app.studies.models import Role
from tests.factories import make_staff, site
from tests.reminders import outbox_world as w
from tests.responses.conftest import device_for, phq9
from tests.responses.conftest import world as world

NOW = w.at("2027-03-01 18:30")
LEASE = dt.timedelta(minutes=5)


@pytest.fixture
def people(db_session: Session):  # type: ignore[no-untyped-def]
    world = w.build(db_session)
    ana = w.participant(db_session, world, "A-001")
    occ = w.occurrence(
        db_session,
        world,
        ana,
        opens=NOW - dt.timedelta(hours=1),
        closes=NOW + dt.timedelta(hours=4),
    )
    return world, ana, occ


def _row(db_session, occ, sequence, **extra) -> OutboxMessage:  # type: ignore[no-untyped-def]
    return w.reminder(db_session, occ, sequence=sequence, **extra)


def test_claim_takes_due_pending_rows_oldest_first_and_nothing_else(db_session, people):
    _, _, occ = people
    late = _row(db_session, occ, 0, send_at=NOW - dt.timedelta(minutes=5))
    early = _row(db_session, occ, 1, send_at=NOW - dt.timedelta(minutes=10))
    exactly_now = _row(db_session, occ, 2, send_at=NOW)
    future = _row(db_session, occ, 3, send_at=NOW + dt.timedelta(seconds=1))
    done = [
        _row(db_session, occ, 4 + i, send_at=NOW - dt.timedelta(hours=1), state=state)
        for i, state in enumerate(("sent", "failed", "cancelled"))
    ]

    claimed = outbox.claim(db_session, NOW, worker="w1", limit=10, lease=LEASE)

    assert [r.id for r in claimed] == [early.id, late.id, exactly_now.id]
    for row in claimed:
        row = w.fresh(db_session, row)
        assert row.state == "sending" and row.claimed_by == "w1"
        assert row.claimed_until == NOW + LEASE and row.attempts == 1
    assert w.fresh(db_session, future).state == "pending"
    assert [w.fresh(db_session, r).state for r in done] == ["sent", "failed", "cancelled"]


def test_claim_takes_at_most_limit_rows(db_session, people):
    _, _, occ = people
    rows = [_row(db_session, occ, i, send_at=NOW - dt.timedelta(minutes=i)) for i in range(5)]
    claimed = outbox.claim(db_session, NOW, worker="w1", limit=2, lease=LEASE)
    assert [r.id for r in claimed] == [rows[4].id, rows[3].id]
    assert sum(state == "pending" for state in w.states(db_session).values()) == 3


def test_expired_lease_is_claimed_again_and_a_live_one_is_not(db_session, people):
    _, _, occ = people
    crashed = _row(
        db_session,
        occ,
        0,
        send_at=NOW - dt.timedelta(minutes=10),
        state="sending",
        claimed_by="dead-worker",
        claimed_until=NOW - dt.timedelta(seconds=1),
        attempts=1,
    )
    busy = _row(
        db_session,
        occ,
        1,
        send_at=NOW - dt.timedelta(minutes=10),
        state="sending",
        claimed_by="live-worker",
        claimed_until=NOW + dt.timedelta(seconds=30),
        attempts=1,
    )

    claimed = outbox.claim(db_session, NOW, worker="w2", limit=10, lease=LEASE)

    assert [r.id for r in claimed] == [crashed.id]
    again = w.fresh(db_session, crashed)
    assert (again.claimed_by, again.attempts) == ("w2", 2)
    untouched = w.fresh(db_session, busy)
    assert (untouched.claimed_by, untouched.attempts) == ("live-worker", 1)


def test_a_claim_is_committed_when_claim_returns(db_session, people, database_url):
    _, _, occ = people
    row = _row(db_session, occ, 0, send_at=NOW)
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as worker_session:
            outbox.claim(worker_session, NOW, worker="w1", limit=5, lease=LEASE)
            # Another connection already sees the claim while the worker's session is open.
            with engine.connect() as other:
                state = other.execute(
                    sa.select(OutboxMessage.state).where(OutboxMessage.id == row.id)
                ).scalar_one()
            assert state == "sending"
    finally:
        engine.dispose()


def test_concurrent_claims_never_share_a_row(db_session, people, database_url):
    _, _, occ = people
    db_session.execute(
        sa.insert(OutboxMessage),
        [
            {
                "dedupe_key": f"rem:{occ.id}:load:{i}",
                "kind": "reminder",
                "channel": "push",
                "occurrence_id": occ.id,
                "participant_id": occ.participant_id,
                "send_at": NOW - dt.timedelta(seconds=i),
                "state": "pending",
                "attempts": 0,
                "created_at": NOW,
            }
            for i in range(240)
        ],
    )
    db_session.commit()
    threads_n = 4
    barrier = threading.Barrier(threads_n)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        engine = sa.create_engine(database_url)
        try:
            with Session(engine) as session:
                barrier.wait(timeout=30)
                mine: list[int] = []
                while rows := outbox.claim(session, NOW, worker=name, limit=7, lease=LEASE):
                    mine += [row.id for row in rows]
                claimed[name] = mine
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    everything = [row_id for ids in claimed.values() for row_id in ids]
    assert len(everything) == 240 and len(set(everything)) == 240
    owners = dict(db_session.execute(sa.select(OutboxMessage.id, OutboxMessage.claimed_by)).all())
    for name, ids in claimed.items():
        assert all(owners[row_id] == name for row_id in ids)


def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_newer_claim(
    db_session, people, database_url
):
    _, _, occ = people
    row = _row(db_session, occ, 0, send_at=NOW)
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as slow, Session(engine) as fast:
            (mine,) = outbox.claim(slow, NOW, worker="slow", limit=1, lease=LEASE)
            later = NOW + LEASE + dt.timedelta(seconds=1)
            (theirs,) = outbox.claim(fast, later, worker="fast", limit=1, lease=LEASE)
            # The slow worker's session reloads the row after its commit and would read the
            # newer claim back; the guard uses the claim it took, not what it reads now.
            slow.expire_all()
            assert mine.claimed_by == "fast"
            assert outbox.mark_sent(slow, mine, later) is False
            assert outbox.mark_failed(slow, mine, "late", later) is False
            assert outbox.cancel(slow, mine, "late") is False
            slow.commit()
            assert w.fresh(db_session, row).state == "sending"
            assert outbox.mark_sent(fast, theirs, later) is True
            fast.commit()
    finally:
        engine.dispose()
    done = w.fresh(db_session, row)
    assert (done.state, done.claimed_by, done.attempts) == ("sent", "fast", 2)


def test_marking_many_sent_at_once_skips_a_row_whose_claim_was_taken_over(
    db_session, people, database_url
):
    _, _, occ = people
    kept = _row(db_session, occ, 0, send_at=NOW - dt.timedelta(seconds=1))
    stolen = _row(db_session, occ, 1, send_at=NOW)
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as slow, Session(engine) as fast:
            mine = outbox.claim(slow, NOW, worker="w", limit=2, lease=LEASE)
            assert [r.id for r in mine] == [kept.id, stolen.id]
            # The same worker name after a restart: only the attempt count tells the claims
            # apart. Re-claim the second row as its lease ran out.
            later = NOW + LEASE + dt.timedelta(seconds=1)
            slow_kept, slow_stolen = mine
            fast.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == kept.id)
                .values(claimed_until=later + LEASE)
            )
            fast.commit()
            (theirs,) = outbox.claim(fast, later, worker="w", limit=1, lease=LEASE)
            assert theirs.id == stolen.id
            assert outbox.mark_sent_many(slow, [slow_kept, slow_stolen], later) == 1
            slow.commit()
    finally:
        engine.dispose()
    done, taken = w.fresh(db_session, kept), w.fresh(db_session, stolen)
    assert (done.state, done.attempts) == ("sent", 1)
    assert (taken.state, taken.attempts, taken.sent_at) == ("sending", 2, None)


def test_backoff_doubles_with_jitter_up_to_an_hour():
    rng = random.Random(7)  # noqa: S311 - jitter draws, not secrets
    for attempts, low, high in ((1, 15, 30), (2, 30, 60), (3, 60, 120), (12, 1800, 3600)):
        for _ in range(50):
            delay = outbox.backoff(attempts, rng).total_seconds()
            assert low <= delay <= high, (attempts, delay)
    draws = {outbox.backoff(3, rng) for _ in range(20)}
    assert len(draws) > 10, "jitter spreads retries"


def test_retry_goes_back_to_pending_later_with_a_scrubbed_error(db_session, people):
    _, _, occ = people
    row = _row(db_session, occ, 0, send_at=NOW)
    (claimed,) = outbox.claim(db_session, NOW, worker="w1", limit=1, lease=LEASE)
    assert outbox.mark_retry(
        db_session,
        claimed,
        "recipient refused: 451 <ana.smith@example.org> try later",
        NOW,
        max_attempts=5,
        rng=random.Random(1),  # noqa: S311
    )
    db_session.commit()
    again = w.fresh(db_session, row)
    assert again.state == "pending" and again.attempts == 1 and again.claimed_until is None
    assert NOW + dt.timedelta(seconds=15) <= again.send_at <= NOW + dt.timedelta(seconds=30)
    assert "example.org" not in again.last_error and "<address>" in again.last_error
    # Not due before its new time; due after.
    assert (
        outbox.claim(db_session, NOW + dt.timedelta(seconds=10), worker="w1", limit=1, lease=LEASE)
        == []
    )
    assert outbox.claim(db_session, again.send_at, worker="w1", limit=1, lease=LEASE)


def test_a_push_services_retry_after_is_a_minimum(db_session, people):
    _, _, occ = people
    row = _row(db_session, occ, 0, send_at=NOW)
    (claimed,) = outbox.claim(db_session, NOW, worker="w1", limit=1, lease=LEASE)
    outbox.mark_retry(
        db_session, claimed, "429", NOW, max_attempts=5, at_least=dt.timedelta(minutes=20)
    )
    db_session.commit()
    assert w.fresh(db_session, row).send_at >= NOW + dt.timedelta(minutes=20)


def test_the_last_attempt_fails_for_good(db_session, people):
    _, _, occ = people
    row = _row(db_session, occ, 0, send_at=NOW, attempts=2)
    (claimed,) = outbox.claim(db_session, NOW, worker="w1", limit=1, lease=LEASE)
    assert claimed.attempts == 3
    outbox.mark_retry(db_session, claimed, "push service answered 503", NOW, max_attempts=3)
    db_session.commit()
    failed = w.fresh(db_session, row)
    assert failed.state == "failed"
    assert failed.last_error == "gave up after 3 attempts: push service answered 503"
    assert (
        outbox.claim(db_session, NOW + dt.timedelta(days=1), worker="w1", limit=1, lease=LEASE)
        == []
    )


def test_reschedule_and_release_give_the_attempt_back(db_session, people):
    _, _, occ = people
    moved = _row(db_session, occ, 0, send_at=NOW)
    released = _row(db_session, occ, 1, send_at=NOW)
    first, second = outbox.claim(db_session, NOW, worker="w1", limit=2, lease=LEASE)
    outbox.reschedule(db_session, first, NOW + dt.timedelta(hours=1), "moved: quiet hours")
    outbox.release(db_session, second)
    db_session.commit()
    a, b = w.fresh(db_session, moved), w.fresh(db_session, released)
    assert (a.state, a.attempts, a.send_at, a.note) == (
        "pending",
        0,
        NOW + dt.timedelta(hours=1),
        "moved: quiet hours",
    )
    assert (b.state, b.attempts, b.send_at, b.claimed_until) == ("pending", 0, NOW, None)


def test_cancel_a_pending_row_with_a_note(db_session, people):
    _, _, occ = people
    row = _row(db_session, occ, 0, send_at=NOW + dt.timedelta(hours=1))
    assert outbox.cancel(db_session, row, "questionnaire answered")
    db_session.commit()
    gone = w.fresh(db_session, row)
    assert (gone.state, gone.note) == ("cancelled", "questionnaire answered")
    assert outbox.cancel(db_session, gone, "again") is False


# ── The SQLite single-scheduler lock ──────────────────────────────────────────────────────


def test_a_second_scheduler_lock_on_the_same_database_is_refused(tmp_path: Path):
    database = tmp_path / "chorus.sqlite3"
    first = SchedulerLock.for_database(database)
    second = SchedulerLock.for_database(database)
    first.acquire()
    try:
        with pytest.raises(SchedulerBusy, match="another chorus scheduler is running"):
            second.acquire()
    finally:
        first.release()
    second.acquire()
    assert second.held
    second.release()


def test_the_lock_dies_with_its_holder_even_on_sigkill(tmp_path: Path):
    database = tmp_path / "chorus.sqlite3"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from app.reminders.outbox import SchedulerLock;"
            "SchedulerLock.for_database(Path(sys.argv[1])).acquire();"
            "print('held', flush=True); time.sleep(60)",
            str(database),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = SchedulerLock.for_database(database)
        with pytest.raises(SchedulerBusy):
            lock.acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        lock.acquire()  # no stale lock to wait out
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()


# ── Alert e-mails ─────────────────────────────────────────────────────────────────────────


def test_alert_emails_go_to_the_sites_alert_staff_only_and_queue_once(db_session, world):
    study = world.study
    staff = {
        "coord_a": make_staff(
            db_session, "ca@x.org", study=study, role=Role.SITE_COORDINATOR, site_code="A"
        ),
        "coord_b": make_staff(
            db_session, "cb@x.org", study=study, role=Role.SITE_COORDINATOR, site_code="B"
        ),
        "admin": make_staff(db_session, "ad@x.org", study=study, role=Role.ADMIN),
        "manager": make_staff(db_session, "dm2@x.org", study=study, role=Role.DATA_MANAGER),
        "away": make_staff(
            db_session, "gone@x.org", study=study, role=Role.SITE_COORDINATOR, site_code="A"
        ),
        "elsewhere": make_staff(db_session, "os@x.org", study=world.other_study, role=Role.ADMIN),
    }
    staff["away"].is_active = False
    db_session.commit()
    assert world.adult.site_id == site(study, "A").id

    receipt = responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=2),
        now=NOW,
    )
    db_session.commit()

    alert = db_session.scalar(sa.select(Alert).where(Alert.response_id == receipt.response_id))
    rows = list(db_session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.staff_user_id)))
    assert {r.staff_user_id for r in rows} == {staff["coord_a"].id, staff["admin"].id}
    for row in rows:
        assert (row.kind, row.channel, row.state) == ("alert", "email", "pending")
        assert row.alert_id == alert.id and row.send_at == NOW
        assert row.dedupe_key == f"alert:{alert.id}:{row.staff_user_id}"
    # Queuing again (a retry of the same step) adds nothing.
    assert outbox.enqueue_alert_emails(db_session, alert) == []
    db_session.commit()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 2


def test_an_answer_without_an_alert_queues_no_email(db_session, world):
    make_staff(db_session, "ca@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A")
    responses.submit(
        db_session, device_for(db_session, world.adult_token), phq9(world.adult.id), now=NOW
    )
    db_session.commit()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_alert_emails_roll_back_with_the_alert(db_session, world, database_url):
    make_staff(db_session, "ca@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A")
    engine = sa.create_engine(database_url)  # real transactions (db_session autocommits)
    try:
        with Session(engine) as session:
            responses.submit(
                session,
                device_for(session, world.adult_token),
                phq9(world.adult.id, item9=2),
                now=NOW,
            )
            assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
            session.rollback()
    finally:
        engine.dispose()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
