"""The dispatcher end to end, on both engines: real Web Push through pywebpush to a local push
service that checks VAPID and decrypts the payload, real e-mail to a local SMTP server, and the
re-checks that cancel or move a reminder that is no longer wanted now."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.delivery.email import SmtpSettings
from app.delivery.vapid import VapidKeys, ensure_vapid_keys
from app.participants.models import CaregiverLink
from app.reminders import dispatch, outbox
from app.reminders.dispatch import DeliveryConfig, Dispatcher
from app.reminders.models import OutboxMessage, PushSubscription, TimetablePause
from app.responses import service as responses
from app.studies.models import Membership, Role
from tests.delivery.test_messages import HEALTH_WORDS
from tests.factories import make_staff
from tests.reminders import outbox_world as w
from tests.responses.conftest import device_for, phq9
from tests.responses.conftest import world as world
from tests.support.push_endpoint import PushEndpoint
from tests.support.smtp_server import SmtpTestServer

NOW = w.at("2027-03-01 18:30")  # a Monday; 19:30 in Paris (CET, UTC+1)
LEASE = dt.timedelta(minutes=5)
BASE = "http://127.0.0.1:5000"
SUBJECT = "mailto:ops@chorus.example.org"


# ── Peers and configuration ────────────────────────────────────────────────────────────────


@pytest.fixture
def push_service() -> Iterator[PushEndpoint]:
    with PushEndpoint() as service:
        yield service


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def vapid_keys(tmp_path_factory: pytest.TempPathFactory) -> VapidKeys:
    instance: Path = tmp_path_factory.mktemp("instance")
    return ensure_vapid_keys(instance, subject=SUBJECT)


@pytest.fixture
def config(vapid_keys: VapidKeys, smtp_server: SmtpTestServer) -> DeliveryConfig:
    smtp = SmtpSettings(
        host=smtp_server.host,
        port=smtp_server.port,
        security="none",
        sender="Chorus <no-reply@chorus.example.org>",
        timeout=5.0,
    )
    return DeliveryConfig(
        base_url=BASE, vapid=vapid_keys, smtp=smtp, max_attempts=3, push_timeout=5.0
    )


def tick(
    database_url: str,
    config: DeliveryConfig,
    now: dt.datetime = NOW,
    *,
    stop: threading.Event | None = None,
) -> dispatch.TickReport:
    """One tick at ``now`` on its own engine, as the scheduler process runs it."""
    engine = sa.create_engine(database_url)
    try:
        with Dispatcher(
            lambda: Session(engine),
            config,
            worker="test-worker",
            batch_size=10,
            lease=LEASE,
            threads=3,
            clock=lambda: now,
            stop=stop,
        ) as dispatcher:
            return dispatcher.tick()
    finally:
        engine.dispose()


# ── A scene: one participant, one phone subscribed at the local push service ──────────────


class Scene:
    def __init__(self, session: Session, service: PushEndpoint, *, language: str = "fr") -> None:
        self.session = session
        self.world = w.build(session)
        self.ana = w.participant(session, self.world, "A-001", language=language)
        self.timetable = w.timetable(session, self.ana)
        self.device = w.device(session, self.ana)
        self.subscription, self.browser = w.subscribe(session, service, self.device)
        self.occ = w.occurrence(
            session,
            self.world,
            self.ana,
            opens=NOW - dt.timedelta(hours=1),
            closes=NOW + dt.timedelta(hours=4),
        )
        self.row = w.reminder(session, self.occ, send_at=NOW)

    def reload(self) -> OutboxMessage:
        row: OutboxMessage = w.fresh(self.session, self.row)
        return row


@pytest.fixture
def scene(db_session: Session, push_service: PushEndpoint) -> Scene:
    return Scene(db_session, push_service)


def subscriptions(session: Session) -> list[int]:
    return list(session.scalars(sa.select(PushSubscription.id).order_by(PushSubscription.id)))


def no_health_words(text: str) -> None:
    lowered = text.lower()
    assert [word for word in HEALTH_WORDS if word in lowered] == []


# ── Web Push ──────────────────────────────────────────────────────────────────────────────


def test_reminder_is_pushed_with_vapid_ttl_urgency_topic_and_a_payload_free_of_answers(
    db_session, scene, push_service, config, database_url, vapid_keys
):
    report = tick(database_url, config)

    assert report.outcomes == {"sent": 1}
    (received,) = push_service.requests
    assert received.status == 201 and received.decrypt_error is None
    assert received.vapid is not None, received.vapid_error
    assert received.vapid.claims["sub"] == SUBJECT
    assert received.vapid.public_key == vapid_keys.application_server_key
    assert received.ttl == str(4 * 3600)  # until the questionnaire closes
    assert received.urgency == "normal"
    assert received.headers["topic"] == f"chorus-occ-{scene.occ.id}"
    payload = received.json()
    assert payload == {
        "v": "1",
        "kind": "reminder",
        "lang": "fr",
        "title": "Chorus",
        "body": "Un court questionnaire vous attend dans Chorus.",
        "url": f"{BASE}/app/",
        "tag": str(scene.row.id),
    }
    no_health_words(received.plaintext.decode())
    assert "A-001" not in received.plaintext.decode()
    assert len(received.plaintext) < 4096
    row = scene.reload()
    assert (row.state, row.channel, row.sent_at, row.attempts) == ("sent", "push", NOW, 1)
    assert w.fresh(db_session, scene.subscription).last_success_at == NOW


def test_a_caregiver_is_reminded_on_their_phone_naming_the_child_by_nickname(
    db_session, push_service, config, database_url
):
    world_ = w.build(db_session)
    child = w.participant(db_session, world_, "A-002", age_band="child", nickname="Lou")
    parent = w.caregiver(db_session, child, language="es")
    w.timetable(db_session, parent)
    w.subscribe(db_session, push_service, w.device(db_session, parent))
    occ = w.occurrence(
        db_session,
        world_,
        child,
        opens=NOW - dt.timedelta(hours=1),
        closes=NOW + dt.timedelta(hours=2),
        respondent="proxy",
    )
    row = w.reminder(db_session, occ, send_at=NOW, to=parent)

    assert tick(database_url, config).outcomes == {"sent": 1}

    payload = push_service.requests[0].json()
    assert payload["lang"] == "es" and "Lou" in payload["body"]
    assert payload["tag"] == str(row.id)


def test_every_active_device_gets_it_and_a_revoked_one_does_not(
    db_session, scene, push_service, config, database_url
):
    second = w.device(db_session, scene.ana, label="tablet")
    w.subscribe(db_session, push_service, second)
    revoked = w.device(db_session, scene.ana, label="old phone", revoked_at=NOW)
    _, revoked_browser = w.subscribe(db_session, push_service, revoked)

    assert tick(database_url, config).outcomes == {"sent": 1}

    paths = {r.path for r in push_service.delivered()}
    assert len(paths) == 2
    assert revoked_browser.endpoint.removeprefix(push_service.origin) not in paths


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_removed_and_the_email_fallback_goes_out(
    db_session, scene, push_service, smtp_server, config, database_url, status
):
    scene.timetable.reminder_email = "ana@example.net"
    db_session.commit()
    push_service.answer_next(status)

    assert tick(database_url, config).outcomes == {"sent": 1}

    assert subscriptions(db_session) == []
    (mail,) = smtp_server.messages
    message = mail.message
    assert mail.rcpt_tos == ["ana@example.net"]
    assert message["Content-Language"] == "fr"
    assert message["Subject"] == "Un court questionnaire vous attend"
    assert message["Message-ID"] == f"<chorus-outbox-{scene.row.id}@chorus.example.org>"
    text = message.get_body(("plain",)).get_content()
    assert f"{BASE}/app/" in text and "Bonjour" in text
    no_health_words(text)
    row = scene.reload()
    assert (row.state, row.channel) == ("sent", "email")


def test_a_gone_subscription_with_no_fallback_fails_with_the_reason(
    db_session, scene, push_service, config, database_url
):
    push_service.answer_next(410)
    assert tick(database_url, config).outcomes == {"failed": 1}
    assert subscriptions(db_session) == []
    row = scene.reload()
    assert row.state == "failed"
    assert row.last_error == "every push subscription is gone; no reminder e-mail address"


def test_one_gone_device_is_dropped_while_the_other_delivers(
    db_session, scene, push_service, config, database_url
):
    tablet = w.device(db_session, scene.ana, label="tablet")
    kept, _ = w.subscribe(db_session, push_service, tablet)
    push_service.answer_next(410)  # the first subscription (the phone's) is asked first

    assert tick(database_url, config).outcomes == {"sent": 1}
    assert subscriptions(db_session) == [kept.id]


def test_429_is_retried_no_sooner_than_retry_after_and_the_subscription_kept(
    db_session, scene, push_service, config, database_url
):
    push_service.answer_next(429, retry_after="600")

    assert tick(database_url, config).outcomes == {"retry": 1}

    row = scene.reload()
    assert (row.state, row.attempts, row.last_error) == (
        "pending",
        1,
        "push service answered 429",
    )
    assert row.send_at >= NOW + dt.timedelta(seconds=600)
    assert subscriptions(db_session) == [scene.subscription.id]
    # Not sent again before its time; sent when due.
    assert tick(database_url, config, NOW + dt.timedelta(seconds=300)).outcomes == {}
    assert tick(database_url, config, row.send_at).outcomes == {"sent": 1}
    assert scene.reload().attempts == 2


def test_a_push_service_failing_every_time_stops_after_max_attempts(
    db_session, scene, push_service, config, database_url
):
    push_service.answer_next(503, times=10)
    when = NOW
    outcomes = []
    for _ in range(config.max_attempts):
        outcomes.append(dict(tick(database_url, config, when).outcomes))
        when = scene.reload().send_at
    assert outcomes == [{"retry": 1}, {"retry": 1}, {"failed": 1}]
    row = scene.reload()
    assert row.state == "failed"
    assert row.last_error == "gave up after 3 attempts: push service answered 503"
    assert len(push_service.requests) == 3


# ── E-mail fallback and alert notices ─────────────────────────────────────────────────────


def test_no_push_subscription_sends_the_email_in_the_persons_language(
    db_session, push_service, smtp_server, config, database_url
):
    scene = Scene(db_session, push_service, language="de")
    db_session.delete(scene.subscription)
    scene.timetable.reminder_email = "kim@example.net"
    db_session.commit()

    assert tick(database_url, config).outcomes == {"sent": 1}

    assert push_service.requests == []
    (mail,) = smtp_server.messages
    message = mail.message
    assert message["Content-Language"] == "de"
    assert message["Subject"] == "Ein kurzer Fragebogen wartet auf Sie"
    assert message["X-Chorus-Reminder-Id"] == f"chorus-outbox-{scene.row.id}"
    text = message.get_body(("plain",)).get_content()
    assert "In Chorus wartet ein kurzer Fragebogen auf Sie." in text and f"{BASE}/app/" in text
    no_health_words(text)
    assert scene.reload().channel == "email"


@pytest.mark.parametrize(
    ("email", "smtp_on", "error"),
    [
        (None, True, "no push subscription, and no reminder e-mail address"),
        ("kim@example.net", False, "no push subscription, and e-mail is off"),
    ],
)
def test_nowhere_to_send_fails_with_a_clear_reason(
    db_session, scene, push_service, config, database_url, email, smtp_on, error
):
    db_session.delete(scene.subscription)
    scene.timetable.reminder_email = email
    db_session.commit()
    if not smtp_on:
        config = DeliveryConfig(base_url=BASE, vapid=config.vapid, smtp=None)

    assert tick(database_url, config).outcomes == {"failed": 1}
    row = scene.reload()
    assert row.state == "failed" and row.last_error.startswith(error)


def test_alert_notices_reach_the_right_sites_staff_without_answers(
    db_session, world, smtp_server, config, database_url
):
    make_staff(db_session, "ca@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A")
    make_staff(db_session, "cb@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="B")
    responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=2),
        now=NOW,
    )
    db_session.commit()

    assert tick(database_url, config).outcomes == {"sent": 1}

    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == ["ca@x.org"]
    message = mail.message
    assert message["Subject"] == "A response needs your attention"
    text = message.get_body(("plain",)).get_content()
    assert "fatigue" in text and "site A" in text and f"{BASE}/staff/" in text
    from app.responses.models import Alert

    alert = db_session.scalar(sa.select(Alert))
    for leak in (world.adult.code, alert.rule_id, alert.severity, alert.message, "phq9"):
        assert leak not in text
    no_health_words(text)


def test_an_alert_notice_is_cancelled_when_acknowledged_or_no_longer_in_scope(
    db_session, world, smtp_server, config, database_url
):
    from app.responses.models import Alert

    keep = make_staff(
        db_session, "ca@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    moved = make_staff(
        db_session, "cm@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=2),
        now=NOW,
    )
    db_session.commit()
    db_session.execute(sa.delete(Membership).where(Membership.user_id == moved.id))
    db_session.commit()

    assert tick(database_url, config).outcomes == {"sent": 1, "cancelled": 1}
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ca@x.org"]]
    notes = dict(
        db_session.execute(sa.select(OutboxMessage.staff_user_id, OutboxMessage.note)).all()
    )
    assert notes == {keep.id: None, moved.id: "no longer sees alerts at this site"}

    # A second alert, acknowledged before the scheduler gets to it: not sent.
    responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=3),
        now=NOW,
    )
    db_session.commit()
    db_session.execute(
        sa.update(Alert).where(Alert.acknowledged_at.is_(None)).values(acknowledged_at=NOW)
    )
    db_session.commit()
    assert tick(database_url, config).outcomes == {"cancelled": 1}
    assert len(smtp_server.messages) == 1


def test_alert_notices_fail_clearly_when_email_is_off(db_session, world, config, database_url):
    make_staff(db_session, "ca@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A")
    responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=2),
        now=NOW,
    )
    db_session.commit()
    off = DeliveryConfig(base_url=BASE, vapid=config.vapid, smtp=None)
    assert tick(database_url, off).outcomes == {"failed": 1}
    row = db_session.scalar(sa.select(OutboxMessage))
    assert row.last_error == "e-mail is off (CHORUS_SMTP_HOST is not set)"


# ── Still wanted? ─────────────────────────────────────────────────────────────────────────


def _complete(scene: Scene) -> None:
    scene.occ.completed_at = NOW - dt.timedelta(minutes=1)


def _cancel_occurrence(scene: Scene) -> None:
    scene.occ.cancelled_at = NOW - dt.timedelta(minutes=1)


def _close(scene: Scene) -> None:
    scene.occ.closes_at = NOW


def _withdraw(scene: Scene) -> None:
    scene.ana.status = "withdrawn"
    scene.ana.withdrawn_at = NOW


def _pause_indefinitely(scene: Scene) -> None:
    scene.ana.status = "paused"


@pytest.mark.parametrize(
    ("change", "note"),
    [
        (_complete, "questionnaire answered"),
        (_cancel_occurrence, "questionnaire cancelled"),
        (_close, "questionnaire closed"),
        (_withdraw, "participant withdrawn"),
        (_pause_indefinitely, "paused by the site"),
    ],
)
def test_a_reminder_no_longer_wanted_is_cancelled_not_sent(
    db_session, scene, push_service, config, database_url, change, note
):
    change(scene)
    db_session.commit()

    assert tick(database_url, config).outcomes == {"cancelled": 1}

    assert push_service.requests == []
    row = scene.reload()
    assert (row.state, row.note) == ("cancelled", note)


def test_a_caregiver_who_is_no_longer_linked_gets_no_reminder(
    db_session, push_service, config, database_url
):
    world_ = w.build(db_session)
    child = w.participant(db_session, world_, "A-002", age_band="child")
    parent = w.caregiver(db_session, child)
    w.timetable(db_session, parent)
    w.subscribe(db_session, push_service, w.device(db_session, parent))
    occ = w.occurrence(
        db_session,
        world_,
        child,
        opens=NOW - dt.timedelta(hours=1),
        closes=NOW + dt.timedelta(hours=2),
        respondent="proxy",
    )
    row = w.reminder(db_session, occ, send_at=NOW, to=parent)
    db_session.execute(sa.update(CaregiverLink).values(ended_at=NOW - dt.timedelta(hours=1)))
    db_session.commit()

    assert tick(database_url, config).outcomes == {"cancelled": 1}
    assert push_service.requests == []
    assert w.fresh(db_session, row).note == "caregiver no longer linked"


def test_quiet_hours_move_the_reminder_to_the_next_allowed_instant(
    db_session, scene, push_service, config, database_url
):
    scene.timetable.quiet_hours = [["19:00", "21:00"]]  # it is 19:30 in Paris
    db_session.commit()

    assert tick(database_url, config).outcomes == {"moved": 1}

    assert push_service.requests == []
    row = scene.reload()
    assert (row.state, row.attempts, row.note) == (
        "pending",
        0,
        "moved to the next allowed time",
    )
    assert row.send_at == w.at("2027-03-01 20:00")  # 21:00 in Paris
    assert tick(database_url, config, row.send_at).outcomes == {"sent": 1}


def test_outside_the_persons_windows_it_waits_for_the_next_window(
    db_session, scene, push_service, config, database_url
):
    scene.timetable.windows = {"mon": [["21:30", "22:30"]]}
    db_session.commit()
    assert tick(database_url, config).outcomes == {"moved": 1}
    assert scene.reload().send_at == w.at("2027-03-01 20:30")


def test_a_timetable_pause_until_after_the_close_cancels_with_the_pause_reason(
    db_session, scene, push_service, config, database_url
):
    db_session.add(
        TimetablePause(
            timetable_id=scene.timetable.id,
            starts_on=dt.date(2027, 2, 27),
            ends_on=dt.date(2027, 3, 3),
            reason="hospital stay",
            created_by="test",
        )
    )
    db_session.commit()

    assert tick(database_url, config).outcomes == {"cancelled": 1}
    assert push_service.requests == []
    assert scene.reload().note == "paused: hospital stay"


def test_a_site_pause_with_an_end_moves_the_reminder_to_when_it_lifts(
    db_session, scene, push_service, config, database_url
):
    scene.ana.status = "paused"
    scene.ana.paused_until = dt.date(2027, 3, 1)
    scene.occ.closes_at = NOW + dt.timedelta(days=2)
    db_session.commit()

    assert tick(database_url, config).outcomes == {"moved": 1}
    assert push_service.requests == []
    assert scene.reload().send_at == w.at("2027-03-01 23:00")  # midnight in Paris


# ── Crashes, leases, shutdown ─────────────────────────────────────────────────────────────


def test_a_crash_after_the_push_service_accepted_resends_with_the_same_topic_and_tag(
    db_session, scene, push_service, config, database_url
):
    """The at-least-once window, shown: the push service took the message, then the worker
    died before recording it. The next claim sends again -- with the same Topic (an undelivered
    copy is replaced at the push service) and the same tag (the phone replaces the shown
    notification), so the person sees one reminder."""
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as crashed:
            (row,) = outbox.claim(crashed, NOW, worker="doomed", limit=1, lease=LEASE)
            _, plan = dispatch.prepare(crashed, row, NOW, config)
            crashed.commit()
            assert plan is not None
            assert dispatch.execute(plan, config, clock=lambda: NOW).via == "push"
            # ... and the process dies here: no record(), no commit.
    finally:
        engine.dispose()
    assert scene.reload().state == "sending"

    assert tick(database_url, config, NOW + dt.timedelta(minutes=1)).outcomes == {}
    assert tick(database_url, config, NOW + LEASE + dt.timedelta(seconds=1)).outcomes == {"sent": 1}

    first, second = push_service.delivered()
    assert first.headers["topic"] == second.headers["topic"] == f"chorus-occ-{scene.occ.id}"
    assert first.json()["tag"] == second.json()["tag"] == str(scene.row.id)
    row = scene.reload()
    assert (row.state, row.attempts) == ("sent", 2)


def test_a_send_is_not_started_with_too_little_lease_left(
    db_session, scene, push_service, config, database_url
):
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as session:
            (row,) = outbox.claim(session, NOW, worker="w", limit=1, lease=LEASE)
            _, plan = dispatch.prepare(session, row, NOW, config)
            session.commit()
            assert plan is not None
            late = NOW + LEASE - dt.timedelta(seconds=3)  # a 5 s push timeout would overrun
            result = dispatch.execute(plan, config, clock=lambda: late)
            assert result.skipped
            assert dispatch.record(session, row, plan, result, late, config) == "released"
            session.commit()
    finally:
        engine.dispose()
    assert push_service.requests == []
    row = scene.reload()
    assert (row.state, row.attempts, row.send_at) == ("pending", 0, NOW)


def test_stopping_releases_claimed_rows_that_were_not_started(
    db_session, scene, push_service, config, database_url
):
    stop = threading.Event()
    stop.set()
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as session:
            rows = outbox.claim(session, NOW, worker="w", limit=5, lease=LEASE)
            with Dispatcher(
                lambda: Session(engine),
                config,
                worker="w",
                batch_size=5,
                lease=LEASE,
                clock=lambda: NOW,
                stop=stop,
            ) as dispatcher:
                assert dispatcher._batch(session, rows) == {"released": 1}
    finally:
        engine.dispose()
    assert push_service.requests == []
    row = scene.reload()
    assert (row.state, row.attempts) == ("pending", 0)


def test_a_row_claimed_over_and_over_without_an_outcome_fails_without_sending(
    db_session, scene, push_service, config, database_url
):
    scene.row.attempts = config.max_attempts  # every earlier worker died on it
    db_session.commit()
    assert tick(database_url, config).outcomes == {"failed": 1}
    assert push_service.requests == []
    assert scene.reload().last_error == f"claimed {config.max_attempts} times without an outcome"


def test_a_batch_larger_than_the_threads_sends_each_row_once(
    db_session, push_service, config, database_url
):
    world_ = w.build(db_session)
    rows = []
    for i in range(25):
        person = w.participant(db_session, world_, f"A-{i:03d}")
        w.timetable(db_session, person)
        w.subscribe(db_session, push_service, w.device(db_session, person))
        occ = w.occurrence(
            db_session,
            world_,
            person,
            opens=NOW - dt.timedelta(hours=1),
            closes=NOW + dt.timedelta(hours=2),
        )
        rows.append(w.reminder(db_session, occ, send_at=NOW - dt.timedelta(seconds=i)))

    report = tick(database_url, config)

    assert report.outcomes == {"sent": 25} and report.batches == 3
    tags = sorted(int(r.json()["tag"]) for r in push_service.delivered())
    assert tags == sorted(r.id for r in rows)
    assert set(w.states(db_session).values()) == {"sent"}


def test_alert_notices_are_written_in_each_staff_members_language(
    db_session, world, smtp_server, config, database_url
):
    """#11: staff accounts carry a language; their alert e-mails use it."""
    french = make_staff(
        db_session, "fr@x.org", study=world.study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    french.language = "fr"
    db_session.commit()
    responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        phq9(world.adult.id, item9=2),
        now=NOW,
    )
    db_session.commit()

    assert tick(database_url, config).outcomes == {"sent": 1}
    (mail,) = smtp_server.messages
    assert mail.message["Subject"] == "Une réponse demande votre attention"
    text = mail.message.get_body(("plain",)).get_content()
    assert "Une réponse dans l'étude fatigue sur le site A demande votre attention." in text
    no_health_words(text)
