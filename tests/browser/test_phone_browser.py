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


# a 390 px phone as the server sees it too: a phone browser says "Mobile" in its user agent
IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.5 Mobile/15E148 Safari/604.1")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "user_agent": IPHONE_UA}
TWO_ROWS_JS = f"() => new Set(({CARDS_JS})().slice(0, 4).map(c => Math.round(c.top))).size == 2"


@pytest.mark.parametrize("path", ["firms", "remediation"])
def test_headline_cards_two_per_row_on_a_phone(app_server, browser, path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(**PHONE)
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


STAMP_JS = """() => { const box = document.querySelector('.st-key-dayuan_phone_stamp');
  if (!box) return null;
  const r = box.getBoundingClientRect();
  return {visible: r.width > 0 && r.height > 0, top: r.top, text: box.innerText}; }"""
MAIN_TEXT_JS = """() => document.querySelector('[data-testid="stMain"]').innerText"""


def _open(page, url: str, selector: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(selector, timeout=120_000)
    page.wait_for_function(IDLE_JS, timeout=120_000)
    page.wait_for_timeout(1500)


@pytest.mark.parametrize("path", ["land", "remediation", "firms", "import", "audit"])
def test_data_date_and_demo_label_atop_every_page_on_a_phone(app_server, browser, demo_dir, path):
    """The sidebar is folded away on a phone: the data date and the demo label stand atop the page."""
    import json

    manifest = json.loads((demo_dir / "manifest.json").read_text(encoding="utf-8"))
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        _open(page, f"{app_server.url}/{path}", '[data-testid="stMain"] h1')
        stamp = page.evaluate(STAMP_JS)
        assert stamp and stamp["visible"], stamp
        assert f"数据截至 {manifest['as_of']}" in stamp["text"] and "演示数据" in stamp["text"], stamp
        title_top = page.locator('[data-testid="stMain"] h1').first.bounding_box()["y"]
        assert stamp["top"] < title_top  # above the title: seen without scrolling or opening anything
        assert page.locator('[data-testid="stSidebar"]').bounding_box()["x"] < 0 or \
            not page.locator('[data-testid="stSidebarContent"]').is_visible()  # the sidebar is folded
        page.set_viewport_size({"width": 1440, "height": 1000})  # on a desktop the sidebar says it
        page.wait_for_timeout(500)
        assert not page.evaluate(STAMP_JS)["visible"]
    finally:
        context.close()


def test_overview_names_the_data_date_once_on_a_phone(app_server, browser, demo_dir):
    import json

    day = json.loads((demo_dir / "manifest.json").read_text(encoding="utf-8"))["as_of"]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        _open(page, f"{app_server.url}/", '[data-testid="stMetric"]')
        assert page.evaluate(STAMP_JS) is None  # the overview's own line, not a second one
        assert page.evaluate(MAIN_TEXT_JS).count(f"数据截至 {day}") == 1
    finally:
        context.close()


LEGEND_JS = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
  .filter(p => p.getBoundingClientRect().width > 0)
  .map(p => { const box = s => { const e = p.querySelector(s); if (!e) return null;
                                 const r = e.getBoundingClientRect();
                                 return {l: r.left, r: r.right, t: r.top, b: r.bottom}; };
              return {title: box('.gtitle'), legend: box('.legend'), chart: box(':scope > div')}; })"""


def _overlap(a: dict | None, b: dict | None) -> bool:
    return bool(a and b) and a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


@pytest.mark.parametrize(("path", "tab", "charts"),
                         [("", None, 2), ("remediation", "项目时间线", 2), ("firms", "巡查", 3)])
def test_chart_legends_leave_titles_clear_on_a_phone(app_server, browser, path, tab, charts):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        _open(page, f"{app_server.url}/{path}", '[data-testid="stPlotlyChart"], [role="tab"]')
        if tab:
            page.get_by_role("tab", name=tab).click()
            page.wait_for_function(IDLE_JS, timeout=120_000)
        page.wait_for_selector('[data-testid="stPlotlyChart"] .gtitle', timeout=120_000)
        page.wait_for_timeout(2000)
        found = page.evaluate(LEGEND_JS)
        assert len(found) >= charts, found
        for chart in found:
            assert chart["title"] is not None, chart
            assert chart["title"]["r"] <= chart["chart"]["r"] + 1, chart  # the title fits: it wraps
            assert not _overlap(chart["title"], chart["legend"]), chart
            if chart["legend"]:
                assert chart["legend"]["t"] > chart["title"]["b"], chart  # below the plot, not over the title
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(SCREENSHOTS / f"phone-charts-{path or 'overview'}.png"), full_page=True)
    finally:
        context.close()


def test_a_tables_toolbar_covers_nothing_on_a_touch_screen(app_server, browser):
    """A touch screen has no hover, so Streamlit shows a table's toolbar all the time, 44 px above the
    table: it covered the overview's attention tabs (the third tab's name and the tab bar's arrow)."""
    context = browser.new_context(**PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stTabs"] [data-testid="stDataFrame"]', timeout=120_000)
        page.wait_for_function(IDLE_JS, timeout=120_000)
        assert page.evaluate("() => matchMedia('(hover: none)').matches")
        page.locator('[data-testid="stTabs"]').first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        boxes = page.evaluate("""() => {
          const tabs = document.querySelector('[data-testid="stTabs"]');
          const bar = tabs.querySelector('[role="tablist"]').getBoundingClientRect();
          const tool = tabs.querySelector('[data-testid="stElementToolbar"]').getBoundingClientRect();
          return {bar_bottom: bar.bottom, tool_top: tool.top, tool_height: tool.height}; }""")
        page.screenshot(path=str(SCREENSHOTS / "phone-attention.png"))
        assert boxes["tool_height"] > 20, boxes  # the toolbar is shown
        assert boxes["tool_top"] >= boxes["bar_bottom"], boxes
    finally:
        context.close()
