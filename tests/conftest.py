"""Fixture chain: backend -> migrated database -> app -> client, plus factories.

Every database test runs twice, on SQLite and on PostgreSQL. The PostgreSQL leg needs
CHORUS_TEST_DATABASE_URL (`.ci/run` sets it); without it those runs are reported as skipped
with the reason, never silently dropped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import create_app
from app.accounts import passwords
from app.config import Settings

PG_URL_VAR = "CHORUS_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgresql"]
TABLES_TO_KEEP = {"alembic_version"}


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 at production cost takes ~100 ms a hash; tests hash hundreds of times.
    This explicit fixture swaps the hasher; production code has no switch for it."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    passwords.use_hasher(previous)


@pytest.fixture(scope="session", autouse=True)
def cheap_key_wrapping() -> Iterator[None]:
    """Study-key wrapping uses Argon2id at 128 MiB in production; tests wrap keys often."""
    from app import crypto
    from app.responses import keys

    previous = keys.use_kdf_params(crypto.KdfParams(memory_kib=8, iterations=1, lanes=1))
    yield
    keys.use_kdf_params(previous)


def make_settings(database_url: str, instance: Path, **overrides: object) -> Settings:
    base = Settings.from_env(
        {
            "CHORUS_ENV": "test",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "t" * 48,
            # One audit key for every app a test process builds (the chain key is process-wide).
            "CHORUS_AUDIT_KEY": "k" * 48,
        },
        instance_path=instance,
    )
    return Settings(**{**base.__dict__, **overrides})  # type: ignore[arg-type]


def _pg_url() -> str:
    url = os.environ.get(PG_URL_VAR, "")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _migrate(database_url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(make_settings(database_url, instance))
    with app.app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a fresh copy of it."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}", folder)
    return path


# Every developer's suite shares one PostgreSQL database ("test"). Two suites at once would
# truncate each other's tables mid-test, so the PostgreSQL leg holds this advisory lock for
# its whole session: a second suite waits for the first instead of failing at random.
SUITE_LOCK_ID = 0x43484F52  # "CHOR"


@pytest.fixture(scope="session")
def postgresql_suite_lock() -> Iterator[None]:
    engine = sa.create_engine(_pg_url(), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": SUITE_LOCK_ID})
        conn.commit()
        yield
        conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": SUITE_LOCK_ID})
        conn.commit()
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_postgresql(
    tmp_path_factory: pytest.TempPathFactory, postgresql_suite_lock: None
) -> str:
    url = _pg_url()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    _migrate(url, tmp_path_factory.mktemp("pg-instance"))
    return url


def _reset_postgresql(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [name for name in sa.inspect(conn).get_table_names() if name not in TABLES_TO_KEEP]
        # TRUNCATE fires no row triggers, so it also clears the append-only audit table.
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(
            sa.text("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :h)"),
            {"h": "0" * 64},
        )
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "chorus.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    if not _pg_url():
        pytest.skip(f"PostgreSQL leg: set {PG_URL_VAR} to run it (.ci/run does)")
    url: str = request.getfixturevalue("migrated_postgresql")
    _reset_postgresql(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "instance")


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    # No app context stays pushed: each test request gets its own, with a fresh `g`, exactly
    # as in production (a shared context once hid a CSRF bug between requests).
    app = create_app(settings)
    yield app
    with app.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture
def db_session(app: Flask, database_url: str) -> Iterator[Session]:
    """A plain SQLAlchemy session on the same database, for factories and assertions.

    On SQLite each statement stands alone (like PostgreSQL's READ COMMITTED): a test often
    reads, calls the app, then reads again, and must neither hold the write lock the app needs
    nor keep reading an old snapshot."""
    engine = sa.create_engine(database_url, execution_options={"sqlite_begin": "NONE"})
    session = Session(engine)
    yield session
    session.close()
    engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()
