"""The remediation tracker's questions: where each project stands, what is late, what is stuck,
how long stages take, and the story of one park.

Every project's state on a day comes from `queries.project_states` (the `project_state` table
macro), so the late and stuck lists here count exactly what `kpis` counts. Stage codes, their order
and which stage releases land come from the stage catalogue in force (`schema.stage_catalogue()`),
never from code, so another street's workflow needs no change here.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.overview import queries
from dayuan_geo.text import EMPTY, fmt_dates, is_empty

Cursor = queries.Cursor
DEFAULT_STALLED_DAYS = queries.DEFAULT_STALLED_DAYS

# What the pipeline can be split by: the allow-list of grouping columns of `project_list`.
SPLITS = ("mode", "village_code")
MEASURES = ("projects", "park_area_m2")

# Columns of the late and stuck lists, in display order.
LATE_COLUMNS = ("project_id", "name", "park_name", "village_code", "mode", "stage",
                "responsible_unit", "planned_finish", "days_late", "last_change", "days_idle")
STUCK_COLUMNS = ("project_id", "name", "park_name", "village_code", "mode", "stage",
                 "responsible_unit", "last_change", "days_idle", "planned_finish", "days_late")


def project_list(
    cur: Cursor, *, as_of: dt.date, stalled_days: int = DEFAULT_STALLED_DAYS
) -> pd.DataFrame:
    """Every project started by as_of: its state (late, stuck), park, village and land released.

    released_m2 is the area of the park's parcels released by as_of; progress is that area over
    the park's area (0 to 1).
    """
    if stalled_days < 0:
        raise ValueError(f"stalled_days must be 0 or more, not {stalled_days}")
    states = queries.project_states(cur, as_of=as_of, stalled_days=stalled_days)
    parks = cur.execute(
        """
        SELECT pk.park_id, pk.name AS park_name, coalesce(pk.name_en, pk.name) AS park_name_en,
               pk.village_code, pk.area_m2 AS park_area_m2,
               coalesce(sum(pa.area_m2) FILTER (WHERE pa.released_on <= $as_of), 0) AS released_m2,
               count(pa.parcel_id) FILTER (WHERE pa.released_on <= $as_of) AS released_parcels,
               count(pa.parcel_id) AS parcels
        FROM parks pk LEFT JOIN parcels pa USING (park_id)
        GROUP BY ALL
        """,
        {"as_of": as_of},
    ).df()
    out = states.merge(parks, on="park_id", how="left")
    area = out["park_area_m2"].astype("float64")
    out["progress"] = (out["released_m2"].astype("float64") / area.where(area > 0)).fillna(0.0).clip(0, 1)
    return out.sort_values("project_id", ignore_index=True)


def filter_projects(
    df: pd.DataFrame, *, modes: tuple[str, ...] = (), villages: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The projects of the given modes and villages (an empty choice means all)."""
    for mode in modes:
        if mode not in S.REMEDIATION_MODE.codes:
            raise ValueError(f"unknown remediation mode {mode!r}")
    keep = pd.Series(True, index=df.index)
    if modes:
        keep &= df["mode"].isin(modes)
    if villages:
        keep &= df["village_code"].isin(villages)
    return df[keep].reset_index(drop=True)


def late_projects(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects past their planned finish and not completed, the latest first."""
    late = projects[projects["is_overdue"].astype(bool)]
    return late.sort_values(["days_late", "project_id"], ascending=[False, True], ignore_index=True)


def stuck_projects(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects with no stage change for longer than the threshold, the longest idle first."""
    stuck = projects[projects["is_stalled"].astype(bool)]
    return stuck.sort_values(["days_idle", "project_id"], ascending=[False, True], ignore_index=True)


GANTT_LIMIT = 80  # rows a timeline stays readable with


def most_urgent(projects: pd.DataFrame, *, limit: int) -> pd.DataFrame:
    """The rows to show when there are too many to read or draw: the late ones (latest first),
    then the stuck ones (longest idle first), then the most recently started. Order is kept."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if len(projects) <= limit:
        return projects
    order = projects.assign(
        _late=projects["is_overdue"].astype("boolean").fillna(False),
        _stuck=projects["is_stalled"].astype("boolean").fillna(False),
        _days=projects["days_late"].astype("Float64").fillna(-1),
        _idle=projects["days_idle"].astype("Float64").fillna(-1),
    ).sort_values(["_late", "_days", "_stuck", "_idle", "started_on"], ascending=False,
                  na_position="last")
    keep = order.head(limit).index
    return projects.loc[projects.index.isin(keep)]


def gantt_selection(projects: pd.DataFrame, *, limit: int = GANTT_LIMIT) -> pd.DataFrame:
    """The projects the timeline shows (see most_urgent)."""
    return most_urgent(projects, limit=limit)


def stage_pipeline(projects: pd.DataFrame, *, split: str = "mode") -> pd.DataFrame:
    """Projects and park area at each stage (catalogue order) split by mode or village.

    One row per (stage, group) with projects and park_area_m2; stages with no project appear with
    zeros so the chart always shows the whole workflow.
    """
    if split not in SPLITS:
        raise ValueError(f"cannot split the pipeline by {split!r}; choose one of {', '.join(SPLITS)}")
    codes = S.stage_catalogue().codes
    groups = sorted(projects[split].dropna().unique()) if len(projects) else []
    if split == "mode":
        groups = [m for m in S.REMEDIATION_MODE.codes if m in set(groups)]
    agg = (projects.groupby(["stage", split], observed=True)
           .agg(projects=("project_id", "count"), park_area_m2=("park_area_m2", "sum"))
           .reset_index().rename(columns={split: "group"}))
    grid = pd.MultiIndex.from_product([codes, groups], names=["stage", "group"]).to_frame(index=False)
    out = grid.merge(agg, on=["stage", "group"], how="left").fillna({"projects": 0, "park_area_m2": 0.0})
    out["projects"] = out["projects"].astype("int64")
    return out


STAY_COLUMNS = ("project_id", "stage", "stage_rank", "entered_on", "left_on", "ongoing", "days")


def stage_history(
    cur: Cursor, *, as_of: dt.date, project_id: str | None = None, modes: tuple[str, ...] = (),
    villages: tuple[str, ...] = (), brief: bool = False,
) -> pd.DataFrame:
    """Every stage each project entered by as_of, with the days it spent there.

    left_on is the day the next stage was entered; a project's current stage is still open
    (left_on empty, days counted to as_of, ongoing true) unless it is the completed stage, which
    has no duration. modes and villages keep the projects of those modes and parks in those
    villages (empty: all); brief keeps only STAY_COLUMNS, what the charts need (at scale L the
    names of 863,480 stays would take half a gigabyte).
    """
    cat = S.stage_catalogue()
    columns = ("seq.project_id, seq.stage, seq.stage_rank, seq.entered_on, seq.left_on" if brief else
               """seq.project_id, p.name, p.park_id, pk.name AS park_name, pk.village_code, p.mode,
           seq.stage, seq.stage_rank, seq.entered_on, seq.left_on""")
    sql = f"""
    WITH ev AS (
        SELECT e.project_id, e.stage, e.entered_on,
               list_position($stages, e.stage) AS stage_rank
        FROM remediation_events e
        WHERE e.entered_on <= $as_of AND ($pid IS NULL OR e.project_id = $pid)
    ), seq AS (
        SELECT ev.*, lead(entered_on) OVER (PARTITION BY project_id
                                            ORDER BY entered_on, stage_rank) AS left_on
        FROM ev
    )
    SELECT {columns},
           seq.left_on IS NULL AND seq.stage <> $done AS ongoing,
           CASE WHEN seq.stage = $done THEN NULL
                ELSE datediff('day', seq.entered_on, coalesce(seq.left_on, $as_of::DATE)) END AS days
    FROM seq JOIN remediation_projects p USING (project_id)
    LEFT JOIN parks pk ON pk.park_id = p.park_id
    WHERE (len($modes) = 0 OR list_contains($modes, p.mode))
      AND (len($villages) = 0 OR list_contains($villages, pk.village_code))
    ORDER BY seq.project_id, seq.entered_on, seq.stage_rank
    """  # noqa: S608 - a choice between two constant column lists
    for mode in modes:
        if mode not in S.REMEDIATION_MODE.codes:
            raise ValueError(f"unknown remediation mode {mode!r}")
    params = {"as_of": as_of, "stages": list(cat.codes), "done": cat.completed, "pid": project_id,
              "modes": list(modes), "villages": list(villages)}
    return cur.execute(sql, params).df()


def stage_durations(history: pd.DataFrame, *, include_ongoing: bool = True) -> pd.DataFrame:
    """Median and spread (quartiles, min, max) of days spent in each stage, in catalogue order.

    Stays still open count with their days so far when include_ongoing is true: a stuck project is
    exactly a long open stay. The completed stage has no duration and is left out.
    """
    cat = S.stage_catalogue()
    stays = history[history["days"].notna()]
    if not include_ongoing:
        stays = stays[~stays["ongoing"].astype(bool)]
    rows = []
    for code in cat.codes:
        if code == cat.completed:
            continue
        days = stays.loc[stays["stage"] == code, "days"].astype("float64")
        q = days.quantile([0.25, 0.5, 0.75]) if len(days) else pd.Series([np.nan] * 3, [0.25, 0.5, 0.75])
        rows.append({
            "stage": code, "stays": len(days),
            "ongoing": int(stays.loc[stays["stage"] == code, "ongoing"].astype(bool).sum()),
            "median_days": q[0.5], "q1_days": q[0.25], "q3_days": q[0.75],
            "min_days": days.min() if len(days) else np.nan,
            "max_days": days.max() if len(days) else np.nan,
        })
    return pd.DataFrame(rows)


def project_story(cur: Cursor, *, park_id: str, as_of: dt.date, role: str) -> dict:
    """What happened to one park: its project, every stage with its date, the parcels it released
    and their area, and the firms that were there (names only for roles that may see them)."""
    row = cur.execute(
        "SELECT project_id FROM remediation_projects WHERE park_id = $park ORDER BY project_id LIMIT 1",
        {"park": park_id},
    ).fetchone()
    park = cur.execute(
        """
        SELECT pk.park_id, pk.name AS park_name, pk.name_en AS park_name_en, pk.village_code,
               v.name_zh AS village_zh, v.name_en AS village_en, pk.operator, pk.area_m2
        FROM parks pk LEFT JOIN villages v ON v.code = pk.village_code
        WHERE pk.park_id = $park
        """,
        {"park": park_id},
    ).df()
    if park.empty:
        raise ValueError(f"no park {park_id!r}")
    project = None
    history = pd.DataFrame()
    if row is not None:
        states = project_list(cur, as_of=as_of)
        match = states[states["project_id"] == row[0]]
        project = match.iloc[0].to_dict() if len(match) else None
        history = stage_history(cur, as_of=as_of, project_id=row[0])
    parcels = cur.execute(
        """
        SELECT parcel_id, name AS parcel_name, area_m2, planned_use, released_on
        FROM parcels WHERE park_id = $park AND released_on <= $as_of
        ORDER BY released_on, parcel_id
        """,
        {"park": park_id, "as_of": as_of},
    ).df()
    cols = access.require_table("firms", role)
    wanted = [c for c in ("firm_id", "name", "uscc", "industry", "risk_level", "list_status",
                          "listed_on") if c in cols]
    select = ", ".join(f'"{c}"' for c in wanted)
    firms = cur.execute(
        f"SELECT {select} FROM firms WHERE park_id = $park ORDER BY firm_id",  # noqa: S608 - schema columns
        {"park": park_id},
    ).df()
    return {
        "park": park.iloc[0].to_dict(),
        "project": project,
        "history": history,
        "parcels": parcels,
        "released_m2": float(parcels["area_m2"].sum()) if len(parcels) else 0.0,
        "firms": firms,
    }


def days_late_class(days_late: object, is_completed: bool) -> str:
    """The colour class of a project on the days-late map: completed, on time or a lateness band."""
    if is_completed:
        return "completed"
    if days_late is None or pd.isna(days_late) or int(days_late) <= 0:
        return "on_time"
    days = int(days_late)
    if days <= 90:
        return "late_90"
    if days <= 365:
        return "late_365"
    return "late_more"


LATE_CLASSES = ("completed", "on_time", "late_90", "late_365", "late_more")


def parks_for_map(cur: Cursor, *, as_of: dt.date, stalled_days: int = DEFAULT_STALLED_DAYS) -> pd.DataFrame:
    """Every park outline (WKB) with its project's state on as_of; parks with no started project
    have an empty stage."""
    outlines = cur.execute(
        "SELECT park_id, ST_AsWKB(geometry) AS wkb FROM parks ORDER BY park_id"
    ).df()
    projects = project_list(cur, as_of=as_of, stalled_days=stalled_days)
    keep = ["project_id", "park_id", "park_name", "park_name_en", "village_code", "name", "mode", "stage",
            "responsible_unit", "started_on", "planned_finish", "days_late", "days_idle", "is_overdue",
            "is_stalled", "is_completed", "park_area_m2", "released_m2", "progress"]
    projects = projects[keep].drop_duplicates("park_id")
    names = cur.execute("SELECT park_id, name AS park_name_all, area_m2 AS area_all FROM parks").df()
    out = outlines.merge(names, on="park_id").merge(projects, on="park_id", how="left")
    out["park_name"] = out["park_name"].fillna(out["park_name_all"])
    out["park_area_m2"] = out["park_area_m2"].fillna(out["area_all"])
    out["late_class"] = [
        days_late_class(d, bool(c) if pd.notna(c) else False) if pd.notna(s) else "not_started"
        for d, c, s in zip(out["days_late"], out["is_completed"], out["stage"], strict=True)
    ]
    return out.drop(columns=["park_name_all", "area_all"])


# Headers of columns that are not in the schema's remediation tables: i18n keys.
COLUMN_TEXT = {
    "park_id": "rem_col_park_id", "park_name": "rem_col_park", "village_code": "rem_col_village",
    "last_change": "rem_col_last_change", "days_late": "rem_days_late", "days_idle": "rem_days_idle",
    "park_area_m2": "rem_park_area", "released_m2": "rem_released", "progress": "rem_col_progress",
    "released_parcels": "rem_col_released_parcels", "parcels": "rem_col_parcels",
    "left_on": "rem_col_left_on", "days": "rem_days_in_stage", "ongoing": "rem_col_ongoing",
    "stays": "rem_col_stays", "median_days": "rem_col_median", "q1_days": "rem_col_q1",
    "q3_days": "rem_col_q3", "min_days": "rem_col_min", "max_days": "rem_col_max",
    "area_m2": "rem_col_area", "parcel_id": "rem_col_parcel_id", "parcel_name": "rem_col_parcel_name",
    "released_on": "rem_col_released_on", "planned_use": "rem_col_planned_use",
}
PROJECT_COLUMNS = ("project_id", "name", "park_id", "park_name", "village_code", "mode", "stage",
                   "responsible_unit", "started_on", "planned_finish", "finished_on", "last_change",
                   "days_late", "days_idle", "park_area_m2", "released_m2", "progress")
HISTORY_COLUMNS = ("project_id", "name", "park_name", "village_code", "mode", "stage", "entered_on",
                   "left_on", "days")
STORY_COLUMNS = ("stage", "entered_on", "left_on", "days")
PARCEL_COLUMNS = ("parcel_id", "parcel_name", "area_m2", "planned_use", "released_on")
DURATION_COLUMNS = ("stage", "stays", "ongoing", "median_days", "q1_days", "q3_days", "min_days",
                    "max_days")


def header(column: str, lang: str, *, table: str = "remediation_projects") -> str:
    """The header of a column in lang: the schema's label (table's first), else the tracker's text."""
    from dayuan_geo.text import t

    for table_name in (table, "remediation_projects", "remediation_events"):
        if column in S.table(table_name).column_names:
            return S.column_label(table_name, column, lang)
    return t(COLUMN_TEXT[column], lang) if column in COLUMN_TEXT else column


def labelled(df: pd.DataFrame, columns: tuple[str, ...], *, lang: str,
             villages: dict[str, str] | None = None, table: str = "remediation_projects",
             screen: bool = False) -> pd.DataFrame:
    """What a person reads: the columns asked for, codes as labels, dates as days, headers in lang.

    The same frame is shown on the page and exported, so a download holds what the screen shows.
    On screen (`screen`) every column has one type, dates as YYYY-MM-DD text and EMPTY for none:
    a column mixing dates and EMPTY cannot go to the browser as Arrow (Streamlit logs an
    ArrowTypeError and converts it again on every run); an export keeps dates, so Excel sorts them.
    """
    cat = S.stage_catalogue()
    out = df[[c for c in columns if c in df.columns]].copy()
    if lang == "en" and "park_name" in out.columns and "park_name_en" in df.columns:
        out["park_name"] = df["park_name_en"].fillna(df["park_name"])
    labels = {
        "stage": {c: cat.label(c, lang) for c in cat.codes},
        "mode": {c: S.REMEDIATION_MODE.label(c, lang) for c in S.REMEDIATION_MODE.codes},
        "planned_use": {c: S.LAND_USE.label(c, lang) for c in S.LAND_USE.codes},
        "village_code": villages or {},
    }
    for col in out.columns:
        if col in labels and (col != "village_code" or villages is not None):
            out[col] = out[col].map(lambda v, names=labels[col]: names.get(v, v))
        elif pd.api.types.is_datetime64_any_dtype(out[col]):
            days = out[col]
            out[col] = fmt_dates(days) if screen else days.dt.date.astype(object).where(days.notna(), EMPTY)
        elif col in ("park_area_m2", "released_m2", "area_m2", "median_days", "q1_days", "q3_days"):
            out[col] = out[col].astype("float64").round(1)
        elif col == "progress":
            out[col] = out[col].astype("float64").round(4)
    out = _empty_as_dash(out)
    out.columns = [header(c, lang, table=table) for c in out.columns]
    return out


def _empty_as_dash(out: pd.DataFrame) -> pd.DataFrame:
    """Empty text cells show EMPTY (numbers stay numbers, so they still sort)."""
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = [EMPTY if is_empty(v) else v for v in out[col]]
    return out


def firms_table(firms: pd.DataFrame, *, lang: str) -> pd.DataFrame:
    """A park's firms as people read them: codes as labels, headers in lang. Only the columns the
    role's query returned are there, so hidden names stay hidden."""
    enums = {"industry": S.INDUSTRY, "risk_level": S.RISK_LEVEL, "list_status": S.LIST_STATUS}
    out = firms.copy()
    for col, enum in enums.items():
        if col in out.columns:
            out[col] = [enum.label(v, lang) if isinstance(v, str) else EMPTY for v in out[col]]
    if "listed_on" in out.columns:
        out["listed_on"] = fmt_dates(pd.to_datetime(out["listed_on"]))
    out = _empty_as_dash(out)
    out.columns = [S.column_label("firms", c, lang) for c in out.columns]
    return out


def story_stages(history: pd.DataFrame) -> pd.DataFrame:
    """Every stage of the catalogue for one project's history, for reading: the day it was entered
    and left and the days spent, as text ("—" for stages not reached or skipped by its mode)."""
    cat = S.stage_catalogue()
    first = history.drop_duplicates("stage", keep="first").set_index("stage")

    def text(value: object) -> str:
        if value is None or pd.isna(value):
            return "—"
        return value.date().isoformat() if isinstance(value, pd.Timestamp) else str(int(value))

    rows = []
    for code in cat.codes:
        hit = code in first.index
        rows.append({
            "stage": code,
            **{col: text(first.at[code, col]) if hit else "—" for col in ("entered_on", "left_on", "days")},
        })
    return pd.DataFrame(rows)
