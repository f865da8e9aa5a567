"""Base maps in real Chromium: `none` asks nothing of any server; a tile template draws its tiles.

The tile test serves generated PNG tiles over http.server on 127.0.0.1 (the street's intranet
tile server in miniature) and checks that the browser asked for them, drew them under the layers,
and shows the attribution on the map.
"""

from __future__ import annotations

import http.server
import io
import math
import threading
import urllib.parse

import pandas as pd
import pytest
import shapely
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from dayuan_geo import chinacrs
from dayuan_geo.maps.view import fit_view
from dayuan_geo.remediation import views as remediation_views

from .conftest import SCREENSHOTS, AppServer

TILE_RGB = (250, 214, 90)  # a colour no layer of the product uses
ATTRIBUTION = "回环测试瓦片 Loopback tiles"


def _png(z: int, x: int, y: int) -> bytes:
    img = Image.new("RGB", (256, 256), TILE_RGB)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, 255, 255], outline=(120, 120, 120), width=2)
    draw.text((8, 8), f"{z}/{x}/{y}", fill=(60, 60, 60))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


class TileServer:
    """XYZ PNG tiles on a free loopback port, recording every path asked for."""

    def __init__(self):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
                try:
                    z, x, y = int(parts[-3]), int(parts[-2]), int(parts[-1].removesuffix(".png"))
                except (IndexError, ValueError):
                    self.send_error(404)
                    return
                body = _png(z, x, y)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")  # tiles are fetched cross-origin
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.template = f"http://127.0.0.1:{self.port}/tiles/{{z}}/{{x}}/{{y}}.png"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tile_server():
    server = TileServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tiled_app(demo_dir, browser, tile_server):
    """The app on the loopback tiles, declared GCJ-02 (as AMap's would be)."""
    server = AppServer(demo_dir, env={"DAYUAN_BASEMAP": tile_server.template, "DAYUAN_BASEMAP_CRS": "gcj02",
                                      "DAYUAN_BASEMAP_ATTRIBUTION": ATTRIBUTION})
    yield server
    server.stop()


def street_center(demo_dir) -> tuple[float, float]:
    """Where maps open (the middle of the villages' extent), as the GCJ-02 base map draws it."""
    villages = pd.read_parquet(demo_dir / "villages.parquet")
    xmin, ymin, xmax, ymax = shapely.total_bounds(shapely.from_wkb(villages["geometry"].to_numpy()))
    lon, lat = chinacrs.wgs84_to_gcj02((xmin + xmax) / 2, (ymin + ymax) / 2)
    return float(lon), float(lat)


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def tile_of(lon: float, lat: float, z: int) -> str:
    x, y = tile_xy(lon, lat, z)
    return f"/tiles/{z}/{x}/{y}.png"


def world(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator world coordinates of deck.gl at zoom 0 (512 px tiles)."""
    return (lon + 180) / 360 * 512, (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 512


def outside(requests: list[str], origin: str) -> list[str]:
    """Requests that leave the app: not to its origin, nor in-page data or the map worker's blob."""
    return [u for u in requests if not u.startswith((origin, "data:", f"blob:{origin}"))]


def open_map(page, url: str):
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
    page.wait_for_timeout(3000)  # deck.gl's first frames, and the tiles if any
    return page.locator('[data-testid="stDeckGlJsonChart"]').first


def tile_share(png: bytes) -> float:
    """Share of the map's pixels that are the test tiles' colour."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = list(img.getdata())
    near = sum(1 for p in pixels if all(abs(a - b) <= 6 for a, b in zip(p, TILE_RGB, strict=True)))
    return near / len(pixels)


def test_none_asks_no_server_but_the_app(demo_dir, browser, page):
    server = AppServer(demo_dir, env={"DAYUAN_BASEMAP": "none"})
    try:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        chart = open_map(page, server.url + "/")
        page.wait_for_timeout(2000)
        assert outside(requests, server.url) == []
        assert page.failed_requests == []
        assert page.console_errors == []
        assert chart.locator(".mapboxgl-map, .maplibregl-map").count() == 0  # no tile map at all
        shot = chart.screenshot(path=str(SCREENSHOTS / "basemap-none.png"))
        assert tile_share(shot) == 0
        assert len(set(shot[1000:4000])) > 20  # the product's own layers are drawn
        assert page.get_by_role("combobox", name="底图").input_value() == "无底图（离线）"
    finally:
        server.stop()


def test_loopback_tiles_are_requested_drawn_and_attributed(tiled_app, page, tile_server, demo_dir):
    tile_server.requests.clear()
    chart = open_map(page, tiled_app.url + "/")
    page.wait_for_function(
        "() => document.querySelector('.mapboxgl-ctrl-attrib-inner, .maplibregl-ctrl-attrib-inner')",
        timeout=30_000,
    )
    page.wait_for_timeout(2000)
    # the opening view of the street (zoom 12.3) asks for zoom-12/13 tiles around Dayuan
    tiles = [p for p in tile_server.requests if p.startswith("/tiles/")]
    assert len(tiles) >= 4
    zs = {int(p.split("/")[2]) for p in tiles}
    assert zs <= {12, 13}
    z = max(zs)
    assert tile_of(*street_center(demo_dir), z) in tiles  # the tile under the street's centre
    assert page.failed_requests == []
    assert page.console_errors == []
    attribution = chart.locator(".mapboxgl-ctrl-attrib-inner, .maplibregl-ctrl-attrib-inner").first
    assert attribution.inner_text().strip() == ATTRIBUTION
    shot = chart.screenshot(path=str(SCREENSHOTS / "basemap-tiles.png"))
    assert tile_share(shot) > 0.3  # tiles fill the background the layers leave free
    # the sidebar switches every map of the session back to no base map, and the link keeps it
    box = page.get_by_role("combobox", name="底图")
    assert box.input_value() == "自定义底图"
    box.click()
    page.get_by_role("option", name="无底图（离线）").click()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stDeckGlJsonChart\"] .mapboxgl-map')", timeout=30_000)
    page.wait_for_timeout(1500)
    assert "basemap=none" in page.url
    assert tile_share(chart.screenshot()) == 0
    assert page.console_errors == []


def test_on_gcj02_a_click_where_the_tiles_draw_a_park_returns_that_park(tiled_app, page, demo_dir):
    page.goto(tiled_app.url + "/", wait_until="domcontentloaded")
    page.locator('[data-testid="stSidebarNav"]').get_by_text("整治进展").click(timeout=60_000)
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
    page.wait_for_selector(".mapboxgl-ctrl-attrib-inner", timeout=30_000)
    page.wait_for_timeout(2500)
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas:not(.mapboxgl-canvas)').first  # deck.gl's
    box = canvas.bounding_box()
    parks = pd.read_parquet(demo_dir / "parks.parquet")
    big = parks.sort_values("area_m2", ascending=False).iloc[0]
    point = shapely.point_on_surface(shapely.from_wkb(big["geometry"]))  # WGS 84, as stored
    glon, glat = chinacrs.wgs84_to_gcj02(point.x, point.y)
    center, target, raw = world(*street_center(demo_dir)), world(float(glon), float(glat)), world(point.x, point.y)
    # the park map opens on the whole street, fitted to its width on a desktop (the page's fit_view)
    villages = pd.read_parquet(demo_dir / "villages.parquet")
    extent = tuple(float(v) for v in shapely.total_bounds(shapely.from_wkb(villages["geometry"].to_numpy())))
    scale = 2 ** fit_view(extent, width_px=remediation_views.MAP_WIDTH_PX, height_px=540)["zoom"]
    dx = box["width"] / 2 + (target[0] - center[0]) * scale
    dy = box["height"] / 2 + (target[1] - center[1]) * scale
    assert math.hypot((raw[0] - target[0]) * scale, (raw[1] - target[1]) * scale) > 25  # the shift is visible
    # point at the park as a person would (the tile map's div lies on top of the canvas), once the
    # page has stopped moving: the tooltip names the park drawn there, then click
    for _ in range(5):
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + dx, box["y"] + dy)
        page.wait_for_timeout(700)
        tip = page.locator(".deck-tooltip")
        if tip.count() and big["park_id"] in tip.first.inner_text():
            break
        page.mouse.move(box["x"] + 5, box["y"] + 5)
        page.wait_for_timeout(1500)
    assert big["park_id"] in page.locator(".deck-tooltip").first.inner_text()
    page.mouse.click(box["x"] + dx, box["y"] + dy)
    # the story opens for the park as stored: the selection carries the row's id, not its position
    picked = page.get_by_role("combobox", name="选择园区（或在地图上点击）")
    expect(picked).to_have_value(f"{big['park_id']} {big['name']}", timeout=30_000)
    page.wait_for_selector("text=各阶段日期", timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "basemap-gcj02-click.png"), full_page=True)
    assert page.console_errors == []
    assert page.failed_requests == []


@pytest.fixture(scope="module")
def packaged_app(demo_dir, browser, tmp_path_factory):
    """The app serving a local MBTiles package itself (unpacked into the project's static/)."""
    import os
    import shutil

    from dayuan_geo.maps import tilepack
    from tests.maps.test_basemap import make_mbtiles

    villages = pd.read_parquet(demo_dir / "villages.parquet")
    xmin, ymin, xmax, ymax = shapely.total_bounds(shapely.from_wkb(villages["geometry"].to_numpy()))
    tiles = {}
    for z in (11, 12, 13):
        x0, y0 = tile_xy(xmin - 0.15, ymax + 0.15, z)  # the whole view of a wide map, at every zoom it asks
        x1, y1 = tile_xy(xmax + 0.15, ymin - 0.15, z)
        tiles.update({(z, x, y): TILE_RGB for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)})
    pkg = make_mbtiles(tmp_path_factory.mktemp("pkg") / "street.mbtiles", tiles, attribution=ATTRIBUTION)
    had_static = tilepack.STATIC_DIR.exists()
    name = f"pytest-{os.getpid()}"
    info = tilepack.unpack_mbtiles(pkg, name=name)
    server = AppServer(demo_dir, env={"DAYUAN_BASEMAP": info["url"], "DAYUAN_BASEMAP_ATTRIBUTION": ATTRIBUTION})
    yield server
    server.stop()
    shutil.rmtree(info["directory"], ignore_errors=True)
    tiles_dir = tilepack.STATIC_DIR / tilepack.TILES_SUBDIR
    if tiles_dir.is_dir() and not any(tiles_dir.iterdir()):
        tiles_dir.rmdir()
    if not had_static:
        shutil.rmtree(tilepack.STATIC_DIR, ignore_errors=True)


def test_local_package_is_served_by_the_app_itself(packaged_app, page):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    chart = open_map(page, packaged_app.url + "/")
    page.wait_for_selector(".mapboxgl-ctrl-attrib-inner", state="attached", timeout=30_000)
    page.wait_for_timeout(2000)
    tiles = [u for u in requests if "/app/static/tiles/" in u]
    assert len(tiles) >= 4 and all(u.startswith(packaged_app.url) for u in tiles)
    assert outside(requests, packaged_app.url) == []
    assert page.failed_requests == []
    assert page.console_errors == []
    shot = chart.screenshot(path=str(SCREENSHOTS / "basemap-local-package.png"))
    assert tile_share(shot) > 0.3
