"""What the remediation page sends a browser (AppTest): its first load at scale M stays within a
bound, a closed tab sends nothing, a cut table says how many rows it has in all, every column of
every table on screen has one type, and the story's park picker lists a few parks yet finds any."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from dayuan_geo.maps import budget as mapdata
from dayuan_geo.remediation import queries as R
from tests.pages.test_chinese_ui import _cell_problems

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/remediation.py"
MB = 1_000_000


def element_bytes(at: AppTest) -> dict[str, int]:
    """Bytes of every element's proto on the page, counted as the lead's probe counts them
    (/work/probe/elbytes.py: every node of the tree with a proto, its ByteSize), by key or type."""
    sizes: dict[str, int] = {}

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ByteSize"):
            name = getattr(node, "key", None) or type(node).__name__
            sizes[name] = sizes.get(name, 0) + proto.ByteSize()
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else []:
            walk(child)

    walk(at._tree)
    return sizes


def mixed_columns(monkeypatch) -> list[str]:
    """Record every table Streamlit had to convert again because a column mixes types (it logs an
    ArrowTypeError and calls fix_arrow_incompatible_column_types): the names of those columns."""
    found: list[str] = []
    original = dataframe_util.fix_arrow_incompatible_column_types

    def record(df, *args, **kwargs):
        found.extend(str(c) for c in df.columns
                     if df[c].dtype == object and len({type(v) for v in df[c]}) > 1)
        return original(df, *args, **kwargs)

    monkeypatch.setattr(dataframe_util, "fix_arrow_incompatible_column_types", record)
    return found


def _dates_and_dashes() -> None:
    import datetime as dt

    import pandas as pd
    import streamlit as st

    st.dataframe(pd.DataFrame({"day": [dt.date(2026, 1, 1), "—"]}))


def open_page(page: str, **params: str) -> AppTest:
    """The page opened through app.py with params in its URL, as a link would open it."""
    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params.update(params)
    at.switch_page(page)
    return at.run()


def run_page(**params: str) -> AppTest:
    return open_page(PAGE, **params)


SECTIONS = ("map", "late", "stuck", "timeline", "durations", "progress", "projects")


def open_section(at: AppTest, code: str) -> AppTest:
    at.session_state["rem_sections"] = at.tabs[SECTIONS.index(code)].label  # what a click on the tab sends
    return at.run()


def test_first_load_at_scale_m_sends_the_map_and_little_else(scale_m, monkeypatch):
    """4.9 MB before (three 5,000-row tables of 1.05-1.3 MB, 3,000 park names in the picker), then 1.95 MB
    (the map and two 1,000-row tables, four charts). Now the headline numbers, the pipeline and the open
    section, the map (the parks map keeps to the map budget of parks, 1.27 MB, outside this test's count)
    with its legend and a picker of 100 parks; the lists, the timeline and the other charts are sent
    when their section is opened."""
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(scale_m))
    at = run_page()
    assert not at.exception
    sizes = element_bytes(at)
    total, deck = sum(sizes.values()), sizes["rem_map"]
    assert total - deck < 0.05 * MB, sorted(sizes.items(), key=lambda kv: -kv[1])[:6]
    assert deck < 1.3 * MB
    assert sizes["rem_story_park"] < 10_000  # 100 parks, not 3,000
    assert not at.dataframe
    for code in ("late", "projects"):
        open_section(at, code)
        assert all(len(d.value) <= 1_000 for d in at.dataframe) and at.dataframe
        assert "rem_map" not in element_bytes(at)


def test_a_closed_section_sends_nothing_and_a_cut_table_says_its_total(app_env, monkeypatch):
    monkeypatch.setenv("DAYUAN_SCREEN_ROWS", "10")
    projects = pd.read_parquet(app_env / "remediation_projects.parquet")
    at = open_section(run_page(), "projects")
    assert not at.exception
    assert [bool(tab.children) for tab in at.tabs] == [code == "projects" for code in SECTIONS]
    projects_table = next(d.value for d in at.dataframe if "释放进度" in d.value.columns)
    assert len(projects_table) == 10 and len(at.dataframe) == 1
    assert f"显示前 10 行，共 {len(projects):,} 行；导出包含全部。" in [c.value for c in at.caption]
    # the export still holds every project (the key names the list; the data is built on click)
    assert any("整治项目_" in b.proto.id for b in at.get("download_button"))

    stuck = at.tabs[SECTIONS.index("stuck")]
    open_section(at, "stuck")
    assert [bool(tab.children) for tab in at.tabs] == [code == "stuck" for code in SECTIONS]
    assert at.query_params["tab"] == "stuck"
    at.number_input(key="rem_threshold").set_value(365).run()  # the tabs' labels count anew: still the stuck list
    i = SECTIONS.index("stuck")
    assert at.tabs[i].children and not at.tabs[0].children and at.tabs[i].label != stuck.label
    reloaded = run_page(tab="stuck")  # a reload of the link opens the same section
    assert reloaded.tabs[i].children and not reloaded.tabs[0].children


def test_tables_on_screen_have_one_type_per_column(app_env, monkeypatch):
    """A column mixing dates and "—" (实际完成, 列入日期) made Streamlit convert the table again on
    every run. Every table the page shows, in each tab and in a park's story, goes as it is."""
    found = mixed_columns(monkeypatch)
    # the recorder itself: a table mixing dates and text is caught
    AppTest.from_function(_dates_and_dashes).run()
    assert found == ["day"]
    found.clear()
    firms = pd.read_parquet(app_env / "firms.parquet")
    projects = pd.read_parquet(app_env / "remediation_projects.parquet")
    listed = firms.groupby("park_id")["listed_on"].agg(lambda s: s.isna().any() and s.notna().any())
    done = set(projects.loc[projects["finished_on"].notna(), "park_id"])
    park = sorted(p for p in listed[listed].index if p in done)[0]  # firms listed and not; a finished project
    at = run_page(park=park)  # the map section, the park's story beside it
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    for code in ("late", "stuck", "durations", "projects"):
        open_section(at, code)
        assert not at.exception
        frames += [d.value for d in at.dataframe]
    headers = [list(df.columns) for df in frames]
    assert [R.header(c, "zh") for c in R.STUCK_COLUMNS] in headers  # the stuck list
    assert any("列入日期" in h for h in headers) and any("实际完成" in h for h in headers)  # story firms, projects
    assert found == []
    problems = {i: bad for i, df in enumerate(frames) if (bad := _cell_problems(df))}
    assert not problems, problems  # test_chinese_ui's check, for the sections a first load does not build


def test_the_park_picker_lists_few_parks_and_finds_any(scale_m, monkeypatch):
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(scale_m))
    parks = pd.read_parquet(scale_m / "parks.parquet")
    at = run_page()
    picker = at.selectbox(key="rem_story_park")
    assert len(picker.options) == 100
    # the picker lists the parks the map draws (the one map budget), most urgent first
    drawn = min(mapdata.DEFAULT_POLYGON_BUDGET, len(parks))
    assert f"列出 100 个园区，共 {drawn:,} 个；输入名称或编号查找其他园区。" in [c.value for c in at.caption]
    # a park the map does not draw: found by a piece of its name, and opened by a link
    far = parks.sort_values("park_id").iloc[-1]
    at.text_input(key="rem_story_q").set_value(far["park_id"]).run()
    assert far["park_id"] in [o.split(" ")[0] for o in at.selectbox(key="rem_story_park").options]
    linked = run_page(park=far["park_id"])
    assert not linked.exception
    assert linked.selectbox(key="rem_story_park").value == far["park_id"]
    assert any(far["name"] in m.value for m in linked.markdown)
