"""Rows of a file as typed values, and the table after merging them in (append, upsert, replace).

Each problem is one line for one row; a value that cannot be read is said once (never again as
"required"); a descriptive column the file lacks or leaves blank becomes the explicit unknown,
said once per column with the number of rows.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import shapely

from dayuan_geo import schema as S
from dayuan_geo.ingest.checks import check_geometry
from dayuan_geo.ingest.columns import DERIVED, GEO_TARGETS, SET_PREFIX, descriptive, key_columns
from dayuan_geo.ingest.guard import Limits, Raw
from dayuan_geo.ingest.parse import blank, parse_value
from dayuan_geo.ingest.report import ProgressFn, Report, _noop


def parse_rows(raw: Raw, tbl: S.Table, matched: dict[str, str], geoms: np.ndarray | None, limits: Limits,
               report: Report, progress: ProgressFn = _noop) -> list[dict]:
    """One dict per row of the file: typed values, `_row` (as the user numbers it), `_ok`, `_bad`."""
    rows: list[dict] = []
    records = raw.frame.to_dict("records")
    for i, rec in enumerate(records):
        if i % 5_000 == 0 and i:
            progress(f"checking rows ({i:,} of {len(records):,})", 0.35 + 0.3 * i / len(records))
        number = raw.row_number(i)
        row: dict = {"_row": number, "_ok": True, "_bad": set()}
        for col in tbl.columns:
            if col.dtype == "geometry" or col.name not in matched or col.name in DERIVED:
                continue
            value = rec.get(matched[col.name])
            if blank(value):
                row[col.name] = None
                continue
            try:
                row[col.name] = parse_value(col, tbl.name, value)
            except ValueError as exc:
                key, values = getattr(exc, "key", ""), getattr(exc, "values", {})
                if matched[col.name].startswith(SET_PREFIX):  # a --set value: said once for the file
                    if not any(i.column == col.name and i.row is None for i in report.issues):
                        report.add(None, col.name, "error", f"--set {col.name}: {exc}", key=key, values=values)
                else:
                    report.add(number, col.name, "error", str(exc), key=key, values=values)
                row[col.name] = None
                row["_bad"].add(col.name)
                row["_ok"] = False
        if "area_m2" in matched:
            row["_area_given"] = rec.get(matched["area_m2"])
        if geoms is not None:
            g, level, key, values = check_geometry(geoms[i], tbl, limits)
            if level:
                report.note(level, key, row=number, column=S.GEOMETRY_COLUMN, **values)
            row["_ok"] = row["_ok"] and level != "error"
            row[S.GEOMETRY_COLUMN] = g
        rows.append(row)
    return rows


def key_tuple(row: dict | pd.Series, keys: tuple[str, ...]) -> tuple:
    out = []
    for k in keys:
        v = row[k]
        if isinstance(v, pd.Timestamp | dt.datetime):
            v = v.date()
        out.append(None if blank(v) else (int(v) if isinstance(v, np.integer) else v))
    return tuple(out)


def same(a: object, b: object) -> bool:
    if isinstance(a, shapely.Geometry) or isinstance(b, shapely.Geometry):
        if a is None or b is None:
            return a is b
        return bool(shapely.equals_exact(a, b, tolerance=1e-9))
    if blank(a) and blank(b):
        return True
    if blank(a) or blank(b):
        return False
    if isinstance(a, pd.Timestamp | dt.datetime):
        a = a.date()
    if isinstance(b, pd.Timestamp | dt.datetime):
        b = b.date()
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def _frame(rows: list[dict], table: S.Table, change: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*table.column_names]) if rows else pd.DataFrame(
        columns=[*table.column_names])
    frame["change"] = change
    return frame


def merge(rows: list[dict], current: pd.DataFrame, tbl: S.Table, matched: dict[str, str], mode: str,
          report: Report, *, derived: set[str] | frozenset[str] = frozenset()
          ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The table after the import; the preview of rows added, changed and removed (column `change`);
    and the before/after of each changed value (key, column, before, after)."""
    keys = key_columns(tbl.name)
    names = list(tbl.column_names)
    supplied = set(matched) - DERIVED - set(GEO_TARGETS)
    if tbl.has_geometry and any(S.GEOMETRY_COLUMN in r for r in rows):
        supplied |= {S.GEOMETRY_COLUMN} | set(derived)
    unknown_ok = set(descriptive(tbl.name))
    cur_records = current[names].to_dict("records") if len(current) else []
    cur_by_key = {key_tuple(r, keys): r for r in cur_records}
    seen: dict[tuple, int] = {}
    merged: dict[tuple, dict] = {} if mode == "replace" else dict(cur_by_key)
    added, changed, diff = [], [], []
    absent: set[str] = set()  # required columns the file lacks, reported once
    unknown: dict[str, int] = {}  # descriptive column -> rows set to unknown
    for r in rows:
        key = tuple(r.get(k) for k in keys)
        shown_key = "/".join(map(str, key))
        if any(v is None for v in key):
            if not any(k in r["_bad"] for k in keys):
                missing = [tbl.column(k) for k, v in zip(keys, key, strict=True) if v is None]
                report.note("error", "imp_m_missing_id", row=r["_row"], column=keys[0],
                            ids=(", ".join(c.zh for c in missing), ", ".join(c.en for c in missing)))
            continue
        if key in seen:
            report.note("error", "imp_m_duplicate_id", row=r["_row"], column=keys[0], id=shown_key, other=seen[key])
            r["_ok"] = False
            continue
        seen[key] = r["_row"]
        old = cur_by_key.get(key)
        if old is not None and mode == "append":
            report.note("error", "imp_m_already_in", row=r["_row"], column=keys[0], id=shown_key,
                        table=(tbl.zh, tbl.name))
            continue
        base = dict(old) if (old is not None and mode == "upsert") else {c: None for c in names}
        new = {c: (r.get(c) if c in supplied or c in keys else base.get(c)) for c in names}
        if mode == "upsert" and old is not None:
            for c in names:
                if c not in supplied and c not in keys:
                    new[c] = old.get(c)
        for c in unknown_ok:
            if new.get(c) is None and c not in r["_bad"]:
                new[c] = S.UNKNOWN
                unknown[c] = unknown.get(c, 0) + 1
        if old is None and tbl.has_geometry and new.get(S.GEOMETRY_COLUMN) is None and r["_ok"]:
            report.note("error", "imp_m_no_geometry", row=r["_row"], column=S.GEOMETRY_COLUMN)
            r["_ok"] = False
        missing = [tbl.column(c) for c in names if tbl.column(c).required and new.get(c) is None
                   and c not in r["_bad"] and c not in derived and c != S.GEOMETRY_COLUMN]
        for col in missing:
            r["_ok"] = False
            if col.name in matched:
                report.note("error", "imp_m_required", row=r["_row"], column=col.name, label=(col.zh, col.en))
            elif col.name not in absent:  # said once for the file, not once per row
                absent.add(col.name)
                report.note("error", "imp_m_required_absent", column=col.name, label=(col.zh, col.en),
                            name=col.name)
        if not r["_ok"]:
            if old is not None:
                merged[key] = old  # a row left out keeps its current values, even in replace mode
            continue
        if old is None:
            added.append(new)
        else:
            moved = [c for c in names if not same(new[c], old.get(c))]
            if moved:
                changed.append(new)
                diff += [{"key": shown_key, "column": c, "before": old.get(c), "after": new[c]} for c in moved]
        merged[key] = new
    for c, n in unknown.items():
        col = tbl.column(c)
        which = "imp_m_unknown_filled" if c in matched else "imp_m_unknown_absent"
        report.note("warning", which, column=c, label=(col.zh, col.en), n=n, name=c)
    removed = [r for k, r in cur_by_key.items() if k not in merged] if mode == "replace" else []
    if mode == "replace" and not rows:
        removed = cur_records
    report.added, report.changed, report.removed = len(added), len(changed), len(removed)
    frame = pd.DataFrame(list(merged.values()), columns=names)
    preview = pd.concat([_frame(added, tbl, "added"), _frame(changed, tbl, "changed"),
                         _frame(removed, tbl, "removed")], ignore_index=True)
    return frame, preview, pd.DataFrame(diff, columns=["key", "column", "before", "after"])
