"""The overview's street map: the whole street on screen at a phone's width and a desktop's, and
the village names clear of the blacklisted firms. Screen positions come from a Web Mercator
projection written out here; the street and the firms from the files, read with geopandas."""

from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata

import geopandas as gpd
import pytest
import shapely

from dayuan_geo.overview import street_map as SM

AS_OF = dt.date(2026, 11, 20)
TILE = 512  # deck.gl's world at zoom 0
MARKER_PX = 6 + 1  # a firm's radius on the street's map (radius_min_pixels) and its rim


@pytest.fixture(scope="module")
def files(demo_dir):
    return {name: gpd.read_parquet(demo_dir / f"{name}.parquet") for name in ("villages", "firms")}


def pixels(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    scale = TILE * 2**zoom
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360 * scale, (1 - y / math.pi) / 2 * scale


def name_box(text: str, lon: float, lat: float, size: int, zoom: float) -> tuple[float, float, float, float]:
    x, y = pixels(lon, lat, zoom)
    w = sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in text)
    return x - w / 2, y - 0.6 * size, x + w / 2, y + 0.6 * size


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("width", [358, 1_000])
def test_the_whole_street_is_on_screen_and_names_miss_the_blacklisted_firms(cur, files, width):
    m = SM.street_map(cur, as_of=AS_OF, role="planner", lang="zh", width_px=width)
    spec = json.loads(m.deck().to_json())
    view = spec["initialViewState"]
    zoom = view["zoom"]
    cx, cy = pixels(view["longitude"], view["latitude"], zoom)
    x0, y1 = pixels(*files["villages"].total_bounds[:2], zoom)
    x1, y0 = pixels(*files["villages"].total_bounds[2:], zoom)
    assert cx - width / 2 <= x0 and x1 <= cx + width / 2  # the street whole, left to right
    assert cy - SM.HEIGHT_PX / 2 <= y0 and y1 <= cy + SM.HEIGHT_PX / 2
    assert max((x1 - x0) / width, (y1 - y0) / SM.HEIGHT_PX) > 0.6  # and not left small
    drawn = {layer["id"]: layer for layer in spec["layers"]}
    names = drawn["village-labels"]["data"]
    assert {row["text"] for row in names} == set(files["villages"]["name_zh"])
    firms = files["firms"]
    blacklisted = firms[firms["risk_level"] == "blacklisted"]
    assert len(drawn["blacklisted-firms"]["data"]) == len(blacklisted)
    markers = [(x - MARKER_PX, y - MARKER_PX, x + MARKER_PX, y + MARKER_PX)
               for x, y in (pixels(p.x, p.y, zoom) for p in blacklisted.geometry)]
    boxes = [name_box(row["text"], *row["position"], SM.VILLAGE_LABEL_PX, zoom) for row in names]
    for row, box in zip(names, boxes, strict=True):
        assert not any(overlaps(box, marker) for marker in markers), row["text"]
        village = files["villages"].set_index("name_zh").geometry[row["text"]]
        assert village.buffer(1e-6).contains(shapely.Point(row["position"])), row["text"]
    assert not any(overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_a_phone_opens_further_out_than_a_desktop_and_a_viewer_sees_no_firm_names(cur, files):
    phone = SM.street_map(cur, as_of=AS_OF, role="viewer", lang="en", width_px=358)
    desk = SM.street_map(cur, as_of=AS_OF, role="viewer", lang="en", width_px=1_000)
    assert phone.view["zoom"] < desk.view["zoom"] - 0.5
    tips = " ".join(row["tooltip"] for row in json.loads(phone.deck().to_json())["layers"][-1]["data"])
    blacklisted = files["firms"][files["firms"]["risk_level"] == "blacklisted"]
    assert tips and not any(name in tips for name in blacklisted["name"])
