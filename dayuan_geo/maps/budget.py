"""What a parcel map draws within its budget: every parcel while they fit, aggregates beyond.

A browser draws a few thousand polygons instantly, but 100,000 parcels make a 100 MB message that
takes seconds to build and send, and a million exceed Streamlit's 200 MB limit. So a map asks
`parcel_map` for its parcels: under the polygon budget it gets them one by one; over it, it gets
them summed by park (park outlines coloured by the share of area released), and when even the parks
exceed the budget, summed on a square grid whose cell is the smallest that fits. The returned
`MapData` says which, so the page can say so under the map (`caption`, `legend_items`). Pages take
`parcel_view`, the same with its layer built, through `edge.query` so reruns reuse it; `deck` sends
the result as compact JSON (pydeck indents its JSON and escapes every Chinese character, doubling
the bytes).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from dayuan_geo import schema as S
from dayuan_geo.maps import cells
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries
from dayuan_geo.text import fmt_area, t

Cursor = duckdb.DuckDBPyConnection

DEFAULT_POLYGON_BUDGET = 3_000
CELL_SIZES_M = (125, 250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000)
LEVELS = ("parcel", "park", "cell")
SHARE_STOPS = (0.0, 0.25, 0.5, 0.75, 1.0)
_NONE_COLOR = np.array(maps.STATUS_COLORS["not_started"], dtype=float)
_ALL_COLOR = np.array(maps.STATUS_COLORS["released"], dtype=float)
BUDGET_ENV = "DAYUAN_MAP_POLYGON_BUDGET"


def polygon_budget() -> int:
    """The polygons a map may send: $DAYUAN_MAP_POLYGON_BUDGET if set, else DEFAULT_POLYGON_BUDGET."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_POLYGON_BUDGET
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{BUDGET_ENV} must be a whole number of polygons of at least 1, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class MapData:
    """The rows a parcel map draws: parcels, parks or grid cells (`level`), and what they stand for."""

    level: str
    frame: pd.DataFrame
    parcels: int  # parcels that match the filter, whatever the level
    budget: int
    cell_m: int | None = None

    @property
    def aggregated(self) -> bool:
        return self.level != "parcel"

    @property
    def shown(self) -> int:
        return len(self.frame)


# The status a parcel shows on as_of: a parcel released after as_of was still being vacated then.
_FILTERED_SQL = """
WITH p AS (
    SELECT parcel_id, name, park_id, village_code, area_m2, planned_use, geometry,
           CASE WHEN released_on > $as_of THEN 'vacating' ELSE release_status END AS release_status,
           CASE WHEN released_on <= $as_of THEN released_on END AS released_on
    FROM parcels
    WHERE ($village = '' OR village_code = $village)
)
SELECT * FROM p WHERE ($any_status OR list_contains($statuses, release_status))
"""


def _params(as_of: dt.date, statuses: tuple[str, ...] | None, village_code: str | None) -> dict:
    for code in statuses or ():
        if code not in S.RELEASE_STATUS.codes:
            raise ValueError(f"unknown release status {code!r}")
    return {
        "as_of": as_of,
        "village": village_code or "",
        "any_status": statuses is None,
        "statuses": list(statuses or ()),
    }


def parcel_map(
    cur: Cursor,
    *,
    as_of: dt.date,
    statuses: tuple[str, ...] | None = None,
    village_code: str | None = None,
    budget: int = DEFAULT_POLYGON_BUDGET,
) -> MapData:
    """The parcels matching the filter as the map should draw them on as_of, within budget polygons."""
    if budget < 1:
        raise ValueError(f"polygon budget must be at least 1, not {budget}")
    params = _params(as_of, statuses, village_code)
    n_parcels, n_parks = cur.execute(
        f"SELECT count(*), count(DISTINCT park_id) FROM ({_FILTERED_SQL})", params  # noqa: S608
    ).fetchone()
    if n_parcels <= budget:
        return MapData("parcel", _parcels(cur, params), int(n_parcels), budget)
    if n_parks <= budget:
        return MapData("park", _parks(cur, params), int(n_parcels), budget)
    frame, cell = _cells(cur, params, budget)
    return MapData("cell", frame, int(n_parcels), budget, cell)


def _parcels(cur: Cursor, params: dict) -> pd.DataFrame:
    # the columns of queries.parcels_for_map, so maps.parcels_layer draws them
    return cur.execute(
        f"""
        SELECT p.parcel_id, p.name, p.park_id, pk.name AS park_name, p.village_code,
               v.name_zh AS village_zh, v.name_en AS village_en, p.area_m2, p.planned_use,
               p.release_status, p.released_on, ST_AsWKB(p.geometry) AS wkb
        FROM ({_FILTERED_SQL}) p
        LEFT JOIN parks pk USING (park_id)
        LEFT JOIN villages v ON v.code = p.village_code
        ORDER BY p.parcel_id
        """,  # noqa: S608 - the filter is a constant of this module
        params,
    ).df()


def _parks(cur: Cursor, params: dict) -> pd.DataFrame:
    df = cur.execute(
        f"""
        WITH agg AS (
            SELECT park_id, count(*) AS parcels, sum(area_m2) AS area_m2,
                   coalesce(sum(area_m2) FILTER (WHERE released_on IS NOT NULL), 0) AS released_m2
            FROM ({_FILTERED_SQL}) GROUP BY park_id
        )
        SELECT agg.park_id AS id, pk.name AS label, agg.parcels, agg.area_m2, agg.released_m2,
               ST_AsWKB(pk.geometry) AS wkb
        FROM agg JOIN parks pk USING (park_id)
        ORDER BY id
        """,  # noqa: S608 - the filter is a constant of this module
        params,
    ).df()
    df["polygon"] = maps.rings(df.pop("wkb"))
    return _with_share(df)


def _cells(cur: Cursor, params: dict, budget: int) -> tuple[pd.DataFrame, int]:
    """Parcels of the map's filter summed on square cells (cells.square_cells)."""
    frame, cell = cells.square_cells(cur, source=_FILTERED_SQL, params=params, budget=budget,
                                     sizes=CELL_SIZES_M, prune_by_extent=True)
    frame["label"] = None
    return frame, cell


_with_share = cells.with_share


def share_color(share: np.ndarray) -> np.ndarray:
    """RGBA rows from grey (nothing released) to the released green (all released)."""
    s = np.clip(np.asarray(share, dtype=float), 0.0, 1.0)[:, None]
    return np.round(_NONE_COLOR + (_ALL_COLOR - _NONE_COLOR) * s).astype(int)


def aggregate_layer(md: MapData, *, lang: str = "zh", layer_id: str = "parcels") -> pdk.Layer:
    """Parks or grid cells filled by the share of their parcels' area released, escaped tooltips."""
    df = md.frame
    if md.level == "park":
        heads = [(t("tt_park", lang), f"{i} {name}") for i, name in zip(df["id"], df["label"], strict=True)]
    else:
        heads = [(t("tt_cell", lang), t("cell_size", lang, size=md.cell_m)) for _ in range(len(df))]
    tips = [
        maps.tooltip_rows(
            [
                head,
                (t("tt_parcels", lang), f"{n:,}"),
                (t("tt_area", lang), fmt_area(area, lang)),
                (t("tt_released_area", lang), fmt_area(rel, lang)),
                (t("tt_released_share", lang), f"{share:.0%}"),
            ]
        )
        for head, n, area, rel, share in zip(
            heads, df["parcels"], df["area_m2"], df["released_m2"], df["share"], strict=True
        )
    ]
    data = pd.DataFrame(
        {
            "id": df["id"].astype(str),
            "polygon": df["polygon"],
            "color": share_color(df["share"].to_numpy()).tolist(),
            "tooltip": tips,
        }
    )
    return maps.filled_polygons(data, layer_id=layer_id)


def layer(md: MapData, *, lang: str = "zh", layer_id: str = "parcels") -> pdk.Layer:
    """The layer that draws md: parcels by release status, or the aggregate by released share."""
    if md.aggregated:
        return aggregate_layer(md, lang=lang, layer_id=layer_id)
    return maps.parcels_layer(md.frame, lang=lang, layer_id=layer_id)


@dataclass(frozen=True)
class MapView:
    """A parcel map ready to draw: its layer (data and tooltips built) and what it stands for.

    Built once per dataset version, filter and language (the app caches it), so a rerun only
    unpickles it instead of rebuilding thousands of tooltips.
    """

    level: str
    parcels: int
    shown: int
    budget: int
    cell_m: int | None
    zoom: float
    layer: pdk.Layer

    @property
    def aggregated(self) -> bool:
        return self.level != "parcel"


def parcel_view(
    cur: Cursor,
    *,
    as_of: dt.date,
    lang: str = "zh",
    statuses: tuple[str, ...] | None = None,
    village_code: str | None = None,
    budget: int = DEFAULT_POLYGON_BUDGET,
    layer_id: str = "parcels",
) -> MapView:
    """parcel_map with its layer built: what a page draws for the parcels matching the filter."""
    md = parcel_map(cur, as_of=as_of, statuses=statuses, village_code=village_code, budget=budget)
    return MapView(md.level, md.parcels, md.shown, md.budget, md.cell_m, zoom_for(md),
                   layer(md, lang=lang, layer_id=layer_id))


def firms_view(
    cur: Cursor, *, role: str, lang: str = "zh", risk_levels: tuple[str, ...] = ("blacklisted",),
    layer_id: str = "firms",
) -> pdk.Layer:
    """The firm points layer of queries.firm_points for role, built once so the app can cache it."""
    df = queries.firm_points(cur, role=role, risk_levels=risk_levels)
    return maps.firms_layer(df, lang=lang, layer_id=layer_id)


def legend_items(md: MapData | MapView, lang: str = "zh") -> list[tuple[str, list[int]]]:
    """Legend pairs: release statuses for parcels, the released-share ramp for aggregates."""
    if not md.aggregated:
        return maps.legend_items(lang)
    colors = share_color(np.array(SHARE_STOPS)).tolist()
    return [(t("legend_share", lang, share=f"{s:.0%}"), c) for s, c in zip(SHARE_STOPS, colors, strict=True)]


def caption(md: MapData | MapView, lang: str = "zh") -> str | None:
    """What the map shows instead of parcels, and why; None when it shows every parcel."""
    if md.level == "park":
        return t("map_by_park", lang, n=f"{md.parcels:,}", budget=f"{md.budget:,}", parks=f"{md.shown:,}")
    if md.level == "cell":
        return t("map_by_cell", lang, n=f"{md.parcels:,}", budget=f"{md.budget:,}", size=f"{md.cell_m:,}",
                 cells=f"{md.shown:,}")
    return None


class CompactDeck(pdk.Deck):
    """A deck whose JSON has no indentation and keeps Chinese as UTF-8: half the bytes of pydeck's."""

    def to_json(self) -> str:
        return json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"),
                          ensure_ascii=False)


def deck(layers: list[pdk.Layer], *, center: tuple[float, float], zoom: float = 12.3,
         **options: Any) -> CompactDeck:
    """maps.deck (options such as basemap passed on), sent as compact JSON."""
    built = maps.deck(layers, center=center, zoom=zoom, **options)
    compact = CompactDeck.__new__(CompactDeck)
    compact.__dict__.update(built.__dict__)
    return compact


def zoom_for(md: MapData, default: float = 12.3) -> float:
    """An opening zoom that shows the whole drawn extent (city-scale data spans far more than a street)."""
    if md.frame.empty:
        return default
    pts = np.array([xy for ring in md.frame["polygon"] for xy in ring[:1]]) if "polygon" in md.frame else None
    if pts is None or pts.size == 0:
        return default
    span = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1e-6)
    # at zoom z the world's 360 degrees span 256 * 2**z pixels; fit the extent in about 900
    return float(min(default, max(7.0, math.log2(360.0 * 900 / 256 / span))))
