"""A new release of the app (any shipped byte changed) installs a new service worker with a new
cache; activating it drops the old release's cache and keeps the offline API copies, and an
answer queued before the update is still there afterwards and is sent exactly once."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.responses.models import Response
from app.web import pwa
from tests.browser.conftest import LiveServer, PwaWorld, eventually, sign_in, wait_for_today
from tests.browser.test_offline import answer_diary, finish_offline

CACHES = "async () => (await caches.keys()).sort()"
WORKER_UPDATE = """async () => {
  const registration = await navigator.serviceWorker.getRegistration('/app/');
  await registration.update();
  const fresh = registration.installing || registration.waiting;
  if (!fresh) return 'no update';
  if (fresh.state !== 'installed') {
    await new Promise((resolve) => fresh.addEventListener('statechange', () => {
      if (fresh.state === 'installed' || fresh.state === 'redundant') resolve(undefined);
    }));
  }
  const changed = new Promise((resolve) =>
    navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  registration.waiting.postMessage('skip-waiting');
  await changed;
  const active = navigator.serviceWorker.controller;
  if (active.state !== 'activated') {
    // Clients switch at the start of activation; the old caches go during it.
    await new Promise((resolve) => active.addEventListener('statechange', () => {
      if (active.state === 'activated') resolve(undefined);
    }));
  }
  return active.scriptURL;
}"""


def test_update_keeps_queued_answers(
    context: Any,
    page: Any,
    pwa_world: PwaWorld,
    live_server: LiveServer,
    db_session: Session,
    tmp_path: Path,
) -> None:
    sign_in(page, pwa_world.invite(pwa_world.adult))
    page.locator("html[data-offline-ready='true']").wait_for(state="attached")
    old_release = live_server.app.extensions["chorus_pwa"].release

    # An answer finished offline, and the server refuses it for now (503: retried later).
    context.set_offline(True)
    answer_diary(page)
    finish_offline(page)
    context.route("**/api/v1/me/responses/", lambda route: route.fulfill(status=503))
    context.set_offline(False)
    status = page.locator("#outbox-status")
    expect(status).to_have_text("1 answer waiting to be sent")

    # Deploy a new release: one byte of CSS changed.
    root = tmp_path / "frontend"
    shutil.copytree(pwa.FRONTEND, root)
    with (root / "css" / "app.css").open("a", encoding="utf-8") as css:
        css.write("\n/* next release */\n")
    bundle = pwa.build_bundle(root)
    assert bundle.release != old_release
    live_server.app.extensions["chorus_pwa"] = bundle

    assert page.evaluate(WORKER_UPDATE).endswith("/app/sw.js")
    assert page.evaluate(CACHES) == ["chorus-api", f"chorus-app-{bundle.release}"]
    page.reload()
    wait_for_today(page)
    assert bundle.release in page.locator("link[rel=stylesheet]").get_attribute("href")
    expect(status).to_have_text("1 answer waiting to be sent")
    assert db_session.scalar(select(func.count()).select_from(Response)) == 0

    context.unroute("**/api/v1/me/responses/")
    page.reload()  # opening the app sends what waits
    wait_for_today(page)
    eventually(
        lambda: db_session.scalar(select(func.count()).select_from(Response)) == 1,
        "the queued answer to be stored",
    )
    expect(status).to_be_hidden()
    page.reload()
    wait_for_today(page)
    assert db_session.scalar(select(func.count()).select_from(Response)) == 1
