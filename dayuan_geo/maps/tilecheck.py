"""Whether a base map's tiles load: the URL of the tile under the map's centre, and a tiny page that
asks the viewer's browser for it (the tiles come from the viewer's network, not the server's)."""

from __future__ import annotations

import html
import json
import math

from dayuan_geo.maps.basemap import BaseMap, to_display


def tile_urls(bm: BaseMap, *, lon: float, lat: float, zoom: float) -> list[str]:
    """The URL of the tile under (lon, lat) at zoom, one per tile layer of bm (none for no base map)."""
    z = max(bm.min_zoom, min(bm.max_zoom, int(zoom)))
    if bm.crs != "wgs84":
        lon, lat = (float(v) for v in to_display(lon, lat, bm))
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return [urls[0].replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y)) for urls in bm.layers]


def tile_check_html(bm: BaseMap, *, lon: float, lat: float, zoom: float, message: str) -> str:
    """A tiny page that asks the browser for the tiles under the map's centre and shows `message`
    (escaped) when one does not load: the tiles come from the viewer's network, so only the
    viewer's browser can tell."""
    urls = json.dumps(tile_urls(bm, lon=lon, lat=lat, zoom=zoom))
    text = json.dumps(html.escape(message))
    return f"""<div id="m" style="font:13px sans-serif;color:#8a4b00;background:#fff4e5;padding:4px 8px;
border-radius:4px;display:none"></div><script>
const urls = {urls}; let failed = 0;
for (const u of urls) {{ const img = new Image(); img.referrerPolicy = "no-referrer";
  img.onerror = () => {{ if (!failed++) {{ const m = document.getElementById("m"); m.innerHTML = {text};
    m.style.display = "block"; }} }}; img.src = u; }}
</script>"""
