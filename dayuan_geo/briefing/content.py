"""What the monthly briefing (汇报材料) says, in the order a 汇报 uses, as plain blocks (headings,
paragraphs, tables, images) that the PDF and the Word writers lay out the same way.

Every figure comes from the questions the overview asks (`overview.queries.kpis`, `leadership.pace`,
`leadership.village_ranking`, `attention`, the safety and remediation queries) on the month's last day,
or on the data date for the data date's month, so the briefing, the page and `kpis --json --as-of`
agree.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pandas as pd

from dayuan_geo import schema as S
from dayuan_geo.briefing import charts
from dayuan_geo.overview import attention, leadership, queries, views
from dayuan_geo.safety import inspections
from dayuan_geo.safety import queries as safety
from dayuan_geo.text import fmt_area, t

LIST_ROWS = 15  # rows of each project or firm list in the briefing
PERCENT_COLUMNS = ("share_of_target",)
# relative widths of the columns of attention.LATE_COLUMNS (and STALLED_COLUMNS), RISKY_COLUMNS
LIST_WIDTHS = (3.2, 3, 1.4, 2, 2.6, 2.2)
RISKY_WIDTHS = (3.6, 1.3, 1.4, 3.6, 2.2, 1.4)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Para:
    text: str
    note: bool = False  # a caption or an explanation, set smaller


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]  # relative column widths
    numeric: tuple[bool, ...] = ()  # right-aligned columns


@dataclass(frozen=True)
class Image:
    png: bytes
    width_mm: float
    caption: str


@dataclass
class Document:
    title: str
    stamp: str  # data date, version and source
    demo: str | None  # the demo label when the data are (partly) demo data
    as_of: dt.date
    month: str
    lang: str
    blocks: list = field(default_factory=list)


def month_window(month: str | None, *, data_date: dt.date) -> tuple[dt.date, dt.date]:
    """(first day, as-of day) of the month YYYY-MM: its last day, or the data date for the data
    date's month (the default). Months after the data date have no data yet."""
    if month is None:
        return data_date.replace(day=1), data_date
    m = _MONTH.fullmatch(month.strip()) if isinstance(month, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"month must be YYYY-MM, not {month!r}")
    start = dt.date(int(m.group(1)), int(m.group(2)), 1)
    if start > data_date:
        raise ValueError(f"{month} is after the data date {data_date}")
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return start, min(end, data_date)


def _n(value: object) -> str:
    return f"{int(value):,}"


def _signed_area(m2: float, lang: str) -> str:
    return ("+" if m2 >= 0 else "−") + fmt_area(abs(m2), lang)


def _table(df: pd.DataFrame, *, lang: str, widths: tuple[float, ...]) -> Table:
    """A list of the attention module as a table: its headers in lang, numbers with separators,
    shares as percentages."""
    shown = df.drop(columns=[attention.LINK], errors="ignore")
    numeric = tuple(pd.api.types.is_numeric_dtype(shown[c]) for c in shown.columns)
    rows = []
    for rec in shown.itertuples(index=False):
        cells = []
        for col, value, num in zip(shown.columns, rec, numeric, strict=True):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                cells.append("—")
            elif col in PERCENT_COLUMNS:
                cells.append(f"{value:.0%}")
            else:
                cells.append(f"{value:,.0f}" if num else str(value))
        rows.append(tuple(cells))
    return Table(tuple(attention.headers(shown, lang).columns), tuple(rows), widths, numeric)


def _headline(k: dict, p: dict, lang: str) -> Table:
    status = t(f"ov_status_{p['status']}", lang)
    share = f"{p['share_of_target']:.0%}" if p["share_of_target"] is not None else "—"
    rows = [
        (t("kpi_released", lang), fmt_area(k["released_area_m2"], lang),
         t("brief_month_change", lang, delta=_signed_area(k["released_area_m2"] - k["released_area_month_ago_m2"],
                                                           lang))),
        (t("kpi_year_target", lang), fmt_area(k["released_area_ytd_m2"], lang),
         f"{share} · {t('of_target', lang, target=fmt_area(k['released_area_target_m2'], lang))} · {status}"),
        (t("ov_month", lang, month=p["month"]), fmt_area(p["month_m2"], lang),
         f"{t('ov_last_month', lang, month=p['last_month'])} {fmt_area(p['last_month_m2'], lang)} · "
         f"{t('ov_year_ago', lang, month=p['year_ago_month'])} {fmt_area(p['year_ago_month_m2'], lang)}"),
        (t("kpi_parcels", lang), f"{_n(k['released_parcels'])} / {_n(k['parcels_total'])}", ""),
        (t("kpi_projects", lang), _n(k["remediation_projects_total"]),
         f"{t('kpi_completed', lang)} {_n(k['projects_completed'])}"),
        (t("kpi_overdue", lang), _n(k["projects_overdue"]), t("kpi_overdue_help", lang)),
        (t("kpi_stalled", lang), _n(k["projects_stalled"]),
         t("kpi_stalled_help", lang, days=queries.DEFAULT_STALLED_DAYS)),
        (t("kpi_blacklisted", lang), _n(k["blacklisted_firms"]), ""),
        (t("kpi_high_risk", lang), _n(k["high_risk_firms"]), ""),
        (t("kpi_inspections", lang), _n(k["inspections_ytd"]), ""),
        (t("kpi_rectification", lang), _n(k["rectification_orders_ytd"]), ""),
    ]
    cols = (t("brief_col_metric", lang), t("brief_col_value", lang), t("brief_col_note", lang))
    return Table(cols, tuple(rows), (3, 2.2, 5), (False, True, False))


def _pace_line(p: dict, lang: str) -> str:
    if p["target_m2"] is None:
        return t("ov_status_no_target", lang)
    gap = p["gap_m2"]
    return t("brief_pace_line", lang, ytd=fmt_area(p["released_ytd_m2"], lang),
             target=fmt_area(p["target_m2"], lang), share=f"{p['share_of_target']:.0%}",
             due=fmt_area(p["due_by_now_m2"], lang), status=t(f"ov_status_{p['status']}", lang),
             gap=t("ov_gap" if gap < 0 else "ov_ahead", lang, gap=fmt_area(abs(gap), lang)))


def _pipeline(funnel: pd.DataFrame, lang: str) -> Table:
    cat = S.stage_catalogue()
    rows = tuple((cat.label(r.stage, lang), _n(r.projects), _n(r.reached), f"{r.park_area_m2:,.0f}")
                 for r in funnel.itertuples(index=False))
    cols = (t("ov_col_stage", lang), t("brief_col_projects", lang), t("brief_col_reached", lang),
            t("brief_col_park_area", lang))
    return Table(cols, rows, (3, 2, 2, 2.5), (False, True, True, True))


def _villages(ranking: pd.DataFrame, lang: str, role: str) -> Table:
    return _table(views.village_table(ranking, lang=lang, role=role), lang=lang,
                  widths=(2.6, 2, 2, 2, 1.6, 1.3, 1.3, 1.5))


def _inspections(cur: queries.Cursor, *, start: dt.date, end: dt.date, lang: str) -> Table:
    found = inspections.inspections_breakdown(cur, start=start, end=end)
    by = found.groupby("outcome", sort=False)["inspections"].sum()
    rows = tuple((S.INSPECTION_OUTCOME.label(code, lang), _n(n)) for code, n in by.items())
    return Table((S.column_label("inspections", "outcome", lang), t("brief_col_count", lang)), rows, (3, 2),
                 (False, True))


def _shown(n: int, lang: str) -> str:
    """Says that a list of n rows shows only its first LIST_ROWS."""
    return t("brief_shown", lang, shown=LIST_ROWS) if n > LIST_ROWS else ""


def _changes(ch: dict[str, pd.DataFrame], lang: str) -> list:
    released = ch["released"]
    out: list = [Para(t("brief_changes_released", lang, n=len(released),
                        area=fmt_area(float(released["area_m2"].sum()), lang)) + _shown(len(released), lang))]
    if len(ch["released"]):
        rows = tuple((r.parcel_id, str(r.name), str(r.park_name), f"{r.area_m2:,.0f}", str(r.released_on)[:10])
                     for r in ch["released"].head(LIST_ROWS).itertuples(index=False))
        out.append(Table((t("brief_col_parcel", lang), S.column_label("parcels", "name", lang), t("ov_col_park", lang),
                          t("brief_col_area", lang), t("brief_col_date", lang)), rows, (2, 3, 3, 1.8, 1.8),
                         (False, False, False, True, False)))
    cat = S.stage_catalogue()
    out.append(Para(t("brief_changes_stages", lang, n=len(ch["stages"])) + _shown(len(ch["stages"]), lang)))
    if len(ch["stages"]):
        rows = tuple((str(r.name), cat.label(r.stage, lang), str(r.entered_on)[:10])
                     for r in ch["stages"].head(LIST_ROWS).itertuples(index=False))
        out.append(Table((t("ov_col_name", lang), t("ov_col_stage", lang), t("brief_col_date", lang)), rows,
                         (4, 3, 2)))
    listed = ch["listed"]
    out.append(Para(t("brief_changes_listed", lang, n=len(listed)) + _shown(len(listed), lang)))
    listed = listed.head(LIST_ROWS)
    if len(listed):
        who = "name" if "name" in listed.columns else "village_code"
        rows = tuple((str(getattr(r, who)), S.RISK_LEVEL.label(r.risk_level, lang), str(r.listed_on)[:10])
                     for r in listed.itertuples(index=False))
        head = t("ov_col_firm" if who == "name" else "ov_col_village", lang)
        out.append(Table((head, t("ov_col_risk_level", lang), t("brief_col_listed_on", lang)), rows, (5, 2, 2)))
    cleared = dict(zip(ch["cleared"]["list_status"], ch["cleared"]["firms"], strict=True))
    out.append(Para(t("brief_changes_cleared", lang, delisted=int(cleared.get("delisted", 0)),
                      evicted=int(cleared.get("evicted", 0))), note=True))
    return out


def build(cur: queries.Cursor, *, manifest: dict, month: str | None = None, lang: str = "zh",
          role: str = "leader") -> Document:
    """The briefing for month (default: the data date's), in lang, showing what role may see."""
    data_date = dt.date.fromisoformat(str(manifest["as_of"]))
    start, as_of = month_window(month, data_date=data_date)
    label = start.strftime("%Y-%m")
    k = queries.kpis(cur, as_of=as_of)
    p = leadership.pace(cur, as_of=as_of)
    late, late_n, stalled, stalled_n = attention.late_and_stalled(cur, as_of=as_of, role=role, lang=lang,
                                                                   limit=LIST_ROWS)
    near = safety.near_land_by_firm(cur, role=role, as_of=as_of)
    risky, _ = attention.risky_near_land(cur, as_of=as_of, role=role, lang=lang, limit=LIST_ROWS)
    ranking = leadership.village_ranking(cur, as_of=as_of)
    doc = Document(
        title=t("brief_title", lang, month=label),
        stamp=views.stamp({**manifest, "as_of": as_of.isoformat()}, lang)[0],
        demo=views.source_label(manifest, lang)[1], as_of=as_of, month=label, lang=lang,
    )

    year_start = dt.date(as_of.year, 1, 1)
    b = doc.blocks
    b += [Heading(t("brief_h_headline", lang)), _headline(k, p, lang),
          Heading(t("brief_h_release", lang)), Para(_pace_line(p, lang)),
          Para(t("brief_month_line", lang, month=p["month"], m=fmt_area(p["month_m2"], lang),
                 lm=fmt_area(p["last_month_m2"], lang), ym=fmt_area(p["year_ago_month_m2"], lang))),
          Image(charts.release_chart(queries.released_by_month(cur, as_of=as_of), p, lang=lang), 170,
                t("brief_chart_caption", lang)),
          Heading(t("brief_h_pipeline", lang)), _pipeline(queries.stage_funnel(cur, as_of=as_of), lang),
          Heading(t("brief_h_late", lang)),
          Heading(t("brief_late_sub", lang, n=late_n) + _shown(late_n, lang), 2),
          _table(late, lang=lang, widths=LIST_WIDTHS),
          Heading(t("brief_stalled_sub", lang, days=queries.DEFAULT_STALLED_DAYS, n=stalled_n)
                  + _shown(stalled_n, lang), 2),
          _table(stalled, lang=lang, widths=LIST_WIDTHS),
          Heading(t("brief_h_villages", lang)), Para(t("ov_village_help", lang), note=True),
          _villages(ranking, lang, role),
          Heading(t("brief_h_risky", lang)),
          Para(t("brief_risky_line", lang, d=safety.DEFAULT_DISTANCE_M, n=len(near.firms), parcels=near.parcels)
               + _shown(len(near.firms), lang)),
          _table(risky, lang=lang, widths=RISKY_WIDTHS[-len(risky.columns) + 1:]),
          Heading(t("brief_h_inspections", lang)),
          Para(t("brief_inspections_line", lang, start=year_start.isoformat(), end=as_of.isoformat(),
                 n=_n(k["inspections_ytd"]), r=_n(k["rectification_orders_ytd"]))),
          _inspections(cur, start=year_start, end=as_of, lang=lang),
          Heading(t("brief_h_changes", lang)),
          *_changes(leadership.changes_between(cur, start=start, end=as_of, role=role), lang),
          Heading(t("brief_h_map", lang)),
          Image(charts.street_map(cur, start=start, as_of=as_of, role=role, lang=lang), 150,
                t("brief_map_caption", lang))]
    return doc
