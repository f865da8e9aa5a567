"""What the import page shows of a report: tables with labels in the UI language, never raw codes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import shapely

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.ingest.report import Report
from dayuan_geo.text import fmt_time, t

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


_MODES = ("append", "upsert", "replace", "restore")
_STATUSES = ("imported", "unchanged", "checked", "refused")


def _count(value: object) -> object:
    return EMPTY if value is None or (isinstance(value, float) and pd.isna(value)) else int(value)


def _tables(names: object, lang: str) -> str:
    parts = [n for n in str(names or "").replace(";", ",").split(",") if n.strip()]
    return "、".join(S.table(n.strip()).label(lang) if n.strip() in S.TABLES else n.strip() for n in parts) or EMPTY


def _mode(mode: object, lang: str) -> str:
    return t(f"imp_mode_{mode}", lang) if mode in _MODES else (str(mode) if mode else EMPTY)


def history_table(rows: list[dict], lang: str) -> pd.DataFrame:
    """The kept versions as a planner reads them: China time, table and mode labels, — for empty, and a
    note said in the UI language (the demo's scale and seed, the version a restore brought back)."""
    out = []
    for h in rows:
        if h.get("source") == "demo" and not h.get("mode"):
            note = t("imp_note_demo", lang, scale=h.get("scale") or EMPTY, seed=h.get("seed") or EMPTY)
        elif h.get("mode") == "restore":
            note = t("imp_note_restored", lang, version=h.get("restored_from") or EMPTY)
        else:
            note = EMPTY
        out.append({
            t("imp_h_version", lang): f"v{h['version']}" + (t("imp_h_current", lang) if h.get("current") else ""),
            t("imp_h_when", lang): fmt_time(h.get("created_at"), lang),
            t("imp_h_user", lang): h.get("user") or EMPTY,
            t("imp_h_table", lang): _tables(h.get("table"), lang),
            t("imp_h_file", lang): h.get("file") or EMPTY,
            t("imp_mode", lang): _mode(h.get("mode"), lang),
            t("imp_added", lang): _count(h.get("added")),
            t("imp_changed", lang): _count(h.get("changed")),
            t("imp_removed", lang): _count(h.get("removed")),
            t("imp_h_note", lang): note,
        })
    return pd.DataFrame(out)


def log_table(entries: list[dict], lang: str) -> pd.DataFrame:
    """The import log (every attempt, refusals included) with labelled headers and values."""
    out = []
    for e in entries:
        role = e.get("role")
        out.append({
            t("imp_h_when", lang): fmt_time(e.get("at"), lang),
            t("imp_h_user", lang): e.get("user") or EMPTY,
            t("imp_h_role", lang): access.role(role).label(lang) if role in access.ROLES else (role or EMPTY),
            t("imp_h_file", lang): e.get("file") or EMPTY,
            t("imp_h_table", lang): _tables(e.get("table"), lang),
            t("imp_mode", lang): _mode(e.get("mode"), lang),
            t("imp_h_status", lang): t(f"imp_status_{e['status']}", lang) if e.get("status") in _STATUSES
            else (e.get("status") or EMPTY),
            t("imp_h_version", lang): f"v{e['version']}" if e.get("version") else EMPTY,
            t("imp_h_rows", lang): _count(e.get("rows")),
            t("imp_added", lang): _count(e.get("added")),
            t("imp_changed", lang): _count(e.get("changed")),
            t("imp_removed", lang): _count(e.get("removed")),
            t("imp_h_errors", lang): _count(e.get("errors")),
        })
    return pd.DataFrame(out)
