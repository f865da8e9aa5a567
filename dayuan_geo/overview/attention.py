"""What needs the leadership's attention: the latest projects, the longest stalled, risky firms on or
near land being released (the veto check) and the villages behind their share of the year's target.

The lists come from the questions the other pages ask (`remediation.queries.late_projects` and
`stuck_projects`, `safety.queries.near_land_by_firm`, `overview.leadership.village_ranking`), so the
overview names exactly the projects and firms those pages count. Each row carries the link that opens
the project, firm or filtered page it names, for the pages the role may open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.overview import leadership
from dayuan_geo.overview.queries import DEFAULT_STALLED_DAYS, Cursor
from dayuan_geo.remediation import queries as R
from dayuan_geo.remediation import views as RV
from dayuan_geo.safety import queries as safety
from dayuan_geo.text import t

PAGE_ROWS = 5  # rows of each list on the overview; the briefing shows more
LINK = "link"

# Columns of each list in display order, what a leader asks first on the left (a phone shows about
# three columns without swiping: which project, who is responsible, how late); headers are the text
# keys ov_col_<column>; each list ends with its LINK.
LATE_COLUMNS = ("name", "responsible_unit", "days_late", "stage", "park", "village")
STALLED_COLUMNS = ("name", "responsible_unit", "days_idle", "stage", "park", "village")
RISKY_COLUMNS = ("firm", "risk_level", "distance_m", "nearest_parcel", "village", "parcels_near")
VILLAGE_COLUMNS = ("village", "gap_m2", "share_of_target", "released_ytd_m2", "due_m2")
NUMBER_COLUMNS = ("released_m2", "released_ytd_m2", "target_share_m2", "due_m2", "gap_m2", "distance_m",
                  "days_late", "days_idle")  # shown with thousands separators


def link(page: str, *, lang: str, **params: str | list[str] | None) -> str:
    """The address of a page with the query parameters that reproduce a view (and ?lang=en)."""
    pairs = [(k, v) for k, v in params.items() if v not in (None, "", [])]
    if lang != "zh":
        pairs.append(("lang", lang))
    query = urlencode(pairs, doseq=True)
    return f"/{page}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Attention:
    """The four lists (already in the reader's language) and how many rows each has in all."""

    late: pd.DataFrame
    late_total: int
    stalled: pd.DataFrame
    stalled_total: int
    risky: pd.DataFrame
    risky_total: int
    villages: pd.DataFrame
    villages_total: int


def _projects(frame: pd.DataFrame, *, columns: tuple[str, ...], role: str, lang: str,
              names: dict[str, str]) -> pd.DataFrame:
    cat = S.stage_catalogue()
    park = frame["park_name_en"].fillna(frame["park_name"]) if lang == "en" else frame["park_name"]
    opens = access.may_open("remediation", role)
    days = columns[2]  # days_late or days_idle
    out = pd.DataFrame({
        "name": frame["name"], "park": park, "village": frame["village_code"].map(names),
        "responsible_unit": frame["responsible_unit"],
        "stage": [cat.label(c, lang) for c in frame["stage"]],
        days: frame[days].astype("Int64"),
        LINK: [link("remediation" if opens else "land", lang=lang, park=p) for p in frame["park_id"]],
    })
    return out[[*columns, LINK]].reset_index(drop=True)


def late_and_stalled(
    cur: Cursor, *, as_of: dt.date, role: str, lang: str, limit: int = PAGE_ROWS,
    stalled_days: int = DEFAULT_STALLED_DAYS,
) -> tuple[pd.DataFrame, int, pd.DataFrame, int]:
    """The latest projects (most days past their planned finish first) and the longest stalled
    (most days without a stage change first), limit rows each, with the counts of both lists."""
    projects = R.project_list(cur, as_of=as_of, stalled_days=stalled_days)
    names = RV.village_names(cur, lang=lang)
    late, stuck = R.late_projects(projects), R.stuck_projects(projects)
    return (_projects(late.head(limit), columns=LATE_COLUMNS, role=role, lang=lang, names=names), len(late),
            _projects(stuck.head(limit), columns=STALLED_COLUMNS, role=role, lang=lang, names=names), len(stuck))


def risky_near_land(
    cur: Cursor, *, as_of: dt.date, role: str, lang: str, limit: int = PAGE_ROWS,
) -> tuple[pd.DataFrame, int]:
    """Blacklisted and high-risk firms on or near land being released, nearest first: the firm (its
    name only for roles that may see it), where it is and the nearest parcel, and how many there are."""
    near = safety.near_land_by_firm(cur, role=role, as_of=as_of)
    firms = near.firms.head(limit)
    names = RV.village_names(cur, lang=lang)
    opens_firms = access.may_open("firms", role)
    statuses = [S.RELEASE_STATUS.label(s, lang) for s in firms["nearest_parcel_status"]]
    out = pd.DataFrame({
        "firm": firms["name"] if "name" in firms.columns else None,
        "risk_level": [S.RISK_LEVEL.label(r, lang) for r in firms["risk_level"]],
        "village": firms["village_code"].map(names),
        "nearest_parcel": [f"{n} ({s})" for n, s in zip(firms["nearest_parcel_name"], statuses, strict=True)],
        "distance_m": firms["distance_m"].astype("float64").round(0),
        "parcels_near": firms["parcels_near"].astype("int64"),
        LINK: [link("firms", lang=lang, firm=f) if opens_firms else link("land", lang=lang, parcel=p)
               for f, p in zip(firms["firm_id"], firms["nearest_parcel_id"], strict=True)],
    })
    out = out[[*RISKY_COLUMNS, LINK]]
    if "name" not in firms.columns:  # a role that may not see firm names sees where, not who
        out = out.drop(columns=["firm"])
    return out.reset_index(drop=True), len(near.firms)


def villages_behind(
    ranking: pd.DataFrame, *, role: str, lang: str, limit: int = PAGE_ROWS,
) -> tuple[pd.DataFrame, int]:
    """Villages that released less this year than their share of the target prorated to the data
    date (leadership.village_ranking), furthest behind first."""
    behind = ranking[ranking["behind"].astype(bool)].copy()
    behind["gap_m2"] = behind["released_ytd_m2"].astype("float64") - behind["due_m2"].astype("float64")
    behind = behind.sort_values(["gap_m2", "village_code"], ignore_index=True)
    top = behind.head(limit)
    page = "remediation" if access.may_open("remediation", role) else "land"
    out = pd.DataFrame({
        "village": top["name_zh" if lang == "zh" else "name_en"],
        "released_ytd_m2": top["released_ytd_m2"].astype("float64").round(0),
        "due_m2": top["due_m2"].astype("float64").round(0),
        "gap_m2": top["gap_m2"].round(0),
        "share_of_target": top["share_of_target"].astype("float64"),
        LINK: [link(page, lang=lang, village=code) for code in top["village_code"]],
    })
    return out[[*VILLAGE_COLUMNS, LINK]], len(behind)


def attention(
    cur: Cursor, *, as_of: dt.date, role: str, lang: str, limit: int = PAGE_ROWS,
) -> Attention:
    """Everything the 需要关注 block lists, for the role and in lang."""
    late, late_n, stalled, stalled_n = late_and_stalled(cur, as_of=as_of, role=role, lang=lang, limit=limit)
    risky, risky_n = risky_near_land(cur, as_of=as_of, role=role, lang=lang, limit=limit)
    ranking = leadership.village_ranking(cur, as_of=as_of)
    villages, villages_n = villages_behind(ranking, role=role, lang=lang, limit=limit)
    return Attention(late, late_n, stalled, stalled_n, risky, risky_n, villages, villages_n)


def headers(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The list with its headers in lang (text keys ov_col_<column>)."""
    return df.rename(columns={c: t(f"ov_col_{c}", lang) for c in df.columns})
