"""`chorus export` and POST /api/v1/studies/<slug>/exports: the same service, parsed and
streamed; no SQL or audit calls at these edges."""

from __future__ import annotations

import io
import json
import zipfile

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.exports.models import ExportRecord
from tests.exports.conftest import PASSPHRASE
from tests.factories import sign_in


def _actions(db_session) -> list[str]:
    return list(db_session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_cli_reads_the_passphrase_from_stdin_and_writes_the_zip(
    runner, db_session, export_world, tmp_path
):
    out = tmp_path / "cohort.zip"
    result = runner.invoke(
        args=[
            "export", "--study", "cohort", "--out", str(out), "--holder", "dm@example.org",
            "--format", "csv", "--format", "odm", "--site", "LEEDS", "--instrument", "phq9",
            "--deidentify", "shifted", "--delimiter", ";", "--decimal", ",",
        ],
        input=PASSPHRASE + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Exported 2 response(s)" in result.output
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
    assert {"data/phq9-1.1.0.csv", "odm/study.xml", "codebook.csv", "manifest.json"} <= names
    assert manifest["parameters"]["sites"] == ["LEEDS"]
    assert manifest["parameters"]["profile"] == "shifted"
    assert not (tmp_path / "cohort.zip.part").exists()
    assert _actions(db_session)[-2:] == ["export.started", "export.completed"]


def test_cli_with_a_wrong_passphrase_writes_nothing(runner, db_session, export_world, tmp_path):
    out = tmp_path / "cohort.zip"
    result = runner.invoke(
        args=["export", "--study", "cohort", "--out", str(out), "--holder", "dm@example.org"],
        input="a wrong passphrase entirely\n",
    )
    assert result.exit_code == 1
    assert "does not open" in result.output
    assert not out.exists() and not (tmp_path / "cohort.zip.part").exists()
    assert _actions(db_session)[-1] == "study_key.unlock_failed"


def test_cli_with_the_recovery_key_exports_everything_identified(
    runner, db_session, export_world, tmp_path
):
    out = tmp_path / "all.zip"
    result = runner.invoke(
        args=["export", "--study", "cohort", "--out", str(out)],
        input=export_world.recovery_key + "\n",
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["counts"]["responses"] == 8 and manifest["parameters"]["profile"] == "none"


def test_api_streams_the_zip_for_a_data_manager(client, db_session, export_world):
    signed = sign_in(client, "dm@example.org")
    response = signed.post(
        "/api/v1/studies/cohort/exports/",
        json={"passphrase": PASSPHRASE, "formats": ["fhir", "spss"], "labels": "labels"},
    )
    assert response.status_code == 200, response.get_data()
    assert response.is_streamed
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        names = set(bundle.namelist())
    assert {
        "fhir/QuestionnaireResponse.ndjson",
        "native/phq9-1.1.0.sav",
        "syntax/phq9-1.1.0.sps",
    } <= names
    record = db_session.get(ExportRecord, response.headers["X-Chorus-Export-Id"])
    assert record.status == "completed" and record.channel == "api"
    assert record.zip_bytes == len(data)
    listed = client.get("/api/v1/studies/cohort/exports/").get_json()
    assert [e["id"] for e in listed] == [record.id]
    assert listed[0]["manifest_sha256"] == record.manifest_sha256
    one = client.get(f"/api/v1/studies/cohort/exports/{record.id}").get_json()
    assert one["progress_done"] == one["progress_total"] > 0 and one["status"] == "completed"


def test_api_refuses_a_coordinator_leeds_and_a_wrong_passphrase(client, db_session, export_world):
    coordinator = sign_in(client, "lyon@example.org")
    response = coordinator.post(
        "/api/v1/studies/cohort/exports/",
        json={"recovery_key": export_world.recovery_key, "sites": ["LEEDS"]},
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"
    assert client.get("/api/v1/studies/cohort/exports/").status_code == 200  # may export LYON
    client.post("/api/v1/auth/logout", headers={"X-CSRFToken": coordinator.csrf})
    manager = sign_in(client, "dm@example.org")
    response = manager.post(
        "/api/v1/studies/cohort/exports/", json={"passphrase": "wrong wrong wrong wrong"}
    )
    assert response.status_code == 403
    assert _actions(db_session)[-1] == "study_key.unlock_failed"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ExportRecord)) == 0
    response = manager.post(
        "/api/v1/studies/cohort/exports/",
        json={"passphrase": PASSPHRASE, "formats": ["xlsx"], "delimiter": ","},
    )
    assert response.status_code == 422
    assert "formats" in response.get_json()["errors"]["json"]


def test_openapi_documents_the_export_post(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/api/v1/studies/{slug}/exports/"]["post"]
    assert "application/zip" in post["responses"]["200"]["content"]
    assert {"401", "403", "404", "422"} <= set(post["responses"])
