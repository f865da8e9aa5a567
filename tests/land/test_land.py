"""The land release explorer: its filters, queries, map budget, parcel story and page.

Counts and areas are checked against independent computations made with geopandas straight from
the GeoParquet files, never against the product's own SQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from dayuan_geo import schema as S
from dayuan_geo.land import filters as F
from dayuan_geo.land import queries as land
from dayuan_geo.land import story as land_story
from dayuan_geo.land import url as U
from dayuan_geo.land import views as land_views
from dayuan_geo.maps import budget
from dayuan_geo.maps.basemap import NONE_MAP
from dayuan_geo.maps.view import fit_view
from dayuan_geo.overview import queries as overview
from dayuan_geo.text import md_text

AS_OF = dt.date(2026, 11, 20)
APP = str(Path(__file__).resolve().parents[2] / "app.py")
STORY_PARCEL = "P00002-01"  # Huabang park: released, with a project that is overdue
MI_LONG = "440111021202"  # 米龙村委会


@pytest.fixture(scope="module")
def files(demo_dir):
    parcels = gpd.read_parquet(demo_dir / "parcels.parquet")
    parcels["released_on"] = pd.to_datetime(parcels["released_on"])
    return {
        "parcels": parcels,
        "parks": gpd.read_parquet(demo_dir / "parks.parquet"),
        "firms": gpd.read_parquet(demo_dir / "firms.parquet"),
        "projects": pd.read_parquet(demo_dir / "remediation_projects.parquet"),
        "events": pd.read_parquet(demo_dir / "remediation_events.parquet"),
    }


def expected(parcels: gpd.GeoDataFrame, f: F.LandFilters) -> gpd.GeoDataFrame:
    """The parcels f selects, computed with pandas from the file (the test's own reading of f)."""
    keep = np.ones(len(parcels), dtype=bool)
    for column, values in (("village_code", f.villages), ("park_id", f.parks), ("release_status", f.statuses),
                           ("planned_use", f.planned_uses), ("ownership", f.ownerships)):
        if values:
            keep &= parcels[column].isin(values).to_numpy()
    rel = parcels["released_on"]
    if f.released_from:
        keep &= (rel >= pd.Timestamp(f.released_from)).fillna(False).to_numpy(dtype=bool)
    if f.released_to:
        keep &= (rel <= pd.Timestamp(f.released_to)).fillna(False).to_numpy(dtype=bool)
    if f.area_min is not None:
        keep &= (parcels["area_m2"] >= f.area_min).to_numpy()
    if f.area_max is not None:
        keep &= (parcels["area_m2"] <= f.area_max).to_numpy()
    if f.search:
        q = f.search.lower()
        keep &= (parcels["parcel_id"].str.lower().str.contains(q, regex=False)
                 | parcels["name"].str.lower().str.contains(q, regex=False)).to_numpy(dtype=bool)
    return parcels[keep]


FILTERS = [
    F.LandFilters(),
    F.LandFilters(statuses=("released", "transferred"), villages=(MI_LONG,)),
    F.LandFilters(planned_uses=("M0", "B1"), ownerships=("collective",)),
    F.LandFilters(released_from=dt.date(2023, 1, 1), released_to=dt.date(2024, 12, 31)),
    F.LandFilters(area_min=15_000, area_max=40_000, statuses=("not_started",)),
    F.LandFilters(search="华邦"),
    F.LandFilters(parks=("P00002", "P00016")),
]


# ---- filters and URL state ----------------------------------------------------------------------

def test_filters_refuse_wrong_values():
    with pytest.raises(ValueError, match="unknown release status 'sold'"):
        F.LandFilters(statuses=("sold",))
    with pytest.raises(ValueError, match="reversed"):
        F.LandFilters(released_from=dt.date(2024, 1, 1), released_to=dt.date(2023, 1, 1))
    with pytest.raises(ValueError, match="reversed"):
        F.LandFilters(area_min=10, area_max=5)
    with pytest.raises(ValueError, match="non-negative"):
        F.LandFilters(area_min=float("nan"))
    with pytest.raises(ValueError, match="longer than"):
        F.LandFilters(search="x" * 101)
    assert F.LandFilters(search="  P00001   ").search == "P00001"
    assert F.LandFilters(statuses=("released", "released")).statuses == ("released",)


def test_where_binds_every_value(cur):
    hostile = "'); DROP TABLE parcels; --"
    f = F.LandFilters(search=hostile, villages=(hostile,), parks=("x' OR '1'='1",))
    sql, params = f.where()
    assert hostile not in sql and "'1'='1" not in sql
    assert params["f_q"] == hostile.lower()
    assert land.selection_summary(cur, filters=f, view_date=AS_OF)["parcels"] == 0
    assert cur.execute("SELECT count(*) FROM parcels").fetchone()[0] == 358


def test_view_round_trips_through_the_url():
    view = U.LandView(
        filters=F.LandFilters(villages=(MI_LONG,), statuses=("released", "completed"), planned_uses=("M0",),
                                 released_from=dt.date(2021, 1, 1), area_max=20_000, search="华邦"),
        month="2023-06", parcel=STORY_PARCEL, distance_m=800, sort="area_m2", descending=True)
    query = view.to_query(default_month="2026-11")
    assert query["status"] == ["released", "completed"] and query["sort"] == ["-area_m2"]
    assert query["released_from"] == ["2021-01-01"] and "released_to" not in query
    back, ignored = U.LandView.from_query(query, months=F.months_between(dt.date(2020, 1, 1), AS_OF))
    assert back == view and ignored == []
    # defaults are left out, so the plain page has a clean URL
    assert U.LandView(month="2026-11").to_query(default_month="2026-11") == {}


def test_url_takes_labels_and_ignores_what_it_cannot_read():
    params = {"status": ["已释放", "Completed", "sold"], "use": ["M0 新型产业用地"], "village": ["米龙村委会"],
              "released_from": ["2024-13-01"], "area_min": ["-5"], "area_max": ["abc"], "dist": ["99999"],
              "month": ["2019-01"], "sort": ["geometry"], "q": ["  华邦  "]}
    view, ignored = U.LandView.from_query(params, months=["2026-11"], village_names={"米龙村委会": MI_LONG})
    assert view.filters.statuses == ("released", "completed")
    assert view.filters.planned_uses == ("M0",)
    assert view.filters.villages == (MI_LONG,)
    assert view.filters.search == "华邦"
    assert view.filters.released_from is None and view.filters.area_min is None
    assert (view.month, view.distance_m, view.sort) == (None, U.DEFAULT_DISTANCE_M, U.DEFAULT_SORT)
    assert {i.split("=")[0] for i in ignored} == {"status", "released_from", "area_min", "area_max", "dist",
                                                  "month", "sort"}


def test_months_and_month_ends():
    months = F.months_between(dt.date(2020, 1, 1), AS_OF)
    assert months[0] == "2020-01" and months[-1] == "2026-11" and len(months) == 83
    assert F.month_end("2024-02", as_of=AS_OF) == dt.date(2024, 2, 29)
    assert F.month_end("2026-11", as_of=AS_OF) == AS_OF


# ---- the selection against geopandas ------------------------------------------------------------

@pytest.mark.parametrize("f", FILTERS, ids=lambda f: json.dumps(f.describe(), ensure_ascii=False) or "all")
def test_selection_matches_geopandas(cur, files, f):
    exp = expected(files["parcels"], f)
    summary = land.selection_summary(cur, filters=f, view_date=AS_OF)
    assert summary["parcels"] == len(exp)
    assert summary["area_m2"] == pytest.approx(exp["area_m2"].sum(), abs=0.01)
    released = exp[exp["released_on"] <= pd.Timestamp(AS_OF)]
    assert summary["released_parcels"] == len(released)
    assert summary["released_area_m2"] == pytest.approx(released["area_m2"].sum(), abs=0.01)
    table = land.selection_table(cur, filters=f, limit=None)
    assert sorted(table["parcel_id"]) == sorted(exp["parcel_id"])
    # the area in the file is the polygon's area in EPSG:4547
    metric = exp.to_crs(S.METRIC_CRS).area
    assert np.allclose(metric.to_numpy(), exp["area_m2"].to_numpy(), rtol=1e-6)


def test_aggregates_add_up(cur, files):
    f = F.LandFilters(villages=(MI_LONG, "440111021002"))
    exp = expected(files["parcels"], f)
    day = dt.date(2024, 6, 30)
    by_month = land.released_by_month(cur, filters=f, as_of=AS_OF)
    assert pd.Timestamp(by_month["month"].iloc[0]) == pd.Timestamp("2020-01-01")
    assert pd.Timestamp(by_month["month"].iloc[-1]) == pd.Timestamp("2026-11-01")
    assert by_month["released_m2"].sum() == pytest.approx(exp.loc[exp["released_on"].notna(), "area_m2"].sum())
    rel_month = exp[exp["released_on"].dt.to_period("M") == pd.Period("2023-05", "M")]["area_m2"].sum()
    assert by_month.set_index(pd.to_datetime(by_month["month"])).loc["2023-05-01", "released_m2"] == pytest.approx(
        rel_month)
    villages = land.by_village(cur, filters=f, view_date=day)
    assert set(villages["village_code"]) == set(exp["village_code"])
    assert villages["area_m2"].sum() == pytest.approx(exp["area_m2"].sum())
    assert villages["released_m2"].sum() == pytest.approx(exp.loc[exp["released_on"] <= pd.Timestamp(day),
                                                                  "area_m2"].sum())
    uses = land.by_planned_use(cur, filters=f, view_date=day)
    assert list(uses["planned_use"]) == [c for c in S.LAND_USE.codes if c in set(exp["planned_use"])]
    assert uses["parcels"].sum() == len(exp)


def test_table_sorts_and_limits(cur, files):
    df = land.selection_table(cur, filters=F.LandFilters(), sort="area_m2", descending=True, limit=10)
    assert len(df) == 10
    assert df["area_m2"].is_monotonic_decreasing
    assert df["area_m2"].iloc[0] == pytest.approx(files["parcels"]["area_m2"].max())
    with pytest.raises(ValueError, match="cannot sort"):
        land.selection_table(cur, filters=F.LandFilters(), sort="geometry; DROP TABLE parcels")


def test_map_shows_the_status_on_an_earlier_day(cur, files):
    """Before the data's date, land released by then shows as released (later steps are not known
    then), land released later or never but marked released shows as being vacated."""
    day = dt.date(2022, 12, 31)
    parcels = files["parcels"]
    rel = pd.to_datetime(parcels["released_on"])
    released_family = parcels["release_status"].isin(["released", "transferred", "under_construction", "completed"])
    want = np.where(rel <= pd.Timestamp(day), "released",
                    np.where(released_family | (rel > pd.Timestamp(day)), "vacating", parcels["release_status"]))
    want = dict(zip(parcels["parcel_id"], want, strict=True))
    md = land.map_data(cur, filters=F.LandFilters(), view_date=day, as_of=AS_OF)
    assert md.level == "parcel" and dict(zip(md.frame["parcel_id"], md.frame["release_status"], strict=True)) == want
    today = land.map_data(cur, filters=F.LandFilters(), view_date=AS_OF, as_of=AS_OF).frame
    assert dict(zip(today["parcel_id"], today["release_status"], strict=True)) == dict(
        zip(parcels["parcel_id"], parcels["release_status"], strict=True))


# ---- the map and its budget ---------------------------------------------------------------------

def _layer(deck_json: str, prefix: str) -> dict:
    spec = json.loads(deck_json)
    found = [layer for layer in spec["layers"] if layer["id"].startswith(prefix)]
    assert len(found) == 1, [layer["id"] for layer in spec["layers"]]
    return found[0]


def test_map_levels_keep_every_parcel(cur, files):
    f = F.LandFilters(statuses=("not_started", "vacating", "released"))
    exp = expected(files["parcels"], f)
    n_parks = exp["park_id"].nunique()
    assert len(exp) > n_parks > 2
    parcels = land.map_data(cur, filters=f, view_date=AS_OF, as_of=AS_OF)
    assert parcels.level == "parcel" and sorted(parcels.frame["parcel_id"]) == sorted(exp["parcel_id"])
    parks = land.map_data(cur, filters=f, view_date=AS_OF, as_of=AS_OF, budget_polygons=n_parks)
    assert parks.level == "park" and parks.parcels == len(exp)
    assert parks.frame["parcels"].sum() == len(exp)
    assert set(parks.frame["id"]) == set(exp["park_id"])
    by_park = exp.groupby("park_id")["area_m2"].sum()
    assert np.allclose(parks.frame.set_index("id")["area_m2"].sort_index(), by_park.sort_index())
    cells = land.map_data(cur, filters=f, view_date=AS_OF, as_of=AS_OF, budget_polygons=n_parks - 1)
    assert cells.level == "cell" and len(cells.frame) <= n_parks - 1 and cells.cell_m in budget.CELL_SIZES_M
    assert cells.frame["parcels"].sum() == len(exp)
    assert cells.frame["area_m2"].sum() == pytest.approx(exp["area_m2"].sum())
    shares = cells.frame["share"]
    assert ((shares >= 0) & (shares <= 1)).all()


def test_land_map_draws_the_selection_and_says_when_it_aggregates(cur, files):
    f = F.LandFilters(villages=(MI_LONG,))
    exp = expected(files["parcels"], f)
    m = land_views.land_map(cur, filters=f, view_date=AS_OF, as_of=AS_OF, lang="zh", basemap=NONE_MAP)
    assert (m.level, m.parcels, m.shown) == ("parcel", len(exp), len(exp))
    spec = m.deck().to_json()
    layer = _layer(spec, "land-parcel-")
    assert layer["id"] == m.layer_id and sorted(r["i"] for r in layer["data"]) == sorted(exp["parcel_id"])
    assert "basemaps.cartocdn" not in spec and len(spec.encode()) == m.bytes
    tip = m.deck()._tooltip["html"]
    assert "{i}" in tip and "{s}" in tip and "<script" not in tip
    assert budget.caption(m, "zh") is None
    n_parks = exp["park_id"].nunique()
    assert len(exp) > n_parks
    agg = land_views.land_map(cur, filters=f, view_date=AS_OF, as_of=AS_OF, lang="en", basemap=NONE_MAP,
                              polygon_budget=n_parks)
    assert agg.level == "park" and agg.parcels == len(exp)
    assert "parks" in budget.caption(agg, "en") and agg.bytes < m.bytes
    park_layer = _layer(agg.deck().to_json(), "land-park-")
    assert {r["i"] for r in park_layer["data"]} == set(exp["park_id"])


def test_polygon_budget_stays_small_for_software_rendering(cur, files):
    """The budget's worth of parcels (3,000), drawn with their tooltips, is well under a megabyte and
    a half, what a browser with no GPU parses and draws in about a second."""
    df = land.map_data(cur, filters=F.LandFilters(), view_date=AS_OF, as_of=AS_OF).frame
    n = budget.DEFAULT_POLYGON_BUDGET
    many = pd.concat([df] * (n // len(df) + 1), ignore_index=True).iloc[:n]
    many["parcel_id"] = [f"X{i:07d}" for i in range(len(many))]
    size = len(land_views.layer_json(land_views.parcel_layer(many, lang="zh", layer_id="p"), NONE_MAP).encode())
    assert size < 1_500_000, size


def test_story_layers_sit_between_the_map_and_the_names(cur):
    m = land_views.land_map(cur, filters=F.LandFilters(), view_date=AS_OF, as_of=AS_OF, lang="zh",
                            basemap=NONE_MAP)
    story = land_views.story_layers(cur, parcel_id=STORY_PARCEL, distance_m=500, role="planner", basemap=NONE_MAP)
    context = land_views.village_outlines(cur, basemap=NONE_MAP)
    ids = [layer["id"] for layer in json.loads(m.spec(story, context=context))["layers"]]
    assert ids[0] == "village-outlines" and ids[1] == m.layer_id and ids[-1] in ("village-labels", "park-labels")
    assert ids.index("story-parcel") > ids.index(m.layer_id) and ids.index("village-labels") > ids.index("story-ring")
    assert land_views.story_layers(cur, parcel_id="P99999-99", distance_m=500, role="planner") is None


def test_view_fits_the_selection(cur):
    extent = land.selection_extent(cur, filters=F.LandFilters(search=STORY_PARCEL))
    view = fit_view(extent)
    assert extent[0] < view["longitude"] < extent[2] and extent[1] < view["latitude"] < extent[3]
    assert view["zoom"] >= 16
    street = fit_view(overview.view_bounds(cur))
    assert 10 < street["zoom"] < 13
    assert land.selection_extent(cur, filters=F.LandFilters(search="no such parcel")) is None


# ---- the parcel story ---------------------------------------------------------------------------

def test_story_matches_the_files(cur, files):
    story = land_story.parcel_story(cur, parcel_id=STORY_PARCEL, as_of=AS_OF, role="planner")
    row = files["parcels"].set_index("parcel_id").loc[STORY_PARCEL]
    p = story["parcel"]
    assert (p["name"], p["park_id"], p["release_status"]) == (row["name"], row["park_id"], row["release_status"])
    assert p["released_on"] == row["released_on"].date()
    project = files["projects"].set_index("park_id").loc[row["park_id"]]
    assert story["project"]["project_id"] == project["project_id"]
    assert story["project"]["is_overdue"] == (pd.Timestamp(project["planned_finish"]) < pd.Timestamp(AS_OF)
                                              and project["stage"] != "completed")
    events = files["events"][files["events"]["project_id"] == project["project_id"]].sort_values("entered_on")
    assert list(story["events"]["stage"]) == list(events["stage"])
    on = files["firms"][files["firms"]["parcel_id"] == STORY_PARCEL]
    assert sorted(story["firms"]["firm_id"]) == sorted(on["firm_id"])
    assert "name" in story["firms"].columns
    assert land_story.parcel_story(cur, parcel_id="P99999-99", as_of=AS_OF, role="planner") is None


def test_story_hides_firm_names_from_viewers(cur):
    story = land_story.parcel_story(cur, parcel_id=STORY_PARCEL, as_of=AS_OF, role="viewer")
    assert "name" not in story["firms"].columns and "uscc" not in story["firms"].columns
    near = land_story.risky_firms_near(cur, parcel_id=STORY_PARCEL, distance_m=2000, role="viewer")
    assert len(near) and "name" not in near.columns and "uscc" not in near.columns


@pytest.mark.parametrize("distance", [300, 500, 1500])
def test_risky_firms_near_match_a_metric_geopandas_computation(cur, files, distance):
    parcel = files["parcels"].set_index("parcel_id").loc[[STORY_PARCEL]].to_crs(S.METRIC_CRS).geometry.iloc[0]
    firms = files["firms"]
    risky = firms[firms["risk_level"].isin(land_story.RISKY_LEVELS)].to_crs(S.METRIC_CRS)
    dist = risky.distance(parcel)
    exp = dist[dist <= distance].sort_values()
    got = land_story.risky_firms_near(cur, parcel_id=STORY_PARCEL, distance_m=distance, role="planner")
    assert list(got["firm_id"]) == list(risky.loc[exp.index, "firm_id"])
    assert np.allclose(got["distance_m"], exp.to_numpy(), atol=0.1)
    assert set(got["risk_level"]) <= set(land_story.RISKY_LEVELS)


def test_near_measures_metres_not_degrees(cur, files):
    """Every parcel's nearest risky firm within 5 km agrees with geopandas in EPSG:4547."""
    parcels = files["parcels"].to_crs(S.METRIC_CRS).set_index("parcel_id")
    risky = files["firms"][files["firms"]["risk_level"].isin(land_story.RISKY_LEVELS)].to_crs(S.METRIC_CRS)
    for pid in parcels.index[::60]:
        got = land_story.risky_firms_near(cur, parcel_id=pid, distance_m=U.MAX_DISTANCE_M, role="planner")
        dist = risky.distance(parcels.geometry[pid])
        assert len(got) == int((dist <= U.MAX_DISTANCE_M).sum())
        if len(got):
            assert got["distance_m"].iloc[0] == pytest.approx(dist.min(), abs=0.1)
    with pytest.raises(ValueError, match="distance"):
        land_story.risky_firms_near(cur, parcel_id=STORY_PARCEL, distance_m=0, role="planner")
    with pytest.raises(ValueError, match="distance"):
        land_story.risky_firms_near(cur, parcel_id=STORY_PARCEL, distance_m=50_000, role="planner")


@pytest.mark.parametrize(("role", "first"), [("planner", ["企业名称", "风险等级", "距离(米)"]),
                                             ("viewer", ["风险等级", "距离(米)"])])
def test_story_firm_tables_start_with_what_a_person_reads(cur, role, first):
    """A phone shows the story's firm tables three columns wide: the firm's name, its risk and how far
    it is come first (the firm ID came first and the risk and distance were cut off)."""
    near = land_story.risky_firms_near(cur, parcel_id=STORY_PARCEL, distance_m=2000, role=role)
    assert len(near)
    frame = land_views.firms_frame(near, lang="zh")
    assert list(frame.columns[:len(first)]) == first
    assert frame["距离(米)"].tolist() == near["distance_m"].tolist()


def test_story_shapes_ring_is_the_distance_away(cur, files):
    shapes = land_story.story_shapes(cur, parcel_id=STORY_PARCEL, distance_m=500)
    ring = gpd.GeoSeries.from_wkb([shapes["buffer"]], crs=S.STORAGE_CRS).to_crs(S.METRIC_CRS).iloc[0]
    parcel = files["parcels"].set_index("parcel_id").loc[[STORY_PARCEL]].to_crs(S.METRIC_CRS).geometry.iloc[0]
    assert parcel.hausdorff_distance(ring.exterior) == pytest.approx(500, rel=0.02)
    assert ring.contains(parcel)


def test_markdown_values_are_literal():
    assert md_text("[x](javascript:alert(1))") == r"\[x\]\(javascript\:alert\(1\)\)"
    assert md_text(None, empty="—") == "—"


# ---- the page (AppTest) -------------------------------------------------------------------------

@pytest.fixture()
def downloads(monkeypatch, tmp_path):
    """The files the page's download buttons would serve, by file name (built on demand)."""
    monkeypatch.setenv("DAYUAN_AUDIT_FILE", str(tmp_path / "audit.jsonl"))
    captured: dict[str, object] = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        captured[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return captured


def run_page(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.switch_page("pages/land.py")
    return at.run()


def open_list(at: AppTest, label: str = "地块清单") -> AppTest:
    """Open the tab of the list and exports (only the open tab of the two is built)."""
    at.session_state["land_below"] = label
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def deck_layer(at: AppTest, prefix: str) -> dict:
    decks = at.get("deck_gl_json_chart")
    assert len(decks) == 1
    return _layer(decks[0].proto.json, prefix)


def table(at: AppTest) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe if "规划用途" in d.value.columns or "Planned use" in d.value.columns]
    assert len(frames) == 1
    return frames[0]


def url(at: AppTest, key: str) -> list[str]:
    """A query parameter of the page's URL as a list (AppTest gives a single value as a string)."""
    value = at.query_params.get(key, [])
    return value if isinstance(value, list) else [value]


def csv_rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_page_shows_every_parcel_by_default(app_env, files, downloads):
    at = run_page()
    assert not at.exception
    n = len(files["parcels"])
    assert metrics(at)["选中地块"] == f"{n}" and at.metric[0].delta == f"共 {n} 宗"
    assert metrics(at)["截至 2026-11-20 已释放"] == "201.58 万㎡"
    assert len(deck_layer(at, "land-parcel-")["data"]) == n
    assert len(at.get("plotly_chart")) == 3 and not at.dataframe  # the charts' tab is open, the list's not built
    open_list(at)
    assert len(table(at)) == n and not at.get("plotly_chart")
    assert not at.warning
    assert [k for k in at.query_params if k in U.URL_KEYS] == []  # the plain page has a clean link
    rows = csv_rows(downloads["地块_2026-11-20.csv"]())  # the table and the data date
    assert len(rows) == n


def test_filters_change_map_table_and_export_consistently(app_env, files, downloads):
    f = F.LandFilters(statuses=("released", "transferred"), villages=(MI_LONG,))
    exp = expected(files["parcels"], f)
    at = open_list(run_page({"status": ["released", "已出让"], "village": [MI_LONG]}))
    assert not at.exception
    assert at.multiselect(key="land_status").value == ["released", "transferred"]
    assert metrics(at)["选中地块"] == f"{len(exp)}"
    ids = sorted(exp["parcel_id"])
    assert sorted(r["i"] for r in deck_layer(at, "land-parcel-")["data"]) == ids
    assert sorted(table(at)["地块编号"]) == ids
    name = "地块_米龙村委会_已释放、已出让_2026-11-20"  # the table, the filter's gist, the data date
    rows = csv_rows(downloads[f"{name}.csv"]())
    assert sorted(r["地块编号"] for r in rows) == ids
    assert {r["释放状态"] for r in rows} <= {"已释放", "已出让"}
    gj = json.loads(downloads[f"{name}.geojson"]())
    assert sorted(feat["properties"]["parcel_id"] for feat in gj["features"]) == ids
    xlsx = pd.read_excel(io.BytesIO(downloads[f"{name}.xlsx"]()))
    assert sorted(xlsx["地块编号"]) == ids
    # the URL holds codes, so the link reproduces the view in either language
    assert url(at, "status") == ["released", "transferred"]

    # a filter changed on the page changes everything at once
    at.multiselect(key="land_use").set_value(["M0"]).run()
    assert not at.exception
    f2 = F.LandFilters(statuses=f.statuses, villages=f.villages, planned_uses=("M0",))
    ids2 = sorted(expected(files["parcels"], f2)["parcel_id"])
    assert 0 < len(ids2) < len(ids)
    assert sorted(r["i"] for r in deck_layer(at, "land-parcel-")["data"]) == ids2
    assert sorted(table(at)["地块编号"]) == ids2
    name2 = "地块_米龙村委会_已释放、已出让_M0 新型产业用地_2026-11-20"
    assert sorted(r["地块编号"] for r in csv_rows(downloads[f"{name2}.csv"]())) == ids2
    assert url(at, "use") == ["M0"]


def test_search_and_ranges_from_a_link(app_env, files, downloads):
    f = F.LandFilters(released_from=dt.date(2022, 1, 1), released_to=dt.date(2024, 6, 30), area_min=12_000)
    exp = expected(files["parcels"], f)
    at = open_list(run_page({"released_from": "2022-01-01", "released_to": "2024-06-30", "area_min": "12000"}))
    assert not at.exception
    assert sorted(table(at)["地块编号"]) == sorted(exp["parcel_id"])
    assert len(csv_rows(downloads["地块_2026-11-20.csv"]())) == len(exp)
    at = run_page({"q": "华邦"})
    exp = expected(files["parcels"], F.LandFilters(search="华邦"))
    assert sorted(r["i"] for r in deck_layer(at, "land-parcel-")["data"]) == sorted(exp["parcel_id"])


def test_time_slider_shows_releases_up_to_a_month(app_env, files):
    at = run_page({"month": "2022-06"})
    assert not at.exception
    day = pd.Timestamp("2022-06-30")
    parcels = files["parcels"]
    released = parcels[parcels["released_on"] <= day]
    label = "截至 2022-06-30 已释放"
    assert metrics(at)[label] == f"{released['area_m2'].sum() / 10_000:,.2f} 万㎡"
    shown = [r for r in deck_layer(at, "land-parcel-")["data"] if r["s"] == "已释放"]
    assert len(shown) == len(released)
    # moving the slider changes the numbers; the last month is the data date
    at.select_slider(key="land_month").set_value("2026-11").run()
    assert metrics(at)["截至 2026-11-20 已释放"] == "201.58 万㎡"
    assert "month" not in at.query_params


def test_a_link_opens_a_parcel_story(app_env, files):
    at = run_page({"parcel": STORY_PARCEL})
    assert not at.exception
    row = files["parcels"].set_index("parcel_id").loc[STORY_PARCEL]
    assert any(row["name"] in s.value for s in at.subheader)
    assert any(row["released_on"].date().isoformat() in s.value for s in at.success)
    # only the open tab is built: the facts first, then the project, then the firms
    assert [t.label for t in at.tabs][:3] == ["属性", "整治项目", "企业"]
    assert not [d for d in [*at.dataframe, *at.table] if "进入日期" in d.value.columns]
    at.session_state["land_story_tab"] = "整治项目"
    at.run()
    events = [d.value for d in at.table if "进入日期" in d.value.columns]  # a few stages: a static table
    assert len(events) == 1 and len(events[0]) == 6
    assert any("已逾期" in e.value for e in at.error)
    at.session_state["land_story_tab"] = "企业"
    at.run()
    near = [d.value for d in at.dataframe if "距离(米)" in d.value.columns]
    risky = files["firms"][files["firms"]["risk_level"].isin(land_story.RISKY_LEVELS)].to_crs(S.METRIC_CRS)
    parcel = files["parcels"].set_index("parcel_id").loc[[STORY_PARCEL]].to_crs(S.METRIC_CRS).geometry.iloc[0]
    within = int((risky.distance(parcel) <= U.DEFAULT_DISTANCE_M).sum())
    assert (len(near[0]) if near else 0) == within
    # the map outlines the parcel and the ring around it, and the legend says which is which
    assert _layer(at.get("deck_gl_json_chart")[0].proto.json, "story-parcel")["data"]
    legend = " ".join(m.value for m in at.markdown if "border-radius" in m.value)
    for label in ("所选地块", f"周边 {U.DEFAULT_DISTANCE_M} 米范围", "村居边界", "黑榜", "比例尺"):
        assert label in legend, label
    # a wider distance finds more firms, and stays in the link
    at.number_input(key="land_dist").set_value(2000).run()
    near = [d.value for d in at.dataframe if "距离(米)" in d.value.columns]
    assert len(near[0]) == int((risky.distance(parcel) <= 2000).sum())
    assert url(at, "dist") == ["2000"] and url(at, "parcel") == [STORY_PARCEL]
    # closing the story clears it from the page and the link
    at.button(key="land_close").click().run()
    assert "parcel" not in at.query_params
    assert not any(row["name"] in s.value for s in at.subheader)


def test_clicking_a_parcel_on_the_map_opens_its_story(app_env, files):
    at = run_page({"village": [MI_LONG]})
    layer = deck_layer(at, "land-parcel-")
    target = next(r for r in layer["data"] if r["i"] == STORY_PARCEL)
    index = layer["data"].index(target)
    selection = {"selection": {"indices": {layer["id"]: [index]}, "objects": {layer["id"]: [target]}}}
    chart = at.get("deck_gl_json_chart")[0]
    # AppTest cannot click a deck: send the selection the browser would send (browser test: a real click)
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(selection)))
    at._run(states)
    assert not at.exception
    name = files["parcels"].set_index("parcel_id").loc[STORY_PARCEL, "name"]
    assert any(name in s.value for s in at.subheader)
    assert url(at, "parcel") == [STORY_PARCEL]


def test_unknown_parcel_and_bad_link_values(app_env):
    at = run_page({"parcel": "<script>alert(1)</script>", "status": ["sold"], "month": ["1999-01"]})
    assert not at.exception
    said = [w.value.replace("\\", "") for w in at.warning if "无法识别" in w.value]
    assert len(said) == 1 and "status=sold" in said[0] and "month=1999-01" in said[0]  # what, and the value
    assert any("没有这个编号的地块" in w.value for w in at.warning)
    assert at.code[0].value == "<script>alert(1)</script>"


def test_page_in_english_labels_table_and_export(app_env, files, downloads):
    at = open_list(run_page({"lang": "en", "status": ["completed"]}), "Parcels")
    assert not at.exception
    n = int((files["parcels"]["release_status"] == "completed").sum())
    assert metrics(at)["Parcels selected"] == f"{n}" and at.metric[0].delta == f"of {len(files['parcels'])}"
    df = table(at)
    assert {"Parcel ID", "Planned use", "Release status"} <= set(df.columns)
    assert set(df["Release status"]) == {"Completed"}
    rows = csv_rows(downloads["Parcels_Completed_2026-11-20.csv"]())
    assert len(rows) == n and set(rows[0]) >= {"Parcel ID", "Release status"}


def test_big_selection_is_drawn_by_park_and_said_so(app_env, files, monkeypatch):
    monkeypatch.setenv(budget.BUDGET_ENV, "100")
    at = run_page()
    assert not at.exception
    layer = deck_layer(at, "land-park-")
    assert len(layer["data"]) == files["parcels"]["park_id"].nunique()
    assert any("按" in i.value and "园区汇总" in i.value for i in at.info)
    monkeypatch.setenv(budget.BUDGET_ENV, "10")
    at = run_page()
    assert deck_layer(at, "land-cell-")["data"]
    assert any("方格汇总" in i.value for i in at.info)


def test_a_park_beyond_the_list_is_found_by_part_of_its_name(app_env, files, monkeypatch):
    """Villages at scale L hold 48,000 parks and the list sends 3,000: the finder lists the rest."""
    import edge.land

    monkeypatch.setattr(edge.land, "PARK_OPTION_LIMIT", 3)
    parks = files["parks"].sort_values("park_id")
    mine = parks[parks["village_code"] == MI_LONG]
    assert len(mine) > 3
    target = mine.iloc[-1]  # the last by id: not among the first three listed
    at = run_page({"village": [MI_LONG]})
    assert not at.exception
    box = at.text_input(key="land_park_find")
    assert box.label == "查找园区" and f"{len(mine):,} 个园区" in box.help
    listed = at.multiselect(key="land_park").options
    assert len(listed) == 3 and not any(target["park_id"] in o for o in listed)
    assert "列出前 3 个" in at.multiselect(key="land_park").help

    box.input(f" {target['name'][:-1]} ").run()  # part of the name, with the spaces a paste brings
    assert not at.exception
    listed = at.multiselect(key="land_park").options
    assert f"{target['name']} · {target['park_id']}" in listed
    assert all(target["name"][:-1] in o for o in listed)
    at.multiselect(key="land_park").select(target["park_id"]).run()
    assert not at.exception
    in_park = expected(files["parcels"], F.LandFilters(villages=(MI_LONG,), parks=(target["park_id"],)))
    assert len(in_park) > 0 and metrics(at)["选中地块"] == f"{len(in_park)}"
    assert url(at, "park") == [target["park_id"]]

    # an id works too, and the park chosen stays listed whatever the finder holds
    at.text_input(key="land_park_find").input(mine.iloc[0]["park_id"].lower()).run()
    listed = at.multiselect(key="land_park").options
    assert listed[0].endswith(target["park_id"]) and any(o.endswith(mine.iloc[0]["park_id"]) for o in listed)
    assert at.multiselect(key="land_park").value == [target["park_id"]]


def test_viewer_sees_no_firm_names_and_cannot_export(app_env, files):
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["role"] = "viewer"  # local mode previews a role this way
    at.query_params["parcel"] = STORY_PARCEL
    at.switch_page("pages/land.py")
    at.run()
    assert not at.exception
    at.session_state["land_story_tab"] = "企业"
    at = open_list(at)
    firm_tables = [d.value for d in at.dataframe if "风险等级" in d.value.columns]
    assert firm_tables, "the story lists the firms on and near the parcel"
    names = set(files["firms"]["name"])
    for df in firm_tables:
        assert "企业名称" not in df.columns and "统一社会信用代码" not in df.columns
        assert not names & {str(v) for v in df.to_numpy().ravel()}
    assert at.get("download_button") == []
    assert any("无导出权限" in c.value for c in at.caption)
    assert not any("dayuan_geo export" in c.value for c in at.code)


def test_unknown_planned_use_is_a_value_the_filters_take(data_copy):
    """An import may leave a descriptive column unknown (未知): the filter selects exactly those parcels."""
    from dayuan_geo.dataset import versions
    from dayuan_geo.store import Store

    parcels = gpd.read_parquet(data_copy / "parcels.parquet")
    parcels.loc[parcels.index[:5], "planned_use"] = S.UNKNOWN
    versions.publish(data_copy, {"parcels": parcels}, source="imported", as_of=AS_OF)
    cur = Store(data_copy).cursor()
    summary = land.selection_summary(cur, filters=F.LandFilters(planned_uses=(S.UNKNOWN,)), view_date=AS_OF)
    assert summary["parcels"] == 5
    with pytest.raises(ValueError, match="planned use"):
        F.LandFilters(planned_uses=("nowhere",))
