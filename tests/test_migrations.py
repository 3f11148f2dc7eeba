"""The migrations build exactly the schema the models describe, on both engines."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import models  # noqa: F401 - registers every table
from app.db import Base


def test_models_match_migrations(database_url):
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == [], (
        f"models and migrations disagree; run `chorus db migrate`: {differences}"
    )


def test_upgrade_is_at_head(database_url):
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path("app/migrations").resolve()))
    assert version == ScriptDirectory.from_config(config).get_current_head()


def test_downgrade_and_upgrade_again(app, database_url):
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        downgrade(revision="base")
        engine = sa.create_engine(database_url)
        assert sa.inspect(engine).get_table_names() in ([], ["alembic_version"])
        engine.dispose()
        upgrade()
