"""Every map of the street opens with the street whole on a phone (a "Mobi" user agent; the server
cannot measure the screen) and larger on a desktop. The street's extent is read from the villages
file with geopandas; screen pixels from a Web Mercator projection written out here."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pytest
from streamlit.testing.v1 import AppTest

from edge import phone
from tests.pages.test_remediation_screen import APP

TILE = 512
PHONE_PX, MAP_HEIGHTS = 358, {"overview": 560, "remediation": 540, "firms": 600, "land": 600}


def pixels(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    scale = TILE * 2**zoom
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360 * scale, (1 - y / math.pi) / 2 * scale


def street_view(page: str, *, on_phone: bool, monkeypatch) -> dict:
    monkeypatch.setattr(phone, "is_phone", lambda: on_phone)
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception
    decks = at.get("deck_gl_json_chart")
    assert decks
    return json.loads(decks[0].proto.json)["initialViewState"]


@pytest.mark.parametrize("page", ["overview", "land", "remediation", "firms"])
def test_the_street_is_whole_on_a_phone_and_larger_on_a_desktop(app_env, demo_dir, monkeypatch, page):
    x_min, y_min, x_max, y_max = gpd.read_parquet(demo_dir / "villages.parquet").total_bounds
    view = street_view(page, on_phone=True, monkeypatch=monkeypatch)
    cx, cy = pixels(view["longitude"], view["latitude"], view["zoom"])
    west, north = pixels(x_min, y_max, view["zoom"])
    east, south = pixels(x_max, y_min, view["zoom"])
    if page != "land":  # the land map opens on the parcels selected: all of them, inside the street
        assert cx - PHONE_PX / 2 <= west and east <= cx + PHONE_PX / 2, (west - cx, east - cx)
        assert cy - MAP_HEIGHTS[page] / 2 <= north and south <= cy + MAP_HEIGHTS[page] / 2
    assert east - west > 0.5 * PHONE_PX or page == "land"  # and not left tiny
    desk = street_view(page, on_phone=False, monkeypatch=monkeypatch)
    assert desk["zoom"] > view["zoom"]


def test_a_phone_is_told_by_its_user_agent(monkeypatch):
    class Context:
        def __init__(self, agent: str):
            self.headers = {"User-Agent": agent}

    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.5 Mobile/15E148 Safari/604.1")
    android = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
               "Mobile Safari/537.36")
    desktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
    ipad = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5"
    for agent, expected in ((iphone, 358), (android, 358), (desktop, 1000), (ipad, 1000), ("", 1000)):
        monkeypatch.setattr(phone.st, "context", Context(agent))
        assert phone.map_width(1000) == expected, agent
