"""Alembic environment: runs migrations against the app's configured database."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

db = current_app.extensions["migrate"].db
target_metadata = db.metadata


def run_migrations_offline() -> None:
    context.configure(url=str(db.engine.url), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    conf_args = current_app.extensions["migrate"].configure_args
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection if sqlite else None
        if raw is not None:
            # A batch migration on SQLite copies a table, drops it and renames the copy; with
            # foreign keys enforced that drop cascades to the rows referring to it (every
            # alert deleted, every answered occurrence unlinked: tests/test_migrations_with_data
            # caught it). Enforcement is off while migrating -- set on the driver connection,
            # outside any transaction, where SQLite honours it -- and checked after.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(connection=connection, target_metadata=target_metadata, **conf_args)
            with context.begin_transaction():
                context.run_migrations()
            if raw is not None:
                broken = raw.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"the migration left rows without their parent: {broken[:5]}"
                    )
        finally:
            if raw is not None:
                # Never hand a connection without enforcement back to the pool.
                connection.invalidate()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
