"""Key holders, wrong passphrases, rotation and re-sealing, and what a thief cannot read."""

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import crypto
from app.audit.models import AuditEvent
from app.db import utcnow
from app.errors import Invalid
from app.responses import keys
from app.responses import service as responses
from app.responses.models import KeyHolderWrap, Response, StudyKey
from app.studies.models import Role
from tests.factories import make_staff
from tests.responses.conftest import HOLDER_PASSPHRASE, device_for, diary

CANARY = "CANARY-d41d8cd98f-never-stored-in-clear"


def holder(world, passphrase=HOLDER_PASSPHRASE):
    return keys.HolderCredential("staff", passphrase, world.holder)


def test_wrong_passphrase_fails_cleanly_and_is_audited(db_session, world):
    with pytest.raises(keys.KeyUnlockFailed) as refused:
        keys.unlock(db_session, world.study, holder(world, "not the passphrase!"), purpose="test")
    db_session.commit()
    assert "not the passphrase" not in str(refused.value)
    actions = db_session.scalars(sa.select(AuditEvent.action)).all()
    assert actions[-1] == "study_key.unlock_failed"


def test_a_recovery_key_typo_is_caught_before_trying_it(db_session, world):
    typo = world.recovery_key[:-1] + ("A" if world.recovery_key[-1] != "A" else "B")
    with pytest.raises(Invalid) as refused:
        keys.unlock(
            db_session, world.study, keys.HolderCredential("recovery", typo), purpose="test"
        )
    assert "recovery_key" in refused.value.errors


def test_adding_a_holder_needs_an_existing_holders_secret(db_session, world):
    second = make_staff(db_session, "dm2@example.org", study=world.study, role=Role.DATA_MANAGER)
    with pytest.raises(keys.KeyUnlockFailed):
        keys.add_holder(
            db_session,
            world.study,
            existing=holder(world, "wrong wrong wrong"),
            new_holder=second,
            new_passphrase="second holder passphrase",
            actor="test",
        )
    db_session.rollback()
    keys.add_holder(
        db_session,
        world.study,
        existing=holder(world),
        new_holder=second,
        new_passphrase="second holder passphrase",
        actor="test",
    )
    db_session.commit()
    assert keys.unlock(
        db_session,
        world.study,
        keys.HolderCredential("staff", "second holder passphrase", second),
        purpose="test",
    )


def test_only_data_managers_and_admins_hold_keys(db_session, world):
    coordinator = make_staff(
        db_session, "coord@example.org", study=world.study, role=Role.SITE_COORDINATOR
    )
    from app.errors import Forbidden

    with pytest.raises(Forbidden):
        keys.add_holder(
            db_session,
            world.study,
            existing=holder(world),
            new_holder=coordinator,
            new_passphrase="coordinator passphrase",
            actor="test",
        )


def test_rotation_seals_new_responses_with_the_new_key_and_old_ones_still_open(db_session, world):
    device = device_for(db_session, world.adult_token)
    old = responses.submit(db_session, device, diary(world.adult.id), now=utcnow())
    db_session.commit()
    new_recovery = keys.rotate(db_session, world.study, holder(world), actor="test")
    db_session.commit()
    assert new_recovery != world.recovery_key
    new = responses.submit(
        db_session,
        device,
        diary(world.adult.id, answers={"fatigue": 1, "pain": 0, "sleep": "ok", "mood": "ok"}),
        now=utcnow(),
    )
    db_session.commit()
    old_row, new_row = (
        db_session.get(Response, old.response_id),
        db_session.get(Response, new.response_id),
    )
    assert old_row.study_key_id != new_row.study_key_id
    assert responses.open_one(db_session, old.response_id, holder(world))["answers"]["fatigue"] == 6
    assert responses.open_one(db_session, new.response_id, holder(world))["answers"]["fatigue"] == 1

    assert keys.reseal(db_session, world.study, holder(world)) == 1
    db_session.commit()
    db_session.refresh(old_row)
    assert old_row.study_key_id == new_row.study_key_id
    assert crypto.envelope_key_id(old_row.sealed) == new_row.study_key_id
    assert (
        responses.open_one(
            db_session, old.response_id, keys.HolderCredential("recovery", new_recovery)
        )["answers"]["fatigue"]
        == 6
    )


def _everything_stored(db_session, settings) -> bytes:
    """Every byte a thief would take: database files (or all rows), the instance folder, the environment."""
    blobs = []
    if settings.uses_sqlite:
        db_file = Path(settings.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            path = Path(str(db_file) + suffix)
            if path.exists():
                blobs.append(path.read_bytes())
    else:
        for table in sa.inspect(db_session.get_bind()).get_table_names():
            for row in db_session.execute(sa.text(f"SELECT * FROM {table}")):
                blobs.append(repr(tuple(row)).encode())
    for path in settings.instance_path.rglob("*"):
        if path.is_file():
            blobs.append(path.read_bytes())
    blobs.append(repr(dict(os.environ)).encode())
    return b"\n".join(blobs)


def test_canary_answer_appears_nowhere_in_storage_or_logs(db_session, world, settings, caplog):
    caplog.set_level("DEBUG")
    answers = {"fatigue": 3, "pain": 0, "sleep": "ok", "mood": "ok", "anything_else": CANARY}
    responses.submit(
        db_session,
        device_for(db_session, world.adult_token),
        diary(world.adult.id, answers=answers),
        now=utcnow(),
    )
    db_session.commit()
    stored = _everything_stored(db_session, settings)
    assert CANARY.encode() not in stored
    assert CANARY not in caplog.text
    opened = next(
        payload for _, payload in responses.open_study(db_session, "fatigue", holder(world))
    )
    assert opened["answers"]["anything_else"] == CANARY


def test_database_instance_and_environment_without_a_passphrase_open_nothing(
    db_session, world, settings
):
    device = device_for(db_session, world.adult_token)
    receipt = responses.submit(db_session, device, diary(world.adult.id), now=utcnow())
    db_session.commit()
    stored = _everything_stored(db_session, settings)
    # The private key is nowhere in the clear...
    unlocked = keys.unlock(db_session, world.study, holder(world), purpose="test")[0]
    assert unlocked._private.private_bytes_raw() not in stored
    # ...and no secret the server keeps (config, instance files, environment) unwraps it.
    candidates = [
        settings.secret_key,
        *(
            p.read_text(errors="ignore").strip()
            for p in settings.instance_path.rglob("*")
            if p.is_file()
        ),
        *os.environ.values(),
    ]
    wraps = db_session.scalars(sa.select(KeyHolderWrap.wrapped_key)).all()
    for candidate in {c for c in candidates if c}:
        for wrapped in wraps:
            with pytest.raises((crypto.WrongPassphrase, crypto.WrappedKeyError)):
                crypto.unwrap_for_holder(wrapped, candidate)
    row = db_session.get(Response, receipt.response_id)
    assert row.study_key_id == db_session.scalar(
        sa.select(StudyKey.key_id).where(StudyKey.study_id == world.study.id)
    )
