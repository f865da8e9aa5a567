"""What the firms page sends a browser (AppTest): its first load at scale M is the map and little
else, a closed tab sends nothing, the near-land check's values survive while its tab is closed (and
the map still rings its firms), a cut table says its total, and every table has one type per column."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dayuan_geo import schema as S
from tests.hostile.names import write_hostile_dataset
from tests.pages.test_chinese_ui import _cell_problems
from tests.pages.test_escaping import _texts, problems_in
from tests.pages.test_remediation_screen import APP, MB, element_bytes, mixed_columns, open_page

AS_OF = dt.date(2026, 11, 20)
PAGE = "pages/firms.py"
TAB_LABELS = {"map": "地图", "list": "名单", "near": "临近释放地块", "inspections": "巡查"}


def run_page(**params: str) -> AppTest:
    return open_page(PAGE, **params)


def open_tab(at: AppTest, code: str) -> AppTest:
    at.session_state["fs_tabs"] = TAB_LABELS[code]  # what a click on the tab sends
    return at.run()


def risky_firms(directory) -> gpd.GeoDataFrame:
    firms = gpd.read_parquet(directory / "firms.parquet")
    listed = pd.to_datetime(firms["listed_on"])
    return firms[firms["risk_level"].isin(["blacklisted", "high_risk"])
                 & (listed.isna() | (listed <= pd.Timestamp(AS_OF)))]


def firms_near(directory, *, distance_m: float, statuses: tuple[str, ...]) -> set[str]:
    """Risky firms within distance_m of a parcel whose status on AS_OF is one of statuses (EPSG:4547)."""
    parcels = gpd.read_parquet(directory / "parcels.parquet")
    later = (pd.to_datetime(parcels["released_on"]) > pd.Timestamp(AS_OF)).fillna(False)
    land = parcels[parcels["release_status"].where(~later, "vacating").isin(statuses)].to_crs(S.METRIC_CRS)
    risky = risky_firms(directory).to_crs(S.METRIC_CRS)
    zone = land.assign(geometry=land.buffer(distance_m, quad_segs=64))
    return set(gpd.sjoin(risky, zone, predicate="intersects")["firm_id"])


def rings(at: AppTest) -> int:
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    layer = next((layer for layer in spec["layers"] if layer["id"] == "near-land-firms"), None)
    return len(layer["data"]) if layer else 0


def test_first_load_at_scale_m_sends_the_map_and_little_else(scale_m, monkeypatch):
    """4.6 MB before: the map (1.9 MB, held to the one map budget, outside this page's tables) and four
    tables of 0.17-0.86 MB in tabs nobody had opened. Now the map and at most 0.1 MB besides (filters,
    KPIs, legend): a single table of 1,000 firms is about 0.2 MB, so any table or chart of a closed
    tab breaks the bound."""
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(scale_m))
    at = run_page()
    assert not at.exception
    sizes = element_bytes(at)
    total = sum(sizes.values())
    assert total - sizes["firms_map"] < 0.1 * MB, sorted(sizes.items(), key=lambda kv: -kv[1])[:6]
    assert total < 2.3 * MB
    at = open_tab(at, "list")
    firm_list = next(d.value for d in at.dataframe)
    assert len(firm_list) == 1_000
    assert f"显示前 1,000 行，共 {len(risky_firms(scale_m)):,} 行；导出包含全部。" in [c.value for c in at.caption]


def test_only_the_open_tab_is_built(app_env):
    at = run_page()
    assert not at.exception
    built = [bool(tab.children) for tab in at.tabs]
    assert built == [True, False, False, False]
    for code, index in (("list", 1), ("near", 2), ("inspections", 3)):
        open_tab(at, code)
        assert not at.exception
        assert [bool(tab.children) for tab in at.tabs] == [i == index for i in range(4)]
        assert at.query_params["tab"] == code
    assert [d.proto.json for d in at.get("deck_gl_json_chart")]  # inspections per grid, the only map now
    reloaded = run_page(tab="inspections")  # the link opens the same tab
    assert [bool(tab.children) for tab in reloaded.tabs] == [False, False, False, True]


def test_values_in_closed_tabs_survive_and_the_map_rings_the_near_firms(app_env):
    at = open_tab(run_page(), "near")
    at.slider(key="near_distance").set_value(500)
    at.multiselect(key="near_status").set_value(["released"]).run()
    open_tab(at, "inspections")
    at.number_input(key="repeat_min").set_value(3).run()
    open_tab(at, "map")
    assert not at.exception
    assert rings(at) == len(firms_near(app_env, distance_m=500, statuses=("released",)))  # the near tab is closed
    at.toggle(key="show_ordinary").set_value(True).run()
    open_tab(at, "list")
    open_tab(at, "near")
    assert at.slider(key="near_distance").value == 500
    assert at.multiselect(key="near_status").value == ["released"]
    open_tab(at, "inspections")
    assert at.number_input(key="repeat_min").value == 3
    open_tab(at, "map")
    assert at.toggle(key="show_ordinary").value is True
    assert rings(at) == len(firms_near(app_env, distance_m=500, statuses=("released",)))


def layers_of(at: AppTest) -> dict[str, dict]:
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    return {layer["id"]: layer for layer in spec["layers"]}


def test_within_the_point_budget_the_map_draws_each_risky_firm(app_env):
    layers = layers_of(run_page())
    risky = risky_firms(app_env)
    assert sorted(row["firm_id"] for row in layers["risky-firms"]["data"]) == sorted(risky["firm_id"])
    assert "risky-firm-squares" not in layers


def test_beyond_the_point_budget_the_map_sums_the_firms_on_squares(app_env, monkeypatch):
    """Software WebGL shades every pixel of every marker: 27,000 firms and their rings took 6 s. Over
    DAYUAN_MAP_POINT_BUDGET the map draws a bubble per square instead, and says so; the firms add up."""
    monkeypatch.setenv("DAYUAN_MAP_POINT_BUDGET", "10")
    at = run_page()
    assert not at.exception
    layers = layers_of(at)
    assert "risky-firms" not in layers and "near-land-firms" not in layers  # rings would ring nobody
    squares = layers["risky-firm-squares"]["data"]
    assert 0 < len(squares) <= 10
    risky = risky_firms(app_env)

    def count(tip: str, label: str) -> int:
        return int(next(line for line in tip.split("\n") if line.startswith(label + ":")).split(":")[1]
                   .replace(",", ""))

    assert sum(count(sq["tooltip"], "风险企业") for sq in squares) == len(risky)
    assert sum(count(sq["tooltip"], "黑榜企业") for sq in squares) == int((risky["risk_level"] == "blacklisted").sum())
    assert sum(count(sq["tooltip"], "高危企业") for sq in squares) == int((risky["risk_level"] == "high_risk").sum())
    for sq in squares:  # red where a square holds a blacklisted firm, orange where only high-risk ones
        assert sq["color"][:3] == ([215, 25, 28] if count(sq["tooltip"], "黑榜企业") else [253, 141, 60])
        assert count(sq["tooltip"], "风险企业") == count(sq["tooltip"], "黑榜企业") + count(sq["tooltip"], "高危企业")
    west, south, east, north = risky.total_bounds
    for sq in squares:
        lon, lat = sq["position"]
        assert west - 1e-6 <= lon <= east + 1e-6 and south - 1e-6 <= lat <= north + 1e-6
    caption = " ".join(c.value for c in at.caption)
    assert f"风险企业 {len(risky):,} 家，超过地图逐家显示的上限 10 家" in caption
    assert f"按 {len(squares):,} 个" in caption
    legend = " ".join(m.value for m in at.markdown)
    assert "风险企业方格汇总（有黑榜）" in legend
    list_tab = open_tab(at, "list")  # the list still holds every firm
    assert len(list_tab.dataframe[0].value) == len(risky)


def test_a_cut_table_says_its_total(app_env, monkeypatch):
    monkeypatch.setenv("DAYUAN_SCREEN_ROWS", "10")
    at = open_tab(run_page(), "list")
    firm_list = next(d.value for d in at.dataframe)
    total = len(risky_firms(app_env))
    assert len(firm_list) == 10 < total
    assert f"显示前 10 行，共 {total:,} 行；导出包含全部。" in [c.value for c in at.caption]


def test_the_list_names_each_firms_grid_as_the_filter_does(app_env):
    """The grid filter offers "201-001-001 石湖第97网格"; the list showed the code alone. Each firm's grid
    cell is its code and its name from the grids table."""
    at = open_tab(run_page(), "list")
    firm_list = next(d.value for d in at.dataframe)
    risky = risky_firms(app_env).set_index("firm_id")
    names = pd.read_parquet(app_env / "grids.parquet", columns=["grid_id", "name"]).set_index("grid_id")["name"]
    expected = [f"{g} {names[g]}" for g in risky.loc[firm_list["企业编号"], "grid_id"]]
    assert firm_list["网格编号"].tolist() == expected
    filter_box = next(m for m in at.multiselect if m.label == "网格编号")
    assert expected[0] in filter_box.options


@pytest.mark.parametrize("role", ["planner", "inspector"])
def test_tables_on_screen_have_one_type_per_column(app_env, monkeypatch, role):
    found = mixed_columns(monkeypatch)
    firms = risky_firms(app_env)
    unlisted = gpd.read_parquet(app_env / "firms.parquet").query("listed_on != listed_on")["firm_id"]
    at = AppTest.from_file(APP, default_timeout=600)
    at.session_state["role"] = role
    at.query_params["firm"] = sorted(unlisted)[0] if len(unlisted) else firms["firm_id"].iloc[0]
    at.switch_page(PAGE)
    at.run()
    for code in ("list", "near", "inspections"):
        open_tab(at, code)
        assert not at.exception
        assert at.dataframe
    assert found == []


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "data"
    return path, write_hostile_dataset(path)


@pytest.mark.parametrize("tab", ["list", "near", "inspections"])
@pytest.mark.parametrize("role", ["leader", "inspector"])
def test_each_tab_is_chinese_and_keeps_hostile_names_literal(app_env, hostile, monkeypatch, tab, role):
    """What tests/pages/test_chinese_ui.py and test_escaping.py check on a first load (the map's tab),
    for the tabs a first load no longer builds: opened by a link."""
    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params.update({"firm": "F0000147", "tab": tab})
    at.session_state["role"] = role
    at.switch_page(PAGE)
    at.run()
    assert not at.exception and at.dataframe
    problems = {i: found for i, df in enumerate(at.dataframe) if (found := _cell_problems(df.value))}
    assert not problems, problems
    data_dir, ids = hostile
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params.update({"firm": ids["firm"], "tab": tab})
    at.session_state["role"] = role
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    bad = [(problems_in(text), text[:160]) for text in _texts(at) if problems_in(text)]
    assert not bad, bad
