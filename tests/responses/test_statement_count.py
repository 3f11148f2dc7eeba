"""What one submission costs the database, and that the per-process caches behind it
(app/responses/lookup.py) never serve a stale key or version."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.extensions import db
from app.responses import keys, lookup
from app.responses import service as responses
from app.responses.models import Response, StudyKey
from tests.responses.conftest import HOLDER_PASSPHRASE, device_for
from tests.responses.test_api import body, post

# Statements one new submission sends (transaction control not counted): the device with its
# participant, the one lookup, the insert, the occurrence it completes. Was 13 (and 2 commits).
SUBMISSION_STATEMENTS = 4
CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")


@contextmanager
def counting(app) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def listener(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(CONTROL):
            seen.append(" ".join(statement.split())[:120])

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def test_a_submission_costs_a_fixed_small_number_of_statements(client, app, world):
    # A first one warms the caches and the device's last-seen touch (once a minute).
    assert post(client, world.adult_token, body(world.adult.id)).status_code == 201
    with counting(app) as seen:
        response = post(client, world.adult_token, body(world.adult.id))
    assert response.status_code == 201, response.get_json()
    assert len(seen) <= SUBMISSION_STATEMENTS, "\n".join(seen)
    # The resend check, version, study and key come from the one lookup.
    assert not any(s.startswith("SELECT instrument_versions") for s in seen)
    assert not any(s.startswith("SELECT study_keys") for s in seen)


def test_a_resend_still_gets_its_receipt_with_warm_caches(client, app, world):
    payload = body(world.adult.id)
    first = post(client, world.adult_token, payload)
    again = post(client, world.adult_token, payload)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()


def test_a_key_rotated_elsewhere_seals_the_next_submission_with_the_new_key(
    client, app, world, database_url
):
    first = post(client, world.adult_token, body(world.adult.id))
    assert first.status_code == 201
    # Rotate through a connection of its own, as `chorus keys rotate` in another process
    # would: this process's cache holds the old key and learns of nothing.
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as other:
            study = keys.study_by_slug(other, "fatigue")
            credential = keys.HolderCredential("staff", HOLDER_PASSPHRASE, _holder(other, world))
            keys.rotate(other, study, credential, actor="test")
            other.commit()
            new_key = other.scalar(
                sa.select(StudyKey.key_id).where(
                    StudyKey.study_id == study.id, StudyKey.retired_at.is_(None)
                )
            )
    finally:
        engine.dispose()
    second = post(client, world.adult_token, body(world.adult.id))
    assert second.status_code == 201
    with app.app_context():
        session = db.session()
        old_row = session.get(Response, first.get_json()["response_id"])
        new_row = session.get(Response, second.get_json()["response_id"])
        assert old_row is not None and new_row is not None
        assert new_row.study_key_id == new_key != old_row.study_key_id
        holder = keys.HolderCredential("staff", HOLDER_PASSPHRASE, _holder(session, world))
        opened = responses.open_one(session, new_row.id, holder)
        assert opened["answers"]["fatigue"] == 6
        session.commit()


def _holder(session: Session, world):  # type: ignore[no-untyped-def]
    from app.accounts.models import StaffUser

    return session.get(StaffUser, world.holder.id)


def test_a_corrupt_key_row_is_refused_not_sealed_to(client, app, world, database_url):
    lookup.clear_caches()
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(StudyKey)
                .where(StudyKey.study_id == world.study.id)
                .values(public_key=b"\x01" * 32)
            )
    finally:
        engine.dispose()
    with pytest.raises(RuntimeError, match="does not match its public key"), app.app_context():
        responses.submit(
            db.session(),
            device_for(db.session(), world.adult_token),
            _submission(world),
            now=responses.dt.datetime.now(responses.dt.UTC),
        )
    lookup.clear_caches()


def _submission(world):  # type: ignore[no-untyped-def]
    from tests.responses.conftest import diary

    return diary(world.adult.id, client_uuid=uuid.uuid4())
