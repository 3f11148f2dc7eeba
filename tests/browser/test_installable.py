"""Installability: the manifest has what Chromium asks for (names, start URL and scope, display,
colours, 192 and 512 px icons including a maskable one), the service worker registers with
scope /app/ and controls the page, and Chromium itself reports no installability error."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from tests.browser.conftest import TIMEOUT_MS, PwaWorld, sign_in


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", body[16:24])
    return width, height


def test_manifest_fields_and_icons(page: Any, live_server: Any) -> None:
    page.goto("/app/")
    href = page.locator("link[rel=manifest]").get_attribute("href")
    assert href == "/app/manifest.webmanifest"
    response = page.request.get(href)
    assert response.ok
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["name"] and manifest["short_name"] == "Chorus"
    assert manifest["start_url"] == "/app/" and manifest["scope"] == "/app/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#1d4f91" and manifest["background_color"] == "#ffffff"
    seen = set()
    for icon in manifest["icons"]:
        body = page.request.get(icon["src"]).body()
        width, height = png_size(body)
        assert f"{width}x{height}" == icon["sizes"] and icon["type"] == "image/png"
        assert len(body) < 20_000, f"{icon['src']} should stay small"
        seen.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= seen


def test_worker_controls_the_page_and_chromium_sees_no_installability_error(
    playwright: Any, chromium_path: str, live_server: Any, pwa_world: PwaWorld, tmp_path: Path
) -> None:
    # A profile on disk: Chromium never offers to install from an incognito-like context,
    # which is what an ordinary Playwright context is ("in-incognito").
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=chromium_path, base_url=live_server.url
    )
    try:
        context.set_default_timeout(TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        sign_in(page, pwa_world.invite(pwa_world.adult))
        page.locator("html[data-offline-ready='true']").wait_for(state="attached")
        worker = page.evaluate(
            """async () => {
              const registration = await navigator.serviceWorker.getRegistration('/app/');
              const controller = navigator.serviceWorker.controller;
              return {
                scope: registration && registration.scope,
                active: registration && registration.active && registration.active.state,
                controller: controller && controller.scriptURL,
              };
            }"""
        )
        assert worker["scope"].endswith("/app/")
        assert worker["active"] == "activated"
        assert worker["controller"].endswith("/app/sw.js")

        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest.get("errors", []) == []
        installability = cdp.send("Page.getInstallabilityErrors")
        assert installability["installabilityErrors"] == []
    finally:
        context.close()
