"""The land release explorer's questions: what the filters can offer, what the planner's selection
adds up to (in total, by month, by village, by planned use), its rows for the table and exports,
and what the map draws of it (through the one map budget, maps.budget).

Every function takes one `LandFilters` (dayuan_geo.land.filters) and answers with bound SQL.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pandas as pd

from dayuan_geo import schema as S
from dayuan_geo.land.filters import HISTORY_START, LandFilters
from dayuan_geo.land.url import DEFAULT_SORT, SORT_COLUMNS
from dayuan_geo.maps import budget

Cursor = duckdb.DuckDBPyConnection

EXPORT_ROW_LIMIT = 200_000  # beyond this a browser download is unwieldy: the page points to the CLI
# Columns of the selection, in table and export order; park and village names are joined in.
SELECTION_COLUMNS = ("parcel_id", "name", "park_id", "park_name", "village_code", "village_zh",
                     "village_en", "area_m2", "current_use", "planned_use", "ownership",
                     "release_status", "released_on")


# ---- what the filters can offer -----------------------------------------------------------------

def filter_options(cur: Cursor) -> dict[str, object]:
    """What the filter widgets offer: villages, parks, and the range of release dates and areas."""
    villages = cur.execute("SELECT code, name_zh, name_en FROM villages ORDER BY code").df()
    parks = cur.execute(
        "SELECT park_id, name, coalesce(name_en, name) AS name_en, village_code FROM parks ORDER BY park_id"
    ).df()
    lo, hi, amin, amax, total = cur.execute(
        "SELECT min(released_on), max(released_on), min(area_m2), max(area_m2), count(*) FROM parcels"
    ).fetchone()
    return {
        "villages": villages,
        "parks": parks,
        "released_min": lo,
        "released_max": hi,
        "area_min": math.floor(float(amin or 0)),
        "area_max": math.ceil(float(amax or 0)),
        "parcels_total": int(total),
    }


# ---- the selection ------------------------------------------------------------------------------

_FROM = """
FROM parcels pa
LEFT JOIN parks pk ON pk.park_id = pa.park_id
LEFT JOIN villages v ON v.code = pa.village_code
"""
_SELECT_COLUMNS = """
pa.parcel_id, pa.name, pa.park_id, pk.name AS park_name, pa.village_code,
v.name_zh AS village_zh, v.name_en AS village_en, pa.area_m2, pa.current_use, pa.planned_use,
pa.ownership, pa.release_status, pa.released_on
"""


def _order_by(sort: str, descending: bool) -> str:
    if sort not in SORT_COLUMNS:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_COLUMNS)}")
    column = "pk.name" if sort == "park_name" else f"pa.{sort}"
    direction = "DESC" if descending else "ASC"
    tie = "" if sort == "parcel_id" else ", pa.parcel_id"
    return f"{column} {direction} NULLS LAST{tie}"


def selection_summary(cur: Cursor, *, filters: LandFilters, view_date: dt.date) -> dict[str, float | int]:
    """How many parcels the filters select, their area, and how much of it was released by view_date."""
    where, params = filters.where()
    row = cur.execute(
        f"""
        SELECT count(*), coalesce(sum(pa.area_m2), 0),
               count(*) FILTER (WHERE pa.released_on <= $view),
               coalesce(sum(pa.area_m2) FILTER (WHERE pa.released_on <= $view), 0),
               count(DISTINCT pa.park_id)
        FROM parcels pa WHERE {where}
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "view": view_date},
    ).fetchone()
    parcels, area, rel_parcels, rel_area, parks = row
    return {"parcels": int(parcels), "area_m2": float(area), "released_parcels": int(rel_parcels),
            "released_area_m2": float(rel_area), "parks": int(parks),
            "released_share": float(rel_area) / float(area) if area else 0.0}


def selection_table(cur: Cursor, *, filters: LandFilters, sort: str = DEFAULT_SORT,
                    descending: bool = False, limit: int | None = None,
                    geometry: bool = False) -> pd.DataFrame:
    """The selected parcels in the given order (at most limit, None for all), as stored.

    With geometry, a `wkb` column (WGS 84) is added, for GIS exports.
    """
    where, params = filters.where()
    if limit is not None and limit < 0:
        raise ValueError("limit must be positive")
    geom = ", ST_AsWKB(pa.geometry) AS wkb" if geometry else ""
    tail = " LIMIT $limit" if limit is not None else ""
    if limit is not None:
        params = {**params, "limit": int(limit)}
    df = cur.execute(
        f"SELECT {_SELECT_COLUMNS}{geom} {_FROM} WHERE {where} ORDER BY {_order_by(sort, descending)}{tail}",
        params,
    ).df()
    df["released_on"] = pd.to_datetime(df["released_on"])
    return df


def released_by_month(cur: Cursor, *, filters: LandFilters, as_of: dt.date) -> pd.DataFrame:
    """Area and parcels of the selection released each month from January 2020 (or the first
    release, if earlier) to as_of's month, months with none included, with the running total."""
    where, params = filters.where()
    return cur.execute(
        f"""
        WITH sel AS (SELECT pa.area_m2, pa.released_on FROM parcels pa
                     WHERE {where} AND pa.released_on <= $as_of),
        months AS (
            SELECT unnest(generate_series(
                least(date_trunc('month', $start::DATE),
                      coalesce(date_trunc('month', (SELECT min(released_on) FROM sel)), $start::DATE)),
                date_trunc('month', $as_of::DATE), INTERVAL 1 MONTH))::DATE AS month
        ), rel AS (
            SELECT date_trunc('month', released_on)::DATE AS month, sum(area_m2) AS released_m2,
                   count(*) AS parcels
            FROM sel GROUP BY 1
        )
        SELECT month, coalesce(released_m2, 0) AS released_m2, coalesce(parcels, 0) AS parcels,
               sum(coalesce(released_m2, 0)) OVER (ORDER BY month) AS cumulative_m2
        FROM months LEFT JOIN rel USING (month)
        ORDER BY month
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "as_of": as_of, "start": HISTORY_START},
    ).df()


def by_village(cur: Cursor, *, filters: LandFilters, view_date: dt.date) -> pd.DataFrame:
    """The selection per village: parcels, area, and area released by view_date."""
    where, params = filters.where()
    return cur.execute(
        f"""
        SELECT pa.village_code, any_value(v.name_zh) AS village_zh, any_value(v.name_en) AS village_en,
               count(*) AS parcels, sum(pa.area_m2) AS area_m2,
               coalesce(sum(pa.area_m2) FILTER (WHERE pa.released_on <= $view), 0) AS released_m2
        FROM parcels pa LEFT JOIN villages v ON v.code = pa.village_code
        WHERE {where}
        GROUP BY pa.village_code ORDER BY released_m2 DESC, area_m2 DESC, pa.village_code
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "view": view_date},
    ).df()


def by_planned_use(cur: Cursor, *, filters: LandFilters, view_date: dt.date) -> pd.DataFrame:
    """The selection per planned use, in the schema's order: parcels, area, area released by view_date."""
    where, params = filters.where()
    df = cur.execute(
        f"""
        SELECT pa.planned_use, count(*) AS parcels, sum(pa.area_m2) AS area_m2,
               coalesce(sum(pa.area_m2) FILTER (WHERE pa.released_on <= $view), 0) AS released_m2
        FROM parcels pa WHERE {where}
        GROUP BY pa.planned_use
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "view": view_date},
    ).df()
    order = {code: i for i, code in enumerate(S.LAND_USE.codes)}
    return df.sort_values("planned_use", key=lambda s: s.map(order)).reset_index(drop=True)


def selection_extent(cur: Cursor, *, filters: LandFilters) -> tuple[float, float, float, float] | None:
    """The selection's bounding box (lon/lat), or None when nothing is selected."""
    where, params = filters.where()
    row = cur.execute(
        f"""SELECT min(ST_XMin(pa.geometry)), min(ST_YMin(pa.geometry)), max(ST_XMax(pa.geometry)),
                   max(ST_YMax(pa.geometry)) FROM parcels pa WHERE {where}""",  # noqa: S608
        params,
    ).fetchone()
    return None if row[0] is None else tuple(float(x) for x in row)



def map_data(cur: Cursor, *, filters: LandFilters, view_date: dt.date, as_of: dt.date,
             budget_polygons: int = budget.DEFAULT_POLYGON_BUDGET) -> budget.MapData:
    """The selection as the map draws it on view_date: the one map budget (maps.budget.parcel_map)."""
    return budget.parcel_map(cur, as_of=as_of, view_date=min(view_date, as_of), where=filters.where(),
                             budget=budget_polygons)


def park_outlines(cur: Cursor, *, filters: LandFilters, limit: int = 2_000) -> pd.DataFrame:
    """Outlines and label points of the parks holding selected parcels (none beyond limit parks)."""
    where, params = filters.where()
    df = cur.execute(
        f"""
        WITH ids AS (SELECT DISTINCT pa.park_id FROM parcels pa WHERE {where} AND pa.park_id IS NOT NULL)
        SELECT pk.park_id AS id, pk.name AS label_zh, coalesce(pk.name_en, pk.name) AS label_en,
               ST_X(ST_PointOnSurface(pk.geometry)) AS lon, ST_Y(ST_PointOnSurface(pk.geometry)) AS lat,
               ST_AsWKB(pk.geometry) AS wkb
        FROM parks pk JOIN ids USING (park_id)
        ORDER BY pk.park_id LIMIT $limit
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "limit": int(limit) + 1},
    ).df()
    return df.iloc[:0] if len(df) > limit else df

