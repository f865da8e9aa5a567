"""The leadership's questions beyond the headline counts: is the year's release on pace, how each
village stands, and what changed in a month. The overview page, the monthly briefing and the
command line ask these same functions, so their figures agree.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.overview.queries import DEFAULT_STALLED_DAYS, Cursor, _state_source


def _released_between(cur: Cursor, start: dt.date, end: dt.date) -> tuple[float, int]:
    row = cur.execute(
        "SELECT coalesce(sum(area_m2), 0), count(*) FROM parcels WHERE released_on BETWEEN $a AND $b",
        {"a": start, "b": end},
    ).fetchone()
    return round(float(row[0]), 1), int(row[1])


def pace(cur: Cursor, *, as_of: dt.date) -> dict:
    """Is the year's release on pace? Released since 1 January against the annual target prorated
    to as_of (by days elapsed), the gap, and this month against last month and the same month last
    year (whole months; this month runs to as_of).

    status is "on_track" when the year's release reaches the prorated target, "behind" when not,
    "no_target" when the year has none.
    """
    year_start = dt.date(as_of.year, 1, 1)
    year_days = (dt.date(as_of.year + 1, 1, 1) - year_start).days
    elapsed = (as_of - year_start).days + 1
    target_row = cur.execute(
        "SELECT value FROM targets WHERE year = $year AND metric = 'released_area_m2'", {"year": as_of.year}
    ).fetchone()
    target = float(target_row[0]) if target_row else None
    ytd, ytd_parcels = _released_between(cur, year_start, as_of)
    before, _ = _released_between(cur, dt.date(1, 1, 1), year_start - dt.timedelta(days=1))
    month_start = as_of.replace(day=1)
    last_end = month_start - dt.timedelta(days=1)
    last_year_start = month_start.replace(year=month_start.year - 1)
    last_year_end = (last_year_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    this_month, this_parcels = _released_between(cur, month_start, as_of)
    last_month, last_parcels = _released_between(cur, last_end.replace(day=1), last_end)
    year_ago, year_ago_parcels = _released_between(cur, last_year_start, last_year_end)
    due = round(target * elapsed / year_days, 1) if target else None
    return {
        "as_of": as_of.isoformat(),
        "year": as_of.year,
        "target_m2": target,
        "released_ytd_m2": ytd,
        "released_ytd_parcels": ytd_parcels,
        "released_before_year_m2": before,
        "days_elapsed": elapsed,
        "days_in_year": year_days,
        "due_by_now_m2": due,
        "gap_m2": round(ytd - due, 1) if due is not None else None,
        "share_of_target": ytd / target if target else None,
        "status": "no_target" if due is None else ("on_track" if ytd >= due else "behind"),
        "month": month_start.strftime("%Y-%m"),
        "month_m2": this_month,
        "month_parcels": this_parcels,
        "last_month": last_end.strftime("%Y-%m"),
        "last_month_m2": last_month,
        "last_month_parcels": last_parcels,
        "year_ago_month": last_year_start.strftime("%Y-%m"),
        "year_ago_month_m2": year_ago,
        "year_ago_month_parcels": year_ago_parcels,
    }


def village_ranking(cur: Cursor, *, as_of: dt.date, stalled_days: int = DEFAULT_STALLED_DAYS) -> pd.DataFrame:
    """Per village, most released first: land released by as_of and this year, the village's share
    of the year's target and how much of it is done, overdue and stalled projects, risky firms.

    A village's share of the year's target is the target split by the land each village still had
    to release on 1 January (parcel area not released by then); `due_m2` is that share prorated to
    as_of like the street's, and `behind` says the village released less than it.
    """
    done = S.stage_catalogue().completed
    source, extra = _state_source(cur, as_of)
    p = pace(cur, as_of=as_of)
    fraction = p["days_elapsed"] / p["days_in_year"]
    sql = f"""
    WITH land AS (
        SELECT village_code,
               coalesce(sum(area_m2) FILTER (WHERE released_on <= $as_of), 0) AS released_m2,
               count(*) FILTER (WHERE released_on <= $as_of) AS released_parcels,
               coalesce(sum(area_m2) FILTER (WHERE released_on BETWEEN $y0 AND $as_of), 0) AS released_ytd_m2,
               coalesce(sum(area_m2) FILTER (WHERE released_on IS NULL OR released_on >= $y0), 0) AS open_m2
        FROM parcels GROUP BY village_code
    ), proj AS (
        SELECT pk.village_code,
               count(*) FILTER (WHERE st.planned_finish < $as_of AND st.stage <> $done) AS overdue,
               count(*) FILTER (WHERE st.stage <> $done
                                AND datediff('day', st.last_change, $as_of) > $stalled) AS stalled
        FROM {source} st JOIN parks pk USING (park_id) GROUP BY pk.village_code
    ), risky AS (
        SELECT village_code, count(*) FILTER (WHERE risk_level = 'blacklisted') AS blacklisted,
               count(*) FILTER (WHERE risk_level = 'high_risk') AS high_risk
        FROM firms WHERE listed_on IS NULL OR listed_on <= $as_of GROUP BY village_code
    )
    SELECT v.code AS village_code, v.name_zh, v.name_en,
           coalesce(land.released_m2, 0) AS released_m2,
           coalesce(land.released_parcels, 0) AS released_parcels,
           coalesce(land.released_ytd_m2, 0) AS released_ytd_m2,
           coalesce(land.open_m2, 0) AS open_m2,
           coalesce(proj.overdue, 0) AS overdue, coalesce(proj.stalled, 0) AS stalled,
           coalesce(risky.blacklisted, 0) AS blacklisted, coalesce(risky.high_risk, 0) AS high_risk
    FROM villages v LEFT JOIN land ON land.village_code = v.code
    LEFT JOIN proj ON proj.village_code = v.code LEFT JOIN risky ON risky.village_code = v.code
    ORDER BY released_m2 DESC, v.code
    """  # noqa: S608 - source is one of the two relations of _state_source
    params = {**extra, "as_of": as_of, "y0": dt.date(as_of.year, 1, 1), "done": done, "stalled": stalled_days}
    df = cur.execute(sql, params).df()
    open_total = float(df["open_m2"].sum())
    if p["target_m2"] and open_total > 0:
        df["target_share_m2"] = p["target_m2"] * df["open_m2"].astype("float64") / open_total
        df["due_m2"] = df["target_share_m2"] * fraction
        share = df["target_share_m2"].where(df["target_share_m2"] > 0)
        df["share_of_target"] = (df["released_ytd_m2"].astype("float64") / share).fillna(0.0)
        df["behind"] = df["released_ytd_m2"].astype("float64") < df["due_m2"]
    else:
        df["target_share_m2"] = df["due_m2"] = df["share_of_target"] = float("nan")
        df["behind"] = False
    df["risky"] = df["blacklisted"] + df["high_risk"]
    return df.reset_index(drop=True)


def changes_between(cur: Cursor, *, start: dt.date, end: dt.date, role: str) -> dict[str, pd.DataFrame]:
    """What changed from start to end (both included): parcels released, remediation stages entered,
    and firms put on the blacklist or the high-risk list (names only for roles that may see them)."""
    released = cur.execute(
        """
        SELECT pa.parcel_id, pa.name, pa.village_code, pk.name AS park_name, pa.area_m2, pa.planned_use,
               pa.released_on
        FROM parcels pa LEFT JOIN parks pk USING (park_id)
        WHERE pa.released_on BETWEEN $a AND $b ORDER BY pa.released_on, pa.parcel_id
        """,
        {"a": start, "b": end},
    ).df()
    stages = cur.execute(
        """
        SELECT e.project_id, p.name, pk.park_id, pk.name AS park_name, pk.village_code, e.stage, e.entered_on
        FROM remediation_events e JOIN remediation_projects p USING (project_id)
        LEFT JOIN parks pk ON pk.park_id = p.park_id
        WHERE e.entered_on BETWEEN $a AND $b ORDER BY e.entered_on, e.project_id
        """,
        {"a": start, "b": end},
    ).df()
    cols = access.require_table("firms", role)
    wanted = [c for c in ("firm_id", "name", "risk_level", "list_status", "listed_on", "village_code")
              if c in cols]
    select = ", ".join(f'"{c}"' for c in wanted)
    listed = cur.execute(
        f"""SELECT {select} FROM firms WHERE risk_level IN ('blacklisted', 'high_risk')
        AND listed_on BETWEEN $a AND $b ORDER BY listed_on, firm_id""",  # noqa: S608 - schema columns
        {"a": start, "b": end},
    ).df()
    cleared = cur.execute(
        "SELECT list_status, count(*) AS firms FROM firms WHERE list_status IN ('delisted', 'evicted') "
        "GROUP BY list_status ORDER BY list_status"
    ).df()
    return {"released": released, "stages": stages, "listed": listed, "cleared": cleared}


def plan_line(pace_: dict) -> tuple[tuple[dt.date, float], tuple[dt.date, float]] | None:
    """The year's plan on the cumulative chart: the total released before 1 January rising evenly to
    it plus the year's target on 31 December (None when the year has no target)."""
    if not pace_.get("target_m2"):
        return None
    year, base = int(pace_["year"]), float(pace_["released_before_year_m2"])
    return (dt.date(year, 1, 1), base), (dt.date(year, 12, 31), base + float(pace_["target_m2"]))
