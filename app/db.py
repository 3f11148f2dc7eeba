"""The declarative base every model uses, in plain SQLAlchemy.

Models and domain services import this, not Flask: Flask-SQLAlchemy is only told to use this
base (see extensions.py), so services run in a CLI, the scheduler or a bare unit test alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, registry

# Stable constraint names so Alembic can alter them on SQLite and PostgreSQL alike.
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


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL lets readers work during a write; foreign keys are off in SQLite unless asked."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
