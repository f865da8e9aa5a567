"""A chosen base map whose tiles do not load is named under the map (remediation and firms pages)."""

from __future__ import annotations

import pytest

from .conftest import SCREENSHOTS, AppServer


@pytest.fixture(scope="module")
def dead_tiles(demo_dir, browser):
    # a loopback port nothing listens on: every tile request fails at once
    server = AppServer(demo_dir, env={"DAYUAN_BASEMAP": "http://127.0.0.1:9/{z}/{x}/{y}.png"})
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["remediation", "firms"])
def test_failing_tiles_are_said(dead_tiles, page, path):
    page.goto(f"{dead_tiles.url}/{path}", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stDeckGlJsonChart'] canvas", timeout=120_000)
    frame = None
    for _ in range(60):
        frame = next((f for f in page.frames if f.locator("#m").count()), None)
        if frame is not None and frame.locator("#m").is_visible():
            break
        page.wait_for_timeout(500)
    assert frame is not None
    text = frame.locator("#m").inner_text()
    page.screenshot(path=str(SCREENSHOTS / f"tiles-failed-{path}.png"))
    assert "瓦片无法加载" in text
