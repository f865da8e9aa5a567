"""The land map keeps its context when it zooms: village outlines and names whatever the filter,
names clear of the firm points, and an open parcel's view that holds its whole ring.

Everything a user would check is computed here independently: the files read with geopandas, the
ring buffered in EPSG:4547, screen positions with a Web Mercator projection written out below.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import unicodedata

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from dayuan_geo import schema as S
from dayuan_geo.land import filters as F
from dayuan_geo.land import story as land_story
from dayuan_geo.land import views as land_views
from dayuan_geo.maps.basemap import NONE_MAP

AS_OF = dt.date(2026, 11, 20)
PARK = "P00002"  # 华邦物流园: a filter that zooms far in
STORY_PARCEL = "P00002-01"
# parcels whose ring holds risky firms where a village or park name would naturally sit
CROWDED = (STORY_PARCEL, "P00002-07", "P00038-02")
MAP_W, MAP_H = 410, 600  # the land map on screen at 1440 px (measured in Chromium: tests/browser)
TILE = 512  # deck.gl's world at zoom 0
MARKER_PX = 12 + 1  # a firm's largest radius on screen and its rim
VILLAGE_PX, PARK_PX = 14, 11  # the names' sizes


@pytest.fixture(scope="module")
def files(demo_dir):
    return {name: gpd.read_parquet(demo_dir / f"{name}.parquet") for name in ("villages", "parks", "parcels", "firms")}


def pixels(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    scale = TILE * 2**zoom
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360 * scale, (1 - y / math.pi) / 2 * scale


def lonlat(x: float, y: float, zoom: float) -> tuple[float, float]:
    scale = TILE * 2**zoom
    return x / scale * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / scale))))


def screen_box(view: dict) -> tuple[float, float, float, float]:
    """min lon, min lat, max lon, max lat of what a MAP_W x MAP_H map opening on view shows."""
    cx, cy = pixels(view["longitude"], view["latitude"], view["zoom"])
    west, south = lonlat(cx - MAP_W / 2, cy + MAP_H / 2, view["zoom"])
    east, north = lonlat(cx + MAP_W / 2, cy - MAP_H / 2, view["zoom"])
    return west, south, east, north


def name_box(text: str, lon: float, lat: float, size: int, zoom: float) -> tuple[float, float, float, float]:
    """The pixels a centred name covers: wide (CJK) glyphs one em, others 0.6 em; 1.2 em tall."""
    x, y = pixels(lon, lat, zoom)
    w = sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in text)
    h = 1.2 * size
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def layers(spec: str) -> dict[str, dict]:
    parsed = json.loads(spec)
    return {layer["id"]: layer for layer in parsed["layers"]} | {"_view": parsed["initialViewState"]}


def test_village_outlines_and_names_stay_when_a_filter_zooms_in(cur, files):
    villages = files["villages"]
    whole = land_views.land_map(cur, filters=F.LandFilters(), view_date=AS_OF, as_of=AS_OF, lang="zh",
                                basemap=NONE_MAP)
    m = land_views.land_map(cur, filters=F.LandFilters(parks=(PARK,)), view_date=AS_OF, as_of=AS_OF, lang="zh",
                            basemap=NONE_MAP)
    assert m.view["zoom"] > whole.view["zoom"] + 2  # the filter zooms far in
    context = land_views.village_outlines(cur, basemap=NONE_MAP)
    assert context == land_views.village_outlines(cur, basemap=NONE_MAP)  # the same whatever the filter
    drawn = layers(m.spec(context=context))
    outline = drawn["village-outlines"]
    assert next(iter(drawn)) == "village-outlines" and outline["@@type"] == "LineLayer"
    assert outline["getWidth"] <= 1.5
    # every village's boundary, side by side, is drawn (a side two villages share once)
    ends = {tuple(sorted((tuple(e["s"]), tuple(e["t"])))) for e in outline["data"]}
    for ring in villages.geometry.explode(index_parts=False).exterior:
        xy = [(round(x, 6), round(y, 6)) for x, y in ring.coords]
        assert {tuple(sorted(pair)) for pair in itertools.pairwise(xy) if pair[0] != pair[1]} <= ends
    names = {row["text"]: row["position"] for row in drawn["village-labels"]["data"]}
    assert set(names) == set(villages["name_zh"])  # every village is named
    # the villages the zoomed map shows are named where the map shows them
    box = shapely.box(*screen_box(m.view))
    on_screen = villages[villages.intersects(box)]
    assert len(on_screen) >= 1
    for name, geom in zip(on_screen["name_zh"], on_screen.geometry, strict=True):
        point = shapely.Point(names[name])
        assert box.contains(point) and geom.buffer(1e-6).contains(point), name
    # the park of the filter is named too, on screen
    park_names = {row["text"]: row["position"] for row in drawn["park-labels"]["data"]}
    park = files["parks"].set_index("park_id").loc[PARK]
    assert box.contains(shapely.Point(park_names[park["name"]]))
    # and the whole street's map names each village inside its own outline
    whole_names = {row["text"]: row["position"] for row in layers(whole.spec())["village-labels"]["data"]}
    for name, geom in zip(villages["name_zh"], villages.geometry, strict=True):
        assert geom.buffer(1e-6).contains(shapely.Point(whole_names[name])), name


def test_an_open_parcel_fits_its_ring_and_the_parcel(cur, files):
    parcel = files["parcels"].set_index("parcel_id").loc[[STORY_PARCEL]]
    story = land_views.story_layers(cur, parcel_id=STORY_PARCEL, distance_m=500, role="planner", basemap=NONE_MAP)
    m = land_views.land_map(cur, filters=F.LandFilters(), view_date=AS_OF, as_of=AS_OF, lang="zh", basemap=NONE_MAP)
    view = layers(m.spec(story))["_view"]
    assert (view["longitude"], view["latitude"], view["zoom"]) == (
        story.view["longitude"], story.view["latitude"], story.view["zoom"])
    x0, y0, x1, y1 = screen_box(view)
    ring = parcel.to_crs(S.METRIC_CRS).buffer(500, quad_segs=64).to_crs(S.STORAGE_CRS)
    rx0, ry0, rx1, ry1 = ring.total_bounds
    assert x0 < rx0 and y0 < ry0 and rx1 < x1 and ry1 < y1  # the whole circle is on screen
    # and the view is no wider than needed: the circle fills most of the map's height or width
    rpx = pixels(rx1, ry1, view["zoom"]), pixels(rx0, ry0, view["zoom"])
    assert max((rpx[0][0] - rpx[1][0]) / MAP_W, (rpx[1][1] - rpx[0][1]) / MAP_H) > 0.6
    px0, py0, px1, py1 = parcel.total_bounds
    assert x0 < px0 and y0 < py0 and px1 < x1 and py1 < y1
    # with the story closed the map opens on the selection again
    assert layers(m.spec())["_view"]["zoom"] == m.view["zoom"] < view["zoom"]


@pytest.mark.parametrize("parcel_id", CROWDED)
def test_names_never_sit_on_a_firm_or_on_each_other(cur, files, parcel_id):
    parcel = files["parcels"].set_index("parcel_id").loc[[parcel_id]].to_crs(S.METRIC_CRS).geometry.iloc[0]
    firms = files["firms"]
    risky = firms[firms["risk_level"].isin(["blacklisted", "high_risk"])]
    near = risky[risky.to_crs(S.METRIC_CRS).distance(parcel) <= 500]
    assert len(near)
    story = land_views.story_layers(cur, parcel_id=parcel_id, distance_m=500, role="planner", basemap=NONE_MAP)
    m = land_views.land_map(cur, filters=F.LandFilters(), view_date=AS_OF, as_of=AS_OF, lang="zh", basemap=NONE_MAP)
    drawn = layers(m.spec(story))
    zoom = drawn["_view"]["zoom"]
    assert len(drawn["story-risky-firms"]["data"]) == len(near)
    cx, cy = pixels(drawn["_view"]["longitude"], drawn["_view"]["latitude"], zoom)
    screen = (cx - MAP_W / 2, cy - MAP_H / 2, cx + MAP_W / 2, cy + MAP_H / 2)
    boxes = []
    for layer_id, size in (("village-labels", VILLAGE_PX), ("park-labels", PARK_PX)):
        for row in drawn.get(layer_id, {"data": []})["data"]:
            box = name_box(row["text"], *row["position"], size, zoom)
            if box[2] > screen[0] and box[0] < screen[2] and box[3] > screen[1] and box[1] < screen[3]:
                boxes.append((row["text"], box))
    assert boxes  # some names are on screen
    assert len(boxes) <= 40
    for text, (bx0, by0, bx1, by1) in boxes:
        assert screen[0] <= bx0 and bx1 <= screen[2] and screen[1] <= by0 and by1 <= screen[3], text
        for lon, lat in zip(near.geometry.x, near.geometry.y, strict=True):
            x, y = pixels(lon, lat, zoom)
            nearest = (min(max(x, bx0), bx1), min(max(y, by0), by1))
            assert math.dist(nearest, (x, y)) > MARKER_PX, (text, lon, lat)
    for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(boxes):
        for b, (bx0, by0, bx1, by1) in boxes[i + 1:]:
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, (a, b)


def test_names_of_the_parks_in_an_open_parcels_view(cur, files):
    story = land_views.story_layers(cur, parcel_id=STORY_PARCEL, distance_m=500, role="planner", basemap=NONE_MAP)
    box = shapely.box(*screen_box(story.view))
    parks = files["parks"]
    shown = set(parks.loc[parks.intersects(box), "name"])
    found = land_story.parks_within(cur, extent=screen_box(story.view), limit=100)
    assert set(found["label_zh"]) == shown
    named = {row["text"] for spec in story.labels for layer in [json.loads(spec)] if layer["id"] == "park-labels"
             for row in layer["data"]}
    assert named and named <= shown
    assert land_story.parks_within(cur, extent=screen_box(story.view), limit=len(shown) - 1).empty


def test_legend_lists_the_parcel_and_its_ring():
    items = pd.DataFrame(land_views.story_legend(800, lang="zh"), columns=["label", "color"])
    assert items["label"].tolist() == ["所选地块", "周边 800 米范围"]
    assert [tuple(c) for c in items["color"]] == [tuple(land_views.HIGHLIGHT), tuple(land_views.BUFFER_LINE)]
    assert [label for label, _ in land_views.story_legend(1500, lang="en")] == ["Selected parcel", "Within 1,500 m"]
