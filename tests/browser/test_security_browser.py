"""Security in real Chromium: a viewer never receives a blacklisted firm's name, on any page or typed
URL; firms named like scripts stay text; a leader's export lands in the audit log."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from dayuan_geo import access, auth
from dayuan_geo.dataset import versions

from ..conftest import AS_OF
from .conftest import PROJECT, SCREENSHOTS, AppServer

PASSWORD = "browser-pass-1"


def app_urls() -> list[str]:
    """The address of every page app.py registers, read at test time: the default page's url_path is
    an alias ("home", served at the root), so it answers at the page it stands for (/overview)."""
    tree = ast.parse((PROJECT / "app.py").read_text(encoding="utf-8"))
    urls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page":
            urls += [access.page_rule(k.value.value) for k in node.keywords if k.arg == "url_path"]
    return urls


@pytest.fixture(scope="module")
def secured(demo_dir, browser, tmp_path_factory):
    """The demo dataset served with accounts: a viewer and a leader."""
    cfg = tmp_path_factory.mktemp("secured")
    accounts = cfg / "auth.toml"
    auth.add_user("viewer1", "viewer", PASSWORD, path=accounts, rounds=4)
    auth.add_user("leader1", "leader", PASSWORD, path=accounts, rounds=4)
    server = AppServer(demo_dir, env={"DAYUAN_AUTH_FILE": str(accounts),
                                      "DAYUAN_AUDIT_FILE": str(cfg / "audit.jsonl")})
    server.audit_file = cfg / "audit.jsonl"
    yield server
    server.stop()


def record_frames(page) -> list[bytes]:
    """Every websocket message the app sends the browser (protobuf; text and Arrow tables as UTF-8)."""
    frames: list[bytes] = []

    def on_ws(ws):
        ws.on("framereceived", lambda payload: frames.append(
            payload if isinstance(payload, bytes) else payload.encode("utf-8")))

    page.on("websocket", on_ws)
    return frames


def settle(page, ms: int = 2500) -> None:
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=60_000)
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(ms)


def sign_in(page, url: str, name: str) -> None:
    """Open url signed in as name: the session cookie (server.py) keeps a sign-in across addresses,
    so the form shows only when nobody, or somebody else, is signed in."""
    page.goto(url, wait_until="domcontentloaded")
    form, badge = 'input[type="password"]', '[data-testid="stSidebar"] >> text=已登录'
    page.locator(form).or_(page.locator(badge)).first.wait_for(timeout=60_000)
    if not page.locator(form).count() and page.locator(f"{badge}：{name} ").count():
        settle(page)
        return
    if not page.locator(form).count():
        page.locator('[data-testid="stSidebar"] button:has-text("退出登录")').click()
        page.wait_for_selector(form, timeout=60_000)
    page.wait_for_timeout(300)
    page.get_by_label("用户名").fill(name)
    page.locator(form).fill(PASSWORD)
    page.locator(form).press("Enter")  # Enter submits the form
    page.wait_for_selector(badge, timeout=60_000)
    settle(page)


# Set before any script of the app runs: remembers whether a dialog (Streamlit's "page not found")
# ever opened, however briefly.
DIALOG_WATCH = """new MutationObserver(() => {
    if (document.querySelector('[role="dialog"]')) window.__dialogSeen = true;
  }).observe(document, {childList: true, subtree: true});"""


@pytest.mark.parametrize("path", ["/overview", "/", "/home", "/overview/x"])
def test_overview_opens_at_each_address_without_page_not_found(secured, page, path):
    """Signed out, each address shows the sign-in form; signed in, the overview, at the root (the
    server sends the other addresses there), marked in the navigation as the page shown; never
    Streamlit's "page not found" dialog, however briefly."""
    page.add_init_script(DIALOG_WATCH)
    page.goto(secured.url + path, wait_until="domcontentloaded")
    page.wait_for_selector('input[type="password"]', timeout=60_000)
    settle(page, 1000)
    assert not page.evaluate("() => window.__dialogSeen === true")
    page.get_by_label("用户名").fill("viewer1")
    page.locator('input[type="password"]').fill(PASSWORD)
    page.locator('input[type="password"]').press("Enter")
    page.wait_for_selector('[data-testid="stMain"] h1:has-text("大源街道物流园区整治与土地释放总览")', timeout=120_000)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)  # the overview's cards
    settle(page, 1000)
    assert not page.evaluate("() => window.__dialogSeen === true")
    assert not page.locator('[role="dialog"]').count()
    assert page.locator('[data-testid="stMetric"]').count() >= 4
    assert not page.locator('[data-testid="stException"]').count()
    assert page.url.split("?")[0].rstrip("/") == secured.url.rstrip("/")  # the overview's own address
    current = page.locator('[data-testid="stSidebarNav"] a[aria-current="page"]').all_inner_texts()
    assert [c.split("\n")[-1] for c in current] == ["总览"]


def found(frames: list[bytes], text: str, values: list[str]) -> list[str]:
    blob = b"".join(frames)
    return [v for v in values if v.encode("utf-8") in blob or v in text]


def test_viewer_never_receives_blacklisted_names(secured, page, demo_dir):
    firms = pd.read_parquet(demo_dir / "firms.parquet")
    listed = firms[firms["risk_level"] == "blacklisted"]
    names, codes = listed["name"].tolist(), listed["uscc"].tolist()
    frames = record_frames(page)

    urls = ["/", *[f"/{u}" for u in app_urls()], f"/firms?firm={listed['firm_id'].iloc[0]}",
            f"/overview?firm={listed['firm_id'].iloc[0]}", "/overview", "/import", "/audit", "/login",
            "/no-such-page"]
    for url in dict.fromkeys(urls):
        frames.clear()
        sign_in(page, secured.url + url, "viewer1")
        text = page.inner_text("body")
        assert not found(frames, text, names), (url, found(frames, text, names)[:3])
        assert not found(frames, text, codes), url
        assert "审计日志：导出与导入" not in text and "风险企业" not in page.title()
        if url.split("?")[0] in ("/firms", "/remediation", "/import", "/audit"):
            assert "无权查看此页面" in text, url  # told so, not silently sent to the overview
        if url == "/no-such-page":
            assert "找不到此页面" in text and "看板中没有地址为 /no-such-page 的页面" in text
            assert not page.locator('[role="dialog"]').count()  # not Streamlit's English dialog
        nav = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        assert len(nav) <= 2, (url, nav)  # overview and the land map only
        assert not page.locator('[data-testid="stException"]').count()
    page.screenshot(path=str(SCREENSHOTS / "security-viewer.png"), full_page=True)


def test_leader_sees_names_and_export_is_audited(secured, page, demo_dir):
    """The detector above works (a leader does receive the names), and a download is audited."""
    firms = pd.read_parquet(demo_dir / "firms.parquet")
    names = firms.loc[firms["risk_level"] == "blacklisted", "name"].tolist()
    frames = record_frames(page)
    sign_in(page, secured.url + "/firms", "leader1")
    assert found(frames, page.inner_text("body"), names)
    page.get_by_role("tab", name="名单").click()
    button = page.locator('[data-testid="stDownloadButton"] button', has_text="CSV").first
    button.wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as dl:
        button.click()
    body = Path(dl.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    page.wait_for_timeout(500)
    entries = [json.loads(line) for line in secured.audit_file.read_text().splitlines()]
    assert entries and entries[-1]["user"] == "leader1" and entries[-1]["role"] == "leader"
    assert entries[-1]["action"] == "export" and entries[-1]["what"] == "firms"
    assert entries[-1]["rows"] == body.decode("utf-8-sig").count("\r\n") - 1


PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    "<svg/onload=window.__xss=3>",
    '"><img src=x onerror=alert(1)>',
    "<a href=javascript:window.__xss=4>x</a>",
    "{{constructor.constructor('window.__xss=5')()}}",
    "<iframe srcdoc='<script>parent.__xss=6</script>'>",
    "=HYPERLINK(\"http://evil.example\",\"x\")",
]


@pytest.fixture(scope="module")
def hostile(demo_dir, browser, tmp_path_factory):
    """A copy of the demo data whose risky firms are named (and listed for reasons) like attacks."""
    import shutil

    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    shutil.copytree(demo_dir, data)
    firms = gpd.read_parquet(data / "firms.parquet")
    risky = firms.index[firms["risk_level"] != "normal"]
    for n, i in enumerate(risky):
        firms.loc[i, "name"] = PAYLOADS[n % len(PAYLOADS)] + f" {n}"
        firms.loc[i, "list_reason"] = PAYLOADS[(n + 3) % len(PAYLOADS)]
    versions.publish(data, {"firms": firms}, source="demo", as_of=AS_OF)
    server = AppServer(data, env={"DAYUAN_AUTH_FILE": str(root / "no-accounts.toml"),
                                  "DAYUAN_AUDIT_FILE": str(root / "audit.jsonl")})
    server.focus = firms.loc[risky[0], "firm_id"]
    yield server
    server.stop()


def test_hostile_firm_names_stay_text(hostile, page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    image_requests: list[str] = []
    page.on("request", lambda r: image_requests.append(r.url) if r.url.rstrip("/").endswith("/x") else None)

    urls = [f"/firms?firm={hostile.focus}", *[f"/{u}" for u in app_urls() if u not in ("audit", "import")]]
    shown_as_text = False
    for url in dict.fromkeys(urls):
        page.goto(hostile.url + url, wait_until="domcontentloaded")
        settle(page, 3000)
        if "?firm=" in url:  # the firm's story, titled with its name
            page.wait_for_selector("h3:has-text('企业档案')", timeout=60_000)
        canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
        if canvas.count():  # hover the map's centre, where ?firm= puts the firm: its tooltip opens
            box = canvas.bounding_box()
            if box:
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.wait_for_timeout(800)
        shown_as_text |= '<img src=x onerror="window.__xss=1">' in page.inner_text("body")
        assert page.evaluate("() => window.__xss") is None, url
        injected = "() => document.querySelectorAll('img[src=\"x\"], svg[onload], iframe[srcdoc]').length"
        assert page.evaluate(injected) == 0, url
        assert not page.locator('[data-testid="stException"]').count(), url
    page.screenshot(path=str(SCREENSHOTS / "security-hostile.png"), full_page=True)
    assert dialogs == []
    assert image_requests == []
    assert shown_as_text, "the hostile name should be on screen, as plain text"


# ---- the signed session cookie (server.py): a sign-in survives a reload, and ends when it should ----

@pytest.fixture()
def served(demo_dir, browser, tmp_path):
    accounts = tmp_path / "config" / "auth.toml"
    auth.add_user("leader1", "leader", PASSWORD, path=accounts, rounds=4, by="test")
    auth.add_user("viewer1", "viewer", PASSWORD, path=accounts, rounds=4, by="test")
    server = AppServer(demo_dir, env={"DAYUAN_AUTH_FILE": str(accounts),
                                     "DAYUAN_AUDIT_FILE": str(tmp_path / "logs" / "audit.jsonl")})
    server.accounts = accounts
    yield server
    server.stop()


def signed_in(page) -> bool:
    settle(page, 1500)
    return page.locator('[data-testid="stSidebar"] >> text=已登录').count() > 0


def test_a_sign_in_survives_reload_and_new_tab_and_ends_when_it_should(served, page):
    sign_in(page, served.url, "leader1")
    page.wait_for_timeout(1500)  # the invisible image fetches the cookie
    cookie = next(c for c in page.context.cookies() if c["name"] == "dayuan_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0

    page.reload(wait_until="domcontentloaded")
    assert signed_in(page), "a reload asks again"
    other = page.context.new_page()
    other.goto(served.url, wait_until="domcontentloaded")
    assert signed_in(other), "a new tab asks again"
    other.close()

    page.locator('[data-testid="stSidebar"] button:has-text("退出登录")').click()
    page.wait_for_selector('input[type="password"]', timeout=60_000)
    page.wait_for_timeout(1500)
    page.context.add_cookies([{**cookie, "sameSite": "Strict"}])  # a copy kept from before: revoked
    page.reload(wait_until="domcontentloaded")
    assert not signed_in(page), "signed out, yet a kept copy of the cookie still signs in"

    sign_in(page, served.url, "leader1")
    page.wait_for_timeout(1500)
    auth.set_role("leader1", "viewer", path=served.accounts, by="test")
    page.reload(wait_until="domcontentloaded")
    assert not signed_in(page), "the role changed, the session stayed"

    sign_in(page, served.url, "viewer1")
    page.wait_for_timeout(1500)
    auth.remove_user("viewer1", path=served.accounts, by="test")
    page.reload(wait_until="domcontentloaded")
    assert not signed_in(page), "the account is gone, the session stayed"


def test_the_server_refuses_framing_and_public_metrics(served):
    import urllib.request

    with urllib.request.urlopen(served.url + "/") as r:
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in r.headers["Content-Security-Policy"]
