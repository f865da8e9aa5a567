"""AppTest runs of the app shell and the overview page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


AS_OF = dt.date(2026, 11, 20)


def run_app(lang: str | None = None, role: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if lang:
        at.query_params["lang"] = lang
    if role:
        at.session_state["role"] = role  # local mode previews a role this way
    return at.run()


def late_by_files(demo_dir: Path) -> pd.DataFrame:
    """Overdue projects straight from the files, latest first: planned finish before the data date
    and not completed (on the data date each project's stage is the one in the file)."""
    p = pd.read_parquet(demo_dir / "remediation_projects.parquet")
    p["days_late"] = (pd.Timestamp(AS_OF) - pd.to_datetime(p["planned_finish"])).dt.days
    late = p[(p["days_late"] > 0) & (p["stage"] != "completed")]
    return late.sort_values(["days_late", "project_id"], ascending=[False, True])


def frames(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def test_overview_kpis_charts_and_map(app_env):
    at = run_app()
    assert not at.exception
    labels = [m.label for m in at.metric]
    values = {m.label: m.value for m in at.metric}
    assert len(labels) == 12  # four pace cards, eight headline cards
    assert values["已释放土地"] == "201.58 万㎡"
    assert values["黑榜企业"] == "12"
    assert values["本年巡查次数"] == "6,805"
    assert len(at.get("plotly_chart")) == 2
    decks = at.get("deck_gl_json_chart")
    assert len(decks) == 1
    spec = decks[0].proto.json
    assert '"PolygonLayer"' in spec and '"ScatterplotLayer"' in spec and '"TextLayer"' in spec
    assert "basemaps.cartocdn" not in spec  # no external base map by default
    sidebar = " ".join(w.value for w in at.sidebar.warning)
    assert "演示数据" in sidebar
    assert "2026-11-20" in " ".join(c.value for c in at.sidebar.caption)
    # the data date and the demo label also in the main area (a phone hides the sidebar)
    main = " ".join(w.value for w in at.main.warning)
    assert "演示数据" in main and "2026-11-20" in main


def test_overview_lists_the_top_late_projects_by_name(app_env):
    at = run_app()
    assert not at.exception
    late = late_by_files(app_env)
    shown = frames(at)[0]  # the first tab: the most overdue
    assert list(shown["项目"]) == list(late["name"].head(5))
    assert list(shown["逾期天数"]) == list(late["days_late"].head(5))
    parks = pd.read_parquet(app_env / "parks.parquet").set_index("park_id")["name"]
    assert list(shown["园区"]) == [parks[p] for p in late["park_id"].head(5)]
    assert list(shown["责任单位"]) == list(late["responsible_unit"].head(5))
    # each row opens that park's project on the remediation page
    assert list(shown["链接"]) == [f"/remediation?park={p}" for p in late["park_id"].head(5)]
    assert at.tabs[0].label == f"逾期最久 ({len(late)})"
    # what a leader asks first on the left: a phone shows about three columns without swiping
    assert list(shown.columns[:3]) == ["项目", "责任单位", "逾期天数"]
    assert list(frames(at)[1].columns[:3]) == ["项目", "责任单位", "停滞天数"]


def test_overview_pace_against_the_prorated_target(app_env):
    at = run_app()
    values = {m.label: m for m in at.metric}
    parcels = pd.read_parquet(app_env / "parcels.parquet")
    released_on = pd.to_datetime(parcels["released_on"])
    ytd = parcels.loc[(released_on >= "2026-01-01") & (released_on <= pd.Timestamp(AS_OF)), "area_m2"].sum()
    targets = pd.read_parquet(app_env / "targets.parquet")
    target = targets.loc[(targets["year"] == AS_OF.year) & (targets["metric"] == "released_area_m2"), "value"].item()
    due = target * (AS_OF.timetuple().tm_yday / 365)
    assert values["本年释放 / 按时序应完成"].value == f"{ytd / 10_000:,.2f} 万㎡"
    assert values["进度状态"].value == ("进度正常" if ytd >= due else "进度落后")
    assert values["进度状态"].delta == ("+" if ytd >= due else "-") + f"{abs(ytd - due) / 10_000:,.2f} 万㎡"
    october = parcels.loc[released_on.dt.strftime("%Y-%m") == "2026-10", "area_m2"].sum()
    november = parcels.loc[(released_on.dt.strftime("%Y-%m") == "2026-11") & (released_on <= pd.Timestamp(AS_OF)),
                           "area_m2"].sum()
    assert values["本月释放（2026-11）"].value == f"{november / 10_000:,.2f} 万㎡"
    assert f"{abs(november - october) / 10_000:,.2f} 万㎡" in values["本月释放（2026-11）"].delta


def test_village_ranking_matches_the_files(app_env):
    at = run_app()
    ranking = next(f for f in frames(at) if "累计释放(㎡)" in f.columns)
    parcels = pd.read_parquet(app_env / "parcels.parquet")
    released = parcels[pd.to_datetime(parcels["released_on"]) <= pd.Timestamp(AS_OF)]
    villages = pd.read_parquet(app_env / "villages.parquet").set_index("code")["name_zh"]
    by_village = released.groupby("village_code")["area_m2"].sum().sort_values(ascending=False)
    assert list(ranking["村居"]) == [villages[c] for c in by_village.index]
    assert list(ranking["累计释放(㎡)"]) == [round(v) for v in by_village]
    firms = pd.read_parquet(app_env / "firms.parquet")
    risky = firms[firms["risk_level"].isin(["blacklisted", "high_risk"])].groupby("village_code").size()
    assert list(ranking["黑榜/高危企业"]) == [int(risky.get(c, 0)) for c in by_village.index]


def test_viewer_sees_places_not_firm_names_and_no_briefing(app_env):
    at = run_app(role="viewer")
    assert not at.exception
    firms = pd.read_parquet(app_env / "firms.parquet")
    names = set(firms["name"])
    for frame in frames(at):
        assert "企业" not in frame.columns
        assert not names & {str(v) for v in frame.to_numpy().ravel()}
    assert not [b for b in at.get("download_button")]
    # a viewer may not open the remediation or firms pages: the rows open the land page on that place
    late = late_by_files(app_env)
    assert list(frames(at)[0]["链接"]) == [f"/land?park={p}" for p in late["park_id"].head(5)]
    assert all(link.startswith("/land?parcel=") for link in frames(at)[2]["链接"])
    planner = run_app()
    labels = [b.proto.label for b in planner.get("download_button")]
    assert labels == ["下载 PDF", "下载 Word"]


def test_overview_in_english(app_env):
    at = run_app("en")
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Land released"] == "2,015,800 m²"
    assert values["Blacklisted firms"] == "12"
    assert at.title[0].value.startswith("Dayuan Street")


def test_language_switch_in_sidebar(app_env):
    at = run_app()
    at.sidebar.radio[0].set_value("en").run()
    assert not at.exception
    assert at.title[0].value.startswith("Dayuan Street")
