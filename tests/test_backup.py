"""`chorus backup` of a live study under submission load and `chorus restore` elsewhere: every
acknowledged response is there, opens with the key holder's passphrase, the audit chain
verifies; and the refusals that keep a restore from doing harm."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app import backup as backups
from app import create_app
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.extensions import db
from app.responses import keys
from app.responses import service as responses
from app.responses.models import Response
from tests.conftest import make_settings
from tests.responses.conftest import HOLDER_PASSPHRASE
from tests.responses.conftest import world as world
from tests.responses.test_api import body, post

WRITERS = 3
PER_WRITER = 25  # bounded: the load stops by itself


def _fresh_target(database_url: str, tmp_path: Path) -> str:
    """An empty database of the same engine to restore into."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    name = f"{url.database}_restore"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def test_a_live_study_backed_up_under_load_restores_every_acknowledged_response(
    app, world, database_url, tmp_path
):
    acknowledged: list[str] = []
    failures: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer() -> None:
        client = app.test_client()
        for _ in range(PER_WRITER):
            if stop.is_set():
                return
            answer = post(client, world.adult_token, body(world.adult.id, id=str(uuid.uuid4())))
            with lock:
                if answer.status_code == 201:
                    acknowledged.append(answer.get_json()["response_id"])
                else:
                    failures.append(answer.status_code)

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 10 and time.monotonic() < deadline and not failures:
        time.sleep(0.02)
    with lock:
        before_backup = set(acknowledged)
    out = tmp_path / "chorus.backup"
    result = app.test_cli_runner().invoke(args=["backup", "--out", str(out)])
    for thread in threads:
        thread.join(timeout=120)
    assert result.exit_code == 0, result.output
    assert failures == []
    assert len(before_backup) >= 10
    assert out.stat().st_mode & 0o077 == 0  # readable by the operator only

    target = _fresh_target(database_url, tmp_path)
    restored_app = create_app(make_settings(target, tmp_path / "restored-instance"))
    restored = restored_app.test_cli_runner().invoke(args=["restore", str(out)])
    assert restored.exit_code == 0, restored.output
    try:
        with restored_app.app_context():
            session = db.session()
            ids = list(session.scalars(sa.select(Response.id)))
            # Every response acknowledged before the backup began, each once; nothing that was
            # never acknowledged (the ones in flight were all acknowledged in the end).
            assert before_backup <= set(ids)
            assert len(ids) == len(set(ids))
            assert set(ids) <= set(acknowledged)
            holder = session.scalar(sa.select(StaffUser).where(StaffUser.email == "dm@example.org"))
            credential = keys.HolderCredential("staff", HOLDER_PASSPHRASE, holder)
            opened = {
                row.id: payload["answers"]["fatigue"]
                for row, payload in responses.open_study(session, "fatigue", credential)
            }
            session.commit()
            assert set(opened) == set(ids) and set(opened.values()) == {6}
            report = audit.verify(session)
            assert report.ok, report.problem
    finally:
        with restored_app.app_context():
            db.engine.dispose()


def test_a_restore_into_a_database_with_tables_is_refused_and_changes_nothing(
    app, world, database_url, tmp_path
):
    out = tmp_path / "b.backup"
    assert app.test_cli_runner().invoke(args=["backup", "--out", str(out)]).exit_code == 0
    refused = app.test_cli_runner().invoke(args=["restore", str(out)])
    assert refused.exit_code == 1
    assert "is not empty" in refused.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0


def test_backup_never_overwrites_a_file(app, database_url, tmp_path):
    out = tmp_path / "exists.backup"
    out.write_text("keep me")
    result = app.test_cli_runner().invoke(args=["backup", "--out", str(out)])
    assert result.exit_code == 1 and "already exists" in result.output
    assert out.read_text() == "keep me"


def test_a_file_that_is_not_a_backup_is_refused(tmp_path):
    stray = tmp_path / "notes.txt"
    stray.write_text("not a database")
    with pytest.raises(backups.BackupError, match="not a Chorus backup"):
        backups.restore(f"sqlite:///{tmp_path / 'new.sqlite3'}", stray)
    assert not (tmp_path / "new.sqlite3").exists()


def test_a_backup_from_the_other_engine_is_refused(tmp_path):
    dump = tmp_path / "pg.backup"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
    with pytest.raises(
        backups.BackupError, match="postgresql backup; restore it into a postgresql"
    ):
        backups.restore(f"sqlite:///{tmp_path / 'new.sqlite3'}", dump)
