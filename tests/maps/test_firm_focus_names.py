"""The firms map opened on one firm (?firm=ID, zoom 16) still names the village it stands in, on
screen and clear of the firm points, where its street-wide label point is off screen.
Positions are checked with a Web Mercator projection of the test's own, against the files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import shapely
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
FIRM = "F0000147"
W, H, TILE = 1000, 600, 512  # the firms map at 1440 px


def pixels(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    scale = TILE * 2**zoom
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360 * scale, (1 - y / math.pi) / 2 * scale


def test_a_firm_link_names_its_village_on_screen(app_env, demo_dir):
    firms = gpd.read_parquet(demo_dir / "firms.parquet").set_index("firm_id")
    villages = gpd.read_parquet(demo_dir / "villages.parquet")
    firm = firms.loc[FIRM].geometry
    home = villages[villages.contains(firm)].iloc[0]
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["firm"] = FIRM
    at.switch_page("pages/firms.py")
    at.run()
    assert not at.exception
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    view = spec["initialViewState"]
    assert view["zoom"] == 16
    labels = next(layer for layer in spec["layers"] if layer["id"] == "village-labels")
    names = {row["text"]: row["position"] for row in labels["data"]}
    assert home["name_zh"] in names
    cx, cy = pixels(view["longitude"], view["latitude"], view["zoom"])
    x, y = pixels(*names[home["name_zh"]], view["zoom"])
    half_w, half_h = 14 * len(home["name_zh"]) / 2, 14 * 1.2 / 2
    assert abs(x - cx) + half_w <= W / 2 and abs(y - cy) + half_h <= H / 2  # whole on screen
    assert home.geometry.buffer(1e-6).contains(shapely.Point(names[home["name_zh"]]))
    # clear of every firm the page draws by default (blacklisted and high-risk)
    drawn = firms[firms["risk_level"].isin(["blacklisted", "high_risk"])]
    for fx, fy in zip(drawn.geometry.x, drawn.geometry.y, strict=True):
        px, py = pixels(fx, fy, view["zoom"])
        nearest = (min(max(px, x - half_w), x + half_w), min(max(py, y - half_h), y + half_h))
        assert math.dist(nearest, (px, py)) > 13, (fx, fy)


def test_the_street_wide_firms_map_names_every_village_clear_of_the_firms(app_env, demo_dir):
    firms = gpd.read_parquet(demo_dir / "firms.parquet")
    villages = gpd.read_parquet(demo_dir / "villages.parquet").set_index("name_zh")
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/firms.py")
    at.run()
    assert not at.exception
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    zoom = spec["initialViewState"]["zoom"]
    labels = next(layer for layer in spec["layers"] if layer["id"] == "village-labels")["data"]
    assert {row["text"] for row in labels} == set(villages.index)
    drawn = firms[firms["risk_level"].isin(["blacklisted", "high_risk"])]
    marks = [pixels(fx, fy, zoom) for fx, fy in zip(drawn.geometry.x, drawn.geometry.y, strict=True)]
    for row in labels:
        x, y = pixels(*row["position"], zoom)
        half_w, half_h = 14 * len(row["text"]) / 2, 14 * 1.2 / 2
        assert villages.geometry[row["text"]].buffer(1e-6).contains(shapely.Point(row["position"]))
        for px, py in marks:
            nearest = (min(max(px, x - half_w), x + half_w), min(max(py, y - half_h), y + half_h))
            assert math.dist(nearest, (px, py)) > 13, (row["text"], px - x, py - y)
