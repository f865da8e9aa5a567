"""Typed questions over the dataset. Every value is a bound parameter; identifiers come from schema.

Each function takes a DuckDB cursor from `Store.cursor()` and returns plain Python values or a
DataFrame. Functions that list rows of people or firms take the caller's role and select only the
columns that role may see (access.visible_columns), so a page cannot show more than the role allows.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pandas as pd

from dayuan_geo import access
from dayuan_geo import schema as S

DEFAULT_STALLED_DAYS = 90

Cursor = duckdb.DuckDBPyConnection


def _stage_codes() -> list[str]:
    return list(S.stage_catalogue().codes)


def _month_before(day: dt.date) -> dt.date:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


# Table macros created on every connection by Store: the stage of each project on a given day is
# its latest stage event up to that day (ties broken by the catalogue's order), else the stage
# recorded on the project if it had started by then.
MACROS_SQL = """
CREATE OR REPLACE MACRO project_state(as_of, stages) AS TABLE
WITH ev AS (
    SELECT project_id,
           arg_max(stage, epoch(entered_on) * 1000 + list_position(stages, stage)) AS stage_at,
           max(entered_on) AS last_change
    FROM remediation_events
    WHERE entered_on <= as_of
    GROUP BY project_id
)
SELECT p.project_id, p.park_id, p.name, p.mode, p.responsible_unit, p.started_on,
       p.planned_finish,
       CASE WHEN p.finished_on <= as_of THEN p.finished_on END AS finished_on,
       coalesce(ev.stage_at, p.stage) AS stage,
       coalesce(ev.last_change, p.started_on) AS last_change
FROM remediation_projects p LEFT JOIN ev USING (project_id)
WHERE p.started_on <= as_of
"""


# Each project's state and the headline KPIs on the dataset's own date, the day every page asks
# about, are computed once when the Store loads a version; other days are computed when asked.
PRECOMPUTED_STATE = "project_state_at_data_date"


def precompute(cur: Cursor, *, as_of: dt.date) -> None:
    """Store each project's state on as_of (the data date) with the stage list it was computed for."""
    cur.execute(
        f"CREATE OR REPLACE TABLE {PRECOMPUTED_STATE} AS "  # noqa: S608 - a module constant
        "SELECT * FROM project_state($as_of::DATE, $stages)",
        {"as_of": as_of, "stages": _stage_codes()},
    )
    cur.execute(
        "CREATE OR REPLACE TABLE precomputed_for AS "
        "SELECT $as_of::DATE AS as_of, $stages AS stages, NULL::VARCHAR AS kpis_json",
        {"as_of": as_of, "stages": _stage_codes()},
    )
    headline = _compute_kpis(cur, as_of=as_of, stalled_days=DEFAULT_STALLED_DAYS)
    cur.execute("UPDATE precomputed_for SET kpis_json = $k", {"k": json.dumps(headline)})


def _precomputed(cur: Cursor, as_of: dt.date) -> tuple | None:
    """(as_of, stages, kpis_json) when what was precomputed holds for as_of and today's catalogue."""
    try:
        row = cur.execute("SELECT as_of, stages, kpis_json FROM precomputed_for").fetchone()
    except duckdb.CatalogException:
        return None
    if row is not None and row[0] == as_of and list(row[1]) == _stage_codes():
        return row
    return None


def _state_source(cur: Cursor, as_of: dt.date) -> tuple[str, dict]:
    """The relation holding project states on as_of and the parameters it needs."""
    if _precomputed(cur, as_of) is not None:
        return PRECOMPUTED_STATE, {}
    return "project_state($as_of::DATE, $stages)", {"as_of": as_of, "stages": _stage_codes()}


def project_states(
    cur: Cursor, *, as_of: dt.date, stalled_days: int = DEFAULT_STALLED_DAYS
) -> pd.DataFrame:
    """Every project started by as_of with its stage then, and whether it is late or stuck.

    Overdue: planned finish before as_of and not completed. Stalled: not completed and no stage
    change for more than stalled_days days.
    """
    done = S.stage_catalogue().completed
    source, extra = _state_source(cur, as_of)
    sql = f"""
    SELECT *,
           stage = $done AS is_completed,
           planned_finish < $as_of AND stage <> $done AS is_overdue,
           CASE WHEN stage <> $done AND planned_finish < $as_of
                THEN datediff('day', planned_finish, $as_of) END AS days_late,
           datediff('day', last_change, $as_of) AS days_idle,
           stage <> $done AND datediff('day', last_change, $as_of) > $stalled AS is_stalled
    FROM {source}
    ORDER BY project_id
    """  # noqa: S608 - source is one of the two relations of _state_source
    params = {**extra, "as_of": as_of, "done": done, "stalled": stalled_days}
    return cur.execute(sql, params).df()  # source: one of the two relations of _state_source


def kpis(cur: Cursor, *, as_of: dt.date, stalled_days: int = DEFAULT_STALLED_DAYS) -> dict:
    """The leadership's headline numbers on as_of, all computed from the data.

    On the data date with the default threshold they were computed when the version was loaded.
    """
    pre = _precomputed(cur, as_of)
    if pre is not None and pre[2] is not None and stalled_days == DEFAULT_STALLED_DAYS:
        return json.loads(pre[2])
    return _compute_kpis(cur, as_of=as_of, stalled_days=stalled_days)


def _compute_kpis(cur: Cursor, *, as_of: dt.date, stalled_days: int) -> dict:
    year_start = dt.date(as_of.year, 1, 1)
    month_ago = _month_before(as_of)
    land = cur.execute(
        """
        SELECT coalesce(sum(area_m2) FILTER (WHERE released_on <= $as_of), 0),
               count(*) FILTER (WHERE released_on <= $as_of),
               count(*),
               coalesce(sum(area_m2) FILTER (WHERE released_on <= $month_ago), 0),
               coalesce(sum(area_m2) FILTER (WHERE released_on BETWEEN $y0 AND $as_of), 0),
               coalesce(sum(area_m2), 0)
        FROM parcels
        """,
        {"as_of": as_of, "month_ago": month_ago, "y0": year_start},
    ).fetchone()
    firms = risky_firm_counts(cur, as_of=as_of)
    insp = cur.execute(
        """
        SELECT count(*),
               count(DISTINCT firm_id) FILTER (WHERE outcome = 'rectification_ordered')
        FROM inspections WHERE inspected_on BETWEEN $y0 AND $as_of
        """,
        {"y0": year_start, "as_of": as_of},
    ).fetchone()
    target = cur.execute(
        "SELECT value FROM targets WHERE year = $year AND metric = 'released_area_m2'",
        {"year": as_of.year},
    ).fetchone()
    # the counts of project_states, aggregated in the engine: a DataFrame of every project would
    # cost ten times the SQL at city scale (docs/benchmarks.md)
    done = S.stage_catalogue().completed
    source, extra = _state_source(cur, as_of)
    stage_rows = cur.execute(
        f"""
        SELECT stage, count(*),
               count(*) FILTER (WHERE planned_finish < $as_of AND stage <> $done),
               count(*) FILTER (WHERE stage <> $done AND datediff('day', last_change, $as_of) > $stalled)
        FROM {source} GROUP BY stage
        """,  # noqa: S608 - source is one of the two relations of _state_source
        {**extra, "as_of": as_of, "done": done, "stalled": stalled_days},
    ).fetchall()
    by_stage = {row[0]: int(row[1]) for row in stage_rows}
    return {
        "as_of": as_of.isoformat(),
        "released_area_m2": round(float(land[0]), 1),
        "released_parcels": int(land[1]),
        "parcels_total": int(land[2]),
        "parcels_area_m2": round(float(land[5]), 1),
        "released_area_month_ago_m2": round(float(land[3]), 1),
        "released_area_ytd_m2": round(float(land[4]), 1),
        "released_area_target_m2": float(target[0]) if target else None,
        "remediation_projects_total": sum(by_stage.values()),
        "remediation_projects_by_stage": {c: int(by_stage.get(c, 0)) for c in _stage_codes()},
        "projects_completed": by_stage.get(done, 0),
        "projects_overdue": sum(int(row[2]) for row in stage_rows),
        "projects_stalled": sum(int(row[3]) for row in stage_rows),
        "blacklisted_firms": int(firms[0]),
        "high_risk_firms": int(firms[1]),
        "inspections_ytd": int(insp[0]),
        "rectification_orders_ytd": int(insp[1]),
    }


def risky_firm_counts(cur: Cursor, *, as_of: dt.date) -> tuple[int, int]:
    """Blacklisted and high-risk firms listed by as_of (firms with no listing date count too)."""
    row = cur.execute(
        """
        SELECT count(*) FILTER (WHERE risk_level = 'blacklisted'),
               count(*) FILTER (WHERE risk_level = 'high_risk')
        FROM firms WHERE listed_on IS NULL OR listed_on <= $as_of
        """,
        {"as_of": as_of},
    ).fetchone()
    return int(row[0]), int(row[1])


def released_by_month(cur: Cursor, *, as_of: dt.date) -> pd.DataFrame:
    """Area released each month up to as_of (months with none included) and the running total."""
    return cur.execute(
        """
        WITH months AS (
            SELECT unnest(generate_series(
                date_trunc('month', (SELECT min(released_on) FROM parcels WHERE released_on <= $as_of)),
                date_trunc('month', $as_of::DATE), INTERVAL 1 MONTH))::DATE AS month
        ), rel AS (
            SELECT date_trunc('month', released_on)::DATE AS month,
                   sum(area_m2) AS released_m2, count(*) AS parcels
            FROM parcels WHERE released_on <= $as_of GROUP BY 1
        )
        SELECT month, coalesce(released_m2, 0) AS released_m2, coalesce(parcels, 0) AS parcels,
               sum(coalesce(released_m2, 0)) OVER (ORDER BY month) AS cumulative_m2
        FROM months LEFT JOIN rel USING (month)
        ORDER BY month
        """,
        {"as_of": as_of},
    ).df()


def stage_funnel(cur: Cursor, *, as_of: dt.date) -> pd.DataFrame:
    """Per stage in catalogue order: projects now at it, projects that reached it, and park area."""
    stages = _stage_codes()
    sql = """
    WITH st AS (SELECT * FROM project_state($as_of::DATE, $stages)),
    ranked AS (
        SELECT st.*, list_position($stages, st.stage) AS rank, pk.area_m2 AS park_area_m2
        FROM st LEFT JOIN parks pk USING (park_id)
    ), cat AS (
        SELECT unnest($stages) AS stage, generate_subscripts($stages, 1) AS rank
    )
    SELECT cat.stage,
           count(r.project_id) FILTER (WHERE r.rank = cat.rank) AS projects,
           count(r.project_id) FILTER (WHERE r.rank >= cat.rank) AS reached,
           coalesce(sum(r.park_area_m2) FILTER (WHERE r.rank = cat.rank), 0) AS park_area_m2
    FROM cat LEFT JOIN ranked r ON TRUE
    GROUP BY cat.stage, cat.rank
    ORDER BY cat.rank
    """
    return cur.execute(sql, {"as_of": as_of, "stages": stages}).df()


def parcels_for_map(cur: Cursor, *, as_of: dt.date) -> pd.DataFrame:
    """Every parcel with what a map shows of it: status on as_of, area, park, village and WKB."""
    return cur.execute(
        """
        SELECT pa.parcel_id, pa.name, pa.park_id, pk.name AS park_name, pa.village_code,
               v.name_zh AS village_zh, v.name_en AS village_en, pa.area_m2, pa.planned_use,
               CASE WHEN pa.released_on > $as_of THEN 'vacating' ELSE pa.release_status END
                   AS release_status,
               CASE WHEN pa.released_on <= $as_of THEN pa.released_on END AS released_on,
               ST_AsWKB(pa.geometry) AS wkb
        FROM parcels pa
        LEFT JOIN parks pk USING (park_id)
        LEFT JOIN villages v ON v.code = pa.village_code
        ORDER BY pa.parcel_id
        """,
        {"as_of": as_of},
    ).df()


def outlines(cur: Cursor, *, table_name: str) -> pd.DataFrame:
    """Outlines with a label point of villages, grids or parks, for map context."""
    label_sql = {
        "villages": "name_zh AS label_zh, name_en AS label_en, code AS id",
        "grids": "name AS label_zh, grid_id AS label_en, grid_id AS id",
        "parks": "name AS label_zh, coalesce(name_en, park_id) AS label_en, park_id AS id",
    }
    if table_name not in label_sql:
        raise ValueError(f"no outlines for table {table_name!r}")
    return cur.execute(
        f"""
        SELECT {label_sql[table_name]}, ST_X(ST_PointOnSurface(geometry)) AS lon,
               ST_Y(ST_PointOnSurface(geometry)) AS lat, ST_AsWKB(geometry) AS wkb
        FROM "{table_name}" ORDER BY id
        """  # noqa: S608 - identifiers from the allow-list above
    ).df()


def firm_points(
    cur: Cursor, *, role: str, risk_levels: tuple[str, ...] = ("blacklisted",)
) -> pd.DataFrame:
    """Firms of the given risk levels as points, with only the columns the role may see."""
    cols = access.require_table("firms", role)
    for level in risk_levels:
        if level not in S.RISK_LEVEL.codes:
            raise ValueError(f"unknown risk level {level!r}")
    wanted = [c for c in ("firm_id", "name", "uscc", "industry", "risk_level", "listed_on",
                          "list_reason", "list_status", "park_id", "parcel_id") if c in cols]
    select = ", ".join(f'f."{c}"' for c in wanted)
    return cur.execute(
        f"""
        SELECT {select}, pk.name AS park_name, ST_X(f.geometry) AS lon, ST_Y(f.geometry) AS lat
        FROM firms f LEFT JOIN parks pk USING (park_id)
        WHERE list_contains($levels, f.risk_level)
        ORDER BY f.firm_id
        """,  # noqa: S608 - columns from the schema via access.visible_columns
        {"levels": list(risk_levels)},
    ).df()


def view_center(cur: Cursor) -> tuple[float, float]:
    """The centre of the street's extent (lon, lat), where maps open."""
    row = cur.execute(
        "SELECT (min(ST_XMin(geometry)) + max(ST_XMax(geometry))) / 2, "
        "(min(ST_YMin(geometry)) + max(ST_YMax(geometry))) / 2 FROM villages"
    ).fetchone()
    return float(row[0]), float(row[1])


def view_bounds(cur: Cursor) -> tuple[float, float, float, float]:
    """The street's extent (min lon, min lat, max lon, max lat): what a map of everything must show."""
    row = cur.execute(
        "SELECT min(ST_XMin(geometry)), min(ST_YMin(geometry)), max(ST_XMax(geometry)), max(ST_YMax(geometry)) "
        "FROM villages"
    ).fetchone()
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])
