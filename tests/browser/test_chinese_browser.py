"""The Chinese UI in real Chromium has no stray English: every page and tab, as a leader and a planner,
is walked and every Latin-letter word on screen (text, table cells and headers, chart labels) must be
on an explicit allow-list (IDs and codes, file formats, units, and Streamlit's own strings that an app
cannot reach)."""

from __future__ import annotations

import pytest

from dayuan_geo import audit, auth
from tests.latin import stray_words

from .conftest import SCREENSHOTS, AppServer

PASSWORD = "browser-pass-1"

WALK_JS = """() => {
  const out = [];
  const root = document.querySelector('[data-testid="stAppViewContainer"]') || document.body;
  // Material icons are ligatures: their names are text in the DOM but draw a symbol
  const icons = [...root.querySelectorAll('span, i')].filter(
    e => !e.children.length && getComputedStyle(e).fontFamily.includes('Material'));
  const saved = icons.map(e => e.textContent);
  icons.forEach(e => { e.textContent = ''; });
  out.push(root.innerText);
  icons.forEach((e, i) => { e.textContent = saved[i]; });
  for (const t of document.querySelectorAll('.main-svg text')) out.push(t.textContent);
  for (const c of document.querySelectorAll('[role="gridcell"], [role="columnheader"]')) out.push(c.textContent);
  for (const e of document.querySelectorAll('[title], [aria-label], input[placeholder]')) {
    if (e.closest('[data-testid="stToolbar"], [data-testid="stHeader"]')) continue;
    out.push(e.getAttribute('placeholder') || '');
  }
  return out.join('\\n');
}"""


@pytest.fixture(scope="module")
def served(demo_dir, browser, tmp_path_factory, monkeypatch_module=None):
    cfg = tmp_path_factory.mktemp("chinese")
    accounts = cfg / "auth.toml"
    auth.add_user("leader1", "leader", PASSWORD, path=accounts, rounds=4)
    auth.add_user("planner1", "planner", PASSWORD, path=accounts, rounds=4)
    log = cfg / "audit.jsonl"
    mp = pytest.MonkeyPatch()
    mp.setenv(audit.AUDIT_FILE_ENV, str(log))
    audit.record(user="leader1", role="leader", action="export", what="parcels", rows=12,
                 filters={"release_status": ["released"]}, detail={"format": "csv", "file": "parcels.csv"})
    mp.undo()
    server = AppServer(demo_dir, env={"DAYUAN_AUTH_FILE": str(accounts), "DAYUAN_AUDIT_FILE": str(log)})
    yield server
    server.stop()


def settle(page, ms: int = 1500) -> None:
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=90_000)
    page.wait_for_timeout(500)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    page.wait_for_timeout(ms)


def sign_in(page, url: str, name: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('input[type="password"]', timeout=90_000)
    page.get_by_label("用户名").fill(name)
    page.locator('input[type="password"]').fill(PASSWORD)
    page.locator('input[type="password"]').press("Enter")
    page.wait_for_selector('[data-testid="stSidebar"] >> text=已登录', timeout=90_000)
    settle(page)


def walk(page) -> dict[str, list[str]]:
    """The stray words of the page as it stands, then with each tab and expander opened in turn."""
    text = page.evaluate(WALK_JS)
    found = {"page": stray_words(text)}
    for i in range(page.locator('[data-testid="stExpander"] summary').count()):
        summary = page.locator('[data-testid="stExpander"] summary').nth(i)
        if summary.is_visible() and summary.get_attribute("aria-expanded") != "true":
            summary.click()
    settle(page, 500)
    found["expanders"] = stray_words(page.evaluate(WALK_JS))
    tabs = page.locator('[data-baseweb="tab-list"] [role="tab"]')
    for i in range(tabs.count()):
        tab = tabs.nth(i)
        if tab.is_visible():
            tab.click()
            settle(page, 800)
            found[f"tab {tab.inner_text()}"] = stray_words(page.evaluate(WALK_JS))
    return {k: v for k, v in found.items() if v}


@pytest.mark.parametrize(("user", "paths"), [
    ("leader1", ("overview", "land", "remediation", "firms", "audit")),
    ("planner1", ("import",)),
])
def test_chinese_ui_has_no_stray_latin_words(served, page, user, paths):
    page.set_default_timeout(90_000)
    sign_in(page, f"{served.url}/{paths[0]}", user)
    stray = {}
    for path in paths:
        # in-app navigation: a reload would start a new session (and ask for the password again)
        link = f'a[href$="/{path}"]' if path != "overview" else 'a[href$="/"]'
        page.locator(f'[data-testid="stSidebarNav"] {link}').first.click()
        settle(page, 2500)
        page.screenshot(path=str(SCREENSHOTS / f"chinese-{path}.png"), full_page=True)
        if found := walk(page):
            stray[path] = found
    import json
    (SCREENSHOTS / f"chinese-stray-{user}.json").write_text(json.dumps(stray, ensure_ascii=False, indent=1))
    assert not stray, stray


def test_a_link_opened_first_after_a_start_gets_the_titled_navigation(demo_dir, browser, page):
    """Served as `streamlit run app.py`, the first request after a start runs the page file named in
    the URL outside the router (Streamlit's pages-folder mode; server.py turns that mode off at its
    start); it is rerun through app.py, so that visitor, too, gets the Chinese navigation and the
    page their link named, with its query, not the folder's file names."""
    server = AppServer(demo_dir, script="app.py")  # a server of its own: nobody has opened a page of it yet
    try:
        page.goto(server.url + "/firms?tab=list")
        nav = page.locator('[data-testid="stSidebarNav"]')
        nav.wait_for(timeout=120_000)
        page.get_by_text("黑榜、高危企业与安全巡查").first.wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        links = nav.inner_text()
        for title in ("总览", "土地释放", "整治进展", "企业与安全"):
            assert title in links, links
        for file_name in ("not allowed", "login", "app", "audit"):
            assert file_name not in links.split("\n"), links
        assert "tab=list" in page.url
        assert page.locator('[data-testid="stDataFrame"]').count() == 1  # the list tab the link named
    finally:
        server.stop()


def test_an_address_no_page_has_says_so_in_chinese_even_first_after_a_start(demo_dir, browser, page):
    """The first link a fresh server (server.py, as `make run`) is asked for names no page: the page
    saying so, in Chinese, at that address; never Streamlit's English "page not found" dialog."""
    page.add_init_script("""new MutationObserver(() => {
        if (document.querySelector('[role="dialog"]')) window.__dialogSeen = true;
      }).observe(document, {childList: true, subtree: true});""")
    server = AppServer(demo_dir)  # a server of its own: nobody has opened a page of it yet
    try:
        page.goto(server.url + "/no-such-page")
        page.get_by_text("找不到此页面").first.wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        assert "看板中没有地址为 /no-such-page 的页面" in page.inner_text('[data-testid="stMain"]')
        assert not page.evaluate("() => window.__dialogSeen === true")
        assert page.url.split("?")[0] == server.url + "/no-such-page"
        page.goto(server.url + "/land/old-link")  # two segments: Streamlit would show a blank page there
        page.get_by_text("土地释放地图").first.wait_for(timeout=120_000)
        assert page.url.split("?")[0] == server.url + "/land"
    finally:
        server.stop()
