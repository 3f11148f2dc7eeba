"""The declarative base every model uses, in plain SQLAlchemy.

Models and domain services import this, not Flask: Flask-SQLAlchemy is only told to use this
base (see extensions.py), so services run in a CLI, the scheduler or a bare unit test alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, registry

# Stable constraint names so Alembic can alter them on SQLite and PostgreSQL alike.
# The largest id a URL or body may name: PostgreSQL's integer (SQLite's limit is higher).
MAX_INT_ID = 2**31 - 1

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored as UTC and always returned timezone-aware.

    SQLite keeps no zone; without this a value would come back naive there and aware on
    PostgreSQL, and comparisons would break on one engine only.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Chorus stores aware UTC timestamps only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stored: dt.datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=dt.UTC)
        return stored.astimezone(dt.UTC)


class Base(DeclarativeBase):
    # One registry carries both, because Flask-SQLAlchemy subclasses this base and SQLAlchemy
    # refuses a per-class type_annotation_map next to an inherited registry.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={dt.datetime: UTCDateTime()},
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def insert_unique(session: Session, row: object) -> bool:
    """Insert `row` inside a savepoint; False if a UNIQUE constraint refused it.

    The constraint decides, not a check-then-insert that two requests could both pass. The row
    is added inside the savepoint so that, when refused, it leaves the session with it and the
    surrounding transaction stays usable.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def _is_sqlite(dbapi_connection: Any) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL lets readers work during a write; foreign keys are off in SQLite unless asked."""
    if not _is_sqlite(dbapi_connection):
        return
    # Take transaction control away from pysqlite, which otherwise issues BEGIN late and
    # breaks SAVEPOINTs (SQLAlchemy's documented recipe); _sqlite_begin issues it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    """IMMEDIATE takes the write lock up front: a transaction that reads and then writes can
    otherwise fail at once with "database is locked" when another writer got there first,
    instead of waiting its turn. The price is that transactions queue on the embedded default;
    PostgreSQL is the engine for concurrent production load.

    Other work can choose with the engine or connection execution option `sqlite_begin`:
    "DEFERRED" for a consistent read-only snapshot that never holds the write lock (an export),
    "NONE" for no transaction at all, so each statement stands alone and every read sees the
    latest commit, as on PostgreSQL's READ COMMITTED (an inspection tool, a test's session)."""
    if connection.dialect.name == "sqlite":
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode not in ("IMMEDIATE", "DEFERRED", "NONE"):
            raise ValueError(f"sqlite_begin must be IMMEDIATE, DEFERRED or NONE, not {mode!r}")
        if mode != "NONE":
            connection.exec_driver_sql(f"BEGIN {mode}")
