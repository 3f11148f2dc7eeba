"""Migrations carry a lived-in database forward, on both engines (style.md #9).

Each snapshot in tests/fixtures/migrations/ holds the rows the code at one revision wrote (the
demo study, sealed responses, an alert, a timetable and pause, the audit chain; see
snapshot.py). The test loads it into a database at that revision, upgrades to head, and checks
what a study depends on: the audit chain still verifies, every response still opens with the
key holder's passphrase and gives the answers that were sent, a phone resending an answer the
server already stored gets the original receipt and nothing is stored twice, and staff still
sign in and see their participants.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from tests.conftest import make_settings
from tests.factories import sign_in
from tests.fixtures.migrations.snapshot import decode

SNAPSHOTS = sorted((Path(__file__).parent / "fixtures" / "migrations").glob("[0-9]*.json"))


def _load_rows(database_url: str, tables: dict[str, list[dict[str, Any]]]) -> None:
    engine = sa.create_engine(database_url)
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            rows = tables.get(table.name)
            if not rows:
                continue
            # The migrations seed the audit head; the snapshot's head replaces it.
            conn.execute(table.delete())
            conn.execute(table.insert(), [{k: decode(v) for k, v in row.items()} for row in rows])
            serial = "id" in table.columns and isinstance(table.c.id.type, sa.Integer)
            if engine.dialect.name == "postgresql" and serial:
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    )
                )
    engine.dispose()


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.stem)
def test_a_lived_in_database_upgrades_to_head_with_nothing_lost(
    database_url: str, tmp_path: Path, path: Path
) -> None:
    snapshot = json.loads(path.read_text("utf-8"))
    settings = make_settings(database_url, tmp_path / "instance", secret_key=snapshot["secret_key"])
    app = create_app(settings)
    with app.app_context():
        downgrade(revision="base")
        upgrade(revision=snapshot["revision"])
    _load_rows(database_url, snapshot["tables"])
    with app.app_context():
        upgrade()

    runner = app.test_cli_runner()
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output

    client = app.test_client()
    engine = sa.create_engine(database_url)
    count_responses = sa.text("SELECT count(*) FROM responses")
    with engine.connect() as conn:
        stored = conn.execute(count_responses).scalar_one()
    assert stored == len(snapshot["tables"]["responses"]) == len(snapshot["responses"])

    manager = "data.manager@demo.chorus.test"
    for made in snapshot["responses"]:
        resent = client.post(
            "/api/v1/me/responses/",
            json=made["request"],
            headers={"Authorization": f"Bearer {made['token']}"},
        )
        assert resent.status_code == 201, resent.get_json()
        # The original receipt, field for field (later releases may add fields to receipts).
        receipt = resent.get_json()
        assert {field: receipt.get(field) for field in made["receipt"]} == made["receipt"]

        opened = runner.invoke(
            args=[
                "responses",
                "open",
                "--response",
                made["receipt"]["response_id"],
                "--holder",
                manager,
            ],
            input=snapshot["key_passphrase"] + "\n",
        )
        assert opened.exit_code == 0, opened.output
        payload = json.loads(opened.output[opened.output.index("{") :])
        assert payload["answers"] == made["request"]["answers"]

    with engine.connect() as conn:
        assert conn.execute(count_responses).scalar_one() == stored
        # 0009 (#13): alerts keep their state and none reads as resolved; schedules keep
        # applying to everyone they did (none is one participant's).
        alerts = conn.execute(sa.text("SELECT resolved_at, resolution_outcome FROM alerts")).all()
        for_one = sa.text("SELECT count(*) FROM study_schedules WHERE participant_id IS NOT NULL")
        assert conn.execute(for_one).scalar_one() == 0
    assert len(alerts) == len(snapshot["tables"]["alerts"]) > 0
    assert all(row == (None, None) for row in alerts)
    engine.dispose()

    staff = sign_in(client, "admin@demo.chorus.test", snapshot["staff_password"])
    listed = staff.client.get(f"/api/v1/studies/{snapshot['study']}/participants/")
    assert listed.status_code == 200, listed.get_json()
    codes = {p["code"] for p in listed.get_json()}
    assert codes == {row["code"] for row in snapshot["tables"]["participants"]}

    with app.app_context():
        from app.extensions import db

        db.engine.dispose()
