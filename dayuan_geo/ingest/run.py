"""Files in: read real files safely, match their columns to a table, report row by row, publish.

`run_import(path, table=..., ...)` is the one entry point (CLI and the import page call it). It
never raises for bad input: every problem becomes a line of the `Report`, and a file with errors is
refused whole unless `skip_invalid` is set. Hostile files (path traversal or bombs in zip archives,
huge files, spoofed extensions, broken workbooks) are refused before anything is unpacked or
parsed in bulk. Nothing reaches the dataset except through `versions.publish`, under the writer lock.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import versions
from dayuan_geo.ingest.checks import check_geometry, check_references, current_table, derive
from dayuan_geo.ingest.columns import DERIVED, GEO_TARGETS, key_columns, match_columns, parse_mapping
from dayuan_geo.ingest.parse import blank, geometry_from_columns, parse_crs, parse_value, to_wgs84
from dayuan_geo.ingest.read import Limits, Raw, Refused, read_file, short
from dayuan_geo.ingest.report import ImportResult, ProgressFn, Report, _noop

MODES = ("append", "upsert", "replace")
__all__ = ["MODES", "ImportResult", "Report", "key_columns", "parse_mapping", "preview_view", "run_import"]


def _key_tuple(row: dict | pd.Series, keys: tuple[str, ...]) -> tuple:
    out = []
    for k in keys:
        v = row[k]
        if isinstance(v, pd.Timestamp | dt.datetime):
            v = v.date()
        out.append(None if blank(v) else (int(v) if isinstance(v, np.integer) else v))
    return tuple(out)


def _same(a: object, b: object) -> bool:
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



def _preview(rows: list[dict], table: S.Table, change: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*table.column_names]) if rows else pd.DataFrame(
        columns=[*table.column_names])
    frame["change"] = change
    return frame


def preview_view(preview: pd.DataFrame) -> tuple[tuple[float, float], float] | None:
    """(centre lon/lat, zoom) framing the rows of a preview, or None when none has geometry."""
    geoms = [g for g in preview.get(S.GEOMETRY_COLUMN, pd.Series(dtype=object)) if g is not None]
    if not geoms:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(np.array(geoms, dtype=object))
    span = max(x1 - x0, (y1 - y0) * 1.6, 0.002)
    zoom = float(np.clip(math.log2(360.0 / span) - 1.2, 10.0, 17.0))
    return ((float(x0 + x1) / 2, float(y0 + y1) / 2), zoom)


def run_import(
    path: Path,
    *,
    table: str,
    directory: Path,
    user: str,
    role: str,
    crs: str | None = None,
    mapping: dict[str, str] | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    mode: str = "append",
    layer: str | None = None,
    limits: Limits | None = None,
    progress: ProgressFn = _noop,
    display_name: str | None = None,
) -> ImportResult:
    """Check path against table and, unless refused or dry_run, publish it as a new dataset version."""
    path, directory = Path(path), Path(directory)
    name = display_name or path.name
    report = Report(file=name, table=table, mode=mode)
    result = ImportResult(report)
    try:
        if not access.role(role).may_import:
            raise Refused(f"role {role!r} may not import data (planners only)")
        S.table(table)
        if mode not in MODES:
            raise Refused(f"unknown mode {mode!r}; use {', '.join(MODES)}")
        result = _run(path, table=table, directory=directory, user=user, crs=crs, mapping=mapping or {},
                      skip_invalid=skip_invalid, dry_run=dry_run, mode=mode, layer=layer,
                      limits=limits or Limits.from_env(), progress=progress, report=report)
    except (Refused, ValueError, PermissionError) as exc:
        report.error(str(exc))
        report.status = "refused"
    except versions.WriterBusy as exc:
        report.error(str(exc))
        report.status = "refused"
    except MemoryError:
        report.error("file too large to read in memory")
        report.status = "refused"
    except Exception as exc:  # never a traceback for a user's file: say what failed
        report.error(f"could not read the file ({type(exc).__name__}: {short(exc)})")
        report.status = "refused"
    if report.status == "refused":
        result.preview = None
    try:
        versions.log_import(directory, {
            "user": user, "role": role, "file": name, "table": table, "mode": mode, "status": report.status,
            "version": report.version, "rows": report.rows_read, "added": report.added,
            "changed": report.changed, "removed": report.removed, "errors": len(report.errors),
            "first_error": report.errors[0].message if report.errors else "",
        })
    except OSError as exc:
        report.add(None, None, "warning", f"import log not written ({exc})")
    return result


def _run(path: Path, *, table: str, directory: Path, user: str, crs: str | None, mapping: dict[str, str],
         skip_invalid: bool, dry_run: bool, mode: str, layer: str | None, limits: Limits,
         progress: ProgressFn, report: Report) -> ImportResult:
    tbl = S.table(table)
    asked = parse_crs(crs)
    progress("reading", 0.05)
    with tempfile.TemporaryDirectory(prefix="dayuan-import-") as work:
        raw = read_file(path, Path(work), table=table, limits=limits, layer=layer, name=report.file)
    report.fmt = raw.fmt
    report.rows_read = len(raw.frame)
    if report.rows_read == 0:
        raise Refused("the file holds no rows")
    if report.rows_read > limits.max_features:
        raise Refused(f"{report.rows_read:,} rows; at most {limits.max_features:,} are accepted")
    raw.frame.columns = [str(c) for c in raw.frame.columns]
    matched, ignored = match_columns(list(raw.frame.columns), table, mapping)
    report.mapping = {k: v for k, v in matched.items()}
    if ignored:
        report.add(None, None, "warning", "columns not imported: " + ", ".join(ignored[:20]))
    progress("checking coordinates", 0.2)
    geoms = None
    if tbl.has_geometry:
        if raw.geometry is None and mode == "upsert" and not set(GEO_TARGETS) & set(matched):
            geoms = None  # a ledger updating attributes: rows keep their current geometry
            report.add(None, None, "warning", "no geometry in the file: existing rows keep theirs, new rows are "
                       "refused")
        else:
            geoms = geometry_from_columns(raw, matched, report) if raw.geometry is None else raw.geometry
    if geoms is not None:
        total_vertices = int(sum(shapely.get_num_coordinates(g) for g in geoms if g is not None))
        if total_vertices > limits.max_vertices:
            raise Refused(f"{total_vertices:,} vertices; at most {limits.max_vertices:,} are accepted")
        geoms = to_wgs84(np.asarray(geoms, dtype=object), raw.crs, asked, report)
    elif asked is not None and not tbl.has_geometry:
        report.add(None, None, "warning", f"--crs ignored: {table} has no geometry")

    progress("checking rows", 0.35)
    with versions.writer_lock(directory):
        current = current_table(directory, table)
        rows = _parse_rows(raw, tbl, matched, geoms, limits, report, progress)
        if geoms is not None:
            derive(rows, tbl, matched, directory, report, raw.first_row)
        check_references(rows, tbl, directory, report, raw.first_row)
        new_frame, preview = _merge(rows, current, tbl, matched, mode, report, raw.first_row)
        if report.file_errors or (report.errors and not skip_invalid):
            report.status = "refused"
            return ImportResult(report, preview)
        if report.errors:  # skip_invalid: rows with errors were left out by _merge
            report.skipped = len(report.error_rows)
            if not (report.added or report.changed or report.removed):
                raise Refused("no row of the file is free of errors")
        if dry_run:
            report.status = "checked"
            return ImportResult(report, preview)
        if not (report.added or report.changed or report.removed):
            report.status = "unchanged"
            return ImportResult(report, preview)
        progress("writing a new version", 0.7)
        old = dataset.read_manifest(directory) if (directory / S.MANIFEST_NAME).exists() else {}
        as_of = dt.date.fromisoformat(old["as_of"]) if old.get("as_of") else dt.date.today()
        manifest = versions.publish(
            directory, {table: new_frame}, source="imported", as_of=as_of,
            note=f"{report.file} into {table} ({mode})",
            extra={k: v for k, v in old.items() if k in ("seed", "scale")},
            change={"user": user, "file": report.file, "table": table, "mode": mode, "added": report.added,
                    "changed": report.changed, "removed": report.removed},
        )
        report.version = int(manifest["dataset_version"])
        report.status = "imported"
        progress("done", 1.0)
        return ImportResult(report, preview)


def _parse_rows(raw: Raw, tbl: S.Table, matched: dict[str, str], geoms: np.ndarray | None, limits: Limits,
                report: Report, progress: ProgressFn = _noop) -> list[dict]:
    rows: list[dict] = []
    records = raw.frame.to_dict("records")
    for i, rec in enumerate(records):
        if i % 5_000 == 0 and i:
            progress(f"checking rows ({i:,} of {len(records):,})", 0.35 + 0.3 * i / len(records))
        number = i + raw.first_row
        row: dict = {"_row": number, "_ok": True}
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
                report.error(str(exc), row=number, column=f"{col.zh} ({col.name})")
                row[col.name] = None
                row["_ok"] = False
        if "area_m2" in matched:
            row["_area_given"] = rec.get(matched["area_m2"])
        if geoms is not None:
            g, level, message = check_geometry(geoms[i], tbl, limits)
            if level == "error":
                report.error(message, row=number, column=S.GEOMETRY_COLUMN)
                row["_ok"] = False
            elif level:
                report.add(number, S.GEOMETRY_COLUMN, level, message)
            row[S.GEOMETRY_COLUMN] = g
        rows.append(row)
    return rows



def _merge(rows: list[dict], current: pd.DataFrame, tbl: S.Table, matched: dict[str, str], mode: str,
           report: Report, first_row: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table after the import, and the preview of rows added, changed and removed."""
    keys = key_columns(tbl.name)
    names = list(tbl.column_names)
    supplied = set(matched) - DERIVED - set(GEO_TARGETS)
    if tbl.has_geometry and any(S.GEOMETRY_COLUMN in r for r in rows):
        supplied |= {S.GEOMETRY_COLUMN, "area_m2", "village_code", "grid_id"} & set(names)
    cur_records = current[names].to_dict("records") if len(current) else []
    cur_by_key = {_key_tuple(r, keys): r for r in cur_records}
    seen: dict[tuple, int] = {}
    merged: dict[tuple, dict] = {} if mode == "replace" else dict(cur_by_key)
    added, changed = [], []
    absent: set[str] = set()  # required columns the file lacks, reported once
    for r in rows:
        key = tuple(r.get(k) for k in keys)
        if any(v is None for v in key):
            missing = [S.table(tbl.name).column(k).zh for k, v in zip(keys, key, strict=True) if v is None]
            report.error(f"missing id ({', '.join(missing)})", row=r["_row"], column=keys[0])
            continue
        if key in seen:
            report.error(f"duplicate id {'/'.join(map(str, key))!r} (also row {seen[key]})", row=r["_row"],
                         column=keys[0])
            r["_ok"] = False
            continue
        seen[key] = r["_row"]
        old = cur_by_key.get(key)
        if old is not None and mode == "append":
            report.error(f"id {'/'.join(map(str, key))!r} is already in {tbl.name} (use --mode upsert to update it)",
                         row=r["_row"], column=keys[0])
            continue
        base = dict(old) if (old is not None and mode == "upsert") else {c: None for c in names}
        new = {c: (r.get(c) if c in supplied or c in keys else base.get(c)) for c in names}
        if mode == "upsert" and old is not None:
            for c in names:
                if c not in supplied and c not in keys:
                    new[c] = old.get(c)
        if old is None and tbl.has_geometry and new.get(S.GEOMETRY_COLUMN) is None and r["_ok"]:
            report.error("no geometry: a new row needs one", row=r["_row"], column=S.GEOMETRY_COLUMN)
            r["_ok"] = False
        missing = [tbl.column(c) for c in names if tbl.column(c).required and new.get(c) is None
                   and (c != S.GEOMETRY_COLUMN or r["_ok"])]
        for col in missing:
            if col.dtype == "geometry":
                continue
            r["_ok"] = False
            if col.name in matched:
                report.error(f"{col.zh} ({col.name}) is required", row=r["_row"], column=col.name)
            elif col.name not in absent:  # said once for the file, not once per row
                absent.add(col.name)
                report.error(f"{col.zh} ({col.name}) is required and the file has no column for it: map one "
                             f"(import page: column mapping {col.name}=COLUMN; command line: --map "
                             f"{col.name}=COLUMN)", column=col.name)
        if not r["_ok"]:
            if old is not None:
                merged[key] = old  # a row left out keeps its current values, even in replace mode
            continue
        if old is None:
            added.append(new)
        elif not all(_same(new[c], old.get(c)) for c in names):
            changed.append(new)
        merged[key] = new
    removed = [r for k, r in cur_by_key.items() if k not in merged] if mode == "replace" else []
    if mode == "replace" and not rows:
        removed = cur_records
    report.added, report.changed, report.removed = len(added), len(changed), len(removed)
    frame = pd.DataFrame(list(merged.values()), columns=names)
    preview = pd.concat([_preview(added, tbl, "added"), _preview(changed, tbl, "changed"),
                         _preview(removed, tbl, "removed")], ignore_index=True)
    return frame, preview

