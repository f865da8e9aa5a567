"""The firms and remediation pages on a 390 px phone: headline cards two per row with their labels
whole, nothing wider than the screen."""

from __future__ import annotations

import contextlib

import pytest

from .conftest import SCREENSHOTS

IDLE_JS = """() => !document.querySelector('[data-testid="stStatusWidget"]')"""
CARDS_JS = """() => [...document.querySelectorAll('[data-testid="stMetric"]')]
  .filter(e => e.getBoundingClientRect().width > 0)
  .map(e => { const r = e.getBoundingClientRect();
              const label = e.querySelector('[data-testid="stMetricLabel"]');
              const text = label ? label.querySelector('p, div') || label : null;
              return {left: r.left, top: r.top, width: r.width,
                      cut: text ? text.scrollWidth > text.clientWidth + 1 : false}; })"""


TWO_ROWS_JS = f"() => new Set(({CARDS_JS})().slice(0, 4).map(c => Math.round(c.top))).size == 2"


@pytest.mark.parametrize("path", ["firms", "remediation"])
def test_headline_cards_two_per_row_on_a_phone(app_server, browser, path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
        page.goto(f"{app_server.url}/{path}", wait_until="domcontentloaded")
        page.wait_for_selector('.st-key-' + ("fs_kpis" if path == "firms" else "rem_kpis"), timeout=120_000)
        page.wait_for_function(IDLE_JS, timeout=120_000)
        # the layout settles after the script run (fonts, the style element); the assertions below say
        # what is wrong if it never does
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(TWO_ROWS_JS, timeout=30_000)
        cards = page.evaluate(CARDS_JS)[:4]
        page.screenshot(path=str(SCREENSHOTS / f"phone-{path}.png"))
        assert len(cards) == 4
        rows = sorted({round(c["top"]) for c in cards})
        assert len(rows) == 2, cards  # two rows of two
        assert all(150 <= c["width"] <= 195 for c in cards), cards
        assert not [c for c in cards if c["cut"]], cards  # labels wrap instead of being cut
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
