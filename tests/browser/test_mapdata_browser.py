"""The overview's map over its polygon budget, in real Chromium: the aggregate draws and says so."""

from __future__ import annotations

import pytest

from dayuan_geo.maps import budget as mapdata

from .conftest import SCREENSHOTS, AppServer


@pytest.fixture(scope="module")
def budget_server(demo_dir, browser):
    server = AppServer(demo_dir, env={mapdata.BUDGET_ENV: "40"})
    yield server
    server.stop()


def test_aggregated_map_draws_with_its_caption(budget_server, page):
    page.goto(budget_server.url + "/?lang=en", wait_until="domcontentloaded")
    page.wait_for_selector("text=exceed the map's budget of 40 polygons", timeout=60_000)
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
    page.wait_for_timeout(2500)  # let deck.gl draw its first frames
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    box = canvas.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 300
    assert len(set(canvas.screenshot()[1000:4000])) > 20  # drawn pixels, not a blank surface
    assert "0% released" in page.content() and "100% released" in page.content()
    page.screenshot(path=str(SCREENSHOTS / "overview-aggregated.png"), full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
    assert page.console_errors == []
