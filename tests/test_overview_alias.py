"""The overview answers at the root and at /overview, with one rule for both addresses; every other
page shows the data date and demo label atop the main area (for a phone, whose sidebar is folded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from dayuan_geo import access

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
