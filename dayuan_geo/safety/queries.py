"""Firms and safety: where the blacklisted and high-risk firms are, what inspections found, and
which risky firms sit on or near land being released (the "veto check" before land changes hands).

Query functions take a DuckDB cursor and keyword-only arguments and bind every value. Those that
list firms or inspections take the caller's role and select only `access.visible_columns`, so firm
names, credit codes and inspectors' names never reach a role that may not see them. Aggregates
(counts per month, category, outcome or grid) carry no names and are open to every role.

Distances are metres in CGCS2000 / 3-degree GK CM 114E (EPSG:4547), where the storage lon/lat is
projected inside DuckDB. `safety.inspections` answers what the inspections found; `safety.views`
turns these frames into the page's tables, charts and map layers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.overview import queries
from dayuan_geo.uscc import uscc_problem

Cursor = queries.Cursor

RISKY_LEVELS = ("blacklisted", "high_risk")
# "Land being released": parcels vacating on the day, or released (the status, not transferred on).
NEAR_LAND_STATUSES = ("vacating", "released")
DEFAULT_DISTANCE_M = 200.0
MAX_DISTANCE_M = 5_000.0
# Above this many ordinary firms the map shows their density instead of points.
DENSITY_THRESHOLD = 300
DENSITY_CELL_DEG = 0.0005  # about 50 m: firms are counted per cell before the hexagons bin them

# Columns of the firm list, in display order; each is shown only if the role may see it.
FIRM_COLUMNS = ("firm_id", "name", "uscc", "risk_level", "list_status", "listed_on", "list_reason",
                "industry", "park_id", "parcel_id", "village_code", "grid_id")
# The shorter set for lists about inspections, where listing details would crowd the counts.
BRIEF_FIRM_COLUMNS = ("firm_id", "name", "uscc", "risk_level", "industry", "grid_id")
INSPECTION_COLUMNS = ("inspection_id", "inspected_on", "category", "outcome", "inspector", "grid_id")

_TO_METRIC = f"ST_Transform({{g}}, '{S.STORAGE_CRS}', '{S.METRIC_CRS}', always_xy := true)"


def _metric(expr: str) -> str:
    return _TO_METRIC.format(g=expr)


def _check(values: tuple[str, ...], enum: S.Enum) -> list[str]:
    for v in values:
        if v not in enum.choices:  # 未知 is a value a descriptive column may hold
            raise ValueError(f"unknown {enum.name} {v!r}; known: {', '.join(enum.choices)}")
    return list(values)


def _firm_select(role: str, alias: str = "f", columns: tuple[str, ...] = FIRM_COLUMNS) -> tuple[list[str], str]:
    cols = access.require_table("firms", role)
    wanted = [c for c in columns if c in cols]
    return wanted, ", ".join(f'{alias}."{c}"' for c in wanted)


def year_window(as_of: dt.date, year: int | None = None) -> tuple[dt.date, dt.date]:
    """1 January to as_of for the current year, else the whole of an earlier year."""
    year = as_of.year if year is None else year
    if year > as_of.year:
        raise ValueError(f"year {year} is after the data date {as_of}")
    return dt.date(year, 1, 1), (as_of if year == as_of.year else dt.date(year, 12, 31))


_FIRM_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def clean_firm_id(value: object) -> str | None:
    """A firm id as given in a link (?firm=...), or None when it cannot be one; it is shown back
    on the page, so anything else is dropped."""
    return value if isinstance(value, str) and _FIRM_ID.fullmatch(value) else None


def uscc_check(code: object) -> str | None:
    """What is wrong with a credit code (GB 32100 check digit), None when it is valid."""
    return uscc_problem(code)


# ---- questions ----------------------------------------------------------------------------------

def safety_kpis(cur: Cursor, *, as_of: dt.date, year: int | None = None) -> dict:
    """Risky firms listed by as_of, and the year's inspections and rectification orders."""
    start, end = year_window(as_of, year)
    firms = queries.risky_firm_counts(cur, as_of=as_of)
    insp = cur.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE outcome = 'rectification_ordered'),
               count(DISTINCT firm_id) FILTER (WHERE outcome = 'rectification_ordered'),
               count(*) FILTER (WHERE outcome <> 'passed')
        FROM inspections WHERE inspected_on BETWEEN $start AND $end
        """,
        {"start": start, "end": end},
    ).fetchone()
    return {
        "start": start, "end": end,
        "blacklisted": int(firms[0]), "high_risk": int(firms[1]),
        "inspections": int(insp[0]), "rectification_orders": int(insp[1]),
        "rectification_firms": int(insp[2]), "problem_inspections": int(insp[3]),
    }


def inspection_years(cur: Cursor, *, as_of: dt.date) -> list[int]:
    """The years with inspections up to as_of, latest first (as_of's year always included)."""
    rows = cur.execute(
        "SELECT DISTINCT year(inspected_on) FROM inspections WHERE inspected_on <= $as_of",
        {"as_of": as_of},
    ).fetchall()
    return sorted({int(r[0]) for r in rows} | {as_of.year}, reverse=True)


def filter_options(cur: Cursor) -> dict[str, pd.DataFrame]:
    """The villages, grids and industries a firm filter can offer (only those holding firms)."""
    villages = cur.execute(
        "SELECT code, name_zh, name_en FROM villages "
        "WHERE code IN (SELECT village_code FROM firms) ORDER BY code"
    ).df()
    grids = cur.execute(
        "SELECT grid_id, name, village_code FROM grids "
        "WHERE grid_id IN (SELECT grid_id FROM firms) ORDER BY grid_id"
    ).df()
    industries = [c for c in S.INDUSTRY.codes
                  if c in set(cur.execute("SELECT DISTINCT industry FROM firms").df()["industry"])]
    return {"villages": villages, "grids": grids, "industries": pd.DataFrame({"industry": industries})}


def risky_firms(
    cur: Cursor, *, role: str, as_of: dt.date, risk_levels: tuple[str, ...] = RISKY_LEVELS,
    statuses: tuple[str, ...] = (), villages: tuple[str, ...] = (), grids: tuple[str, ...] = (),
    industries: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Blacklisted and high-risk firms listed by as_of, filtered; an empty filter means all.

    Each row has the role's visible firm columns, park, village and grid names, the last inspection up to
    as_of and the number of inspections, the point (lon, lat, wkb), and `uscc_problem` (what is
    wrong with the credit code, empty when valid) where the role sees credit codes.
    """
    wanted, select = _firm_select(role)
    params = {
        "as_of": as_of, "levels": _check(risk_levels, S.RISK_LEVEL),
        "statuses": _check(statuses, S.LIST_STATUS), "villages": list(villages),
        "grids": list(grids), "industries": _check(industries, S.INDUSTRY),
    }
    df = cur.execute(
        f"""
        WITH insp AS (
            SELECT firm_id, max(inspected_on) AS last_inspected_on, count(*) AS inspections
            FROM inspections WHERE inspected_on <= $as_of GROUP BY firm_id
        )
        SELECT {select}, pk.name AS park_name, v.name_zh AS village_zh, v.name_en AS village_en,
               gr.name AS grid_name, insp.last_inspected_on, coalesce(insp.inspections, 0) AS inspections,
               ST_X(f.geometry) AS lon, ST_Y(f.geometry) AS lat, ST_AsWKB(f.geometry) AS wkb
        FROM firms f
        LEFT JOIN parks pk USING (park_id)
        LEFT JOIN villages v ON v.code = f.village_code
        LEFT JOIN grids gr ON gr.grid_id = f.grid_id
        LEFT JOIN insp USING (firm_id)
        WHERE list_contains($levels, f.risk_level)
          AND (f.listed_on IS NULL OR f.listed_on <= $as_of)
          AND (len($statuses) = 0 OR list_contains($statuses, f.list_status))
          AND (len($villages) = 0 OR list_contains($villages, f.village_code))
          AND (len($grids) = 0 OR list_contains($grids, f.grid_id))
          AND (len($industries) = 0 OR list_contains($industries, f.industry))
        ORDER BY list_position(['blacklisted', 'high_risk', 'normal'], f.risk_level),
                 f.listed_on DESC, f.firm_id
        """,  # noqa: S608 - columns from the schema via access.visible_columns
        params,
    ).df()
    if "uscc" in wanted:
        df["uscc_problem"] = [uscc_check(c) or "" for c in df["uscc"]]
    return df


_ORDINARY_WHERE = """
    f.risk_level = 'normal'
    AND (len($villages) = 0 OR list_contains($villages, f.village_code))
    AND (len($grids) = 0 OR list_contains($grids, f.grid_id))
    AND (len($industries) = 0 OR list_contains($industries, f.industry))
"""


def ordinary_firm_points(
    cur: Cursor, *, role: str, villages: tuple[str, ...] = (), grids: tuple[str, ...] = (),
    industries: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Ordinary (normal-risk) firms as points, with only the columns the role may see."""
    _, select = _firm_select(role)
    return cur.execute(
        f"""
        SELECT {select}, pk.name AS park_name, ST_X(f.geometry) AS lon, ST_Y(f.geometry) AS lat
        FROM firms f LEFT JOIN parks pk USING (park_id)
        WHERE {_ORDINARY_WHERE}
        ORDER BY f.firm_id
        """,  # noqa: S608 - columns from the schema via access.visible_columns
        {"villages": list(villages), "grids": list(grids), "industries": _check(industries, S.INDUSTRY)},
    ).df()


def ordinary_firm_density(
    cur: Cursor, *, villages: tuple[str, ...] = (), grids: tuple[str, ...] = (),
    industries: tuple[str, ...] = (), cell_deg: float = DENSITY_CELL_DEG,
) -> pd.DataFrame:
    """Ordinary firms counted per small lon/lat cell (centre lon, lat and firms): what a density
    layer needs, a few thousand rows at most whatever the number of firms, and no names."""
    if not 0 < cell_deg <= 0.01:
        raise ValueError(f"cell size {cell_deg} degrees is out of range")
    return cur.execute(
        f"""
        SELECT (floor(ST_X(f.geometry) / $c) + 0.5) * $c AS lon,
               (floor(ST_Y(f.geometry) / $c) + 0.5) * $c AS lat, count(*) AS firms
        FROM firms f WHERE {_ORDINARY_WHERE}
        GROUP BY ALL ORDER BY lon, lat
        """,  # noqa: S608 - a constant filter clause, values bound
        {"c": cell_deg, "villages": list(villages), "grids": list(grids),
         "industries": _check(industries, S.INDUSTRY)},
    ).df()


def ordinary_firm_count(
    cur: Cursor, *, villages: tuple[str, ...] = (), grids: tuple[str, ...] = (),
    industries: tuple[str, ...] = (),
) -> int:
    """How many ordinary firms the filters select (to choose points or density)."""
    return int(cur.execute(
        f"SELECT count(*) FROM firms f WHERE {_ORDINARY_WHERE}",  # noqa: S608 - constant clause
        {"villages": list(villages), "grids": list(grids), "industries": _check(industries, S.INDUSTRY)},
    ).fetchone()[0])


def _near_land(
    role: str, as_of: dt.date, distance_m: float, risk_levels: tuple[str, ...], parcel_statuses: tuple[str, ...],
) -> tuple[str, str, dict]:
    """The CTEs (`pa`: the land in question, `f`: the risky firms, both projected to metres) that
    the near-land questions share, the firm columns the role may see, and the bound values."""
    if not 0 <= distance_m <= MAX_DISTANCE_M:
        raise ValueError(f"distance must be between 0 and {MAX_DISTANCE_M:.0f} m, not {distance_m}")
    cols = [c for c in _firm_select(role)[0] if c != "parcel_id"]  # the parcel is the nearby one
    select = ", ".join(f'f."{c}"' for c in cols)
    params = {"as_of": as_of, "d": float(distance_m), "levels": _check(risk_levels, S.RISK_LEVEL),
              "statuses": _check(parcel_statuses, S.RELEASE_STATUS)}
    ctes = f"""
        WITH status AS (
            SELECT parcel_id, name AS parcel_name, area_m2, geometry,
                   CASE WHEN released_on > $as_of THEN 'vacating' ELSE release_status END
                       AS release_status
            FROM parcels
        ), pa AS (  -- only the land in question is projected
            SELECT * EXCLUDE (geometry), {_metric("geometry")} AS g FROM status
            WHERE list_contains($statuses, release_status)
        ), f AS (
            SELECT *, {_metric("geometry")} AS g FROM firms
            WHERE list_contains($levels, risk_level) AND (listed_on IS NULL OR listed_on <= $as_of)
        )"""  # noqa: S608 - the transform is a constant of this module
    return ctes, select, params


def near_released_land(
    cur: Cursor, *, role: str, as_of: dt.date, distance_m: float = DEFAULT_DISTANCE_M,
    risk_levels: tuple[str, ...] = RISKY_LEVELS, parcel_statuses: tuple[str, ...] = NEAR_LAND_STATUSES,
) -> pd.DataFrame:
    """Risky firms within distance_m metres of a parcel vacating or released on as_of.

    One row per (parcel, firm) pair, nearest first within each parcel; distance_m is 0 for a firm
    standing on the parcel. The parcel's status on as_of is the one the map shows (a parcel whose
    released_on is still ahead is vacating). This is the export; the page shows `near_land_by_firm`.
    """
    ctes, select, params = _near_land(role, as_of, distance_m, risk_levels, parcel_statuses)
    return cur.execute(
        f"""{ctes}
        SELECT pa.parcel_id, pa.parcel_name, pa.release_status, round(pa.area_m2) AS area_m2, {select},
               round(ST_Distance(f.g, pa.g), 1) AS distance_m,
               ST_X(f.geometry) AS lon, ST_Y(f.geometry) AS lat, ST_AsWKB(f.geometry) AS wkb
        FROM pa JOIN f ON ST_DWithin(f.g, pa.g, $d)
        ORDER BY pa.parcel_id, distance_m, f.firm_id
        """,  # noqa: S608 - columns from the schema via access.visible_columns
        params,
    ).df()


@dataclass(frozen=True)
class NearLand:
    """The near-land check summed per firm: what the page shows and draws (the pairs are export only)."""

    firms: pd.DataFrame  # one row per firm: its nearest parcel, the distance, parcels within the distance
    parcels: int  # distinct parcels with a risky firm within the distance
    pairs: int  # (parcel, firm) pairs: the rows near_released_land returns


def near_land_by_firm(
    cur: Cursor, *, role: str, as_of: dt.date, distance_m: float = DEFAULT_DISTANCE_M,
    risk_levels: tuple[str, ...] = RISKY_LEVELS, parcel_statuses: tuple[str, ...] = NEAR_LAND_STATUSES,
) -> NearLand:
    """near_released_land summed per firm, nearest first: the firm (columns the role may see), its
    nearest parcel (`nearest_parcel_id`, `nearest_parcel_name`, `nearest_parcel_status`), the
    distance to it (`distance_m`, ties to the lower parcel id) and `parcels_near`, how many parcels
    lie within distance_m, and the firm's point (lon, lat); with the distinct parcels and the pairs
    counted in the same join.

    A firm near many parcels is one row, not one per parcel: 916,047 pairs are 26,872 firms at
    scale L.
    """
    ctes, select, params = _near_land(role, as_of, distance_m, risk_levels, parcel_statuses)
    df = cur.execute(
        f"""{ctes}, pairs AS MATERIALIZED (
            SELECT f.firm_id, pa.parcel_id, pa.parcel_name, pa.release_status,
                   round(ST_Distance(f.g, pa.g), 1) AS distance_m
            FROM pa JOIN f ON ST_DWithin(f.g, pa.g, $d)
        ), nearest AS (
            SELECT *, count(*) OVER (PARTITION BY firm_id) AS parcels_near FROM pairs
            QUALIFY row_number() OVER (PARTITION BY firm_id ORDER BY distance_m, parcel_id) = 1
        )
        SELECT {select}, n.parcel_id AS nearest_parcel_id, n.parcel_name AS nearest_parcel_name,
               n.release_status AS nearest_parcel_status, n.distance_m, n.parcels_near,
               ST_X(f.geometry) AS lon, ST_Y(f.geometry) AS lat,
               (SELECT count(DISTINCT parcel_id) FROM pairs) AS _parcels, (SELECT count(*) FROM pairs) AS _pairs
        FROM nearest n JOIN f USING (firm_id)
        ORDER BY n.distance_m, f.firm_id
        """,  # noqa: S608 - columns from the schema via access.visible_columns
        params,
    ).df()
    parcels, pairs = (int(df["_parcels"].iloc[0]), int(df["_pairs"].iloc[0])) if len(df) else (0, 0)
    return NearLand(df.drop(columns=["_parcels", "_pairs"]), parcels, pairs)


def firm_story(cur: Cursor, *, role: str, firm_id: str, as_of: dt.date) -> dict | None:
    """One firm: what the role may see of it, its credit-code check, its listing and every
    inspection up to as_of (None for the inspections when the role may not list them).

    None when there is no such firm.
    """
    cols = access.require_table("firms", role)
    select = ", ".join(f'f."{c}"' for c in cols if c != S.GEOMETRY_COLUMN)
    row = cur.execute(
        f"""
        SELECT {select}, pk.name AS park_name, pa.name AS parcel_name,
               CASE WHEN pa.released_on > $as_of THEN 'vacating' ELSE pa.release_status END
                   AS parcel_status, v.name_zh AS village_zh,
               v.name_en AS village_en, g.name AS grid_name,
               ST_X(f.geometry) AS lon, ST_Y(f.geometry) AS lat
        FROM firms f
        LEFT JOIN parks pk ON pk.park_id = f.park_id
        LEFT JOIN parcels pa ON pa.parcel_id = f.parcel_id
        LEFT JOIN villages v ON v.code = f.village_code
        LEFT JOIN grids g ON g.grid_id = f.grid_id
        WHERE f.firm_id = $id
        """,  # noqa: S608 - columns from the schema via access.visible_columns
        {"id": firm_id, "as_of": as_of},
    ).df()
    if row.empty:
        return None
    firm = {k: (None if _missing(v) else v) for k, v in row.iloc[0].to_dict().items()}
    if "uscc" in cols:
        firm["uscc_problem"] = uscc_check(firm["uscc"])
    icols = access.visible_columns("inspections", role)
    inspections = None
    if icols:
        iselect = ", ".join(f'"{c}"' for c in INSPECTION_COLUMNS if c in icols)
        inspections = cur.execute(
            f"""
            SELECT {iselect} FROM inspections
            WHERE firm_id = $id AND inspected_on <= $as_of
            ORDER BY inspected_on DESC, inspection_id DESC
            """,  # noqa: S608 - columns from the schema via access.visible_columns
            {"id": firm_id, "as_of": as_of},
        ).df()
    return {"firm": firm, "inspections": inspections, "as_of": as_of}


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
