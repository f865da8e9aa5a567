"""The overview in real Chromium: KPI cards and the map draw, and nothing fails in the console."""

from __future__ import annotations

from .conftest import SCREENSHOTS


def wait_for_app(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)


def test_overview_shows_kpis_and_map(app_server, page):
    wait_for_app(page, app_server.url + "/")
    metrics = page.locator('[data-testid="stMetric"]')
    assert metrics.count() == 8
    assert "201.58" in metrics.first.inner_text()
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    page.wait_for_timeout(2500)  # let deck.gl draw its first frames
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    box = canvas.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 300
    # the map canvas holds drawn pixels, not a blank surface
    shot = canvas.screenshot()
    assert len(set(shot[1000:4000])) > 20
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
    assert page.console_errors == []
    assert page.failed_requests == []


def test_overview_in_english(app_server, page):
    wait_for_app(page, app_server.url + "/?lang=en")
    page.wait_for_selector("text=Land released", timeout=30_000)
    assert "Blacklisted firms" in page.content()
