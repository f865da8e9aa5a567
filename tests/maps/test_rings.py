"""maps.rings: the one way polygons become deck.gl rings, vectorised for plain polygons."""

from __future__ import annotations

import shapely

from dayuan_geo.maps import layers as maps


def test_rings_of_polygons_multipolygons_and_nothing():
    square = shapely.box(113.30, 23.20, 113.31, 23.21)
    small, big = shapely.box(0, 0, 1, 1), shapely.box(5, 5, 8, 8)
    plain = maps.rings([shapely.to_wkb(square), shapely.to_wkb(shapely.box(1, 1, 2, 2))])
    assert plain[0] == [[round(x, 6), round(y, 6)] for x, y in square.exterior.coords]
    assert len(plain) == 2 and plain[1][0] == plain[1][-1]
    mixed = maps.rings([shapely.to_wkb(shapely.MultiPolygon([small, big])), None,
                        shapely.to_wkb(shapely.Polygon()), shapely.to_wkb(square)])
    assert mixed[0] == [list(c) for c in big.exterior.coords]  # the largest part of a multipolygon
    assert mixed[1] == [] and mixed[2] == []
    assert mixed[3] == plain[0]
    assert maps.rings([]) == []
