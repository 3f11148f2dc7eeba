"""The workspace's export pages (issue #14): choose, unlock, download, history. The service
does the checking; these tests prove the page offers only what the role may export, refuses
the rest without exporting anything, keeps the secret out of the page, and that the history
lists each export with the checksum of the manifest in its ZIP."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.exports.models import ExportRecord
from tests.workspace.world import PASSPHRASE, World, csrf_of, sign_in_page

BASE = "/staff/studies/fatigue/exports"


def exports_count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(ExportRecord)) or 0)


def last_action(session: Session) -> str | None:
    session.expire_all()
    return session.scalar(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1))


def checked(html: str, name: str) -> set[str]:
    found = set()
    for tag in re.findall(r"<input[^>]*>", html):
        if f'name="{name}"' in tag and "checked" in tag:
            found.add(re.search(r'value="([^"]*)"', tag).group(1))  # type: ignore[union-attr]
    return found


def offered(html: str, name: str) -> set[str]:
    return {
        re.search(r'value="([^"]*)"', tag).group(1)  # type: ignore[union-attr]
        for tag in re.findall(r"<input[^>]*>", html)
        if f'name="{name}"' in tag
    }


def test_a_coordinator_is_offered_only_their_sites_and_deidentified_profiles(
    client: FlaskClient, world: World
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    html = client.get(f"{BASE}/").get_data(as_text=True)
    assert offered(html, "sites") == {"LYON"} and "LEEDS" not in html
    assert offered(html, "deidentify") == {"shifted", "year"}
    assert checked(html, "deidentify") == {"shifted"}
    assert offered(html, "unlock_with") == {"recovery"}  # coordinators hold no key
    client.post("/staff/logout", data={"csrf_token": csrf_of(html)})
    sign_in_page(client, "dm@example.org")
    html = client.get(f"{BASE}/").get_data(as_text=True)
    assert offered(html, "sites") == {"LYON", "LEEDS"}
    assert offered(html, "deidentify") == {"none", "shifted", "year"}
    assert offered(html, "unlock_with") == {"passphrase", "recovery"}
    assert 'href="/staff/studies/fatigue/exports/"' in html  # in the study's navigation


def test_a_lyon_coordinator_exports_nothing_of_leeds_via_the_page(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    token = csrf_of(client.get(f"{BASE}/").get_data(as_text=True))
    before = exports_count(db_session)
    base = {
        "csrf_token": token,
        "formats": "csv",
        "labels": "codes",
        "delimiter": ",",
        "decimal": ".",
        "unlock_with": "recovery",
        "secret": world.recovery_key,
    }
    for asked in ({"sites": "LEEDS", "deidentify": "shifted"}, {"deidentify": "none"}):
        response = client.post(f"{BASE}/", data=base | asked)
        assert response.status_code == 422
        assert response.mimetype == "text/html"
        assert 'class="error-summary"' in response.get_data(as_text=True)
    assert exports_count(db_session) == before
    # Their own site, de-identified, is exported (so the refusals above were about LEEDS).
    response = client.post(f"{BASE}/", data=base | {"deidentify": "shifted"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["parameters"]["sites"] == ["LYON"]
    assert manifest["parameters"]["profile"] == "shifted"


def test_a_wrong_passphrase_shows_the_field_error_and_exports_nothing(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "dm@example.org")
    token = csrf_of(client.get(f"{BASE}/").get_data(as_text=True))
    before = exports_count(db_session)
    wrong = "not the passphrase at all 42"
    response = client.post(
        f"{BASE}/",
        data={
            "csrf_token": token,
            "formats": ["csv", "odm"],
            "sites": "LEEDS",
            "labels": "labels",
            "delimiter": ";",
            "decimal": ",",
            "deidentify": "none",
            "unlock_with": "passphrase",
            "secret": wrong,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<a href="#secret">' in html and 'id="secret-error"' in html
    assert "does not open this study&#39;s key" in html
    assert wrong not in html  # never echoed back
    assert checked(html, "formats") == {"csv", "odm"}  # the other choices are kept
    assert checked(html, "delimiter") == {";"}
    assert exports_count(db_session) == before
    assert last_action(db_session) == "study_key.unlock_failed"


def test_field_errors_sit_beside_their_fields(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "dm@example.org")
    token = csrf_of(client.get(f"{BASE}/").get_data(as_text=True))
    before = exports_count(db_session)
    response = client.post(
        f"{BASE}/",
        data={
            "csrf_token": token,
            "labels": "codes",
            "delimiter": ",",
            "decimal": ",",
            "deidentify": "none",
            "unlock_with": "passphrase",
            "since": "2026-02-01",
            "until": "2026-01-01",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for name in ("formats", "delimiter", "secret"):
        assert f'<a href="#{name}">' in html and f'id="{name}-error"' in html
    assert exports_count(db_session) == before


def test_download_then_history_lists_it_with_its_manifest_checksum_and_progress(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    sign_in_page(client, "dm@example.org")
    token = csrf_of(client.get(f"{BASE}/").get_data(as_text=True))
    export_token = str(uuid.uuid4())
    response = client.post(
        f"{BASE}/",
        data={
            "csrf_token": token,
            "formats": ["csv", "spss"],
            "labels": "codes",
            "delimiter": ",",
            "decimal": ".",
            "bom": "y",
            "deidentify": "none",
            "unlock_with": "passphrase",
            "secret": PASSPHRASE,
            "export_token": export_token,
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.headers["X-Chorus-Export-Id"] == export_token
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        manifest_bytes = bundle.read("manifest.json")
        names = set(bundle.namelist())
        manifest = json.loads(manifest_bytes)
        for entry in manifest["files"]:
            assert hashlib.sha256(bundle.read(entry["path"])).hexdigest() == entry["sha256"]
    assert {"native/phq9-1.1.0.sav", "syntax/phq9-1.1.0.sps"} <= names
    checksum = hashlib.sha256(manifest_bytes).hexdigest()

    progress = client.get(f"{BASE}/{export_token}/progress.json").get_json()
    assert progress == {
        "status": "completed",
        "responses": 2,
        "responses_done": 2,
        "failure": None,
    }

    history = client.get(f"{BASE}/history").get_data(as_text=True)
    row = history.split(f'data-export-id="{export_token}"')[1].split("</tr>")[0]
    assert checksum in row and "spss" in row and "dm" in row
    assert "completed" in row and f"{len(data)} bytes" in row

    again = client.get(f"{BASE}/?again={export_token}").get_data(as_text=True)
    assert checked(again, "formats") == {"csv", "spss"}
    assert checked(again, "deidentify") == {"none"}
    assert 'name="bom"' in again and checked(again, "bom") == {"y"}
    secret_input = re.search(r'<input[^>]*name="secret"[^>]*>', again).group(0)  # type: ignore[union-attr]
    assert PASSPHRASE not in again and 'value=""' in secret_input

    # The same token cannot name a second export.
    response = client.post(
        f"{BASE}/",
        data={
            "csrf_token": token,
            "formats": "csv",
            "labels": "codes",
            "delimiter": ",",
            "decimal": ".",
            "deidentify": "none",
            "unlock_with": "passphrase",
            "secret": PASSPHRASE,
            "export_token": export_token,
        },
    )
    assert response.status_code == 422 and response.mimetype == "text/html"


def test_a_lyon_coordinator_follows_and_lists_only_lyon_exports(
    client: FlaskClient, world: World
) -> None:
    sign_in_page(client, "coord_lyon@example.org")
    lyon, leeds = world.ids["LYON-0001:export"], world.ids["LEEDS-0001:export"]
    assert client.get(f"{BASE}/{lyon}/progress.json").status_code == 200
    assert client.get(f"{BASE}/{leeds}/progress.json").status_code == 404
    assert client.get(f"{BASE}/?again={leeds}").status_code == 404
    history = client.get(f"{BASE}/history").get_data(as_text=True)
    assert f'data-export-id="{lyon}"' in history and str(leeds) not in history
    # Another study's export is not found under this study's address.
    other = world.ids["OSLO-0001:export"]
    sign_in_page(client, "admin@example.org")
    assert client.get(f"{BASE}/{other}/progress.json").status_code == 404
