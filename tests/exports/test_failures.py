"""No export stays "running" forever: one that fails on an error ends "failed" with a reason,
one whose process dies is found ("abandoned") by its silent heartbeat, both show as failed on
the history page, the progress, the API and the command line, and exporting again gives the
whole dataset once.

The failures are real: a stored response whose ciphertext was damaged, and a `chorus export`
process killed with SIGKILL while its ZIP was streaming."""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.audit.models import AuditEvent
from app.exports import service as exports
from app.exports.model import ExportOptions
from app.exports.models import ExportRecord
from app.responses import keys
from app.responses.models import Response
from app.web.site.exports import failure_texts
from tests.exports.conftest import ALL_FORMATS, PASSPHRASE, SECRET, run_export
from tests.workspace.world import sign_in_page

ROOT = Path(__file__).resolve().parents[2]


def _events(db_session, export_id: str) -> list[str]:
    return [
        event.action
        for event in db_session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq))
        if (event.details or {}).get("export_id") == export_id
    ]


def _records(db_session) -> list[ExportRecord]:
    db_session.expire_all()
    return list(db_session.scalars(sa.select(ExportRecord).order_by(ExportRecord.started_at)))


def _response_ids(zip_bytes: bytes) -> list[str]:
    ids = []
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as bundle:
        for name in bundle.namelist():
            if name.startswith("data/") and name != "data/long.csv":
                rows = csv.DictReader(io.StringIO(bundle.read(name).decode("utf-8")))
                ids.extend(row["response_id"] for row in rows)
    return ids


def test_every_failure_code_has_a_translated_text():
    assert set(failure_texts()) == set(exports.FAILURES)


def test_a_response_that_does_not_open_fails_the_export_with_a_reason_and_a_retry_exports_once(
    db_session, export_world, caplog
):
    manager = db_session.get(StaffUser, export_world.manager_id)
    credential = keys.HolderCredential("staff", PASSPHRASE, manager)
    request = exports.ExportRequest("cohort", ExportOptions(formats=frozenset({"csv", "spss"})))
    # A damaged row, as a bad disk or a botched restore would leave it: one byte of one
    # response's ciphertext flipped.
    victim = db_session.scalars(sa.select(Response).order_by(Response.finished_at)).all()[4]
    original = bytes(victim.sealed)
    damaged = bytearray(original)
    damaged[-5] ^= 0x01
    db_session.execute(
        sa.update(Response).where(Response.id == victim.id).values(sealed=bytes(damaged))
    )
    db_session.commit()

    with pytest.raises(exports.ExportFailed) as failed:
        run_export(db_session, manager, credential, request, channel="api")
    assert failed.value.failure == "unreadable_response"
    assert "could not be opened" in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__

    [record] = _records(db_session)
    assert (record.status, record.failure) == ("failed", "unreadable_response")
    assert record.finished_at is not None and record.manifest_sha256 is None
    assert _events(db_session, record.id) == ["export.started", "export.failed"]
    # The log names the export, the reason and where; no participant or answer.
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert record.id in logged and "unreadable_response" in logged
    assert not any(code in logged for code in ("LY-001", "LY-002", "LE-001"))

    # Repaired, the same export again: one completed export holding each response once.
    db_session.execute(sa.update(Response).where(Response.id == victim.id).values(sealed=original))
    db_session.commit()
    data, prepared = run_export(db_session, manager, credential, request, channel="api")
    ids = _response_ids(data)
    assert len(ids) == len(set(ids)) == 8 and victim.id in ids
    assert [(r.status, r.failure) for r in _records(db_session)] == [
        ("failed", "unreadable_response"),
        ("completed", None),
    ]
    assert _events(db_session, prepared.export_id) == ["export.started", "export.completed"]


def _cli_process(database_url: str, instance: Path, out: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CHORUS_ENV": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "CHORUS_AUDIT_KEY": "k" * 48,  # tests/conftest.py's, so the audit chain continues
        "CHORUS_INSTANCE_PATH": str(instance),
    }
    args = ["export", "--study", "cohort", "--out", out, "--holder", "dm@example.org"]
    for fmt in sorted(ALL_FORMATS):
        args += ["--format", fmt]
    return subprocess.Popen(
        [sys.executable, "-c", "from app.cli.main import main; main()", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )


def test_a_killed_export_process_ends_failed_visibly_and_a_retry_exports_once(
    app, client, runner, db_session, export_world, database_url, tmp_path
):
    child = _cli_process(database_url, tmp_path / "instance", "-")
    try:
        assert child.stdin is not None and child.stdout is not None
        # The smallest pipe Linux allows: the ZIP cannot fit, so the export is still streaming
        # (suspended in its write) when it is killed.
        fcntl.fcntl(child.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
        child.stdin.write(PASSPHRASE.encode() + b"\n")
        child.stdin.close()
        first = child.stdout.read(1024)
        assert first[:2] == b"PK"  # the ZIP had begun to stream
        assert child.poll() is None, "the export finished before it could be killed"
        [record] = _records(db_session)
        assert record.status == "running"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()
    assert child.returncode == -signal.SIGKILL
    export_id = record.id

    # Nothing marks it failed while its heartbeat is recent (a live export looks the same)...
    assert exports.fail_abandoned(db_session) == []
    db_session.commit()
    [record] = _records(db_session)
    assert record.status == "running"

    # ... and time passes: the heartbeat is older than the limit once nothing refreshes it.
    later = record.heartbeat_at + exports.ABANDONED_AFTER + dt.timedelta(seconds=1)
    long_ago = dt.datetime.now(dt.UTC) - (later - record.heartbeat_at)
    db_session.execute(
        sa.update(ExportRecord)
        .where(ExportRecord.id == export_id)
        .values(heartbeat_at=long_ago, started_at=long_ago - dt.timedelta(seconds=5))
    )
    db_session.commit()

    # The history page finds it, marks it failed and says why; the progress agrees.
    sign_in_page(client, "dm@example.org")
    page = client.get("/staff/studies/cohort/exports/history")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "failed" in html and "The process running the export stopped" in html
    body = client.get(f"/staff/studies/cohort/exports/{export_id}/progress.json").get_json()
    assert body["status"] == "failed" and "stopped" in body["failure"]
    [record] = _records(db_session)
    assert (record.status, record.failure) == ("failed", "abandoned")
    assert _events(db_session, export_id) == ["export.started", "export.failed"]
    assert exports.fail_abandoned(db_session) == []  # once only

    listed = runner.invoke(args=["export", "--study", "cohort", "--history"])
    assert listed.exit_code == 0, listed.output
    assert f"{export_id}  failed" in listed.output
    assert "failed (abandoned): The process running the export stopped" in listed.output

    # Retrying is exporting again; a .part left by a killed run is replaced, not appended to.
    out = tmp_path / "cohort.zip"
    (tmp_path / "cohort.zip.part").write_bytes(b"PK left over by a killed run")
    again = runner.invoke(
        args=["export", "--study", "cohort", "--out", str(out), "--holder", "dm@example.org"]
        + [arg for fmt in sorted(ALL_FORMATS) for arg in ("--format", fmt)],
        input=PASSPHRASE + "\n",
    )
    assert again.exit_code == 0, again.output
    assert not (tmp_path / "cohort.zip.part").exists()
    data = out.read_bytes()
    ids = _response_ids(data)
    assert len(ids) == len(set(ids)) == 8
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["counts"]["responses"] == 8
    statuses = [(r.status, r.failure) for r in _records(db_session)]
    assert statuses == [("failed", "abandoned"), ("completed", None)]


def test_a_running_export_keeps_beating_and_is_not_taken_for_abandoned(
    db_session, export_world, monkeypatch
):
    """The heartbeat thread really writes while the stream is suspended (a slow client)."""
    monkeypatch.setattr(exports, "HEARTBEAT_SECONDS", 0.05)
    manager = db_session.get(StaffUser, export_world.manager_id)
    prepared = exports.prepare(
        db_session,
        user=manager,
        credential=keys.HolderCredential("staff", PASSPHRASE, manager),
        request=exports.ExportRequest("cohort", ExportOptions()),
        deid_key=exports.deidentification_key(SECRET),
        channel="api",
    )
    db_session.commit()
    stream = prepared.chunks(db_session.commit)
    first = next(stream)  # the stream is suspended now, its read snapshot open
    with Session(db_session.get_bind()) as watcher:  # another worker, as the page's poll
        [record] = _records(watcher)
        started_beat = record.heartbeat_at
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            [record] = _records(watcher)
            if record.heartbeat_at > started_beat:
                break
            time.sleep(0.05)
        assert record.heartbeat_at > started_beat
        assert exports.fail_abandoned(watcher) == []
        watcher.commit()
    rest = b"".join(stream)
    assert zipfile.ZipFile(io.BytesIO(first + rest)).testzip() is None
    [record] = _records(db_session)
    assert record.status == "completed" and record.failure is None


def test_spss_or_stata_above_the_row_limit_is_refused_before_anything_starts(
    db_session, export_world, monkeypatch
):
    """.sav/.dta are written whole from memory: past the limit, a clear refusal (CSV goes on)."""
    from app.errors import Invalid
    from app.exports import native

    diary_columns = 33  # (wide columns of the daily diary, identified)
    monkeypatch.setattr(native, "MAX_CELLS", 3 * diary_columns)  # the study has 4 diaries
    manager = db_session.get(StaffUser, export_world.manager_id)
    credential = keys.HolderCredential("staff", PASSPHRASE, manager)
    spss = exports.ExportRequest("cohort", ExportOptions(formats=frozenset({"csv", "spss"})))
    with pytest.raises(Invalid) as refused:
        exports.prepare(
            db_session,
            user=manager,
            credential=credential,
            request=spss,
            deid_key=exports.deidentification_key(SECRET),
            channel="api",
        )
    [message] = refused.value.errors["formats"]
    assert "daily_symptom_diary-1.0.0: 4 of at most 3" in message
    db_session.rollback()
    assert _records(db_session) == []  # nothing started, nothing unlocked
    csv_only = exports.ExportRequest("cohort", ExportOptions(formats=frozenset({"csv"})))
    data, _prepared = run_export(db_session, manager, credential, csv_only, channel="api")
    assert len(_response_ids(data)) == 8


def test_a_native_table_past_its_limit_refuses_the_next_row():
    import random

    from app.exports import native
    from app.exports.columns import wide_columns
    from tests.exports.test_rows import _record, _versions

    version = next(v for v in _versions() if v.key == "phq9")
    table = native.NativeTable(wide_columns(version, ExportOptions()), "t", limit=1)
    record = _record(version, random.Random(1), 0, year=False)  # noqa: S311 - test data
    table.add(record)
    with pytest.raises(native.NativeTooLarge):
        table.add(record)
    assert exports.failure_of(native.NativeTooLarge(1)) == "too_large"


def test_the_cli_says_why_an_export_failed_and_keeps_no_partial_file(
    runner, db_session, export_world, tmp_path
):
    victim = db_session.scalars(sa.select(Response).order_by(Response.finished_at)).first()
    damaged = bytearray(victim.sealed)
    damaged[-3] ^= 0x80
    db_session.execute(
        sa.update(Response).where(Response.id == victim.id).values(sealed=bytes(damaged))
    )
    db_session.commit()
    out = tmp_path / "cohort.zip"
    result = runner.invoke(
        args=["export", "--study", "cohort", "--out", str(out), "--holder", "dm@example.org"],
        input=PASSPHRASE + "\n",
    )
    assert result.exit_code == 1
    assert "failed (unreadable_response): A stored response could not be opened" in result.output
    assert "run the same command again to retry" in result.output
    assert not out.exists() and not (tmp_path / "cohort.zip.part").exists()
    [record] = _records(db_session)
    assert (record.status, record.failure) == ("failed", "unreadable_response")
