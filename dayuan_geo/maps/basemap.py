"""Base maps: which tiles sit under the product's layers, and how the layers line up with them.

One setting serves every map. It comes from the `[basemap]` table of the product's config file
(`config/dayuan.toml`, or the file named by $DAYUAN_CONFIG), and $DAYUAN_BASEMAP overrides its
default with `none`, `public`, a configured source name, or an XYZ URL template. The session picks
among the offered sources in the sidebar.

- `none` asks nothing from any server: the maps carry the outlines and labels the product owns.
- a raster source becomes a MapLibre style (version 8, one raster source per tile layer) handed to
  the browser as a `data:` URL, so no file is written and no style server is needed; the browser
  then asks the tile server named in the template and nothing else.
- Chinese tile services (AMap, Tencent) draw in GCJ-02, a few hundred metres off WGS 84. For such a
  source every layer's positions are shifted to GCJ-02 for display only (`display_layers`); data on
  disk stays WGS 84 and rows keep their ids, so a click still names the true record.

`activate()` makes a base map the one `maps.deck` uses when a page passes none (else it is the
configured default); the edge sets the session's choice at the start of every script run. It is a
context variable, so sessions (threads) never see each other's choice. (A map drawn inside an
`st.fragment`, which reruns alone, passes `basemap=edge.basemap()` to `maps.deck` explicitly.)
"""

from __future__ import annotations

import contextvars
import copy
import html
import json
import os
import re
import tomllib
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pydeck as pdk

from dayuan_geo import chinacrs, settings
from dayuan_geo.schema import PROJECT_DIR

CONFIG_ENV = "DAYUAN_CONFIG"
BASEMAP_ENV = "DAYUAN_BASEMAP"
CRS_ENV = "DAYUAN_BASEMAP_CRS"
ATTRIBUTION_ENV = "DAYUAN_BASEMAP_ATTRIBUTION"
DEFAULT_CONFIG = PROJECT_DIR / "config" / "dayuan.toml"

NONE = "none"
PUBLIC = "public"
CUSTOM = "custom"  # the URL template given in $DAYUAN_BASEMAP
CRS = ("wgs84", "gcj02")
COORD_DIGITS = 6
SOURCE_KEYS = frozenset({"label_zh", "label_en", "url", "subdomains", "crs", "attribution", "min_zoom",
                         "max_zoom", "tile_size"})
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ENV_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# deck.gl accessors that hold positions: a column of [lon, lat], of [[lon, lat], ...] or deeper
POSITION_ACCESSORS = ("get_position", "get_source_position", "get_target_position", "get_polygon", "get_path")


@dataclass(frozen=True)
class BaseMap:
    """One base map: `layers` are stacked raster tile layers (bottom first), each a tuple of
    equivalent URL templates (one per subdomain). `none` has no layers."""

    name: str
    label_zh: str
    label_en: str
    layers: tuple[tuple[str, ...], ...] = ()
    crs: str = "wgs84"
    attribution: str = ""
    min_zoom: int = 0
    max_zoom: int = 18
    tile_size: int = 256

    @property
    def is_none(self) -> bool:
        return not self.layers

    def label(self, lang: str = "zh") -> str:
        return self.label_zh if lang == "zh" else self.label_en


NONE_MAP = BaseMap(NONE, "无底图（离线）", "None (offline)")
PUBLIC_SOURCE: dict[str, Any] = {
    # Carto's keyless raster tiles of OpenStreetMap data (WGS 84, names in the local language)
    "label_zh": "公共底图（OpenStreetMap）",
    "label_en": "Public (OpenStreetMap)",
    "url": "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}.png",
    "subdomains": "abcd",
    "crs": "wgs84",
    "attribution": "© OpenStreetMap contributors © CARTO",
    "max_zoom": 19,
}


@dataclass(frozen=True)
class Settings:
    """The base maps on offer (in sidebar order), the default, and why any configured one is missing."""

    sources: dict[str, BaseMap]
    default: str
    unavailable: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def get(self, name: str | None) -> BaseMap:
        """The named base map, or the default when the name is not on offer."""
        return self.sources.get(name or "", self.sources[self.default])


# ---- config ----------------------------------------------------------------------------------

def config_path(environ: Mapping[str, str] | None = None) -> Path:
    return settings.get(CONFIG_ENV, environ=environ) or DEFAULT_CONFIG


def _expand_env(text: str, environ: Mapping[str, str]) -> str:
    """`${NAME}` from the environment, so keys (a Tianditu `tk`) stay out of the config file."""
    missing = [n for n in _ENV_REF.findall(text) if not environ.get(n)]
    if missing:
        raise LookupError(", ".join(sorted(set(missing))))
    return _ENV_REF.sub(lambda m: environ[m.group(1)], text)


def check_template(url: str, *, where: str) -> str:
    """An XYZ tile URL template: http(s) or a path on this app, with {z}, {x} and {y}."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{where}: the tile URL template is empty")
    url = url.strip()
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if not (scheme in ("http", "https") or (not scheme and url.startswith("/"))):
        raise ValueError(f"{where}: tile URL must start with http://, https:// or / (got {url[:60]!r})")
    absent = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if absent:
        raise ValueError(f"{where}: tile URL template lacks {', '.join(absent)}")
    return url


def source_from_mapping(name: str, spec: Mapping[str, Any], *,
                        environ: Mapping[str, str] | None = None) -> BaseMap:
    """A BaseMap from one `[basemap.sources.NAME]` table; ValueError names the offending key,
    LookupError names environment variables the URL needs but that are not set."""
    env = os.environ if environ is None else environ
    where = f"basemap.sources.{name}"
    if not SOURCE_NAME.match(name) or name == NONE:
        raise ValueError(f"{where}: a source name is lower-case letters, digits, '-' or '_' (not 'none')")
    unknown = sorted(set(spec) - SOURCE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(SOURCE_KEYS))})")
    urls = spec.get("url")
    urls = [urls] if isinstance(urls, str) else urls
    if not urls or not isinstance(urls, list):
        raise ValueError(f"{where}.url: one tile URL template or a list of them is required")
    crs = str(spec.get("crs", "wgs84")).lower()
    if crs not in CRS:
        raise ValueError(f"{where}.crs: {crs!r} is not one of {', '.join(CRS)}")
    subdomains = spec.get("subdomains", "")
    if isinstance(subdomains, str):
        subdomains = list(subdomains)
    if not isinstance(subdomains, list) or not all(isinstance(s, str) for s in subdomains):
        raise ValueError(f"{where}.subdomains: a string of characters or a list of strings")
    layers = []
    for i, url in enumerate(urls):
        url = check_template(url, where=f"{where}.url[{i}]")
        url = _expand_env(url, env)
        if "{s}" in url:
            if not subdomains:
                raise ValueError(f"{where}.subdomains: the URL has {{s}} but no subdomains are given")
            layers.append(tuple(url.replace("{s}", s) for s in subdomains))
        else:
            layers.append((url,))
    try:
        min_zoom, max_zoom = int(spec.get("min_zoom", 0)), int(spec.get("max_zoom", 18))
        tile_size = int(spec.get("tile_size", 256))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: min_zoom, max_zoom and tile_size are whole numbers") from None
    if not 0 <= min_zoom <= max_zoom <= 24:
        raise ValueError(f"{where}: zoom range {min_zoom}..{max_zoom} is outside 0..24")
    if tile_size not in (256, 512):
        raise ValueError(f"{where}.tile_size: 256 or 512")
    return BaseMap(
        name=name,
        label_zh=str(spec.get("label_zh") or spec.get("label_en") or name),
        label_en=str(spec.get("label_en") or spec.get("label_zh") or name),
        layers=tuple(layers),
        crs=crs,
        attribution=str(spec.get("attribution", "")),
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        tile_size=tile_size,
    )


def from_env_template(url: str, *, environ: Mapping[str, str] | None = None) -> BaseMap:
    """The base map for a URL template in $DAYUAN_BASEMAP, its crs and attribution from
    $DAYUAN_BASEMAP_CRS and $DAYUAN_BASEMAP_ATTRIBUTION."""
    env = os.environ if environ is None else environ
    spec = {"label_zh": "自定义底图", "label_en": "Custom tiles", "url": url,
            "crs": settings.get(CRS_ENV, environ=env), "attribution": settings.get(ATTRIBUTION_ENV, environ=env),
            "subdomains": "abc"}
    return source_from_mapping(CUSTOM, spec, environ=env)


def settings_from_mapping(config: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from a parsed config (its `[basemap]` table) and the environment."""
    env = os.environ if environ is None else environ
    table = config.get("basemap", {})
    if not isinstance(table, Mapping):
        raise ValueError("basemap: must be a table")
    unknown = sorted(set(table) - {"default", "sources", "offer"})
    if unknown:
        raise ValueError(f"basemap: unknown key {unknown[0]!r} (known: default, offer, sources)")
    specs = dict(table.get("sources", {}))
    specs.setdefault(PUBLIC, PUBLIC_SOURCE)
    sources: dict[str, BaseMap] = {NONE: NONE_MAP}
    unavailable: dict[str, str] = {}
    for name, spec in specs.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"basemap.sources.{name}: must be a table")
        try:
            sources[name] = source_from_mapping(name, spec, environ=env)
        except LookupError as exc:
            unavailable[name] = f"environment variable not set: {exc.args[0]}"
    offer = table.get("offer")
    if offer is not None:
        if not isinstance(offer, list) or not all(isinstance(o, str) for o in offer):
            raise ValueError("basemap.offer: a list of source names")
        bad = [o for o in offer if o not in sources and o not in unavailable]
        if bad:
            raise ValueError(f"basemap.offer: {bad[0]!r} is not a configured source")
        sources = {n: sources[n] for n in [NONE, *offer] if n in sources}
    default = str(table.get("default", NONE))
    if default not in sources and default not in unavailable:
        raise ValueError(f"basemap.default: {default!r} is not none, public or a configured source")
    override = settings.get(BASEMAP_ENV, environ=env).strip()
    if override:
        if override in sources or override in unavailable:
            default = override
        elif "{z}" in override or "://" in override:
            sources[CUSTOM] = from_env_template(override, environ=env)
            default = CUSTOM
        else:
            raise ValueError(f"{BASEMAP_ENV}: {override!r} is neither none, public, a configured source "
                             "nor a tile URL template with {z}, {x} and {y}")
    problems = ()
    if default in unavailable:  # a keyed source without its key: the offline map, and say why
        problems = (f"basemap {default!r}: {unavailable[default]}",)
        default = NONE
    return Settings(sources=sources, default=default, unavailable=unavailable, problems=problems)


def load(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """The base-map settings from the config file (missing file: built-in none and public)."""
    env = os.environ if environ is None else environ
    path = path or config_path(env)
    config: dict[str, Any] = {}
    if path.exists():
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
    elif path != DEFAULT_CONFIG:
        raise ValueError(f"{CONFIG_ENV}: {path} does not exist")
    return settings_from_mapping(config, environ=env)


# ---- style -----------------------------------------------------------------------------------

def style(bm: BaseMap) -> dict[str, Any] | None:
    """The MapLibre style (version 8) drawing bm's raster tiles, or None for no base map."""
    if bm.is_none:
        return None
    sources, layers = {}, []
    for i, urls in enumerate(bm.layers):
        sid = f"{bm.name}-{i}"
        source: dict[str, Any] = {"type": "raster", "tiles": list(urls), "tileSize": bm.tile_size,
                                  "minzoom": bm.min_zoom, "maxzoom": bm.max_zoom}
        if i == 0 and bm.attribution:
            # MapLibre puts attribution into the page as HTML; the config gives plain text
            source["attribution"] = html.escape(bm.attribution)
        sources[sid] = source
        layers.append({"id": sid, "type": "raster", "source": sid})
    return {"version": 8, "name": bm.name, "sources": sources, "layers": layers}


def style_url(bm: BaseMap) -> str | None:
    """bm's style as a `data:` URL for pydeck's map_style (None: no base map at all)."""
    spec = style(bm)
    if spec is None:
        return None
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return "data:application/json;charset=utf-8," + urllib.parse.quote(text, safe="")


# ---- the active base map -----------------------------------------------------------------------

_ACTIVE: contextvars.ContextVar[BaseMap | None] = contextvars.ContextVar("dayuan_basemap", default=None)


def activate(bm: BaseMap | None) -> None:
    """Make bm the base map of maps.deck calls that pass none, for this thread (script run);
    None goes back to the deployment's default."""
    _ACTIVE.set(bm)


def active() -> BaseMap:
    """The base map activated in this thread, else the deployment's default (`none` when the
    setting is wrong: a map without tiles beats no map)."""
    bm = _ACTIVE.get()
    if bm is not None:
        return bm
    try:
        return load().get(None)
    except ValueError:
        return NONE_MAP


# ---- display shift -----------------------------------------------------------------------------

def to_display(lon, lat, bm: BaseMap) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 positions where bm draws them."""
    if bm.crs == "gcj02":
        return chinacrs.wgs84_to_gcj02(lon, lat)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _coords(value: Any) -> np.ndarray | None:
    """value as an (..., 2+) float array when it is a regular nest of positions."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr if arr.ndim >= 1 and arr.shape[-1] >= 2 and arr.size else None


def _shift_xy(xy: np.ndarray, bm: BaseMap) -> np.ndarray:
    lon, lat = to_display(xy[:, 0], xy[:, 1], bm)
    out = xy.copy()
    out[:, 0], out[:, 1] = np.round(lon, COORD_DIGITS), np.round(lat, COORD_DIGITS)
    return out


def _shift_column(values: list[Any], bm: BaseMap) -> list[Any] | None:
    """The two common columns in one pass: points [lon, lat] or rings [[lon, lat], ...] (None: other)."""
    if not values or not all(isinstance(v, (list, tuple)) and v for v in values):
        return None
    first = values[0][0]
    if isinstance(first, (int, float)):
        try:
            arr = np.array(values, dtype=float)
        except ValueError:
            return None
        return _shift_xy(arr, bm).tolist() if arr.ndim == 2 and arr.shape[1] >= 2 else None
    if isinstance(first, (list, tuple)) and first and isinstance(first[0], (int, float)):
        lengths = [len(v) for v in values]
        try:
            flat = np.fromiter(chain.from_iterable(chain.from_iterable(values)), dtype=float)
        except (TypeError, ValueError):
            return None
        if flat.size != 2 * sum(lengths):  # 3-D positions or deeper nests: the general path
            return None
        xy = _shift_xy(flat.reshape(-1, 2), bm).tolist()
        ends = np.cumsum(lengths).tolist()
        return [xy[end - n:end] for n, end in zip(lengths, ends, strict=True)]
    return None


def _shift_values(values: list[Any], bm: BaseMap) -> list[Any]:
    """Each value (a position or any nest of positions) shifted, all in one vectorised call."""
    fast = _shift_column(values, bm)
    if fast is not None:
        return fast
    arrays: list[np.ndarray | None] = []
    for v in values:
        arr = _coords(v)
        if arr is None and isinstance(v, (list, tuple)) and v:
            arrays.append(None)  # ragged nest (polygon with holes): shifted part by part below
        else:
            arrays.append(arr)
    flat = [a.reshape(-1, a.shape[-1]) for a in arrays if a is not None]
    if flat:
        stacked = _shift_xy(np.concatenate(flat), bm)
    out, start = [], 0
    for v, arr in zip(values, arrays, strict=True):
        if arr is not None:
            n = arr.size // arr.shape[-1]
            out.append(stacked[start:start + n].reshape(arr.shape).tolist())
            start += n
        elif isinstance(v, (list, tuple)) and v:
            out.append(_shift_values(list(v), bm))
        else:
            out.append(v)
    return out


def _shift_geojson(obj: Any, bm: BaseMap) -> Any:
    if isinstance(obj, dict):
        return {k: (_shift_values([v], bm)[0] if k == "coordinates" else _shift_geojson(v, bm))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shift_geojson(v, bm) for v in obj]
    return obj


def _column(accessor: Any) -> str | None:
    """The data column a pydeck accessor names (`"position"`), None for constants or expressions."""
    if isinstance(accessor, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", accessor):
        return accessor
    return None


def display_layer(layer: pdk.Layer, bm: BaseMap) -> pdk.Layer:
    """A copy of layer with its positions where bm draws them; every other field (ids) unchanged."""
    if bm.crs == "wgs84" or layer.data is None:
        return layer
    shifted = copy.copy(layer)
    data = layer.data
    if isinstance(data, dict):  # a GeoJSON object
        shifted._data = _shift_geojson(data, bm)
        return shifted
    if not isinstance(data, list) or not data:
        return layer
    rows = [dict(r) if isinstance(r, Mapping) else r for r in data]
    kwargs = getattr(layer, "_kwargs", {})
    for prop in POSITION_ACCESSORS:
        accessor = kwargs.get(prop)
        col = _column(accessor)
        if col is not None and isinstance(rows[0], dict) and col in rows[0]:
            for r, v in zip(rows, _shift_values([r.get(col) for r in rows], bm), strict=True):
                r[col] = v
        elif (isinstance(accessor, list) and len(accessor) >= 2
              and all(_column(a) for a in accessor[:2]) and accessor[0] in rows[0]):
            lon_col, lat_col = accessor[0], accessor[1]
            lon, lat = to_display([r[lon_col] for r in rows], [r[lat_col] for r in rows], bm)
            for r, x, y in zip(rows, lon, lat, strict=True):
                r[lon_col], r[lat_col] = round(float(x), COORD_DIGITS), round(float(y), COORD_DIGITS)
    if layer.type == "GeoJsonLayer" and isinstance(rows[0], dict) and "geometry" in rows[0]:
        rows = [{**r, "geometry": _shift_geojson(r["geometry"], bm)} for r in rows]
    shifted._data = rows
    return shifted


def display_layers(layers: Iterable[pdk.Layer], bm: BaseMap) -> list[pdk.Layer]:
    """Every layer moved to bm's coordinate system for display (a no-op for WGS 84 base maps)."""
    return [display_layer(layer, bm) for layer in layers]
