"""The audit chain detects an edited, a deleted and a reordered event, and names the first."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from app.audit import service as audit
from app.audit.models import AuditEvent


def _write_events(session, n=5):
    for i in range(n):
        audit.record(
            session, actor="staff:1", action="participant.viewed", target=f"participant:{i}"
        )
    session.commit()


def _disable_append_only(session):
    """What an attacker with database access would do first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        )
    else:
        session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
    session.commit()


def test_intact_chain_verifies(db_session):
    _write_events(db_session)
    report = audit.verify(db_session)
    assert report.ok and report.events_checked == 5


def test_events_link_to_their_predecessor(db_session):
    _write_events(db_session, 3)
    events = db_session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_events WHERE seq = 1"],
)
def test_database_refuses_to_change_audit_events(db_session, statement):
    _write_events(db_session, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        db_session.execute(sa.text(statement))
    db_session.rollback()


def test_edited_event_is_named(db_session):
    _write_events(db_session)
    _disable_append_only(db_session)
    db_session.execute(sa.text("UPDATE audit_events SET target = 'participant:99' WHERE seq = 3"))
    db_session.commit()
    report = audit.verify(db_session)
    assert not report.ok and report.first_bad_seq == 3
    assert "edited" in report.problem


def test_edited_details_are_caught_too(db_session):
    audit.record(db_session, actor="staff:1", action="export.created", details={"rows": 10})
    db_session.commit()
    _disable_append_only(db_session)
    db_session.execute(
        sa.update(AuditEvent).where(AuditEvent.seq == 1).values(details={"rows": 11})
    )
    db_session.commit()
    assert audit.verify(db_session).first_bad_seq == 1


def test_deleted_event_is_named(db_session):
    _write_events(db_session)
    _disable_append_only(db_session)
    db_session.execute(sa.text("DELETE FROM audit_events WHERE seq = 2"))
    db_session.commit()
    report = audit.verify(db_session)
    assert not report.ok and report.first_bad_seq == 2
    assert "deleted" in report.problem


def test_deleted_last_event_is_caught(db_session):
    _write_events(db_session)
    _disable_append_only(db_session)
    db_session.execute(sa.text("DELETE FROM audit_events WHERE seq = 5"))
    db_session.commit()
    report = audit.verify(db_session)
    assert not report.ok and report.first_bad_seq == 5


def test_swapped_order_is_named(db_session):
    _write_events(db_session)
    _disable_append_only(db_session)
    # swap events 2 and 4 by exchanging their sequence numbers
    db_session.execute(sa.text("UPDATE audit_events SET seq = -2 WHERE seq = 2"))
    db_session.execute(sa.text("UPDATE audit_events SET seq = 2 WHERE seq = 4"))
    db_session.execute(sa.text("UPDATE audit_events SET seq = 4 WHERE seq = -2"))
    db_session.commit()
    report = audit.verify(db_session)
    assert not report.ok and report.first_bad_seq == 2


def test_cli_verify_reports_and_exits_nonzero_on_tampering(app, db_session):
    _write_events(db_session, 3)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "3 events verified" in ok.output
    _disable_append_only(db_session)
    db_session.execute(sa.text("UPDATE audit_events SET actor = 'staff:2' WHERE seq = 2"))
    db_session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert "first bad event 2" in bad.output


def test_concurrent_appends_from_two_sessions_keep_one_chain(database_url):
    """Two writers interleaving: the head row serialises them, the chain stays linear."""
    import threading

    engine = sa.create_engine(database_url)
    errors = []

    def writer(tag):
        try:
            for i in range(10):
                with sa.orm.Session(engine) as session:
                    audit.record(
                        session, actor=f"writer:{tag}", action="test.append", target=str(i)
                    )
                    session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with sa.orm.Session(engine) as session:
        report = audit.verify(session)
    engine.dispose()
    assert errors == []
    assert report.ok and report.events_checked == 20
