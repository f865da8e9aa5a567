"""What the import page shows of a report: tables with labels in the UI language, never raw codes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import shapely

from dayuan_geo import schema as S
from dayuan_geo.ingest.report import Report
from dayuan_geo.text import t

EMPTY = "—"


def shown_value(table: str, column: str, value: object, lang: str) -> str:
    """A stored value as a planner reads it: an enum's label, a date, yes/no, a number; — for empty."""
    if value is None or (not isinstance(value, str | shapely.Geometry) and pd.isna(value)):
        return EMPTY
    if isinstance(value, shapely.Geometry):
        return t("imp_geometry", lang)
    enum = S.enum_for(table, column)
    if enum is not None:
        return enum.label(str(value), lang)
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, float):
        return f"{value:,.1f}" if column == "area_m2" else f"{value:,.6g}"
    return str(value)


def assumed(report: Report, lang: str) -> str:
    """One line of what the import took the file to be (format, coordinates, encoding, sheet)."""
    return t("imp_assumed", lang, fmt=report.fmt or EMPTY, crs=report.crs or EMPTY,
             encoding=report.encoding or EMPTY, sheet=report.sheet or EMPTY, rows=f"{report.rows_read:,}")


def issues_table(report: Report, lang: str) -> pd.DataFrame:
    """The report's problems, one a line, headed and worded in lang."""
    frame = report.to_frame(lang)
    frame["level"] = frame["level"].map(lambda v: t(f"imp_level_{v}", lang))
    frame["row"] = frame["row"].map(lambda v: "" if v is None or pd.isna(v) else str(int(v)))
    frame.columns = [t(f"imp_h_{c}", lang) for c in frame.columns]
    return frame


def already_there(report: Report) -> int:
    """Rows refused only because their id exists (an upsert would update them)."""
    return sum(1 for i in report.issues if i.key == "imp_m_already_in")


def rows_table(preview: pd.DataFrame, table: str, lang: str) -> pd.DataFrame:
    """Rows added, changed or removed, with labels for codes and headers in lang."""
    shown = preview.drop(columns=[S.GEOMETRY_COLUMN], errors="ignore")
    out = pd.DataFrame({t("imp_rows", lang): shown["change"].map(lambda c: t(f"imp_{c}", lang))})
    for c in shown.columns:
        if c != "change":
            out[S.column_label(table, c, lang)] = [shown_value(table, c, v, lang) for v in shown[c]]
    return out


def diff_table(diff: pd.DataFrame, table: str, lang: str) -> pd.DataFrame:
    """Each changed value: the row's id, the column's label, before and after as labels."""
    return pd.DataFrame({
        t("imp_h_key", lang): diff["key"].astype(str),
        t("imp_h_column", lang): [S.column_label(table, c, lang) for c in diff["column"]],
        t("imp_h_before", lang): [shown_value(table, c, v, lang) for c, v in zip(diff["column"], diff["before"],
                                                                                  strict=True)],
        t("imp_h_after", lang): [shown_value(table, c, v, lang) for c, v in zip(diff["column"], diff["after"],
                                                                                strict=True)],
    })
