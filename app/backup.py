"""Back up a running Chorus database to one file, and restore it into an empty database.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page in one step
  under a read transaction, so the copy is a consistent snapshot even while the service keeps
  writing (WAL lets it); the result is checked with ``PRAGMA integrity_check``.
- PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot by MVCC) and ``pg_restore
  --single-transaction --exit-on-error``. The connection details go to the tools through the
  libpq environment (``PGHOST``, ``PGPASSWORD``...), never on their command line, where any
  local user could read them in the process list.

The backup file holds pseudonymous participant data and sealed answers (unreadable without a
key holder's passphrase or the recovery key): it is written 0600, first under a temporary name
and renamed only once complete, and an existing file is never overwritten. A restore refuses
a database that already has tables, and a backup made on the other engine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy.engine import URL, make_url

from app.errors import ChorusError

__all__ = ["BackupError", "BackupReport", "backup", "restore"]

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_PG_DUMP_MAGIC: Final = b"PGDMP"
_TOOL_TIMEOUT: Final = 6 * 3600  # seconds; a dump that takes longer is stuck, not slow


class BackupError(ChorusError):
    """The backup or restore could not be made; the message says why and changes nothing."""


@dataclass(frozen=True)
class BackupReport:
    engine: str  # "sqlite" / "postgresql"
    path: Path
    size_bytes: int


def _engine_of(url: URL) -> str:
    name = url.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _private_temporary(out: Path) -> Path:
    tmp = out.with_name(f".{out.name}.partial")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    return tmp


def _publish(tmp: Path, out: Path) -> None:
    """Rename into place, refusing to replace a file that appeared meanwhile."""
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise BackupError(f"{out} already exists; choose another name") from None
    finally:
        tmp.unlink(missing_ok=True)


def backup(database_url: str, out: Path) -> BackupReport:
    """Write a consistent copy of the database at ``database_url`` to ``out`` (a new file)."""
    url = make_url(database_url)
    engine = _engine_of(url)
    if out.exists():
        raise BackupError(f"{out} already exists; choose another name")
    if not out.parent.is_dir():
        raise BackupError(f"folder {out.parent} does not exist")
    tmp = _private_temporary(out)
    try:
        if engine == "sqlite":
            _sqlite_backup(_sqlite_path(url), tmp)
        else:
            _pg_dump(url, tmp)
        _publish(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupReport(engine, out, out.stat().st_size)


def _sqlite_backup(source: Path, tmp: Path) -> None:
    if not source.exists():
        raise BackupError(f"no SQLite database at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        # pages=-1: all at once, in one read transaction: a snapshot, however busy the writers.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        _check_sqlite(dst, "the backup")
    finally:
        dst.close()
        src.close()


def _check_sqlite(conn: sqlite3.Connection, what: str) -> None:
    (result,) = conn.execute("PRAGMA integrity_check").fetchone()
    if result != "ok":
        raise BackupError(f"{what} failed SQLite's integrity check: {result}")


def _libpq_environment(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    parts = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    env.update({k: str(v) for k, v in parts.items() if v})
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed; install the PostgreSQL client tools of the server's"
            " major version (Debian: postgresql-client)"
        )
    return found


def _run(command: list[str], url: URL, what: str) -> None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed tools, arguments built here
            command,
            env=_libpq_environment(url),
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish within {_TOOL_TIMEOUT // 3600} hours") from None
    if done.returncode != 0:
        # pg_dump/pg_restore report object names and connection problems, never row data.
        detail = " ".join(done.stderr.split())[:500]
        raise BackupError(f"{what} failed (exit {done.returncode}): {detail}")


def _pg_dump(url: URL, tmp: Path) -> None:
    _run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={tmp}"],
        url,
        "pg_dump",
    )


def _kind_of_file(source: Path) -> str:
    with source.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(_PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{source} is not a Chorus backup (neither SQLite nor pg_dump custom format)")


def restore(database_url: str, source: Path) -> BackupReport:
    """Load the backup ``source`` into the EMPTY database at ``database_url``."""
    url = make_url(database_url)
    engine = _engine_of(url)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    kind = _kind_of_file(source)
    if kind != engine:
        raise BackupError(
            f"{source} is a {kind} backup; restore it into a {kind} database, not {engine}"
            " (to move between engines, restore on the same engine first)"
        )
    if engine == "sqlite":
        _sqlite_restore(source, _sqlite_path(url))
    else:
        _pg_restore(source, url)
    return BackupReport(engine, source, source.stat().st_size)


def _sqlite_restore(source: Path, target: Path) -> None:
    if target.exists() and target.stat().st_size > 0:
        with contextlib.closing(sqlite3.connect(target)) as existing:
            tables = existing.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise BackupError(f"{target} is not empty; restore into a new or empty database")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        _check_sqlite(src, "the backup file")
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=WAL")  # as the service runs it
        _check_sqlite(dst, "the restored database")
    finally:
        dst.close()
        src.close()


def _pg_restore(source: Path, url: URL) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables: int = conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.tables"
                    " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    if tables:
        raise BackupError(
            f"database {url.database} is not empty; restore into a new, empty database"
        )
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={url.database}",
            str(source),
        ],
        url,
        "pg_restore",
    )
