"""Said under a map when the chosen base map's tiles do not load in the viewer's browser."""

from __future__ import annotations

import streamlit.components.v1 as components

import edge
from dayuan_geo.maps import basemap as basemaps
from dayuan_geo.maps import tilecheck


def tile_check(*, center: tuple[float, float], zoom: float) -> None:
    """Ask the browser for the tiles under the map's centre (WGS 84) and say so when they fail."""
    bm = basemaps.active()
    if bm.is_none:
        return
    components.html(tilecheck.tile_check_html(bm, lon=center[0], lat=center[1], zoom=zoom,
                                             message=edge.t("basemap_tiles_failed", name=bm.label(edge.lang()))),
                    height=30)
