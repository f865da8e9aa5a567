"""The one map budget: what a parcel map draws, on every page, within what a browser with no GPU
draws quickly.

The street offices' cloud desktops draw WebGL in software (SwiftShader): a few thousand polygons
draw in well under a second, 20,000 take seconds and every later rerun redraws them. So a map asks
`parcel_map` for its parcels: up to the polygon budget (DEFAULT_POLYGON_BUDGET, or
$DAYUAN_MAP_POLYGON_BUDGET) it gets them one by one; over it, summed by park (park outlines
coloured by the share of area released), and when even the parks exceed the budget, summed on a
square grid whose cell is the smallest that fits. The overview, the firms page and the land
explorer all take their parcels from here, so the same selection draws the same way everywhere.
Firms are points, and points have a budget of their own (DEFAULT_POINT_BUDGET, or
$DAYUAN_MAP_POINT_BUDGET): software WebGL shades every pixel of every marker, and 27,000 markers
with their near-land rings take 6 s to draw; beyond it a map draws one bubble per square
(`safety.views.risky_firms_view`). The returned `MapData` says which level it drew, so the page
can say so (`caption`, `legend_items`).
Pages take `parcel_view`, the same with its layer built, through `edge.query` so reruns reuse it;
`deck` sends the result as compact JSON (pydeck indents its JSON and escapes every Chinese
character, doubling the bytes).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from dayuan_geo import schema as S
from dayuan_geo import settings
from dayuan_geo.maps import cells
from dayuan_geo.maps import layers as maps
from dayuan_geo.maps.view import fit_view
from dayuan_geo.text import fmt_area, t

Cursor = duckdb.DuckDBPyConnection

DEFAULT_POLYGON_BUDGET = 3_000
CELL_SIZES_M = (125, 250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000)
LEVELS = ("parcel", "park", "cell")
SHARE_STOPS = (0.0, 0.25, 0.5, 0.75, 1.0)
_NONE_COLOR = np.array(maps.STATUS_COLORS["not_started"], dtype=float)
_ALL_COLOR = np.array(maps.STATUS_COLORS["released"], dtype=float)
BUDGET_ENV = "DAYUAN_MAP_POLYGON_BUDGET"
DEFAULT_POINT_BUDGET = 5_000
POINT_BUDGET_ENV = "DAYUAN_MAP_POINT_BUDGET"
DEFAULT_ZOOM = 12.3  # a map with nothing to frame opens on the street at this zoom


def polygon_budget() -> int:
    """The polygons a map may send: $DAYUAN_MAP_POLYGON_BUDGET if set, else DEFAULT_POLYGON_BUDGET."""
    return settings.get(BUDGET_ENV) or DEFAULT_POLYGON_BUDGET


def point_budget() -> int:
    """The firm markers a map may draw: $DAYUAN_MAP_POINT_BUDGET if set, else DEFAULT_POINT_BUDGET."""
    return settings.get(POINT_BUDGET_ENV) or DEFAULT_POINT_BUDGET


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


# Each parcel as the map shows it on $view (the data's date, or the end of a past month on a time
# slider). On the data's date a parcel shows its stored status; land released later than $view
# was still being vacated then. Before the data's date the data holds no history of later steps
# (transferred, built...), so land released by $view shows as released. A release date after
# $view is not shown. `where` is the caller's condition on parcels (alias pa), built from
# constants, its values bound.
_SHOWN_SQL = """
SELECT pa.parcel_id, pa.name, pa.park_id, pa.village_code, pa.area_m2, pa.planned_use, pa.geometry,
       CASE WHEN pa.released_on <= $view THEN (CASE WHEN $view >= $as_of THEN pa.release_status
                                                    ELSE 'released' END)
            WHEN pa.released_on > $view OR list_contains($released, pa.release_status) THEN 'vacating'
            ELSE pa.release_status END AS release_status,
       CASE WHEN pa.released_on <= $view THEN pa.released_on END AS released_on
FROM parcels pa WHERE {where}
"""
_FILTERED_SQL = """
SELECT * FROM ({shown}) p
WHERE ($village = '' OR p.village_code = $village) AND ($any_status OR list_contains($statuses, p.release_status))
"""


def _source(where: str) -> str:
    return _FILTERED_SQL.format(shown=_SHOWN_SQL.format(where=where))


def _params(as_of: dt.date, view_date: dt.date | None, statuses: tuple[str, ...] | None,
            village_code: str | None, params: dict | None) -> dict:
    for code in statuses or ():
        if code not in S.RELEASE_STATUS.codes:
            raise ValueError(f"unknown release status {code!r}")
    if view_date is not None and view_date > as_of:
        raise ValueError(f"the map cannot show {view_date}, after the data's date {as_of}")
    return {
        **(params or {}),
        "as_of": as_of,
        "view": view_date or as_of,
        "released": list(S.RELEASED_STATUSES),
        "village": village_code or "",
        "any_status": statuses is None,
        "statuses": list(statuses or ()),
    }


def parcel_map(
    cur: Cursor,
    *,
    as_of: dt.date,
    view_date: dt.date | None = None,
    statuses: tuple[str, ...] | None = None,
    village_code: str | None = None,
    where: tuple[str, dict] = ("TRUE", {}),
    budget: int = DEFAULT_POLYGON_BUDGET,
) -> MapData:
    """The parcels matching the filter as the map should draw them on view_date (default as_of),
    within budget polygons.

    statuses filter on the status shown that day; where is a condition on parcels aliased `pa` with
    its bound parameters (land.LandFilters.where()), built from constants only.
    """
    if budget < 1:
        raise ValueError(f"polygon budget must be at least 1, not {budget}")
    condition, bound = where
    source = _source(condition)
    params = _params(as_of, view_date, statuses, village_code, bound)
    n_parcels, n_parks, no_park = cur.execute(
        f"SELECT count(*), count(DISTINCT park_id), count(*) FILTER (WHERE park_id IS NULL) FROM ({source})",  # noqa: S608
        params,
    ).fetchone()
    if n_parcels <= budget:
        return MapData("parcel", _parcels(cur, source, params), int(n_parcels), budget)
    if n_parks <= budget and not no_park:
        return MapData("park", _parks(cur, source, params), int(n_parcels), budget)
    frame, cell = _cells(cur, source, params, budget)
    return MapData("cell", frame, int(n_parcels), budget, cell)


def _parcels(cur: Cursor, source: str, params: dict) -> pd.DataFrame:
    # the columns maps.parcels_layer draws
    return cur.execute(
        f"""
        SELECT p.parcel_id, p.name, p.park_id, pk.name AS park_name, p.village_code,
               v.name_zh AS village_zh, v.name_en AS village_en, p.area_m2, p.planned_use,
               p.release_status, p.released_on, ST_AsWKB(p.geometry) AS wkb
        FROM ({source}) p
        LEFT JOIN parks pk ON pk.park_id = p.park_id
        LEFT JOIN villages v ON v.code = p.village_code
        ORDER BY p.parcel_id
        """,  # noqa: S608 - the filter is built from constants; values are bound
        params,
    ).df()


def _parks(cur: Cursor, source: str, params: dict) -> pd.DataFrame:
    df = cur.execute(
        f"""
        WITH agg AS (
            SELECT park_id, count(*) AS parcels, sum(area_m2) AS area_m2,
                   coalesce(sum(area_m2) FILTER (WHERE released_on IS NOT NULL), 0) AS released_m2
            FROM ({source}) GROUP BY park_id
        )
        SELECT agg.park_id AS id, pk.name AS label, coalesce(pk.name_en, pk.name) AS label_en,
               v.name_zh AS village_zh, v.name_en AS village_en,
               agg.parcels, agg.area_m2, agg.released_m2, ST_AsWKB(pk.geometry) AS wkb
        FROM agg JOIN parks pk ON pk.park_id = agg.park_id
        LEFT JOIN villages v ON v.code = pk.village_code
        ORDER BY id
        """,  # noqa: S608 - the filter is built from constants; values are bound
        params,
    ).df()
    df["polygon"] = maps.rings(df.pop("wkb"))
    return _with_share(df)


def _cells(cur: Cursor, source: str, params: dict, budget: int) -> tuple[pd.DataFrame, int]:
    """Parcels of the map's filter summed on square cells (cells.square_cells)."""
    frame, cell = cells.square_cells(cur, source=source, params=params, budget=budget,
                                     sizes=CELL_SIZES_M, prune_by_extent=True)
    frame["label"] = None
    return frame, cell


_with_share = cells.with_share


def extent(md: MapData) -> tuple[float, float, float, float] | None:
    """The bounding box (lon/lat) of what md draws, or None when it draws nothing."""
    if md.frame.empty:
        return None
    rings = maps.rings(md.frame["wkb"]) if "wkb" in md.frame else md.frame["polygon"]
    pts = np.array([xy for ring in rings for xy in ring], dtype=float).reshape(-1, 2)
    if not len(pts):
        return None
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))


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
    zoom: float  # fit_view's zoom for what the layer draws
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
    box = extent(md)
    zoom = fit_view(box, max_zoom=DEFAULT_ZOOM)["zoom"] if box else DEFAULT_ZOOM
    return MapView(md.level, md.parcels, md.shown, md.budget, md.cell_m, zoom, layer(md, lang=lang, layer_id=layer_id))


def legend_items(md: MapData | MapView, lang: str = "zh") -> list[tuple[str, list[int]]]:
    """Legend pairs: release statuses for parcels, the released-share ramp for aggregates."""
    if not md.aggregated:
        return [(S.RELEASE_STATUS.label(code, lang), color) for code, color in maps.STATUS_COLORS.items()]
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


def deck(layers: list[pdk.Layer], *, center: tuple[float, float], zoom: float = DEFAULT_ZOOM,
         **options: Any) -> CompactDeck:
    """maps.deck (options such as basemap passed on), sent as compact JSON."""
    built = maps.deck(layers, center=center, zoom=zoom, **options)
    compact = CompactDeck.__new__(CompactDeck)
    compact.__dict__.update(built.__dict__)
    return compact
