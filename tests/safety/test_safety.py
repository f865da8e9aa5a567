"""Firms and safety: every count, list and the near-land spatial join agree with independent
computations made straight from the files (pandas, geopandas); roles see only what they may; and
the page runs (AppTest) with the right numbers, map layers and firm story."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from dayuan_geo import schema as S
from dayuan_geo.safety import inspections, views
from dayuan_geo.safety import queries as safety
from dayuan_geo.store import Store

AS_OF = dt.date(2026, 11, 20)
Y0 = dt.date(2026, 1, 1)
APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def files(demo_dir):
    """The demo's firms, inspections and parcels read straight from the GeoParquet files."""
    firms = gpd.read_parquet(demo_dir / "firms.parquet")
    insp = pd.read_parquet(demo_dir / "inspections.parquet")
    insp["inspected_on"] = pd.to_datetime(insp["inspected_on"])
    firms["listed_on"] = pd.to_datetime(firms["listed_on"])
    parcels = gpd.read_parquet(demo_dir / "parcels.parquet")
    parcels["released_on"] = pd.to_datetime(parcels["released_on"])
    return firms, insp, parcels


def _year(insp: pd.DataFrame) -> pd.DataFrame:
    return insp[(insp["inspected_on"] >= pd.Timestamp(Y0)) & (insp["inspected_on"] <= pd.Timestamp(AS_OF))]


def _risky(firms: pd.DataFrame) -> pd.DataFrame:
    listed = firms["listed_on"].isna() | (firms["listed_on"] <= pd.Timestamp(AS_OF))
    return firms[firms["risk_level"].isin(["blacklisted", "high_risk"]) & listed]


# ---- counts -------------------------------------------------------------------------------------

def test_headline_counts_match_the_files(cur, files):
    firms, insp, _ = files
    risky = _risky(firms)
    year = _year(insp)
    expected = {
        "blacklisted": int((risky["risk_level"] == "blacklisted").sum()),
        "high_risk": int((risky["risk_level"] == "high_risk").sum()),
        "inspections": len(year),
        "rectification_firms": year.loc[year["outcome"] == "rectification_ordered", "firm_id"].nunique(),
        "rectification_orders": int((year["outcome"] == "rectification_ordered").sum()),
        "problem_inspections": int((year["outcome"] != "passed").sum()),
    }
    k = safety.safety_kpis(cur, as_of=AS_OF)
    assert {key: k[key] for key in expected} == expected
    # the published figures the demo is calibrated to
    assert (k["blacklisted"], k["high_risk"], k["inspections"], k["rectification_firms"]) == (12, 31, 6805, 44)
    assert (k["start"], k["end"]) == (Y0, AS_OF)


def test_an_earlier_year_counts_the_whole_year(cur, files):
    _, insp, _ = files
    k = safety.safety_kpis(cur, as_of=AS_OF, year=2024)
    in_2024 = insp[insp["inspected_on"].dt.year == 2024]
    assert k["inspections"] == len(in_2024)
    assert k["rectification_firms"] == in_2024.loc[in_2024["outcome"] == "rectification_ordered", "firm_id"].nunique()
    assert safety.inspection_years(cur, as_of=AS_OF)[0] == 2026
    with pytest.raises(ValueError, match="after the data date"):
        safety.year_window(AS_OF, 2027)


# ---- the list of risky firms ----------------------------------------------------------------------

def test_risky_firm_list_matches_files_with_last_inspection(cur, files):
    firms, insp, _ = files
    df = safety.risky_firms(cur, role="planner", as_of=AS_OF)
    risky = _risky(firms)
    assert sorted(df["firm_id"]) == sorted(risky["firm_id"])
    assert len(df) == 43
    last = insp[insp["inspected_on"] <= pd.Timestamp(AS_OF)].groupby("firm_id")["inspected_on"].max()
    got = df.set_index("firm_id")["last_inspected_on"]
    assert all(pd.Timestamp(got[f]) == last[f] for f in df["firm_id"] if f in last.index)
    # blacklisted first
    assert list(df["risk_level"][:12]) == ["blacklisted"] * 12
    assert (df["uscc_problem"] == "").all()  # the demo's credit codes are valid


@pytest.mark.parametrize(
    "filters",
    [
        {"risk_levels": ("blacklisted",)},
        {"statuses": ("rectifying", "listed")},
        {"villages": ("440111021201",)},
        {"industries": ("express", "freight")},
        {"grids": ("201-002-003", "002-008-009")},
    ],
)
def test_risky_firm_filters(cur, files, filters):
    firms, _, _ = files
    risky = _risky(firms)
    column = {"risk_levels": "risk_level", "statuses": "list_status", "villages": "village_code",
              "industries": "industry", "grids": "grid_id"}
    for key, values in filters.items():
        risky = risky[risky[column[key]].isin(values)]
    df = safety.risky_firms(cur, role="planner", as_of=AS_OF, **filters)
    assert sorted(df["firm_id"]) == sorted(risky["firm_id"])


def test_unknown_codes_are_refused(cur):
    with pytest.raises(ValueError, match="unknown risk_level"):
        safety.risky_firms(cur, role="planner", as_of=AS_OF, risk_levels=("evil'; DROP TABLE firms",))
    with pytest.raises(ValueError, match="unknown list_status"):
        safety.risky_firms(cur, role="planner", as_of=AS_OF, statuses=("gone",))
    with pytest.raises(ValueError, match="distance"):
        safety.near_released_land(cur, role="planner", as_of=AS_OF, distance_m=-1)
    with pytest.raises(ValueError, match="unknown role"):
        safety.risky_firms(cur, role="admin", as_of=AS_OF)


# ---- roles ------------------------------------------------------------------------------------

SENSITIVE = {"name", "uscc", "inspector", "uscc_problem"}


def test_viewer_sees_no_names_codes_or_inspectors(cur):
    y0, y1 = safety.year_window(AS_OF)
    frames = [
        safety.risky_firms(cur, role="viewer", as_of=AS_OF),
        safety.ordinary_firm_points(cur, role="viewer"),
        safety.near_released_land(cur, role="viewer", as_of=AS_OF),
        safety.near_land_by_firm(cur, role="viewer", as_of=AS_OF).firms,
        inspections.rectification_orders(cur, role="viewer", start=y0, end=y1),
        inspections.repeat_problem_firms(cur, role="viewer", start=y0, end=y1),
    ]
    for df in frames:
        assert not SENSITIVE & set(df.columns), df.columns
        assert len(df)
    story = safety.firm_story(cur, role="viewer", firm_id="F0000147", as_of=AS_OF)
    assert not SENSITIVE & set(story["firm"])
    assert story["inspections"] is None  # viewers may not list inspections


def test_inspector_sees_inspectors_in_a_story(cur, files):
    _, insp, _ = files
    story = safety.firm_story(cur, role="inspector", firm_id="F0000147", as_of=AS_OF)
    mine = insp[(insp["firm_id"] == "F0000147") & (insp["inspected_on"] <= pd.Timestamp(AS_OF))]
    assert len(story["inspections"]) == len(mine)
    assert set(story["inspections"]["inspector"]) == set(mine["inspector"])
    assert story["firm"]["uscc_problem"] is None
    assert safety.firm_story(cur, role="inspector", firm_id="F9999999", as_of=AS_OF) is None


# ---- near land being released: DuckDB against geopandas -----------------------------------------

def _near_geopandas(files, distance_m: float) -> pd.DataFrame:
    firms, _, parcels = files
    status = parcels["release_status"].where(
        ~(parcels["released_on"] > pd.Timestamp(AS_OF)).fillna(False), "vacating")
    land = parcels.assign(status_now=status)
    land = land[land["status_now"].isin(["vacating", "released"])][["parcel_id", "geometry"]].to_crs(S.METRIC_CRS)
    risky = _risky(firms)[["firm_id", "geometry"]].to_crs(S.METRIC_CRS)
    # buffer each parcel by the distance (fine quadrant segments so corners are near-exact)
    zone = land.assign(geometry=land.buffer(distance_m, quad_segs=64))
    pairs = gpd.sjoin(risky, zone, predicate="intersects")
    geoms = land.set_index("parcel_id").geometry
    pairs["distance"] = [geoms[p].distance(g) for p, g in zip(pairs["parcel_id"], pairs.geometry, strict=True)]
    return pairs[["parcel_id", "firm_id", "distance"]]


@pytest.mark.parametrize("distance_m", [50.0, 200.0, 500.0])
def test_near_land_matches_geopandas_buffer_join(cur, files, distance_m):
    got = safety.near_released_land(cur, role="planner", as_of=AS_OF, distance_m=distance_m)
    want = _near_geopandas(files, distance_m)
    got_pairs = set(zip(got["parcel_id"], got["firm_id"], strict=True))
    want_pairs = set(zip(want["parcel_id"], want["firm_id"], strict=True))
    assert want_pairs and want_pairs <= got_pairs
    # a buffer's polygon lies just inside the true buffer, so it may miss pairs right on the edge
    extra = got[[p not in want_pairs for p in zip(got["parcel_id"], got["firm_id"], strict=True)]]
    assert (extra["distance_m"] > distance_m - 0.5).all()
    merged = got.merge(want, on=["parcel_id", "firm_id"])
    assert (merged["distance_m"] - merged["distance"]).abs().max() < 0.1  # same metres, CGCS2000
    assert (got["distance_m"] <= distance_m).all()
    assert set(got["release_status"]) <= {"vacating", "released"}


def test_nearest_released_land_matches_sjoin_nearest(cur, files):
    firms, _, parcels = files
    d = 300.0
    got = safety.near_released_land(cur, role="planner", as_of=AS_OF, distance_m=d)
    status = parcels["release_status"].where(
        ~(parcels["released_on"] > pd.Timestamp(AS_OF)).fillna(False), "vacating")
    land = parcels[status.isin(["vacating", "released"])][["parcel_id", "geometry"]].to_crs(S.METRIC_CRS)
    risky = _risky(firms)[["firm_id", "geometry"]].to_crs(S.METRIC_CRS)
    nearest = gpd.sjoin_nearest(risky, land, max_distance=d, distance_col="distance")
    want = nearest.groupby("firm_id")["distance"].min()
    have = got.groupby("firm_id")["distance_m"].min()
    assert set(have.index) == set(want.index)
    assert (have - want.reindex(have.index)).abs().max() < 0.1


def test_on_the_parcel_means_distance_zero(cur, files):
    got = safety.near_released_land(cur, role="planner", as_of=AS_OF, distance_m=0)
    firms = files[0].set_index("firm_id")
    assert len(got)
    assert (got["distance_m"] == 0).all()
    # at zero distance a firm is flagged only on its own parcel (parcels do not overlap)
    assert all(firms.loc[f, "parcel_id"] == p for f, p in zip(got["firm_id"], got["parcel_id"], strict=True))


@pytest.mark.parametrize("distance_m", [0.0, 200.0, 500.0])
def test_near_land_per_firm_matches_geopandas(cur, files, distance_m):
    """The page's summary: one row per firm with its nearest parcel (sjoin_nearest), the distance
    and the parcels within the distance (a buffer join), and the distinct parcels and pairs."""
    firms, _, parcels = files
    got = safety.near_land_by_firm(cur, role="planner", as_of=AS_OF, distance_m=distance_m)
    status = parcels["release_status"].where(
        ~(parcels["released_on"] > pd.Timestamp(AS_OF)).fillna(False), "vacating")
    land = parcels[status.isin(["vacating", "released"])][["parcel_id", "geometry"]].to_crs(S.METRIC_CRS)
    risky = _risky(firms)[["firm_id", "geometry"]].to_crs(S.METRIC_CRS)
    nearest = gpd.sjoin_nearest(risky, land, max_distance=max(distance_m, 0.01), distance_col="distance")
    want_d = nearest.groupby("firm_id")["distance"].min()
    df = got.firms.set_index("firm_id")
    assert df.index.is_unique and set(df.index) == set(want_d.index)
    assert (df["distance_m"] - want_d.reindex(df.index)).abs().max() < 0.1
    # the nearest parcel named is at that distance from the firm
    geoms, points = land.set_index("parcel_id").geometry, risky.set_index("firm_id").geometry
    assert all(abs(geoms[p].distance(points[f]) - d) < 0.1
               for f, p, d in zip(df.index, df["nearest_parcel_id"], df["distance_m"], strict=True))
    assert set(df["nearest_parcel_status"]) <= {"vacating", "released"}
    assert list(got.firms["distance_m"]) == sorted(got.firms["distance_m"])  # nearest first
    if distance_m > 0:  # the buffer's polygon lies just inside the true buffer: allow the edge
        within = _near_geopandas(files, distance_m)
        counts = within.groupby("firm_id").size().reindex(df.index, fill_value=0)
        assert ((df["parcels_near"] - counts).between(0, 1)).all() and (df["parcels_near"] >= 1).all()
        assert got.parcels - within["parcel_id"].nunique() in (0, 1)
    pairs = safety.near_released_land(cur, role="planner", as_of=AS_OF, distance_m=distance_m)
    assert got.pairs == len(pairs) == int(df["parcels_near"].sum())
    assert got.parcels == pairs["parcel_id"].nunique()


def test_near_land_export_is_geojson_of_the_flagged_firms(cur):
    from dayuan_geo import export

    got = safety.near_released_land(cur, role="planner", as_of=AS_OF, distance_m=100)
    data = json.loads(export.to_geojson(got, table="firms", lang="zh"))
    assert len(data["features"]) == len(got)
    assert data["features"][0]["geometry"]["type"] == "Point"
    csv = export.to_csv(got, table="firms", lang="zh")
    assert csv.startswith("\ufeff".encode()) and "企业名称".encode() in csv


# ---- inspections ------------------------------------------------------------------------------

def test_monthly_trend_matches_files(cur, files):
    _, insp, _ = files
    df = inspections.inspections_by_month(cur, as_of=AS_OF, months=24)
    assert df["month"].nunique() == 24
    months = insp["inspected_on"].dt.to_period("M")
    for month in ("2026-11", "2025-12"):
        sel = insp[(months == month) & (insp["inspected_on"] <= pd.Timestamp(AS_OF))]
        row = df[pd.to_datetime(df["month"]).dt.to_period("M") == month]
        assert row["inspections"].sum() == len(sel)
        assert row.set_index("outcome")["inspections"].to_dict() == {
            o: int((sel["outcome"] == o).sum()) for o in S.INSPECTION_OUTCOME.codes}


def test_breakdown_by_category_and_outcome(cur, files):
    _, insp, _ = files
    year = _year(insp)
    df = inspections.inspections_breakdown(cur, start=Y0, end=AS_OF)
    assert len(df) == len(S.INSPECTION_CATEGORY.codes) * len(S.INSPECTION_OUTCOME.codes)
    assert df["inspections"].sum() == 6805
    want = year.groupby(["category", "outcome"]).size()
    got = df.set_index(["category", "outcome"])["inspections"]
    assert all(got[i] == want.get(i, 0) for i in got.index)


def test_rectification_orders_this_year(cur, files):
    _, insp, _ = files
    year = _year(insp)
    orders = year[year["outcome"] == "rectification_ordered"]
    df = inspections.rectification_orders(cur, role="planner", start=Y0, end=AS_OF)
    assert len(df) == 44
    assert df.set_index("firm_id")["orders"].to_dict() == orders.groupby("firm_id").size().to_dict()
    # passed since: a later inspection in the window passed the firm
    for row in df.head(10).itertuples():
        later = year[(year["firm_id"] == row.firm_id) & (year["inspected_on"] > pd.Timestamp(row.last_order_on))]
        assert row.passed_since == bool((later["outcome"] == "passed").any())


def test_firms_inspected_repeatedly_with_problems(cur, files):
    _, insp, _ = files
    year = _year(insp)
    problems = year[year["outcome"] != "passed"].groupby("firm_id").size()
    for m in (2, 3, 5):
        df = inspections.repeat_problem_firms(cur, role="planner", start=Y0, end=AS_OF, min_problems=m)
        assert set(df["firm_id"]) == set(problems[problems >= m].index)
        assert df.set_index("firm_id")["problems"].to_dict() == problems[problems >= m].to_dict()
        assert df["problems"].is_monotonic_decreasing


def test_inspections_per_grid(cur, files, demo_dir):
    _, insp, _ = files
    year = _year(insp)
    df = inspections.inspections_per_grid(cur, start=Y0, end=AS_OF)
    grids = pd.read_parquet(demo_dir / "grids.parquet")
    assert len(df) == len(grids)
    assert df["inspections"].sum() == 6805
    assert df.set_index("grid_id")["inspections"][lambda s: s > 0].to_dict() == year.groupby("grid_id").size().to_dict()


# ---- firm story and credit codes --------------------------------------------------------------------

def test_story_and_listing_history(cur, files):
    firms, insp, _ = files
    story = safety.firm_story(cur, role="planner", firm_id="F0000147", as_of=AS_OF)
    f = firms.set_index("firm_id").loc["F0000147"]
    assert story["firm"]["name"] == f["name"] and story["firm"]["uscc"] == f["uscc"]
    history = views.listing_history(story, lang="en")
    assert history.iloc[0].tolist() == [AS_OF, "Status now", S.LIST_STATUS.label(f["list_status"], "en")]
    listed = history[history["Event"].str.startswith("Listed")]
    assert listed.iloc[0]["Date"] == f["listed_on"].date()
    problems = insp[(insp["firm_id"] == "F0000147") & (insp["outcome"] != "passed")
                    & (insp["inspected_on"] <= pd.Timestamp(AS_OF))]
    assert len(history) == 2 + len(problems)
    facts = views.story_facts(story["firm"], lang="zh")
    assert f["uscc"] in set(facts["内容"])


def test_a_bad_credit_code_is_reported(data_copy):
    path = data_copy / "firms.parquet"
    table = pq.read_table(path)
    df = table.to_pandas()
    idx = df.index[df["firm_id"] == "F0000147"][0]
    good = df.loc[idx, "uscc"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    codes = table.column("uscc").to_pylist()
    codes[idx] = bad
    table = table.set_column(table.schema.get_field_index("uscc"), "uscc", pa.array(codes, pa.string()))
    pq.write_table(table, path)
    manifest = json.loads((data_copy / "manifest.json").read_text())  # as if published: the Store checks sha256
    manifest["files"]["firms"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (data_copy / "manifest.json").write_text(json.dumps(manifest))
    cur = Store(data_copy).cursor()
    story = safety.firm_story(cur, role="planner", firm_id="F0000147", as_of=AS_OF)
    assert "check digit" in story["firm"]["uscc_problem"]
    listed = safety.risky_firms(cur, role="planner", as_of=AS_OF).set_index("firm_id")
    assert "check digit" in listed.loc["F0000147", "uscc_problem"]
    assert (listed.drop(index="F0000147")["uscc_problem"] == "").all()
    expected = good[17]  # the check digit the first 17 characters call for
    shown = views.for_display(listed.reset_index(), table="firms", lang="zh").set_index("企业编号")
    assert shown.loc["F0000147", "信用代码问题"] == f"校验码有误（应为 {expected}）"
    assert views.uscc_label(bad[:10], lang="en") == "10 characters, not 18"


# ---- presenting -------------------------------------------------------------------------------------

def test_tooltips_and_charts_escape_data():
    grid = pd.DataFrame({"grid_id": ["G1"], "name": ["<img src=x onerror=alert(1)>"], "village_zh": ["<b>村</b>"],
                         "village_en": ["v"], "inspections": [3], "problems": [1],
                         "wkb": [gpd.GeoSeries.from_wkt(["POLYGON((0 0,1 0,1 1,0 0))"]).to_wkb()[0]]})
    layer = views.grid_counts_layer(grid, lang="zh")
    tip = layer.data[0]["tooltip"]
    assert "<img src=x onerror=alert(1)>" in tip and "<b>村</b>" in tip  # verbatim text, never HTML
    fig = views.trend_figure(pd.DataFrame({"month": [], "outcome": [], "inspections": []}), lang="en")
    assert len(fig.data) == len(S.INSPECTION_OUTCOME.codes)


def test_display_frame_has_labels_not_codes(cur):
    df = views.for_display(safety.risky_firms(cur, role="planner", as_of=AS_OF), table="firms", lang="en")
    assert {"Firm name", "Risk level", "Last inspection"} <= set(df.columns)
    assert set(df["Risk level"]) == {"Blacklisted", "High risk"}
    assert "wkb" not in df.columns and "lon" not in df.columns


# ---- the page (AppTest) -------------------------------------------------------------------------

def run_page(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("pages/firms.py")
    return at.run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _deck_specs(at: AppTest) -> list[str]:
    return [d.proto.json for d in at.get("deck_gl_json_chart")]


def test_page_counts_maps_and_charts(app_env, files):
    at = run_page()
    assert not at.exception
    m = _metrics(at)
    assert (m["黑榜企业"], m["高危企业"], m["2026年巡查次数"], m["2026年责令整改企业"]) == ("12", "31", "6,805", "44")
    near = _near_geopandas(files, safety.DEFAULT_DISTANCE_M)
    specs = _deck_specs(at)
    assert len(specs) == 1  # the map's tab is open: the other tabs send nothing
    assert not at.dataframe and not at.get("plotly_chart")
    firm_map = json.loads(specs[0])
    ids = [layer["id"] for layer in firm_map["layers"]]
    assert {"release-parcels", "grid-outlines", "park-outlines", "risky-firms", "near-land-firms"} <= set(ids)
    assert "firm-density" not in ids and "ordinary-firms" not in ids  # ordinary firms are off by default
    risky = next(layer for layer in firm_map["layers"] if layer["id"] == "risky-firms")
    assert len(risky["data"]) == 43
    rings = next(layer for layer in firm_map["layers"] if layer["id"] == "near-land-firms")
    assert len(rings["data"]) == near["firm_id"].nunique()  # a ring per firm
    assert '"HexagonLayer"' not in specs[0]
    assert any("点击地图上的企业" in i.value for i in at.info)

    at.session_state["fs_tabs"] = "临近释放地块"  # what a click on the tab sends
    at.run()
    m = _metrics(at)
    assert m["涉及企业"] == str(near["firm_id"].nunique())
    assert m["涉及地块"] == str(near["parcel_id"].nunique())
    table = next(d.value for d in at.dataframe if "最近地块" in d.value.columns)  # one row per firm, not per pair
    assert len(table) == near["firm_id"].nunique() < len(near)
    assert {"最近地块", "距离(米)", "距离内地块数"} <= set(table.columns)
    assert table["距离内地块数"].sum() == len(near)
    assert not _deck_specs(at) and at.query_params["tab"] == "near"

    at.session_state["fs_tabs"] = "巡查"
    at.run()
    assert len(_deck_specs(at)) == 1  # inspections per grid
    assert len(at.get("plotly_chart")) == 3


def test_map_keeps_to_the_polygon_budget_and_says_so(app_env, monkeypatch, files):
    """Over the budget the land is summed (by park or grid cell) and outlines are left out, each
    said under the map; every parcel of the land is still counted in the sums."""
    from dayuan_geo.maps import budget as mapdata

    _, _, parcels = files
    status = parcels["release_status"].where(
        ~(parcels["released_on"] > pd.Timestamp(AS_OF)).fillna(False), "vacating")
    land = parcels[status.isin(["vacating", "released"])]
    monkeypatch.setenv(mapdata.BUDGET_ENV, "50")  # the demo: 85 parcels of that land, 64 parks, 167 grids
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "en"
    at.switch_page("pages/firms.py")
    at.run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert f"{len(land):,} parcels exceed the map's budget of 50 polygons" in captions
    assert "64 parks exceed the map's budget of 50 polygons: park outlines are not drawn" in captions
    assert "167 grids exceed" in captions
    spec = json.loads(_deck_specs(at)[0])
    ids = [layer["id"] for layer in spec["layers"]]
    assert "park-outlines" not in ids and "grid-outlines" not in ids
    assert {"release-parcels", "village-outlines", "risky-firms", "near-land-firms"} <= set(ids)
    summed = next(layer for layer in spec["layers"] if layer["id"] == "release-parcels")
    assert len(summed["data"]) <= 50
    assert sum(int(r["tooltip"].split("Parcels: ")[1].split("\n")[0].replace(",", ""))
               for r in summed["data"]) == len(land)


def test_many_risky_firms_get_brief_tooltips(cur):
    full = views.risky_firms_view(cur, role="planner", as_of=AS_OF, lang="en")
    brief = views.risky_firms_view(cur, role="planner", as_of=AS_OF, lang="en", tooltip_budget=40)
    assert not full.brief and brief.brief and len(brief.frame) == len(full.frame) == 43
    assert [r["firm_id"] for r in brief.layer.data] == [r["firm_id"] for r in full.layer.data]
    for short, long in zip(brief.layer.data, full.layer.data, strict=True):
        assert short["tooltip"].count("\n") == 2 and long["tooltip"].count("\n") == 6
        assert short["tooltip"].split("\n")[0] == long["tooltip"].split("\n")[0]  # the firm's name
    viewer = views.risky_firms_view(cur, role="viewer", as_of=AS_OF, tooltip_budget=1)
    names = set(full.frame["name"])
    assert not any(n in r["tooltip"] for r in viewer.layer.data for n in names)  # still no names


def test_ordinary_firms_show_as_density(app_env):
    at = run_page()
    at.toggle(key="show_ordinary").set_value(True).run()
    assert not at.exception
    spec = json.loads(_deck_specs(at)[0])
    density = next(layer for layer in spec["layers"] if layer["id"] == "firm-density")
    assert density["@@type"] == "HexagonLayer"
    assert sum(d["firms"] for d in density["data"]) == 1557  # every ordinary firm, counted per cell
    assert density["colorAggregation"] == "SUM"
    assert not any("name" in d for d in density["data"])  # density names nobody


def test_density_cells_count_every_ordinary_firm(cur, files):
    firms = files[0]
    normal = firms[firms["risk_level"] == "normal"]
    df = safety.ordinary_firm_density(cur)
    assert df["firms"].sum() == len(normal) == safety.ordinary_firm_count(cur)
    # each firm lies in the cell whose centre is reported for it
    cell = safety.DENSITY_CELL_DEG
    keys = {(round((x // cell + 0.5) * cell, 7), round((y // cell + 0.5) * cell, 7))
            for x, y in zip(normal.geometry.x, normal.geometry.y, strict=True)}
    assert keys == {(round(x, 7), round(y, 7)) for x, y in zip(df["lon"], df["lat"], strict=True)}
    express = safety.ordinary_firm_count(cur, industries=("express",))
    assert express == int((normal["industry"] == "express").sum())


def test_filters_narrow_the_map_and_list(app_env, files):
    at = run_page()
    at.multiselect(key="f_status").set_value(["rectifying"]).run()
    assert not at.exception
    want = _risky(files[0])
    want = want[want["list_status"] == "rectifying"]
    spec = json.loads(_deck_specs(at)[0])
    risky = next(layer for layer in spec["layers"] if layer["id"] == "risky-firms")
    assert sorted(d["firm_id"] for d in risky["data"]) == sorted(want["firm_id"])
    at.session_state["fs_tabs"] = "名单"
    at.run()
    assert any(f"共 {len(want)} 家" in c.value for c in at.caption)


def test_firm_link_opens_the_story(app_env, files):
    at = run_page(firm="F0000147")
    assert not at.exception
    f = files[0].set_index("firm_id").loc["F0000147"]
    assert any(f["name"] in s.value for s in at.subheader)
    assert any("校验通过" in s.value for s in at.success)
    spec = json.loads(_deck_specs(at)[0])
    view = spec["initialViewState"]
    assert view["zoom"] == 16
    assert abs(view["longitude"] - f.geometry.x) < 1e-6 and abs(view["latitude"] - f.geometry.y) < 1e-6


def test_a_forged_firm_link_shows_nothing_of_it(app_env):
    at = run_page(firm="[x](http://evil.example)<b>")
    assert not at.exception
    assert any("点击地图上的企业" in i.value for i in at.info)
    assert "evil" not in " ".join(i.value for i in at.info)
    at = run_page(firm="F9999999")  # said at the top, where the page starts (it was below the map)
    assert "未找到企业 F9999999" in [w.value for w in at.warning]
    top = [node.type for node in at.main.children.values()]
    assert top.index("warning") < top.index("tab_container")
    assert any("点击地图上的企业" in i.value for i in at.info)  # and the story's place gives the hint
    assert safety.clean_firm_id("F0000147") == "F0000147" and safety.clean_firm_id(None) is None


def test_page_in_english_for_an_inspector(app_env, files):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "en"
    at.query_params["firm"] = "F0000147"
    at.session_state["role"] = "inspector"
    at.switch_page("pages/firms.py")
    at.run()
    assert not at.exception
    m = _metrics(at)
    assert (m["Blacklisted firms"], m["Inspections in 2026"], m["Firms ordered to rectify in 2026"]) == (
        "12", "6,805", "44")
    assert at.title[0].value.startswith("Blacklisted and high-risk firms")
    assert any(s.value.startswith("Firm story:") for s in at.subheader)


def test_few_ordinary_firms_show_as_points_and_open_a_story(app_env, files):
    firms = files[0]
    normal = firms[(firms["risk_level"] == "normal") & (firms["village_code"] == "440111021201")
                   & (firms["industry"] == "cold_chain")]
    assert 0 < len(normal) <= safety.DENSITY_THRESHOLD
    at = run_page(firm=normal["firm_id"].iloc[0])
    at.multiselect(key="f_village").set_value(["440111021201"])
    at.multiselect(key="f_industry").set_value(["cold_chain"])
    at.toggle(key="show_ordinary").set_value(True).run()
    assert not at.exception
    spec = json.loads(_deck_specs(at)[0])
    points = next(layer for layer in spec["layers"] if layer["id"] == "ordinary-firms")
    assert sorted(d["firm_id"] for d in points["data"]) == sorted(normal["firm_id"])
    assert any(normal["name"].iloc[0] in s.value for s in at.subheader)


def test_filters_and_firm_live_in_the_url(app_env, files):
    firms = files[0]
    village = firms.loc[firms["firm_id"] == "F0000147", "village_code"].iloc[0]
    at = run_page(risk="blacklisted", village=village, firm="F0000147")
    assert not at.exception
    assert at.multiselect(key="f_level").value == ["blacklisted"]
    assert at.multiselect(key="f_village").value == [village]
    want = firms[(firms["risk_level"] == "blacklisted") & (firms["village_code"] == village)]
    spec = json.loads(_deck_specs(at)[0])
    risky = next(layer for layer in spec["layers"] if layer["id"] == "risky-firms")
    assert sorted(d["firm_id"] for d in risky["data"]) == sorted(want["firm_id"])
    assert any(firms.set_index("firm_id").at["F0000147", "name"] in s.value for s in at.subheader)
    # changing a filter or opening another story rewrites the link
    at.multiselect(key="f_level").set_value(["blacklisted", "high_risk"]).run()
    assert "risk" not in at.query_params  # the default (every risky level) is left out
    assert at.query_params["village"] == village and at.query_params["firm"] == "F0000147"
    other = want["firm_id"].iloc[0] if want["firm_id"].iloc[0] != "F0000147" else want["firm_id"].iloc[-1]
    at.session_state["firm_story_id"] = other
    at.run()
    assert at.query_params["firm"] == other


def test_a_link_accepts_labels_and_names_what_it_ignores(app_env, files):
    at = run_page(risk="高危", status="nonsense", year="1999")
    assert not at.exception
    assert at.multiselect(key="f_level").value == ["high_risk"]
    note = " ".join(w.value for w in at.warning).replace("\\", "")  # shown as literal text
    assert "status=nonsense" in note and "year=1999" in note
    assert "status" not in at.query_params and at.query_params["risk"] == "high_risk"


def test_export_names_carry_table_gist_and_data_date(app_env, files):
    at = run_page(risk="blacklisted", tab="list")  # a link opens the list's tab
    # files built on click carry their name in the button's key (edge.export_buttons: export-NAME-FORMAT)
    keys = [b.proto.id for b in at.get("download_button")]
    assert any(k.endswith(f"export-风险企业_黑榜_{AS_OF.isoformat()}-csv") for k in keys)


def test_exports_are_chinese_through(cur, files):
    from dayuan_geo import export
    from tests.latin import stray_words

    firms = safety.risky_firms(cur, role="leader", as_of=AS_OF).drop(columns=["lon", "lat", "village_zh", "village_en"])
    near = safety.near_released_land(cur, role="leader", as_of=AS_OF, distance_m=500.0,
                                     risk_levels=safety.RISKY_LEVELS, parcel_statuses=safety.NEAR_LAND_STATUSES)
    for frame in (firms, near):
        text = export.to_csv(views.for_export(frame, lang="zh"), table="firms", lang="zh").decode("utf-8-sig")
        header = text.splitlines()[0]
        assert not stray_words(header), header
        assert not [w for w in stray_words(text) if w not in {"wkb"}], stray_words(text)[:10]
    text = export.to_csv(views.for_export(firms, lang="zh"), table="firms", lang="zh").decode("utf-8-sig")
    assert "巡查次数" in text.splitlines()[0] and "信用代码问题" in text.splitlines()[0]
