"""The Chinese UI's tables (AppTest): every page, as every role that may open it, with its stories
open; each table's headers and cells are Chinese, labels rather than codes, `—` for empty, and no
Latin word outside the allow-list of tests/latin.py. (The Chromium walk, tests/browser/
test_chinese_browser.py, covers the text, charts and widgets a browser draws; tables are a canvas.)"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.latin import stray_words

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = {
    "pages/overview.py": ("leader", "viewer"),
    "pages/land.py": ("leader", "viewer"),
    "pages/remediation.py": ("leader", "inspector"),
    "pages/firms.py": ("leader", "inspector"),
    "pages/audit.py": ("leader",),
    "pages/import.py": ("planner",),
}
APP_LINK = re.compile(r"^/[a-z_]*(?:\?[\w=&%.-]*)?$")
RAW = {"None", "nan", "NaN", "NaT", "<NA>", "null"}


def cases() -> list:
    return [pytest.param(p, r, marks=[])
            for p, roles in PAGES.items() for r in roles]


def _cell_problems(frame: pd.DataFrame) -> list[str]:
    out = [f"header {c!r}: {stray_words(str(c))}" for c in frame.columns if stray_words(str(c))]
    for col in frame.columns:
        for value in frame[col].tolist():
            if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
                out.append(f"{col}: empty shown as {value!r}, not —")
            elif isinstance(value, pd.Timestamp | dt.datetime) and (value.hour or value.minute):
                out.append(f"{col}: a time without its zone {value!r}")
            elif isinstance(value, str) and APP_LINK.match(value):
                continue  # a link column's address (the cell shows its label, e.g. 查看)
            elif isinstance(value, str) and (value.strip() in RAW or stray_words(value)):
                out.append(f"{col}: {value!r}")
    return sorted(set(out))


@pytest.mark.parametrize(("page", "role"), cases())
def test_tables_are_chinese(app_env, monkeypatch, tmp_path, page, role):
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("DAYUAN_AUDIT_FILE", str(log))
    from dayuan_geo import audit

    audit.record(user="leader1", role="leader", action="export", what="parcels", rows=3,
                 filters={"release_status": ["released"], "released_on": None}, detail={"format": "csv"})
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"firm": "F0000147", "parcel": "P00002-01"})
    at.session_state["role"] = role
    at.switch_page(page)
    at.run()
    assert not at.exception
    if page == "pages/remediation.py":
        at.selectbox(key="rem_story_park").set_value("P00002").run()
        assert not at.exception
    problems = {}
    for i, df in enumerate(at.dataframe):
        if found := _cell_problems(df.value):
            problems[i] = found
    assert not problems, problems


def test_the_not_allowed_page_says_so_in_the_role_s_words(app_env):
    """pages/not_allowed.py, which edge.allowed_pages serves at the address of a page the role may not
    open (see the report of issue 15), names the role and offers the way back."""
    page = Path(APP).parent / "pages" / "not_allowed.py"  # not registered yet: run on its own
    at = AppTest.from_file(str(page), default_timeout=120)
    at.session_state["role"] = "viewer"
    at.run()
    assert not at.exception
    assert at.title[0].value == "无权查看此页面"
    assert "当前角色（访客）不能查看这个页面" in at.warning[0].value


def test_audit_entries_read_in_chinese():
    from dayuan_geo import audit_views

    entry = {"at": "2026-11-30T17:05:09+00:00", "user": "leader1", "role": "leader", "action": "export",
             "what": "parcels", "rows": 1234, "filters": {"release_status": ["released", "transferred"],
                                                         "village_code": [], "distance_m": 500},
             "detail": {"format": "csv", "file": "地块_2026-11-20.csv"}}
    row = audit_views.entries_frame([entry], lang="zh").iloc[0]
    assert row["时间"] == "2026-12-01 01:05 北京时间"  # 17:05 UTC is past midnight in China
    assert row["角色"] == "领导" and row["操作"] == "导出" and row["数据"] == "地块" and row["行数"] == "1,234"
    assert row["筛选条件"] == "释放状态：已释放、已出让；所属村居：不限；距离(米)：500"
    assert row["详情"] == "格式：CSV；文件：地块_2026-11-20.csv"
    en = audit_views.entries_frame([entry], lang="en").iloc[0]
    assert en["When"] == "2026-12-01 01:05 China time (UTC+8)" and en["Role"] == "Leader"


def test_no_multiselect_offers_streamlits_english_select_all():
    """Streamlit's multiselect puts "Select all" atop its list, in English whatever the UI language:
    every multiselect of the app turns it off (an empty list already means every value)."""
    import ast

    root = Path(APP).parent
    calls = []
    for path in [*root.glob("pages/*.py"), *root.glob("edge/*.py"), root / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "multiselect":
                off = any(k.arg == "select_all" and isinstance(k.value, ast.Constant) and k.value.value is False
                          for k in node.keywords)
                calls.append((f"{path.relative_to(root)}:{node.lineno}", off))
    assert len(calls) >= 11  # the filters of the land, firms, remediation and audit pages
    assert [where for where, off in calls if not off] == []


def test_a_card_whose_note_is_not_a_change_has_no_arrow():
    """A card's small line is either a change (↑ 1,200 m² on last month: coloured, with an arrow) or a
    note (问题 1,514; 占园区 40%): a note drawn with an up arrow reads as a rise. Every card whose
    line is not coloured as a change (delta_color="off") turns the arrow off too."""
    import ast

    root = Path(APP).parent
    cards = []
    for path in [*root.glob("pages/*.py"), *root.glob("edge/*.py"), root / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "metric":
                kw = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
                if kw.get("delta_color") == "off":
                    cards.append((f"{path.relative_to(root)}:{node.lineno}", kw.get("delta_arrow")))
    assert len(cards) >= 6  # the land, remediation and firms pages' notes
    assert [where for where, arrow in cards if arrow != "off"] == []


def test_a_language_switch_draws_the_chosen_filters_in_the_new_language(app_env, monkeypatch):
    """A keyed multiselect keeps drawing its chips with the labels of the run that drew them until its
    value is set: switching to English left the land filter's village chip in Chinese. The switch
    sets every chosen value again, so the page sends the chips' English labels."""
    import streamlit.testing.v1.local_script_runner as local_runner

    plain = local_runner.RerunData
    monkeypatch.setattr(local_runner, "RerunData", lambda **kw: plain(**kw, page_name="land"))  # opened at /land
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["village"] = "440111021201"
    at.run()
    monkeypatch.undo()
    chips = next(m for m in at.sidebar.multiselect if m.label == "所属村居")
    assert list(chips.proto.raw_values) == ["石湖村委会"]
    at.sidebar.radio[0].set_value("en").run()
    assert not at.exception
    chips = next(m for m in at.sidebar.multiselect if m.label == "Village")
    assert chips.value == ["440111021201"]  # the same choice
    assert chips.proto.set_value and list(chips.proto.raw_values) == ["Shihu Village"]  # drawn again, in English
