"""Names on maps with no base map: placed inside what the map shows, moved off the points they
would cover, left out when there is no room, and bounded in number. Screen positions are computed
here with a Web Mercator projection of the test's own."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import shapely

from dayuan_geo.maps import layers as maps
from dayuan_geo.maps.view import fit_view

TILE = 512
W, H = 760, 600


def pixels(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    scale = TILE * 2**zoom
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360 * scale, (1 - y / math.pi) / 2 * scale


def places(*boxes: tuple[float, float, float, float], names: list[str] | None = None) -> pd.DataFrame:
    names = names or [f"村{i}" for i in range(len(boxes))]
    geoms = [shapely.box(*b) for b in boxes]
    return pd.DataFrame({"label_zh": names, "label_en": [f"Place {i}" for i in range(len(boxes))],
                         "lon": [g.centroid.x for g in geoms], "lat": [g.centroid.y for g in geoms],
                         "wkb": [shapely.to_wkb(g) for g in geoms]})


def covers(row, size: int, zoom: float, x: float, y: float, r: float) -> bool:
    """Whether the name's box (CJK glyphs one em wide, 1.2 em tall) comes within r pixels of (x, y)."""
    cx, cy = pixels(row["lon"], row["lat"], zoom)
    w, h = size * len(row["label_zh"]), 1.2 * size
    nearest = (min(max(x, cx - w / 2), cx + w / 2), min(max(y, cy - h / 2), cy + h / 2))
    return math.dist(nearest, (x, y)) <= r


def test_a_name_moves_off_the_point_at_its_place_and_stays_inside():
    village = places((113.30, 23.20, 113.34, 23.24), names=["石湖村委会"])
    view = fit_view((113.30, 23.20, 113.34, 23.24))
    free = maps.place_labels([(village, 14)], view=view)[0]
    x, y = pixels(free["lon"][0], free["lat"][0], view["zoom"])  # where it goes with nothing in the way
    point = pd.DataFrame({"lon": [free["lon"][0]], "lat": [free["lat"][0]]})
    moved = maps.place_labels([(village, 14)], view=view, points=point)[0]
    assert len(moved) == 1
    assert not covers(moved.iloc[0], 14, view["zoom"], x, y, 13)
    assert shapely.box(113.30, 23.20, 113.34, 23.24).contains(shapely.Point(moved["lon"][0], moved["lat"][0]))
    assert covers(free.iloc[0], 14, view["zoom"], x, y, 13)  # a point there would have been covered


def test_a_name_with_no_room_is_left_out():
    village = places((113.300, 23.200, 113.302, 23.202))
    view = fit_view((113.29, 23.19, 113.31, 23.21))
    lons = [113.300 + i * 0.0002 for i in range(11)]
    crowd = pd.DataFrame([(x, 23.200 + j * 0.0002) for x in lons for j in range(11)], columns=["lon", "lat"])
    assert len(maps.place_labels([(village, 14)], view=view)[0]) == 1
    assert maps.place_labels([(village, 14)], view=view, points=crowd)[0].empty


def test_names_do_not_overlap_and_are_bounded():
    # a row of touching villages, each narrower than its name at this zoom
    boxes = [(113.30 + i * 0.001, 23.20, 113.301 + i * 0.001, 23.201) for i in range(60)]
    view = fit_view((113.30, 23.20, 113.36, 23.201))
    names = [f"第{i}号村委会" for i in range(60)]
    placed = maps.place_labels([(places(*boxes, names=names), 14)], view=view, limit=40)[0]
    assert 0 < len(placed) <= 40
    zoom = view["zoom"]
    boxes = []
    for text, lon, lat in zip(placed["label_zh"], placed["lon"], placed["lat"], strict=True):
        x, y = pixels(lon, lat, zoom)
        boxes.append((x - 7 * len(text), y - 8.4, x + 7 * len(text), y + 8.4))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_places_off_screen_keep_their_own_point_and_names_follow_the_language():
    here, away = (113.30, 23.20, 113.31, 23.21), (113.50, 23.40, 113.51, 23.41)
    df = places(here, away)
    view = fit_view(here)
    placed = maps.place_labels([(df, 14)], view=view, lang="en")[0]
    assert placed["label_en"].tolist() == ["Place 0", "Place 1"]
    assert (placed["lon"][1], placed["lat"][1]) == pytest.approx((113.505, 23.405))
    assert shapely.box(*here).contains(shapely.Point(placed["lon"][0], placed["lat"][0]))


@pytest.mark.parametrize("size_px", [11, 14])  # park and village names
def test_names_have_a_halo_of_a_pixel_or_more(size_px):
    layer = maps.label_layer(places((113.30, 23.20, 113.31, 23.21)), layer_id="v", size_px=size_px)
    assert layer.font_settings["sdf"] is True
    # deck.gl draws the outline in its font atlas, whose glyphs are fontSettings.fontSize high
    assert layer.outline_width / layer.font_settings["fontSize"] * size_px >= 1.3
    assert layer.font_settings["buffer"] >= layer.outline_width  # the glyph's cell holds the whole halo
    assert layer.outline_color[:3] == [255, 255, 255]
