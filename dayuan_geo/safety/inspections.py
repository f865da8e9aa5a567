"""What the inspections found: per month, category and outcome, per grid, the firms ordered to
rectify and the firms found with problems again and again.

Counts carry no names and are open to every role; the two firm lists take the caller's role and
select only `access.visible_columns` (through safety.queries' firm select).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dayuan_geo import schema as S
from dayuan_geo.safety.queries import BRIEF_FIRM_COLUMNS, Cursor, _firm_select

DEFAULT_MIN_PROBLEMS = 3
TREND_MONTHS = 24


def inspections_by_month(cur: Cursor, *, as_of: dt.date, months: int = TREND_MONTHS) -> pd.DataFrame:
    """Inspections per month and outcome over the months up to as_of (empty months included)."""
    if months < 1:
        raise ValueError("months must be at least 1")
    return cur.execute(
        """
        WITH m AS (
            SELECT unnest(generate_series(
                date_trunc('month', $as_of::DATE) - to_months($n - 1),
                date_trunc('month', $as_of::DATE), INTERVAL 1 MONTH))::DATE AS month
        ), o AS (SELECT unnest($outcomes) AS outcome),
        c AS (
            SELECT date_trunc('month', inspected_on)::DATE AS month, outcome, count(*) AS n
            FROM inspections
            WHERE inspected_on <= $as_of
              AND inspected_on >= date_trunc('month', $as_of::DATE) - to_months($n - 1)
            GROUP BY ALL
        )
        SELECT m.month, o.outcome, coalesce(c.n, 0) AS inspections
        FROM m CROSS JOIN o LEFT JOIN c USING (month, outcome)
        ORDER BY m.month, list_position($outcomes, o.outcome)
        """,
        {"as_of": as_of, "n": months, "outcomes": list(S.INSPECTION_OUTCOME.codes)},
    ).df()


def inspections_breakdown(cur: Cursor, *, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Inspections from start to end by category and outcome, every combination listed."""
    return cur.execute(
        """
        WITH k AS (SELECT unnest($cats) AS category), o AS (SELECT unnest($outs) AS outcome),
        c AS (
            SELECT category, outcome, count(*) AS n FROM inspections
            WHERE inspected_on BETWEEN $start AND $end GROUP BY ALL
        )
        SELECT k.category, o.outcome, coalesce(c.n, 0) AS inspections
        FROM k CROSS JOIN o LEFT JOIN c USING (category, outcome)
        ORDER BY list_position($cats, k.category), list_position($outs, o.outcome)
        """,
        {"start": start, "end": end, "cats": list(S.INSPECTION_CATEGORY.codes),
         "outs": list(S.INSPECTION_OUTCOME.codes)},
    ).df()


def rectification_orders(cur: Cursor, *, role: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Firms ordered to rectify from start to end: how often, when last, and whether a later
    inspection (up to end) passed them."""
    _, select = _firm_select(role, columns=BRIEF_FIRM_COLUMNS)
    return cur.execute(
        f"""
        WITH o AS (
            SELECT firm_id, count(*) AS orders, max(inspected_on) AS last_order_on
            FROM inspections
            WHERE outcome = 'rectification_ordered' AND inspected_on BETWEEN $start AND $end
            GROUP BY firm_id
        ), after AS (
            SELECT o.firm_id, bool_or(i.outcome = 'passed') AS passed_since
            FROM o JOIN inspections i ON i.firm_id = o.firm_id
                 AND i.inspected_on > o.last_order_on AND i.inspected_on <= $end
            GROUP BY o.firm_id
        )
        SELECT {select}, pk.name AS park_name, o.orders, o.last_order_on,
               coalesce(after.passed_since, false) AS passed_since
        FROM o JOIN firms f USING (firm_id)
        LEFT JOIN parks pk ON pk.park_id = f.park_id
        LEFT JOIN after USING (firm_id)
        ORDER BY o.orders DESC, o.last_order_on DESC, f.firm_id
        """,  # noqa: S608 - columns from the schema via access.visible_columns
        {"start": start, "end": end},
    ).df()


def repeat_problem_firms(
    cur: Cursor, *, role: str, start: dt.date, end: dt.date, min_problems: int = DEFAULT_MIN_PROBLEMS,
) -> pd.DataFrame:
    """Firms inspected from start to end with a problem found (any outcome but passed) at least
    min_problems times, most problems first."""
    if min_problems < 1:
        raise ValueError("min_problems must be at least 1")
    _, select = _firm_select(role, columns=BRIEF_FIRM_COLUMNS)
    return cur.execute(
        f"""
        WITH c AS (
            SELECT firm_id, count(*) AS inspections,
                   count(*) FILTER (WHERE outcome <> 'passed') AS problems,
                   count(*) FILTER (WHERE outcome = 'rectification_ordered') AS rectification_orders,
                   count(*) FILTER (WHERE outcome = 'penalised') AS penalties,
                   max(inspected_on) AS last_inspected_on
            FROM inspections WHERE inspected_on BETWEEN $start AND $end
            GROUP BY firm_id
        )
        SELECT {select}, pk.name AS park_name, c.inspections, c.problems, c.rectification_orders,
               c.penalties, c.last_inspected_on
        FROM c JOIN firms f USING (firm_id)
        LEFT JOIN parks pk ON pk.park_id = f.park_id
        WHERE c.problems >= $min
        ORDER BY c.problems DESC, c.last_inspected_on DESC, f.firm_id
        """,  # noqa: S608 - columns from the schema via access.visible_columns
        {"start": start, "end": end, "min": min_problems},
    ).df()


def inspections_per_grid(cur: Cursor, *, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Every grid with its inspections and problems found from start to end, and its outline."""
    return cur.execute(
        """
        WITH c AS (
            SELECT grid_id, count(*) AS inspections,
                   count(*) FILTER (WHERE outcome <> 'passed') AS problems
            FROM inspections WHERE inspected_on BETWEEN $start AND $end GROUP BY grid_id
        )
        SELECT g.grid_id, g.name, g.village_code, v.name_zh AS village_zh, v.name_en AS village_en,
               coalesce(c.inspections, 0) AS inspections, coalesce(c.problems, 0) AS problems,
               ST_AsWKB(g.geometry) AS wkb
        FROM grids g LEFT JOIN c USING (grid_id) LEFT JOIN villages v ON v.code = g.village_code
        ORDER BY inspections DESC, g.grid_id
        """,
        {"start": start, "end": end},
    ).df()
