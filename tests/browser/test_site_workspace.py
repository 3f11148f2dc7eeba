"""The research-site workspace in Chromium at 1366x800 (issue #13): a coordinator enrols and
invites (QR), the participant answers on a phone-sized context, the adherence grid shows it,
the urgent alert reaches the header's count without a reload and is acknowledged; a data
manager rotates the study key. axe finds nothing on every workspace page, English and French."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.library import service as library
from app.library.models import InstrumentVersion
from app.participants import service as participants
from app.reminders import study_schedules as schedules
from app.responses import keys
from app.studies.models import Role
from tests.browser.conftest import LIBRARY, TIMEOUT_MS, LiveServer, wait_for_today
from tests.browser.test_accessibility import assert_accessible
from tests.factories import PASSWORD, make_participant, make_staff, make_study

DESKTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSPHRASE = "a long data manager passphrase"
ALL_DAY = {"kind": "daily", "open_time": "00:00", "window_minutes": 1440}


@dataclass
class SiteWorld:
    study: Any


@pytest.fixture
def site_world(db_session: Session, live_server: LiveServer) -> SiteWorld:
    library.publish_paths(db_session, [LIBRARY], actor="test")
    study = make_study(db_session, "fatigue", sites=("LYON", "LEEDS"))
    phq9 = db_session.scalars(
        select(InstrumentVersion).where(InstrumentVersion.instrument_key == "phq9")
    ).one()
    participants.assign_instrument(db_session, study, phq9, "self", "test")
    schedules.add_schedule(
        db_session,
        study,
        name="Daily PHQ-9",
        instrument_key="phq9",
        instrument_version=phq9.version,
        respondent="self",
        spec=ALL_DAY,
        actor="test",
    )
    db_session.commit()
    make_staff(
        db_session, "coord@example.org", study=study, role=Role.SITE_COORDINATOR, site_code="LYON"
    )
    make_staff(db_session, "admin@example.org", study=study, role=Role.ADMIN)
    manager = make_staff(db_session, "dm@example.org", study=study, role=Role.DATA_MANAGER)
    recovery = keys.create_study_key(db_session, study, actor="test")
    keys.add_holder(
        db_session,
        study,
        existing=keys.HolderCredential("recovery", recovery),
        new_holder=manager,
        new_passphrase=PASSPHRASE,
        actor="test",
    )
    db_session.commit()
    make_participant(db_session, study, "LEEDS-0001", site_code="LEEDS")
    return SiteWorld(study)


def staff_context(browser: Any, live_server: LiveServer, locale: str = "en-GB") -> Any:
    context = browser.new_context(base_url=live_server.url, locale=locale, viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def sign_in_staff(page: Any, email: str) -> None:
    page.goto("/staff/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url("**/staff/")


def answer_phq9_urgently(page: Any) -> None:
    page.locator(".due-item", has_text="PHQ-9").get_by_role("link").first.click()
    page.get_by_role("button", name="Start").click()
    for _item in range(9):
        page.get_by_role("radio", name="Several days", exact=True).check()
        current = page.locator("main h1").element_handle()
        page.get_by_role("button", name="Next").click()
        current.wait_for_element_state("hidden")
    page.get_by_role("radio", name="Somewhat difficult", exact=True).check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", level=1, name="Thank you").wait_for()
    assert page.locator("[data-outcome]").get_attribute("data-outcome") == "sent"


@pytest.mark.slow
def test_coordinator_enrols_invites_sees_the_answer_and_acknowledges_the_alert(
    browser: Any, live_server: LiveServer, site_world: SiteWorld
) -> None:
    desk = staff_context(browser, live_server)
    staff = desk.new_page()
    staff.clock.install()
    sign_in_staff(staff, "coord@example.org")
    staff.get_by_role("link", name="Study fatigue").click()
    staff.get_by_role("navigation", name="Study sections").get_by_role(
        "link", name="Participants"
    ).click()
    staff.get_by_role("link", name="Enrol a participant").click()

    # A mistake first: the summary links to the field, the message sits beside it.
    staff.get_by_label("Participant code").fill("LYON 7")
    staff.get_by_role("button", name="Enrol").click()
    summary = staff.locator(".error-summary")
    summary.wait_for()
    summary.get_by_role("link").first.click()
    assert staff.evaluate("document.activeElement.id") == "code"
    staff.get_by_label("Participant code").fill("LYON-0100")
    staff.get_by_label("Time zone").fill("Europe/Paris")
    staff.get_by_role("button", name="Enrol").click()

    staff.get_by_role("button", name="Create invitation").click()
    qr = staff.get_by_role("img", name="QR code of your invitation link")
    qr.wait_for()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    link = staff.locator("[data-invitation-link]").inner_text().strip()
    assert "/app/#join=" in link

    staff.get_by_role("link", name="Adherence").click()
    assert staff.locator("[data-alert-count]").inner_text() == "0"

    phone_context = browser.new_context(
        base_url=live_server.url, locale="en-GB", viewport=PHONE, is_mobile=True, has_touch=True
    )
    phone_context.set_default_timeout(TIMEOUT_MS)
    phone = phone_context.new_page()
    # The letter carries CHORUS_BASE_URL; the live server listens on its own port.
    phone.goto("/app/#" + link.split("#", 1)[1])
    wait_for_today(phone)
    answer_phq9_urgently(phone)
    phone_context.close()

    # The header's count catches up without a reload (its poll runs every 30 s).
    staff.clock.fast_forward(31_000)
    staff.locator("[data-alert-count]", has_text="1").wait_for()

    staff.reload()
    row = staff.locator("table.grid tr", has_text="LYON-0100")
    assert row.locator("td.state-completed").count() == 1
    assert "LEEDS" not in staff.content()

    staff.get_by_role("navigation", name="Study sections").get_by_role(
        "link", name="Alerts"
    ).click()
    alert_row = staff.locator("tr", has_text="LYON-0100")
    assert "urgent" in alert_row.inner_text().lower()
    alert_row.get_by_label("Note (optional)").fill("Called; GP informed.")
    alert_row.get_by_role("button", name="Acknowledge alert for LYON-0100").click()
    staff.get_by_text("Alert acknowledged.").wait_for()
    assert staff.locator("[data-alert-count]").inner_text() == "0"

    # Handled, then closed with what was done (#13): the resolve page, then the resolved list.
    staff.locator("tr", has_text="LYON-0100").get_by_role(
        "link", name="Resolve alert for LYON-0100"
    ).click()
    assert_accessible(staff, "resolve an alert")
    staff.get_by_label("Referred to clinical care").check()
    staff.get_by_label("What was done").fill("GP saw them the same day.")
    staff.get_by_role("button", name="Resolve alert").click()
    staff.get_by_text("Alert for LYON-0100 resolved.").wait_for()
    resolved = staff.locator("table", has_text="Recently resolved").locator(
        "tr", has_text="LYON-0100"
    )
    assert "GP saw them the same day." in resolved.inner_text()
    desk.close()


@pytest.mark.slow
def test_data_manager_rotates_the_study_key(
    browser: Any, live_server: LiveServer, site_world: SiteWorld
) -> None:
    context = staff_context(browser, live_server)
    page = context.new_page()
    sign_in_staff(page, "dm@example.org")
    page.goto("/staff/studies/fatigue/keys/")
    page.get_by_label("Your key passphrase").fill("wrong passphrase")
    page.get_by_role("button", name="Rotate the study key").click()
    page.locator("#passphrase-error").wait_for()
    page.get_by_label("Your key passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Rotate the study key").click()
    recovery = page.locator("[data-recovery-key]")
    recovery.wait_for()
    assert len(recovery.inner_text().strip()) > 20
    assert page.get_by_label("Your key passphrase").input_value() == ""
    context.close()


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_axe_finds_nothing_on_any_workspace_page(
    browser: Any, live_server: LiveServer, site_world: SiteWorld, db_session: Session, locale: str
) -> None:
    make_participant(db_session, site_world.study, "LYON-0001", site_code="LYON")
    context = staff_context(browser, live_server, locale)
    page = context.new_page()
    page.goto("/staff/login")
    assert_accessible(page, f"sign-in {locale}")
    sign_in_staff(page, "admin@example.org")
    assert_accessible(page, f"studies {locale}")
    base = "/staff/studies/fatigue"
    for path in (
        "/",
        "/participants/",
        "/participants/new",
        "/participants/LYON-0001",
        "/participants/LYON-0001/invite",
        "/participants/LYON-0001/pause",
        "/participants/LYON-0001/withdraw",
        "/participants/LYON-0001/caregivers/new",
        "/participants/LYON-0001/schedules/new",
        "/participants/LYON-0001/timetable/windows",
        "/alerts/",
        "/adherence/",
        "/adherence/weekly",
        "/keys/",
        "/staff/",
        "/schedules/",
        "/schedules/1/retire",
        "/news/",
        "/audit/",
    ):
        page.goto(base + path)
        assert_accessible(page, f"{path} {locale}")
    page.goto("/staff/account/authenticator")
    assert_accessible(page, f"authenticator {locale}")
    page.get_by_role("button", name="Set up an authenticator app").or_(
        page.get_by_role("button", name="Configurer une application d'authentification")
    ).click()
    page.locator("code.breakable").wait_for()
    assert_accessible(page, f"authenticator QR {locale}")
    page.goto(base + "/news/")
    page.locator("#title").fill("Visit")
    page.locator("#body").fill("See you soon.")
    page.locator("button[value=preview]").click()
    page.locator(".preview").wait_for()
    assert_accessible(page, f"news preview {locale}")
    page.goto(base + "/participants/new")
    page.locator("form.stack button[type=submit]").click()
    page.locator(".error-summary").wait_for()
    assert_accessible(page, f"enrol with errors {locale}")
    page.goto(base + "/participants/LYON-0001/invite")
    page.locator("form.stack button[type=submit]").click()
    page.locator(".letter").wait_for()
    assert_accessible(page, f"invitation letter {locale}")
    page.goto(base + "/participants/LYON-0001/timetable/windows")
    page.locator("#mon_1_start").fill("18:00")
    page.locator("main form button[type=submit]").click()
    page.locator(".error-summary").wait_for()
    assert_accessible(page, f"reminder windows with errors {locale}")
    context.close()
