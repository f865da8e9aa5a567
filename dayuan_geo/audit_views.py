"""The audit log as a leader reads it: times in China time, roles, actions, tables, filters and
details by their labels in the UI language (the log itself keeps codes and UTC)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from dayuan_geo import access, audit
from dayuan_geo import schema as S
from dayuan_geo.text import EMPTY, fmt_time, is_empty, t

# filter keys the pages record that are not columns of the exported table
_FILTER_KEYS = {
    "villages": ("parcels", "village_code"), "grids": ("firms", "grid_id"), "industries": ("firms", "industry"),
    "mode": ("remediation_projects", "mode"), "parcel_status": ("parcels", "release_status"),
}
_FILTER_LABELS = {"distance_m": "audit_f_distance", "year": "audit_f_year", "min_problems": "audit_f_min_problems",
                  "stalled_days": "audit_f_stalled_days", "as_of": "data_as_of", "format": "audit_d_format",
                  "file": "audit_d_file", "table": "audit_what", "version": "dataset_version",
                  "mode": "audit_d_mode", "restored": "audit_d_restored"}


def _label_of(key: str, table: str, lang: str) -> str:
    if key in _FILTER_LABELS and not (key == "mode" and table == "remediation_projects"):
        return t(_FILTER_LABELS[key], lang)
    tbl, col = _FILTER_KEYS.get(key, (table, key))
    return S.column_label(tbl if tbl in S.TABLES else "parcels", col, lang)


def _value_of(key: str, value: object, table: str, lang: str) -> str:
    if isinstance(value, list | tuple):
        joined = ("、" if lang == "zh" else ", ").join(_value_of(key, v, table, lang) for v in value)
        return joined or t("audit_any", lang)
    if is_empty(value):
        return EMPTY
    tbl, col = _FILTER_KEYS.get(key, (table, key))
    enum = S.enum_for(tbl, col) if tbl in S.TABLES else None
    if enum is not None and isinstance(value, str) and value in enum.codes:
        return enum.label(value, lang)
    if key == "format":
        return str(value).upper()
    if key == "table" and isinstance(value, str) and value in S.TABLES:
        return S.table(value).label(lang)
    return str(value)


def describe(items: Mapping | None, *, table: str, lang: str) -> str:
    """`key: value; …` with the keys and enumerations labelled (EMPTY when there is nothing)."""
    colon, semicolon = ("：", "；") if lang == "zh" else (": ", "; ")
    parts = [f"{_label_of(str(k), table, lang)}{colon}{_value_of(str(k), v, table, lang)}"
             for k, v in (items or {}).items()]
    return semicolon.join(parts) if parts else EMPTY


def table_label(name: object, lang: str) -> str:
    return S.table(name).label(lang) if isinstance(name, str) and name in S.TABLES else (str(name or "") or EMPTY)


def entries_frame(entries: list[dict], *, lang: str) -> pd.DataFrame:
    """One row per log entry, headers and values in lang, newest first as the log reads them."""
    rows = []
    for e in entries:
        what = e.get("what")
        role = e.get("role")
        action = e.get("action")
        rows.append({
            t("audit_at", lang): fmt_time(e.get("at"), lang),
            t("audit_user", lang): e.get("user") or EMPTY,
            t("audit_role", lang): access.role(role).label(lang) if access.is_role(role) else EMPTY,
            t("audit_action", lang): t(f"audit_{action}", lang) if action in audit.ACTIONS
            else t("audit_unreadable", lang),
            t("audit_what", lang): table_label(what, lang) if "unreadable" not in e else str(e["unreadable"]),
            t("audit_filters", lang): describe(e.get("filters"), table=str(what), lang=lang),
            t("audit_rows", lang): EMPTY if e.get("rows") is None else f"{int(e['rows']):,}",
            t("audit_detail", lang): describe(e.get("detail"), table=str(what), lang=lang),
        })
    return pd.DataFrame(rows)
