"""The migrations build exactly the schema the models describe, on both engines."""

import json

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


def test_0006_keeps_existing_rows_and_gives_them_defaults(app, database_url):
    """#11's migration on a database with data: studies, sites and staff made before it get
    empty safety contacts and English; responses are not repeats; downgrading keeps the rows."""
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        downgrade(revision="0004")
        engine = sa.create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO studies (id, slug, name, created_at) VALUES (1, 'old', 'Old', CURRENT_TIMESTAMP)"))  # fmt: skip
            conn.execute(sa.text("INSERT INTO sites (id, study_id, code, name) VALUES (1, 1, 'A', 'Site A')"))  # fmt: skip
            conn.execute(sa.text("INSERT INTO staff_users (id, email, display_name, password_hash, totp_enabled, is_active, created_at) VALUES (1, 'a@x.org', 'A', 'x', false, true, CURRENT_TIMESTAMP)"))  # fmt: skip
        upgrade()
        with engine.connect() as conn:
            study = conn.execute(sa.text("SELECT safety_contacts FROM studies")).scalar_one()
            site = conn.execute(sa.text("SELECT safety_contacts FROM sites")).scalar_one()
            language = conn.execute(sa.text("SELECT language FROM staff_users")).scalar_one()
        assert [json.loads(v) if isinstance(v, str) else v for v in (study, site)] == [{}, {}]
        assert language == "en"
        downgrade(revision="0004")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM staff_users")).scalar_one() == 1
        upgrade()
        engine.dispose()
