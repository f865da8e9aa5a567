"""The scale bar under the maps (no base map draws one) measures what the map shows."""

from __future__ import annotations

import pyproj
import pytest

from dayuan_geo.maps import layers as maps


@pytest.mark.parametrize(("lat", "zoom"), [(23.26, 12.3), (23.26, 16.0), (23.26, 9.5), (0.0, 14.0)])
def test_scale_bar_length_matches_the_ground(lat, zoom):
    metres, px = maps.scale_bar(lat, zoom)
    assert str(metres)[0] in "125" and set(str(metres)[1:]) <= {"0"}  # a round length
    assert px <= 120
    # the bar's pixels as longitude on the Web Mercator map (512 px world at zoom 0), measured on the WGS 84
    # ellipsoid along the parallel
    lon_span = px / (512 * 2**zoom) * 360
    _, _, ground = pyproj.Geod(ellps="WGS84").inv(113.0, lat, 113.0 + lon_span, lat)
    assert ground == pytest.approx(metres, rel=0.01)


def test_legend_carries_the_scale_in_the_ui_language():
    html = maps.legend_html([("已释放", [0, 128, 0, 200])], scale=(23.26, 12.3), lang="zh")
    assert "比例尺 1 km" in html and "width:70px" in html
    assert "Scale 1 km" in maps.legend_html([], scale=(23.26, 12.3), lang="en")


def test_tile_check_asks_for_the_tile_under_the_centre():
    from dayuan_geo.maps import basemap, tilecheck

    bm = basemap.source_from_mapping("public", basemap.PUBLIC_SOURCE)
    # the OpenStreetMap tile scheme: x from longitude, y from the Mercator latitude, 2^z tiles a side
    assert tilecheck.tile_urls(bm, lon=113.35, lat=23.26, zoom=12.3) == [
        "https://a.basemaps.cartocdn.com/light_all/12/3337/1775.png"]
    page = tilecheck.tile_check_html(bm, lon=113.35, lat=23.26, zoom=12.3, message="<b>瓦片</b>")
    assert "&lt;b&gt;" in page and "<b>" not in page  # escaped, so the browser shows it as text
    assert tilecheck.tile_urls(basemap.NONE_MAP, lon=113.35, lat=23.26, zoom=12) == []
