"""The one zoom formula: the Web Mercator view (centre and zoom) that shows an extent whole.

Every map opens on `fit_view(extent)`: the overview on the street, the land explorer on its
selection, the import preview on the rows it would change. deck.gl draws the world 512 pixels wide
at zoom 0, so an extent spanning a share s of the world's width fits w pixels at zoom log2(w / 512 / s).
"""

from __future__ import annotations

import math

import numpy as np

Extent = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat (WGS 84)
TILE_PX = 512
DEFAULT_WIDTH_PX = 760
DEFAULT_HEIGHT_PX = 600
MARGIN = 0.8  # the extent fills at most this share of the map, so its edges stay visible


def _merc_y(lat: float) -> float:
    lat = max(min(lat, 85.0), -85.0)
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def fit_view(extent: Extent, *, width_px: int = DEFAULT_WIDTH_PX, height_px: int = DEFAULT_HEIGHT_PX,
             max_zoom: float = 17.0, min_zoom: float = 3.0) -> dict[str, float]:
    """{longitude, latitude, zoom} at which a map of width_px x height_px shows extent whole."""
    x0, y0, x1, y1 = (float(v) for v in extent)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x0 > x1 or y0 > y1:
        raise ValueError(f"extent must be finite (min lon, min lat, max lon, max lat), not {extent!r}")
    if width_px < 1 or height_px < 1:
        raise ValueError(f"map size must be at least 1 x 1 pixels, not {width_px} x {height_px}")
    span_x = max(x1 - x0, 1e-7) / 360.0
    span_y = max(_merc_y(y1) - _merc_y(y0), 1e-7) / (2 * math.pi)
    zoom = min(math.log2(width_px * MARGIN / (TILE_PX * span_x)), math.log2(height_px * MARGIN / (TILE_PX * span_y)))
    zoom = max(min_zoom, min(max_zoom, zoom))
    return {"longitude": round((x0 + x1) / 2, 6), "latitude": round((y0 + y1) / 2, 6), "zoom": round(zoom, 2)}


def to_pixels(lon, lat, zoom: float):
    """World pixel coordinates (x east, y south) of WGS 84 points (floats or arrays) at zoom, in
    deck.gl's 512-pixel world."""
    scale = TILE_PX * 2**zoom
    merc_y = np.log(np.tan(np.pi / 4 + np.radians(np.clip(lat, -85.0, 85.0)) / 2))
    return (np.asarray(lon) + 180.0) / 360.0 * scale, (0.5 - merc_y / (2 * np.pi)) * scale


def from_pixels(x: float, y: float, zoom: float) -> tuple[float, float]:
    """The WGS 84 point at world pixel (x, y) at zoom (the inverse of to_pixels)."""
    scale = TILE_PX * 2**zoom
    lat = math.degrees(2 * math.atan(math.exp((0.5 - y / scale) * 2 * math.pi)) - math.pi / 2)
    return x / scale * 360.0 - 180.0, lat


def shown_extent(view: dict[str, float], *, width_px: int = DEFAULT_WIDTH_PX,
                 height_px: int = DEFAULT_HEIGHT_PX) -> Extent:
    """The extent a map of width_px x height_px shows when it opens on view (fit_view's answer)."""
    cx, cy = to_pixels(view["longitude"], view["latitude"], view["zoom"])
    west, south = from_pixels(cx - width_px / 2, cy + height_px / 2, view["zoom"])
    east, north = from_pixels(cx + width_px / 2, cy - height_px / 2, view["zoom"])
    return west, south, east, north
