"""axe on the staff account pages (issue #13) in English and French: one's own settings (also
with errors), the page an invitation link opens, and an Arabic invitation letter, which
prints right to left."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.accounts import profile
from app.accounts.models import StaffUser
from app.extensions import settings
from tests.browser.conftest import LiveServer
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_site_workspace import SiteWorld, sign_in_staff, site_world, staff_context
from tests.factories import make_participant, make_staff

__all__ = ["site_world"]  # the fixture, shared with the workspace walk-through


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_axe_finds_nothing_on_the_account_pages(
    browser: Any, live_server: LiveServer, site_world: SiteWorld, db_session: Session, locale: str
) -> None:
    make_participant(db_session, site_world.study, "LYON-0009", site_code="LYON", language="ar")
    invited: StaffUser = make_staff(db_session, "newcomer@example.org")
    with live_server.app.app_context():
        token = profile.invitation_token(invited, settings().secret_key)
    context = staff_context(browser, live_server, locale)
    page = context.new_page()
    page.goto(f"/staff/account/welcome/{token}")
    assert_accessible(page, f"welcome {locale}")
    page.locator("form.stack button[type=submit]").click()
    page.locator(".error-summary").wait_for()
    assert_accessible(page, f"welcome with errors {locale}")

    sign_in_staff(page, "admin@example.org")
    page.goto("/staff/account/")
    assert_accessible(page, f"account {locale}")
    page.locator("#time_zone").fill("Mars/Olympus")
    page.locator("form.stack").first.locator("button[type=submit]").click()
    page.locator(".error-summary").wait_for()
    assert_accessible(page, f"account with errors {locale}")

    page.goto("/staff/studies/fatigue/participants/LYON-0009/invite")
    page.locator("form.stack button[type=submit]").click()
    letter = page.locator(".letter")
    letter.wait_for()
    assert letter.get_attribute("dir") == "rtl" and letter.get_attribute("lang") == "ar"
    assert_accessible(page, f"Arabic invitation letter {locale}")
    context.close()
