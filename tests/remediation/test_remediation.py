"""The remediation tracker: its lists and figures agree with independent computations made straight
from the parquet files, it follows a different stage catalogue with no code change, and its page
shows what it should (AppTest)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dayuan_geo import export
from dayuan_geo import schema as S
from dayuan_geo.cli import main as cli
from dayuan_geo.dataset import versions
from dayuan_geo.demo import build as demo
from dayuan_geo.overview import queries
from dayuan_geo.remediation import charts as RC
from dayuan_geo.remediation import queries as R
from dayuan_geo.remediation import views as RV
from dayuan_geo.store import Store
from dayuan_geo.text import md_text

AS_OF = dt.date(2026, 11, 20)
APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/remediation.py"


def _files(directory: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(directory / f"{name}.parquet")


def expected_states(directory: Path, as_of: dt.date, stalled_days: int, codes: tuple[str, ...],
                    done: str) -> pd.DataFrame:
    """Each project's stage, lateness and idleness on as_of, computed with pandas from the files."""
    projects = _files(directory, "remediation_projects")
    events = _files(directory, "remediation_events")
    day = pd.Timestamp(as_of)
    projects = projects[pd.to_datetime(projects["started_on"]) <= day].copy()
    ev = events[pd.to_datetime(events["entered_on"]) <= day].copy()
    ev["entered_on"] = pd.to_datetime(ev["entered_on"])
    ev["rank"] = ev["stage"].map({c: i for i, c in enumerate(codes)})
    ev = ev.sort_values(["project_id", "entered_on", "rank"])
    last = ev.groupby("project_id").tail(1).set_index("project_id")
    stage = projects["project_id"].map(last["stage"]).fillna(projects["stage"])
    changed = projects["project_id"].map(last["entered_on"]).fillna(pd.to_datetime(projects["started_on"]))
    out = pd.DataFrame({
        "project_id": projects["project_id"],
        "stage": stage,
        "planned_finish": pd.to_datetime(projects["planned_finish"]),
        "idle": (day - changed).dt.days,
    })
    out["overdue"] = (out["planned_finish"] < day) & (out["stage"] != done)
    out["days_late"] = (day - out["planned_finish"]).dt.days
    out["stalled"] = (out["stage"] != done) & (out["idle"] > stalled_days)
    return out.set_index("project_id")


# ---- late and stuck -----------------------------------------------------------------------------

@pytest.mark.parametrize(("as_of", "days"), [(AS_OF, 90), (AS_OF, 180), (dt.date(2024, 6, 30), 60)])
def test_late_and_stuck_lists_match_the_files(cur, demo_dir, as_of, days):
    cat = S.stage_catalogue()
    exp = expected_states(demo_dir, as_of, days, cat.codes, cat.completed)
    projects = R.project_list(cur, as_of=as_of, stalled_days=days)
    late, stuck = R.late_projects(projects), R.stuck_projects(projects)
    assert set(late["project_id"]) == set(exp.index[exp["overdue"]])
    assert set(stuck["project_id"]) == set(exp.index[exp["stalled"]])
    assert len(late) > 0 and len(stuck) > 0
    for row in late.itertuples():
        assert row.days_late == exp.at[row.project_id, "days_late"] > 0
    for row in stuck.itertuples():
        assert row.days_idle == exp.at[row.project_id, "idle"] > days
        assert isinstance(row.responsible_unit, str) and row.responsible_unit
    # sorted for the reader: the latest and the longest idle first
    assert list(late["days_late"]) == sorted(late["days_late"], reverse=True)
    assert list(stuck["days_idle"]) == sorted(stuck["days_idle"], reverse=True)
    k = queries.kpis(cur, as_of=as_of, stalled_days=days)
    assert (k["projects_overdue"], k["projects_stalled"]) == (len(late), len(stuck))


def test_late_count_agrees_with_kpis_json(demo_dir, cur, capsys):
    assert cli.main(["--data-dir", str(demo_dir), "kpis", "--json"]) == 0
    k = json.loads(capsys.readouterr().out)
    projects = R.project_list(cur, as_of=AS_OF)
    assert k["projects_overdue"] == len(R.late_projects(projects)) == 13
    assert k["projects_stalled"] == len(R.stuck_projects(projects))


def test_filters_by_mode_and_village(cur, demo_dir):
    projects = R.project_list(cur, as_of=AS_OF)
    parks = _files(demo_dir, "parks").set_index("park_id")
    files = _files(demo_dir, "remediation_projects")
    village = parks.index[0] and parks["village_code"].iloc[0]
    only = R.filter_projects(projects, modes=("shutdown",), villages=(village,))
    expected = files[(files["mode"] == "shutdown") & (files["park_id"].map(parks["village_code"]) == village)]
    assert set(only["project_id"]) == set(expected["project_id"])
    with pytest.raises(ValueError, match="unknown remediation mode"):
        R.filter_projects(projects, modes=("demolish_all",))


# ---- pipeline, durations, progress --------------------------------------------------------------

def test_pipeline_counts_projects_and_park_area_per_stage(cur, demo_dir):
    projects = R.project_list(cur, as_of=AS_OF)
    files = _files(demo_dir, "remediation_projects")
    parks = _files(demo_dir, "parks").set_index("park_id")
    for split in R.SPLITS:
        pipe = R.stage_pipeline(projects, split=split)
        assert list(pipe["stage"].drop_duplicates()) == list(S.stage_catalogue().codes)
        assert pipe["projects"].sum() == len(files)
    by_mode = R.stage_pipeline(projects, split="mode").set_index(["stage", "group"])
    files["park_area"] = files["park_id"].map(parks["area_m2"])
    expected = files.groupby(["stage", "mode"])["park_area"].agg(["count", "sum"])
    for (stage, mode), row in expected.iterrows():
        assert by_mode.at[(stage, mode), "projects"] == row["count"]
        assert by_mode.at[(stage, mode), "park_area_m2"] == pytest.approx(row["sum"])
    with pytest.raises(ValueError, match="cannot split"):
        R.stage_pipeline(projects, split="name; DROP TABLE parks")


def _stays_from_files(demo_dir) -> pd.DataFrame:
    """Every stay in a stage but the completed one, with its days, from the event file."""
    events = _files(demo_dir, "remediation_events")
    cat = S.stage_catalogue()
    ev = events.assign(entered_on=pd.to_datetime(events["entered_on"]),
                       rank=events["stage"].map({c: i for i, c in enumerate(cat.codes)}))
    ev = ev.sort_values(["project_id", "entered_on", "rank"])
    left = ev.groupby("project_id")["entered_on"].shift(-1).fillna(pd.Timestamp(AS_OF))
    ev["days"] = (left - ev["entered_on"]).dt.days
    ev["open"] = ev.groupby("project_id").cumcount(ascending=False) == 0  # latest stage: still open
    return ev[ev["stage"] != cat.completed]


def test_stage_durations_match_the_event_files(cur, demo_dir):
    history = R.stage_history(cur, as_of=AS_OF)
    assert len(history) == len(_files(demo_dir, "remediation_events"))
    cat = S.stage_catalogue()
    ev = _stays_from_files(demo_dir)
    closed = ev[~ev["open"]]
    for include_ongoing, stays in ((True, ev), (False, closed)):
        got = R.stage_durations(history, include_ongoing=include_ongoing).set_index("stage")
        assert cat.completed not in got.index
        for stage, days in stays.groupby("stage")["days"]:
            assert got.at[stage, "stays"] == len(days)
            assert got.at[stage, "median_days"] == pytest.approx(days.median())
            assert got.at[stage, "q3_days"] == pytest.approx(days.quantile(0.75))
            assert got.at[stage, "max_days"] == days.max()


def test_many_stays_are_boxed_from_their_statistics(cur, demo_dir):
    """Beyond the raw limit the durations chart carries five numbers per stage, not every stay:
    the quartiles, minimum and maximum of the days, as computed from the files."""
    history = R.stage_history(cur, as_of=AS_OF)
    cat = S.stage_catalogue()
    raw = RC.durations_chart(history)
    boxed = RC.durations_chart(history, raw_limit=10)
    assert all(tr.y is not None and tr.q1 is None for tr in raw.data)
    assert [tr.name for tr in boxed.data] == [tr.name for tr in raw.data]
    want = _stays_from_files(demo_dir).groupby("stage")["days"]
    labels = {cat.label(c, "zh"): c for c in cat.codes}
    for tr in boxed.data:
        days = want.get_group(labels[tr.name])
        assert tr.y is None and len(tr.q1) == 1
        assert tr.q1[0] == pytest.approx(days.quantile(0.25)) and tr.median[0] == pytest.approx(days.median())
        assert tr.q3[0] == pytest.approx(days.quantile(0.75))
        assert (tr.lowerfence[0], tr.upperfence[0]) == (days.min(), days.max())


def test_tracker_caps_its_tables_and_exports_them_whole(cur, demo_dir, monkeypatch):
    monkeypatch.setenv("DAYUAN_SCREEN_ROWS", "10")  # read when the tracker is built
    tr = RV.tracker(cur, as_of=AS_OF, lang="en")
    projects = R.project_list(cur, as_of=AS_OF)
    late = R.late_projects(projects)
    assert (tr.projects, tr.late, tr.stuck) == (64, len(late), len(R.stuck_projects(projects)))
    assert len(tr.project_table) == 10 and len(tr.late_table) == min(10, len(late))
    assert list(tr.late_table["Project ID"]) == list(late["project_id"].head(10))  # the latest first
    assert set(tr.pipelines) == {(m, s) for m in R.MEASURES for s in R.SPLITS}
    assert set(tr.durations) == {True, False}
    everything = RV.export_table(cur, which="projects", as_of=AS_OF, lang="en")
    assert len(everything) == len(_files(demo_dir, "remediation_projects"))
    assert list(everything.columns) == list(tr.project_table.columns)
    history = RV.export_table(cur, which="history", as_of=AS_OF, modes=("shutdown",), lang="zh")
    shutdown = _files(demo_dir, "remediation_projects").query("mode == 'shutdown'")["project_id"]
    events = _files(demo_dir, "remediation_events")
    assert len(history) == int(events["project_id"].isin(shutdown).sum())
    with pytest.raises(ValueError, match="unknown list"):
        RV.export_table(cur, which="parcels", as_of=AS_OF)


def test_progress_is_released_area_over_park_area(cur, demo_dir):
    projects = R.project_list(cur, as_of=AS_OF).set_index("park_id")
    parcels = _files(demo_dir, "parcels")
    parks = _files(demo_dir, "parks").set_index("park_id")
    rel = parcels[pd.to_datetime(parcels["released_on"]) <= pd.Timestamp(AS_OF)]
    released = rel.groupby("park_id")["area_m2"].sum()
    for park_id, area in released.items():
        assert projects.at[park_id, "released_m2"] == pytest.approx(area)
        assert projects.at[park_id, "progress"] == pytest.approx(area / parks.at[park_id, "area_m2"])
    assert projects["released_m2"].sum() == pytest.approx(2_015_800, rel=0.001)


# ---- the story of one park ----------------------------------------------------------------------

def test_project_story_names_firms_only_for_roles_that_may_see_them(cur, demo_dir):
    parcels = _files(demo_dir, "parcels")
    rel = parcels[pd.to_datetime(parcels["released_on"]) <= pd.Timestamp(AS_OF)]
    park_id = rel.groupby("park_id")["area_m2"].sum().idxmax()
    planner = R.project_story(cur, park_id=park_id, as_of=AS_OF, role="planner")
    assert planner["released_m2"] == pytest.approx(rel.loc[rel["park_id"] == park_id, "area_m2"].sum())
    assert set(planner["parcels"]["parcel_id"]) == set(rel.loc[rel["park_id"] == park_id, "parcel_id"])
    firms = _files(demo_dir, "firms")
    here = firms[firms["park_id"] == park_id]
    assert set(planner["firms"]["name"]) == set(here["name"])
    viewer = R.project_story(cur, park_id=park_id, as_of=AS_OF, role="viewer")
    assert "name" not in viewer["firms"] and "uscc" not in viewer["firms"]
    assert len(viewer["firms"]) == len(here)
    events = _files(demo_dir, "remediation_events")
    project_id = planner["project"]["project_id"]
    stages = R.story_stages(planner["history"]).set_index("stage")
    for ev in events[events["project_id"] == project_id].itertuples():
        assert stages.at[ev.stage, "entered_on"] == pd.Timestamp(ev.entered_on).date().isoformat()
    with pytest.raises(ValueError, match="no park"):
        R.project_story(cur, park_id="P99999", as_of=AS_OF, role="planner")


def test_park_map_and_gantt_build(cur):
    parks = R.parks_for_map(cur, as_of=AS_OF)
    assert len(parks) == 64 and parks["late_class"].isin([*RC.LATE_COLORS]).all()
    parks.loc[0, "park_name"] = "<img src=x onerror=alert(1)>"  # a hostile name from an import
    for color_by in ("stage", "late"):
        layer = RC.parks_layer(parks, color_by=color_by, villages={})
        assert len(layer.data) == 64
        assert "<img src=x onerror=alert(1)>" in layer.data[0]["tooltip"]  # as text, in a text-only tooltip
    urgent = R.most_urgent(parks, limit=20)  # what a map too big to draw keeps
    assert len(urgent) == 20 and set(parks.loc[parks["is_overdue"].eq(True), "park_id"]) <= set(urgent["park_id"])
    projects = R.project_list(cur, as_of=AS_OF)
    fig = RC.gantt(projects, R.stage_history(cur, as_of=AS_OF), as_of=AS_OF)
    overdue = [tr for tr in fig.data if tr.type == "scatter" and tr.marker.symbol == "x"]
    assert len(overdue) == 1 and len(overdue[0].x) == len(R.late_projects(projects))
    assert fig.layout.shapes[0].x0 == pd.Timestamp(AS_OF)  # today's line is the data date



def test_timeline_keeps_the_late_and_stuck_when_there_are_too_many(cur):
    projects = R.project_list(cur, as_of=AS_OF)
    assert len(R.gantt_selection(projects)) == 64  # all fit
    shown = R.gantt_selection(projects, limit=20)
    late, stuck = R.late_projects(projects), R.stuck_projects(projects)
    assert len(shown) == 20
    assert set(late["project_id"]) <= set(shown["project_id"])
    stuck_only = stuck[~stuck["is_overdue"]].head(20 - len(late))
    assert set(stuck_only["project_id"]) <= set(shown["project_id"])
    assert set(R.gantt_selection(projects, limit=5)["project_id"]) == set(late["project_id"].head(5))

def test_exports_are_excel_friendly(cur):
    projects = R.project_list(cur, as_of=AS_OF)
    table = R.labelled(projects, R.PROJECT_COLUMNS, lang="zh", villages={})
    data = export.to_csv(table, table="remediation_projects", lang="zh")
    assert data.startswith("\ufeff".encode())
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(back.columns[:3]) == ["项目编号", "项目名称", "园区编号"]
    assert len(back) == 64 and set(back["当前阶段"]) <= {s.zh for s in S.stage_catalogue().stages}
    history = R.labelled(R.stage_history(cur, as_of=AS_OF), R.HISTORY_COLUMNS, lang="en",
                         table="remediation_events")
    book = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(history, table="remediation_events", lang="en")))
    rows = list(book.active.values)
    assert rows[0][:3] == ("Project ID", "Project name", "Park") and len(rows) == len(history) + 1
    assert isinstance(rows[1][6], dt.datetime | dt.date)  # entered on stays a date in Excel



def test_cli_prints_and_exports_the_lists(demo_dir, tmp_path, capsys):
    assert cli.main(["--data-dir", str(demo_dir), "remediation", "late", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 13 and rows[0]["逾期天数"] == max(r["逾期天数"] for r in rows)
    out = tmp_path / "stuck.csv"
    assert cli.main(["--data-dir", str(demo_dir), "remediation", "stuck", "--stalled-days", "365",
                     "--lang", "en", "--out", str(out)]) == 0
    back = pd.read_csv(out, encoding="utf-8-sig")
    assert out.read_bytes().startswith("\ufeff".encode())
    exp = expected_states(demo_dir, AS_OF, 365, S.stage_catalogue().codes, S.stage_catalogue().completed)
    assert set(back["Project ID"]) == set(exp.index[exp["stalled"]])
    assert cli.main(["--data-dir", str(demo_dir), "remediation", "history", "--out", str(tmp_path / "h.txt")]) == 2

# ---- another street's workflow ------------------------------------------------------------------

CUSTOM_TOML = """
land_released_stage = "handed_over"
completed_stage = "closed"

[[stage]]
code = "registered"
zh = "登记建档"
en = "Registered"

[[stage]]
code = "negotiated"
zh = "协商签约"
en = "Agreement signed"

[[stage]]
code = "vacated"
zh = "清场完成"
en = "Vacated"

[[stage]]
code = "handed_over"
zh = "交地验收"
en = "Handed over"

[[stage]]
code = "closed"
zh = "结案归档"
en = "Closed"
"""
TO_CUSTOM = {
    "surveyed": "registered", "plan_drafted": "negotiated", "plan_approved": "negotiated",
    "leases_terminated": "vacated", "demolished": "vacated", "land_released": "handed_over",
    "transferred": "handed_over", "construction_started": "handed_over", "completed": "closed",
}


@pytest.fixture()
def custom_street(tmp_path, monkeypatch):
    """A small dataset whose projects follow a five-stage workflow read from its own file."""
    stages_file = tmp_path / "stages.toml"
    stages_file.write_text(CUSTOM_TOML, encoding="utf-8")
    tables = demo.build()  # the demo's parks and history, re-described in the other workflow
    projects = tables["remediation_projects"]
    projects["stage"] = projects["stage"].map(TO_CUSTOM)
    events = tables["remediation_events"]
    events["stage"] = events["stage"].map(TO_CUSTOM)
    tables["remediation_events"] = events.sort_values(["project_id", "entered_on"]).drop_duplicates(
        ["project_id", "stage"], keep="first")
    monkeypatch.setenv("DAYUAN_STAGES_FILE", str(stages_file))
    data = tmp_path / "data"
    versions.publish(data, tables, source="imported", as_of=AS_OF, note="another street")
    versions.publish(data, {"targets": tables["targets"]}, source="imported", as_of=AS_OF)  # version 2
    st.cache_data.clear()
    st.cache_resource.clear()
    yield data, tables
    st.cache_data.clear()
    st.cache_resource.clear()


def test_a_different_stage_catalogue_needs_no_code_change(custom_street, monkeypatch):
    data, _tables = custom_street
    cat = S.stage_catalogue()
    assert cat.codes == ("registered", "negotiated", "vacated", "handed_over", "closed")
    store = Store(data)
    cur = store.cursor()
    projects = R.project_list(cur, as_of=AS_OF)
    assert set(projects["stage"]) <= set(cat.codes)
    pipe = R.stage_pipeline(projects, split="mode")
    assert list(pipe["stage"].drop_duplicates()) == list(cat.codes)
    assert pipe["projects"].sum() == len(projects)
    exp = expected_states(data, AS_OF, 90, cat.codes, "closed")
    assert set(R.late_projects(projects)["project_id"]) == set(exp.index[exp["overdue"]])
    assert set(R.stuck_projects(projects)["project_id"]) == set(exp.index[exp["stalled"]])
    k = queries.kpis(cur, as_of=AS_OF)
    assert list(k["remediation_projects_by_stage"]) == list(cat.codes)
    assert k["projects_completed"] == int((exp["stage"] == "closed").sum()) > 0
    durations = R.stage_durations(R.stage_history(cur, as_of=AS_OF))
    assert list(durations["stage"]) == ["registered", "negotiated", "vacated", "handed_over"]
    assert list(RC.stage_colors()) == list(cat.codes)
    labels = [label for label, _ in RC.legend_items("stage", lang="zh")]
    assert labels[:5] == ["登记建档", "协商签约", "清场完成", "交地验收", "结案归档"]

    monkeypatch.setenv("DAYUAN_DATA_DIR", str(data))
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    spec = "".join(c.proto.spec for c in at.get("plotly_chart"))
    for stage in cat.stages:
        assert json.dumps(stage.zh)[1:-1] in spec or stage.zh in spec
    assert "土地整备移交" not in spec  # none of the shipped catalogue's stages
    assert "交地验收" in " ".join(m.value for m in at.markdown)


# ---- the page -----------------------------------------------------------------------------------

def run_page(lang: str | None = None, role: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if lang:
        at.query_params["lang"] = lang
    if role:
        at.session_state["role"] = role
    at.switch_page(PAGE)
    return at.run()


SECTIONS = ("map", "late", "stuck", "timeline", "durations", "progress", "projects")


def open_section(at: AppTest, code: str) -> AppTest:
    at.session_state["rem_sections"] = at.tabs[SECTIONS.index(code)].label  # what a click on the tab sends
    return at.run()


def test_page_shows_pipeline_then_one_section_at_a_time(app_env, cur):
    at = run_page()
    assert not at.exception
    k = queries.kpis(cur, as_of=AS_OF)
    values = {m.label: m.value for m in at.metric}
    assert values["项目数"] == "64"
    assert values["逾期项目"] == str(k["projects_overdue"])
    assert values["停滞项目"] == str(k["projects_stalled"])
    assert values["这些园区已释放土地"] == "201.58 万㎡"
    assert [t.label for t in at.tabs] == ["园区整治地图", f"逾期项目 {k['projects_overdue']}",
                                          f"停滞项目 {k['projects_stalled']}", "项目时间线", "阶段耗时",
                                          "各园区释放进度", "全部项目与导出"]
    # the map opens first; nothing of the other sections is built or sent
    assert [c.proto.id.split("-")[-1] for c in at.get("plotly_chart")] == ["rem_pipeline_chart"]
    decks = at.get("deck_gl_json_chart")
    assert len(decks) == 1 and '"PolygonLayer"' in decks[0].proto.json
    assert "土地整备移交" in " ".join(m.value for m in at.markdown)  # the legend
    assert not at.dataframe and not at.get("download_button") and "tab" not in at.query_params
    assert [s.value for s in at.subheader] == ["阶段分布"]
    # the late list with its CSV and XLSX; the open section in the link
    open_section(at, "late")
    late_table = at.dataframe[0].value
    assert len(late_table) == k["projects_overdue"] and "逾期天数" in late_table.columns
    assert len(at.get("download_button")) == 2 and not at.get("deck_gl_json_chart")
    assert at.query_params["tab"] == "late"
    open_section(at, "stuck")
    stuck_table = at.dataframe[0].value
    assert len(stuck_table) == k["projects_stalled"] and "无变化天数" in stuck_table.columns
    assert at.query_params["tab"] == "stuck" and len(at.get("download_button")) == 2
    for code, key in (("timeline", "rem_gantt"), ("durations", "rem_durations_chart"),
                      ("progress", "rem_progress_chart")):
        open_section(at, code)
        assert not at.exception
        assert [c.proto.id.split("-")[-1] for c in at.get("plotly_chart")] == ["rem_pipeline_chart", key]
    # every project, and CSV and XLSX of the projects and of their history
    open_section(at, "projects")
    assert len(at.dataframe[0].value) == 64 and len(at.get("download_button")) == 4
    # back on the map, the colouring chosen before is kept
    open_section(at, "map")
    at.radio(key="rem_color_by").set_value("late").run()
    open_section(at, "late")
    open_section(at, "map")
    assert at.radio(key="rem_color_by").value == "late" and "tab" not in at.query_params


def test_threshold_and_filters_change_the_lists(app_env, cur):
    at = run_page()
    at.number_input(key="rem_threshold").set_value(365).run()
    assert not at.exception
    k = queries.kpis(cur, as_of=AS_OF, stalled_days=365)
    assert {m.label: m.value for m in at.metric}["停滞项目"] == str(k["projects_stalled"])
    at.multiselect(key="rem_modes").set_value(["regularise"]).run()
    assert not at.exception
    projects = R.filter_projects(R.project_list(cur, as_of=AS_OF, stalled_days=365), modes=("regularise",))
    values = {m.label: m.value for m in at.metric}
    assert values["项目数"] == str(len(projects))
    assert values["停滞项目"] == str(len(R.stuck_projects(projects)))
    at.radio(key="rem_color_by").set_value("late").run()
    assert not at.exception
    legend = " ".join(m.value for m in at.markdown)
    assert "逾期&gt;365天" in legend and "未逾期" in legend  # escaped HTML
    spec = at.get("deck_gl_json_chart")[0].proto.json
    assert spec.count('"park_id"') == len(projects)  # only the filtered parks are drawn


def test_picking_a_park_tells_its_story(app_env, demo_dir):
    at = run_page()
    at.selectbox(key="rem_story_park").set_value("P00003").run()
    assert not at.exception
    parks = _files(demo_dir, "parks").set_index("park_id")
    text = " ".join(m.value for m in at.markdown)
    assert parks.at["P00003", "name"] in text and "R00003" in text
    captions = " ".join(c.value for c in at.caption)
    parcels = _files(demo_dir, "parcels")
    n = int(((parcels["park_id"] == "P00003") & parcels["released_on"].notna()).sum())
    assert f"已释放地块 {n} 宗" in captions
    frames = [d.value for d in at.dataframe]
    firms = next(f for f in frames if "企业名称" in f.columns)
    assert len(firms) == int((_files(demo_dir, "firms")["park_id"] == "P00003").sum())


def test_page_in_english_and_for_an_inspector(app_env, demo_dir):
    at = run_page(lang="en", role="inspector")
    assert not at.exception
    assert at.title[0].value.startswith("Park remediation")
    assert "Overdue projects" in {m.label for m in at.metric}
    # inspectors may read the land tables but not export them
    open_section(at, "projects")
    assert not at.get("download_button")
    assert any("may not export" in c.value for c in at.caption)
    open_section(at, "map")
    parks = _files(demo_dir, "parks")
    named = parks[parks["name_en"].notna()].iloc[0]
    at.selectbox(key="rem_story_park").set_value(named["park_id"]).run()
    assert not at.exception
    assert f"#### {md_text(named['name_en'])}" in [m.value for m in at.markdown]
    firms = next(d.value for d in at.dataframe if "Firm ID" in d.value.columns)
    assert "Firm name" in firms.columns  # inspectors see firm names


def test_filters_and_park_live_in_the_url(app_env, demo_dir):
    projects = _files(demo_dir, "remediation_projects")
    parks = _files(demo_dir, "parks").set_index("park_id")
    village = parks.at["P00002", "village_code"]
    mode = projects.set_index("park_id").at["P00002", "mode"]
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"mode": S.REMEDIATION_MODE.label(mode, "zh"), "village": village, "stalled": "365",
                            "park": "P00002"})
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    assert at.multiselect(key="rem_modes").value == [mode]
    assert at.multiselect(key="rem_villages").value == [village]
    assert at.number_input(key="rem_threshold").value == 365
    assert at.selectbox(key="rem_story_park").value == "P00002"
    in_view = projects.merge(parks[["village_code"]], left_on="park_id", right_index=True)
    n = int(((in_view["mode"] == mode) & (in_view["village_code"] == village)).sum())
    assert {m.label: m.value for m in at.metric}["项目数"] == f"{n:,}"
    assert any(md_text(parks.at["P00002", "name"]) in m.value for m in at.markdown)
    # the link follows the widgets: the mode as a code, the default threshold left out
    assert at.query_params["mode"] == mode and at.query_params["park"] == "P00002"
    at.number_input(key="rem_threshold").set_value(R.DEFAULT_STALLED_DAYS).run()
    assert "stalled" not in at.query_params
    open_section(at, "projects")
    keys = [b.proto.id for b in at.get("download_button")]
    label = S.REMEDIATION_MODE.label(mode, "zh")
    assert any(f"export-整治项目_{label}_" in k and k.endswith(f"_{AS_OF.isoformat()}-csv") for k in keys)


def test_a_link_opens_its_section(app_env, cur):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["tab"] = "stuck"
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    k = queries.kpis(cur, as_of=AS_OF)
    assert len(at.dataframe[0].value) == k["projects_stalled"] and not at.get("deck_gl_json_chart")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["tab"] = "nonsense"
    at.switch_page(PAGE)
    at.run()
    assert at.get("deck_gl_json_chart") and any("tab" in w.value for w in at.warning)  # said, the map opened
