"""Page addresses: the overview answers at the root and at /overview, with one rule for both (the
server sends /overview and /home on to the root); an address no page has says so in the user's
language; every other page shows the data date and demo label atop the main area (for a phone,
whose sidebar is folded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit.testing.v1.local_script_runner as local_runner
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from dayuan_geo import access
from edge.http import page_redirect

from .test_access_matrix import _router_runs_every_time  # noqa: F401  (every run goes through app.py)

PROJECT = Path(__file__).resolve().parents[1]
APP = str(PROJECT / "app.py")
ROLES = ("leader", "planner", "inspector", "viewer")


@pytest.mark.parametrize("role", ROLES)
def test_home_and_overview_follow_one_rule(role):
    assert access.may_open("home", role) is True  # every role opens the overview, at both addresses
    assert access.may_open("overview", role) is True
    assert access.may_open(access.HOME, role) == access.may_open(access.page_rule(access.HOME), role)
    assert access.may_open("audit", role) is (role == "leader")  # an alias changes no other page's rule


def test_an_alias_is_no_rule_of_its_own():
    assert access.page_rule("home") == "overview"
    assert access.page_rule("land") == "land"
    assert access.page_rule("no-such-page") == "no-such-page"
    assert "home" not in access.PAGE_ROLES  # the alias cannot drift from the page it stands for
    assert not access.may_open("home", "forged")


def _manifest(data_dir: Path) -> dict:
    return json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))


def _script(at: AppTest, url_path: str) -> str:
    """The script registered under url_path (the page hash Streamlit derives from it)."""
    return Path(at._registered_pages[calc_hash(url_path)]["script_path"]).name


@pytest.mark.parametrize("url", ["home", "overview"])
def test_both_addresses_open_the_overview(app_env, url):
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert _script(at, "home") == _script(at, "overview") == "overview.py"
    assert at._registered_pages[calc_hash("home")]["url_pathname"] == ""  # served at the root
    at._page_hash = calc_hash(url)  # the address typed in the browser
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["大源街道物流园区整治与土地释放总览"]
    day = _manifest(app_env)["as_of"]
    # the overview's own line names the data date once; the phone line is not added to it
    shown = [e.body for e in at.info] + [e.body for e in at.warning]
    assert sum(day in s for s in shown) == 1, shown
    assert not [c for c in at.main.caption if day in c.value]


@pytest.mark.parametrize("page", ["pages/land.py", "pages/remediation.py", "pages/firms.py", "pages/import.py"])
def test_other_pages_carry_the_data_line(app_env, page):
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    manifest = _manifest(app_env)
    # the first line of the page, atop its own title; markdown, so drop its escapes to read it as shown
    first = at.main.caption[0].value.replace("\\", "")
    assert f"数据截至 {manifest['as_of']} · 数据版本 v{manifest['dataset_version']}" in first
    assert "演示数据" in first  # the demo dataset says so on every page, not only in the sidebar
    assert sum(f"数据截至 {manifest['as_of']}" in c.value.replace("\\", "") for c in at.main.caption) == 1


# ---- addresses no page has ------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "query", "document", "to"), [
    ("/overview", b"", True, "/"),
    ("/overview/", b"firm=F00012&lang=en", True, "/?firm=F00012&lang=en"),  # a shared link keeps its view
    ("/home", b"", False, "/"),  # the default page's reserved address finds no page in Streamlit
    ("/land/x", b"village=440111011", True, "/land?village=440111011"),
    ("/a/b/c", b"", True, "/a"),  # one segment: a page, or the page that says there is none
    ("/land", b"", True, None),
    ("/", b"", True, None),
    ("/land/x", b"", False, None),  # not a page the browser opens: left to Streamlit
    ("/static/js/index.js", b"", True, None),  # Streamlit's own paths are never moved
    ("/_stcore/health", b"", True, None),
    ("/_dayuan/session", b"t=abc", True, None),
])
def test_the_server_sends_other_addresses_to_their_page(path, query, document, to):
    assert page_redirect(path, query, document=document) == to


@pytest.fixture()
def opened_at(monkeypatch):
    """AppTest's runs as a browser's first run at an address: Streamlit resolves it by name."""
    def at_address(address: str) -> None:
        plain = local_runner.RerunData
        monkeypatch.setattr(local_runner, "RerunData", lambda **kw: plain(**kw, page_name=address))
    return at_address


def test_an_address_no_page_has_says_so_in_the_users_language(app_env, opened_at, monkeypatch):
    opened_at("no-such-page")
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["找不到此页面"]  # not the overview under an English dialog
    said = [w.value.replace("\\", "") for w in at.warning]
    assert any("看板中没有地址为 /no-such-page 的页面" in w for w in said), said
    assert not at.metric  # none of the overview's figures
    monkeypatch.undo()  # the next runs carry the page's hash, as a language switch does
    at.session_state["lang"] = "en"
    at.run()
    assert [t.value for t in at.title] == ["No such page"]
    assert any("The dashboard has no page at /no-such-page" in w.value.replace("\\", "") for w in at.warning)


def test_an_address_a_page_has_opens_that_page(app_env, opened_at):
    opened_at("land")
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert [t.value for t in at.title] == ["土地释放地图"]


def test_the_sign_in_address_with_no_sign_in_to_do_opens_the_overview(app_env, opened_at):
    opened_at("login")  # local mode: nobody signs in (a bookmark of the sign-in form, say)
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["大源街道物流园区整治与土地释放总览"]


@pytest.mark.parametrize("address", ["x<img src=x onerror=alert(1)>", "**bold**", "[a](javascript:alert(1))"])
def test_the_address_shown_is_text(app_env, opened_at, address):
    opened_at(address)
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.exception
    said = next(w.value for w in at.warning if "看板中没有地址为" in w.value)
    assert f"/{address}" in said.replace("\\", "")  # shown as typed
    assert address not in said  # every character markdown or HTML would act on is escaped
