"""A database writer rewriting the audit log (issue #10, item 3), with the append-only triggers
dropped first. Each scenario passed `chorus audit verify` before the chain was keyed and
checkpointed: now a keyed-chain rewrite fails on its own, and truncations fail against a
checkpoint kept outside the database."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.audit import service as audit
from app.audit.models import AuditEvent, AuditHead
from tests.audit.test_chain import _disable_append_only, _write_events


def _set_head(session, seq: int, digest: str) -> None:  # type: ignore[no-untyped-def]
    session.execute(
        sa.update(AuditHead).where(AuditHead.id == 1).values(last_seq=seq, last_hash=digest)
    )


def _rechain_from(session, start: int, *, scheme: int, key: bytes | None = None) -> None:  # type: ignore[no-untyped-def]
    """Recompute every hash from `start` on, as an attacker with the public function would."""
    events = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)).all()
    previous = audit.GENESIS_HASH
    for event in events:
        if event.seq >= start:
            event.prev_hash = previous
            event.scheme = scheme
            event.hash = audit.event_hash(
                seq=event.seq,
                occurred_at=event.occurred_at,
                actor=event.actor,
                action=event.action,
                target=event.target,
                reason=event.reason,
                details=event.details,
                prev_hash=previous,
                scheme=scheme,
                key=key,
            )
        previous = event.hash
    session.flush()
    _set_head(session, events[-1].seq, previous)
    session.commit()


def test_new_events_are_keyed(db_session):
    _write_events(db_session, 2)
    events = db_session.scalars(sa.select(AuditEvent)).all()
    assert {e.scheme for e in events} == {audit.SCHEME_KEYED}
    plain = audit.event_hash(
        seq=1,
        occurred_at=events[0].occurred_at,
        actor=events[0].actor,
        action=events[0].action,
        target=events[0].target,
        reason=None,
        details=events[0].details,
        prev_hash=audit.GENESIS_HASH,
    )
    assert events[0].hash != plain


def test_edit_and_recompute_with_the_public_function_fails(db_session):
    _write_events(db_session)
    _disable_append_only(db_session)
    db_session.execute(sa.text("UPDATE audit_events SET target = 'participant:99' WHERE seq = 3"))
    db_session.commit()
    _rechain_from(db_session, 3, scheme=audit.SCHEME_PLAIN)
    report = audit.verify(db_session)
    assert not report.ok and report.first_bad_seq == 3
    assert "public hash" in report.problem


def test_whole_log_rewritten_with_the_public_function_fails(db_session):
    _write_events(db_session)
    _disable_append_only(db_session)
    _rechain_from(db_session, 1, scheme=audit.SCHEME_PLAIN)
    report = audit.verify(db_session)
    assert not report.ok and "no keyed seal" in report.problem


def test_edit_and_recompute_with_a_guessed_key_fails(db_session):
    _write_events(db_session)
    _disable_append_only(db_session)
    db_session.execute(sa.text("UPDATE audit_events SET actor = 'staff:2' WHERE seq = 4"))
    db_session.commit()
    _rechain_from(db_session, 4, scheme=audit.SCHEME_KEYED, key=b"g" * 48)
    report = audit.verify(db_session)
    assert not report.ok and report.first_bad_seq == 4 and "edited" in report.problem


def test_deleting_the_last_event_and_rewinding_the_head_fails_against_a_checkpoint(db_session):
    _write_events(db_session)
    pin = audit.checkpoint(db_session, audit.verify(db_session))
    assert pin.seq == 5
    _disable_append_only(db_session)
    fourth = db_session.get(AuditEvent, 4)
    db_session.execute(sa.text("DELETE FROM audit_events WHERE seq = 5"))
    _set_head(db_session, 4, fourth.hash)
    db_session.commit()
    # What the key alone cannot show (documented): the shortened chain is consistent.
    assert audit.verify(db_session).ok
    report = audit.verify(db_session, [pin])
    assert not report.ok and report.first_bad_seq == 5
    assert "removed from the end" in report.problem


def test_deleting_every_event_and_resetting_the_head_fails_against_a_checkpoint(db_session):
    _write_events(db_session, 3)
    pin = audit.checkpoint(db_session, audit.verify(db_session))
    _disable_append_only(db_session)
    db_session.execute(sa.text("DELETE FROM audit_events"))
    _set_head(db_session, 0, audit.GENESIS_HASH)
    db_session.commit()
    report = audit.verify(db_session, [pin])
    assert not report.ok and report.first_bad_seq == 1


def test_rewrite_before_a_checkpoint_with_the_key_is_named(db_session):
    """Even a writer holding the key cannot rewrite what a checkpoint has seen."""
    _write_events(db_session, 4)
    pin = audit.checkpoint(db_session, audit.verify(db_session))
    _disable_append_only(db_session)
    db_session.execute(sa.text("UPDATE audit_events SET actor = 'staff:9' WHERE seq = 2"))
    db_session.commit()
    _rechain_from(db_session, 2, scheme=audit.SCHEME_KEYED, key=b"k" * 48)  # the tests' key
    assert audit.verify(db_session).ok
    report = audit.verify(db_session, [pin])
    assert not report.ok and report.first_bad_seq == 4 and "checkpoint" in report.problem


def test_cli_checkpoint_then_verify_with_the_file(app, db_session, tmp_path):
    _write_events(db_session, 3)
    runner = app.test_cli_runner()
    pins = tmp_path / "audit-checkpoints.jsonl"
    made = runner.invoke(args=["audit", "checkpoint", "--append", str(pins)])
    assert made.exit_code == 0, made.output
    assert '"seq": 3' in pins.read_text()
    ok = runner.invoke(args=["audit", "verify", "--checkpoint", str(pins)])
    assert ok.exit_code == 0 and "1 checkpoints matched" in ok.output
    _disable_append_only(db_session)
    second = db_session.get(AuditEvent, 2)
    db_session.execute(sa.text("DELETE FROM audit_events WHERE seq = 3"))
    _set_head(db_session, 2, second.hash)
    db_session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # the key alone cannot tell
    bad = runner.invoke(args=["audit", "verify", "--checkpoint", str(pins)])
    assert bad.exit_code == 1 and "removed from the end" in bad.output
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0


def test_cli_names_an_unreadable_checkpoint_line(app, db_session, tmp_path):
    pins = tmp_path / "pins.jsonl"
    pins.write_text('{"seq": 1, "hash": "00", "at": "2026-01-01T00:00:00Z"}\n')
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoint", str(pins)])
    assert result.exit_code != 0 and "line 1" in result.output


def test_migration_seals_plain_events_and_keeps_them_verifiable(app, database_url):
    """Events written before 0005 (plain SHA-256) still verify after the upgrade, closed by a
    keyed seal; rewriting them with the public function breaks the seal."""
    from flask_migrate import downgrade, upgrade

    engine = sa.create_engine(database_url)
    with app.app_context():
        downgrade(revision="0004")
        previous = audit.GENESIS_HASH
        with engine.begin() as conn:
            for seq in (1, 2, 3):
                row = {
                    "seq": seq,
                    "actor": "staff:1",
                    "action": "participant.viewed",
                    "target": f"participant:{seq}",
                    "reason": None,
                    "details": {},
                    "prev_hash": previous,
                }
                when = dt.datetime(2026, 1, seq, 12, 0, tzinfo=dt.UTC)
                digest = audit.event_hash(occurred_at=when, **row)
                table = sa.table(
                    "audit_events",
                    *(sa.column(c) for c in ("seq", "actor", "action", "target", "reason")),
                    sa.column("details", sa.JSON()),
                    sa.column("occurred_at", sa.DateTime(timezone=True)),
                    sa.column("prev_hash"),
                    sa.column("hash"),
                )
                conn.execute(table.insert().values(**row, occurred_at=when, hash=digest))
                previous = digest
            conn.execute(
                sa.text("UPDATE audit_head SET last_seq = 3, last_hash = :h WHERE id = 1"),
                {"h": previous},
            )
        upgrade()
    with sa.orm.Session(engine) as session:
        report = audit.verify(session)
        assert report.ok and report.events_checked == 4 and report.plain_events == 3
        seal = session.get(AuditEvent, 4)
        assert seal.action == audit.SEAL_ACTION and seal.details == {"plain_until": 3}
        audit.record(session, actor="cli", action="test.after")
        session.commit()
        assert audit.verify(session).ok
        _disable_append_only(session)
        session.execute(sa.text("UPDATE audit_events SET actor = 'staff:7' WHERE seq = 2"))
        session.commit()
        _rechain_from(session, 2, scheme=audit.SCHEME_PLAIN)
        assert not audit.verify(session).ok
    engine.dispose()
