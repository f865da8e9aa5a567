"""The map budget: every parcel while they fit, parks or grid cells beyond, and the same totals."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries

AS_OF = dt.date(2026, 11, 20)
APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def parcels(demo_dir) -> pd.DataFrame:
    """The parcels file with each parcel's status on AS_OF, computed here with pandas."""
    df = gpd.read_parquet(demo_dir / "parcels.parquet")
    released_on = pd.to_datetime(df["released_on"])
    df["status"] = df["release_status"].where(~(released_on > pd.Timestamp(AS_OF)), "vacating")
    df["released"] = released_on <= pd.Timestamp(AS_OF)
    return df


def test_parcels_within_budget_are_drawn_one_by_one(cur, parcels):
    md = mapdata.parcel_map(cur, as_of=AS_OF)
    assert md.level == "parcel" and not md.aggregated
    assert md.parcels == md.shown == len(parcels)
    assert set(md.frame["parcel_id"]) == set(parcels["parcel_id"])
    assert mapdata.caption(md, "en") is None
    assert [label for label, _ in mapdata.legend_items(md, "en")][:3] == ["Not started", "Vacating", "Released"]


def test_filters_match_pandas(cur, parcels):
    md = mapdata.parcel_map(cur, as_of=AS_OF, statuses=("vacating", "released"))
    want = parcels[parcels["status"].isin(["vacating", "released"])]
    assert md.parcels == len(want)
    assert sorted(md.frame["parcel_id"]) == sorted(want["parcel_id"])
    village = parcels["village_code"].iloc[0]
    md = mapdata.parcel_map(cur, as_of=AS_OF, village_code=village)
    assert md.parcels == int((parcels["village_code"] == village).sum())


def test_over_budget_sums_by_park_with_the_same_totals(cur, parcels):
    md = mapdata.parcel_map(cur, as_of=AS_OF, budget=100)
    assert len(parcels) > 100 and md.level == "park"
    assert md.shown == parcels["park_id"].nunique() <= 100
    assert int(md.frame["parcels"].sum()) == len(parcels)
    assert md.frame["area_m2"].sum() == pytest.approx(parcels["area_m2"].sum(), abs=0.5)
    assert md.frame["released_m2"].sum() == pytest.approx(parcels.loc[parcels["released"], "area_m2"].sum(),
                                                           abs=0.5)
    assert md.frame["released_m2"].sum() == pytest.approx(2_015_800, rel=0.001)
    assert md.frame["share"].between(0, 1).all()
    by_park = parcels.groupby("park_id")["area_m2"].sum()
    got = md.frame.set_index("id")["area_m2"]
    assert got.sort_index().to_numpy() == pytest.approx(by_park.sort_index().to_numpy(), abs=0.01)
    text = mapdata.caption(md, "en")
    assert f"{len(parcels):,} parcels" in text and "budget of 100" in text and "parks" in text
    assert "园区" in mapdata.caption(md, "zh")


def test_beyond_the_parks_sums_on_grid_cells(cur, parcels):
    n_parks = parcels["park_id"].nunique()
    md = mapdata.parcel_map(cur, as_of=AS_OF, budget=n_parks - 1)
    assert md.level == "cell" and md.cell_m in mapdata.CELL_SIZES_M
    assert md.shown <= n_parks - 1
    assert int(md.frame["parcels"].sum()) == len(parcels)
    assert md.frame["area_m2"].sum() == pytest.approx(parcels["area_m2"].sum(), abs=0.5)
    # the smallest cell that fits: the next smaller size would give more cells than the budget
    assert all(len(ring) == 5 for ring in md.frame["polygon"])
    assert f"{md.cell_m:,} m" in mapdata.caption(md, "en")
    tiny = mapdata.parcel_map(cur, as_of=AS_OF, budget=3)
    assert tiny.level == "cell" and tiny.shown <= 3 and int(tiny.frame["parcels"].sum()) == len(parcels)


def test_bad_input_is_refused(cur):
    with pytest.raises(ValueError, match="release status"):
        mapdata.parcel_map(cur, as_of=AS_OF, statuses=("gone",))
    with pytest.raises(ValueError, match="budget"):
        mapdata.parcel_map(cur, as_of=AS_OF, budget=0)


def test_budget_from_environment(monkeypatch):
    monkeypatch.delenv(mapdata.BUDGET_ENV, raising=False)
    assert mapdata.polygon_budget() == mapdata.DEFAULT_POLYGON_BUDGET
    monkeypatch.setenv(mapdata.BUDGET_ENV, "250")
    assert mapdata.polygon_budget() == 250
    monkeypatch.setenv(mapdata.BUDGET_ENV, "lots")
    with pytest.raises(ValueError, match=mapdata.BUDGET_ENV):
        mapdata.polygon_budget()


def test_aggregate_tooltips_are_escaped_and_coloured_by_share():
    frame = pd.DataFrame({"id": ["P1", "P2"], "label": ["<img src=x onerror=alert(1)>", "园"],
                          "parcels": [3, 2], "area_m2": [100.0, 50.0], "released_m2": [0.0, 50.0],
                          "polygon": [[[0, 0], [1, 0], [1, 1], [0, 0]]] * 2})
    md = mapdata.MapData("park", mapdata._with_share(frame), 5, 1)
    records = mapdata.layer(md, lang="en").data
    assert "<img" in records[0]["tooltip"]  # shown as text: the deck's tooltip is text-only
    assert "100%" in records[1]["tooltip"]
    assert records[0]["color"] == maps.STATUS_COLORS["not_started"]
    assert records[1]["color"] == maps.STATUS_COLORS["released"]
    assert mapdata.legend_items(md, "en")[0][0] == "0% released"


def test_compact_deck_is_the_same_spec_in_fewer_bytes(cur):
    view = mapdata.parcel_view(cur, as_of=AS_OF, lang="zh")
    layers = [view.layer]
    plain = maps.deck(layers, center=queries.view_center(cur)).to_json()
    compact = mapdata.deck(layers, center=queries.view_center(cur)).to_json()
    assert json.loads(compact) == json.loads(plain)
    assert len(compact.encode()) < len(plain.encode()) / 2
    assert "地块" in compact  # Chinese stays UTF-8 instead of \\u escapes


def test_view_carries_layer_and_counts(cur, parcels):
    view = mapdata.parcel_view(cur, as_of=AS_OF, lang="en", budget=10)
    assert view.aggregated and view.parcels == len(parcels)
    assert len(view.layer.data) == view.shown <= 10
    assert 7.0 <= view.zoom <= 12.3


def test_overview_says_when_the_map_is_aggregated(app_env, monkeypatch, parcels):
    monkeypatch.setenv(mapdata.BUDGET_ENV, "40")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "en"
    at.run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert f"{len(parcels):,} parcels exceed the map's budget of 40 polygons" in captions
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    polygons = next(layer for layer in spec["layers"] if layer["id"] == "parcels")
    assert len(polygons["data"]) <= 40
    assert sum(int(r["tooltip"].split("Parcels: ")[1].split("\n")[0].replace(",", ""))
               for r in polygons["data"]) == len(parcels)


def test_one_zoom_formula_fits_the_extent_in_web_mercator():
    """fit_view: the extent, projected to EPSG:3857 here, fills at most 80% of the map on its
    tighter side and exactly that (to rounding) on one side."""
    from pyproj import Transformer

    from dayuan_geo.maps.view import fit_view

    extent = (113.30, 23.24, 113.36, 23.27)
    view = fit_view(extent, width_px=760, height_px=600)
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = to_merc.transform(extent[0], extent[1])
    x1, y1 = to_merc.transform(extent[2], extent[3])
    px_per_m = 512 * 2 ** view["zoom"] / (2 * 6378137 * 3.141592653589793)
    w, h = (x1 - x0) * px_per_m, (y1 - y0) * px_per_m
    assert w <= 760 * 0.8 * 1.01 and h <= 600 * 0.8 * 1.01
    assert max(w / (760 * 0.8), h / (600 * 0.8)) == pytest.approx(1.0, abs=0.01)
    assert (view["longitude"], view["latitude"]) == (113.33, 23.255)
    assert fit_view((113.3, 23.2, 113.3, 23.2))["zoom"] == 17.0  # a point: the closest zoom
    with pytest.raises(ValueError):
        fit_view((113.4, 23.2, 113.3, 23.3))


def test_only_parcels_are_drawn_with_edges_and_every_edge_is_a_straight_segment(cur, demo_dir):
    """Parcels keep the white edge that tells neighbours apart; parks and grid cells, filled by a share,
    are drawn without one. No map draws a path or a stroked polygon: software WebGL takes about a
    second per 3,000 of those on every redraw, and edges drawn as straight segments a tenth of it."""
    import geopandas as gpd

    from dayuan_geo.land import views as land_views
    from dayuan_geo.land.filters import LandFilters
    from dayuan_geo.maps import basemap

    def of_type(spec: dict, kind: str) -> list[dict]:
        return [layer for layer in spec["layers"] if layer["@@type"] == kind]

    parcels = gpd.read_parquet(demo_dir / "parcels.parquet")
    for budget, level in ((10_000, "parcel"), (100, "park"), (3, "cell")):
        md = mapdata.parcel_map(cur, as_of=AS_OF, budget=budget)
        assert md.level == level
        spec = json.loads(mapdata.deck([mapdata.layer(md, lang="zh")], center=(113.3, 23.2)).to_json())
        assert [layer["stroked"] for layer in of_type(spec, "PolygonLayer")] == [False]
        land = json.loads(land_views.land_map(cur, filters=LandFilters(), view_date=AS_OF, as_of=AS_OF, lang="zh",
                                              basemap=basemap.NONE_MAP, polygon_budget=budget).spec())
        assert [layer["stroked"] for layer in of_type(land, "PolygonLayer")] == [False]
        assert not of_type(land, "PathLayer") and not of_type(land, "GeoJsonLayer")
        edges = [layer for layer in of_type(land, "LineLayer") if layer["id"] == "parcel-edges"]
        assert len(edges) == (level == "parcel")
        if edges:  # every side of every parcel once, whichever way it was walked
            drawn = {tuple(sorted((tuple(e["s"]), tuple(e["t"])))) for e in edges[0]["data"]}
            assert len(drawn) == len(edges[0]["data"])
            sides = set()
            for ring in parcels.geometry.exterior:
                xy = [(round(x, 6), round(y, 6)) for x, y in ring.coords]
                sides |= {tuple(sorted(pair)) for pair in itertools.pairwise(xy)}
            assert drawn == sides


def test_points_go_on_the_smallest_square_that_keeps_within_the_budget():
    """Forty points 300 m apart eastward (laid out in EPSG:4547): squares of 125 or 250 m hold one
    each; 500 m squares hold 24 or more (over a budget of 20); 1,000 m squares hold 12 or 13."""
    import numpy as np
    from pyproj import Transformer

    from dayuan_geo.maps import cells

    to_lonlat = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(np.full(40, 452_000.0) + 300.0 * np.arange(40), np.full(40, 2_566_000.0))
    sizes = (125, 250, 500, 1_000, 2_000)
    ix, iy, size = cells.point_cells(lon, lat, budget=40, sizes=sizes)
    assert size == 125 and len(set(zip(ix, iy, strict=True))) == 40
    ix, iy, size = cells.point_cells(lon, lat, budget=20, sizes=sizes)
    assert size == 1_000 and 12 <= len(set(zip(ix, iy, strict=True))) <= 14
    assert cells.point_cells(lon, lat, budget=1, sizes=sizes)[2] == 2_000  # the largest when none fits
