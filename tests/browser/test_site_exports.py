"""The export page in Chromium at 1366x800 (issue #14): a data manager chooses CSV and SPSS,
unlocks with their passphrase, the ZIP arrives and its manifest's checksums verify, the page's
progress region said how many responses were written, and the history lists the export with
its manifest's checksum. axe finds nothing on the export pages, English and French."""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.exports.models import ExportRecord
from tests.browser.conftest import LiveServer
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_site_workspace import (  # noqa: F401 - site_world is a fixture
    PASSPHRASE,
    SiteWorld,
    sign_in_staff,
    site_world,
    staff_context,
)
from tests.factories import make_device, make_participant
from tests.workspace.world import _answer_phq9_urgently

BASE = "/staff/studies/fatigue/exports"


@pytest.fixture
def answered(site_world: SiteWorld, db_session: Session) -> SiteWorld:  # noqa: F811
    """Two real sealed responses, one per site, and an earlier export made on the command line
    (so the history's table has a row for axe to check)."""
    for code, site in (("LYON-0001", "LYON"), ("LEEDS-0002", "LEEDS")):
        person = make_participant(db_session, site_world.study, code, site_code=site)
        device, _token = make_device(db_session, person)
        _answer_phq9_urgently(db_session, device, person)
    db_session.add(
        ExportRecord(
            id=str(uuid.uuid4()),
            study_id=site_world.study.id,
            actor="recovery-key",
            channel="cli",
            parameters={"study": "fatigue", "formats": ["csv", "odm"], "sites": ["LYON"]},
            profile="year",
            status="failed",  # a killed run: the history says why, for axe to check too
            failure="abandoned",
            responses=1,
            zip_bytes=999,
        )
    )
    db_session.commit()
    return site_world


@pytest.mark.slow
def test_data_manager_exports_csv_and_spss_and_finds_it_in_the_history(
    browser: Any, live_server: LiveServer, answered: SiteWorld
) -> None:
    context = browser.new_context(
        base_url=live_server.url, locale="en-GB", viewport={"width": 1366, "height": 800},
        accept_downloads=True,
    )  # fmt: skip
    page = context.new_page()
    sign_in_staff(page, "dm@example.org")
    page.goto("/staff/studies/fatigue/")
    page.get_by_role("navigation", name="Study sections").get_by_role(
        "link", name="Exports"
    ).click()
    assert page.get_by_label("CSV data files (wide and long)").is_checked()
    page.get_by_label("SPSS: .sav file and .sps syntax").check()
    page.get_by_label("Passphrase or recovery key").fill(PASSPHRASE)
    with page.expect_download() as arrived:
        page.get_by_role("button", name="Unlock and download").click()
    download = arrived.value
    with zipfile.ZipFile(download.path()) as bundle:
        manifest_bytes = bundle.read("manifest.json")
        manifest = json.loads(manifest_bytes)
        for entry in manifest["files"]:
            assert hashlib.sha256(bundle.read(entry["path"])).hexdigest() == entry["sha256"]
        names = set(bundle.namelist())
    assert {"data/phq9-1.1.0.csv", "native/phq9-1.1.0.sav", "syntax/phq9-1.1.0.sps"} <= names
    assert manifest["counts"]["responses"] == 2

    # The page stayed, and its live region followed the export to the end.
    progress = page.locator("[data-export-progress]")
    progress.filter(has_text="Download complete: 2 of 2 responses.").wait_for()
    assert progress.get_attribute("aria-live") == "polite"

    page.get_by_role("link", name="Export history").click()
    checksum = hashlib.sha256(manifest_bytes).hexdigest()
    row = page.locator("tr", has=page.locator("[data-manifest-sha256]", has_text=checksum))
    assert "completed" in row.inner_text() and "spss" in row.inner_text()

    # Exporting again opens the same choices and asks for the secret again.
    row.get_by_role("link", name="Export again").click()
    assert page.get_by_label("SPSS: .sav file and .sps syntax").is_checked()
    assert page.get_by_label("Passphrase or recovery key").input_value() == ""
    context.close()


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_axe_finds_nothing_on_the_export_pages(
    browser: Any, live_server: LiveServer, answered: SiteWorld, locale: str
) -> None:
    context = staff_context(browser, live_server, locale)
    page = context.new_page()
    sign_in_staff(page, "dm@example.org")
    page.goto(f"{BASE}/")
    assert_accessible(page, f"export page {locale}")
    page.locator("#secret").fill("not the passphrase, certainly")
    page.locator("form[data-export-form] button[type=submit]").click()
    page.locator("#secret-error").wait_for()
    assert_accessible(page, f"export page with an error {locale}")
    assert page.locator("#secret").input_value() == ""
    page.goto(f"{BASE}/history")
    assert_accessible(page, f"export history {locale}")
    failure = page.locator("[data-export-failure]")
    assert failure.count() == 1  # the command line's killed export says why, translated
    words = "The process running" if locale == "en-GB" else "Le processus qui faisait"
    assert words in failure.inner_text()
    context.close()
