"""WGS 84 / GCJ-02 / BD-09 conversions checked against published conversion pairs.

Pairs: AMap's coordinate-convert web service (coordsys=gps) as quoted in its documentation and in
client libraries; the results listed in the README of the widely used `coordtransform` package.
"""

from __future__ import annotations

import numpy as np
import pytest

from dayuan_geo import chinacrs as C

# (wgs84 lon, lat) -> (gcj02 lon, lat) as returned by restapi.amap.com/v3/assistant/coordinate/convert
AMAP_PAIRS = [
    ((116.481499, 39.990475), (116.487585177952, 39.991754014757)),
    ((116.481499, 39.990375), (116.487585177952, 39.991653917101)),
    ((114.07, 22.62), (114.07513075, 22.61731092)),  # Shenzhen
]
CM = 1e-6  # degrees; about 10 cm, the agreement of the open formula with AMap's service


@pytest.mark.parametrize(("wgs", "gcj"), AMAP_PAIRS)
def test_wgs84_to_gcj02_matches_amap(wgs, gcj):
    lon, lat = C.wgs84_to_gcj02(*wgs)
    assert abs(lon - gcj[0]) < CM and abs(lat - gcj[1]) < CM


def test_published_coordtransform_results():
    assert np.allclose(C.wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164), atol=1e-12)
    assert np.allclose(C.gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021), atol=1e-12)
    # the published inverses are one-step approximations; ours are exact, so they agree to centimetres
    assert np.allclose(C.bd09_to_gcj02(116.404, 39.915), (116.39762729119315, 39.90865673957631), atol=CM)
    assert np.allclose(C.gcj02_to_wgs84(116.404, 39.915), (116.39775550083061, 39.91359571849836), atol=1e-5)


def test_vectorised_and_round_trips_around_dayuan():
    rng = np.random.default_rng(7)
    lon = rng.uniform(113.25, 113.36, 10_000)  # Dayuan Street and its neighbours
    lat = rng.uniform(23.21, 23.32, 10_000)
    glon, glat = C.wgs84_to_gcj02(lon, lat)
    assert glon.shape == lon.shape
    shift_m = np.hypot((glon - lon) * 111_320 * np.cos(np.radians(lat)), (glat - lat) * 110_574)
    assert shift_m.min() > 450 and shift_m.max() < 650  # "a few hundred metres" in Guangzhou
    back_lon, back_lat = C.gcj02_to_wgs84(glon, glat)
    assert np.abs(back_lon - lon).max() < 1e-9 and np.abs(back_lat - lat).max() < 1e-9
    blon, blat = C.wgs84_to_bd09(lon, lat)
    w_lon, w_lat = C.bd09_to_wgs84(blon, blat)
    assert np.abs(w_lon - lon).max() < 1e-8 and np.abs(w_lat - lat).max() < 1e-8


def test_no_offset_outside_china():
    lon, lat = C.wgs84_to_gcj02([2.35, -74.0], [48.85, 40.7])
    assert lon.tolist() == [2.35, -74.0] and lat.tolist() == [48.85, 40.7]
