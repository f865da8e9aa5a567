"""Files in: read real files safely, match their columns to a table, report row by row, publish.

`run_import(path, table=..., ...)` is the one entry point (CLI and the import page call it). It
never raises for bad input: every problem becomes a line of the `Report`, and a file with errors is
refused whole unless `skip_invalid` is set. Hostile files (path traversal or bombs in zip archives,
huge files, spoofed extensions, broken workbooks, endless views) are read in a child process within
a memory and a time limit. Nothing reaches the dataset except through `versions.publish`, under the
writer lock, and the operation writes its own audit entry, so the page and the CLI cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from dayuan_geo import access, audit
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import integrity, versions
from dayuan_geo.ingest.checks import Lookup, check_plausible, check_references, current_table, derive
from dayuan_geo.ingest.child import read_isolated
from dayuan_geo.ingest.columns import (
    GEO_TARGETS,
    apply_constants,
    header_score,
    key_columns,
    match_columns,
    parse_constants,
    parse_mapping,
)
from dayuan_geo.ingest.guard import Limits, Raw, Refused, short
from dayuan_geo.ingest.merge import merge, parse_rows
from dayuan_geo.ingest.parse import geometry_from_columns, parse_crs, to_wgs84
from dayuan_geo.ingest.report import ImportResult, ProgressFn, Report, _noop
from dayuan_geo.maps.view import fit_view

MODES = ("append", "upsert", "replace")
__all__ = ["MODES", "ImportResult", "Report", "key_columns", "parse_constants", "parse_mapping", "preview_view",
           "run_import", "run_import_set"]


def preview_view(preview: pd.DataFrame) -> tuple[tuple[float, float], float] | None:
    """(centre lon/lat, zoom) framing the rows of a preview, or None when none has geometry."""
    geoms = [g for g in preview.get(S.GEOMETRY_COLUMN, pd.Series(dtype=object)) if g is not None]
    if not geoms:
        return None
    bounds = tuple(float(v) for v in shapely.total_bounds(np.array(geoms, dtype=object)))
    view = fit_view(bounds, height_px=480, max_zoom=17.0)  # the one zoom formula of every map
    return (view["longitude"], view["latitude"]), view["zoom"]


_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/](?:[^\s\\/'\"]+[\\/])+")


def _no_paths(text: str) -> str:
    """A message without the server's folders (a file keeps its own name)."""
    return _PATH.sub("", text)


def run_import(
    path: Path,
    *,
    table: str,
    directory: Path,
    user: str,
    role: str,
    crs: str | None = None,
    mapping: dict[str, str] | None = None,
    constants: dict[str, str] | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    mode: str = "append",
    layer: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    cascade: bool = False,
    limits: Limits | None = None,
    progress: ProgressFn = _noop,
    display_name: str | None = None,
) -> ImportResult:
    """Check path against table and, unless refused or dry_run, publish it as a new dataset version.

    Every attempt that is not a passing dry run (imports and refusals alike) is written to the
    audit log; when that entry cannot be written after a version was published, the report says the
    version exists and `exit_code` is 3."""
    path, directory = Path(path), Path(directory)
    name = display_name or path.name
    report = Report(file=name, table=table, mode=mode)
    result = ImportResult(report)
    try:
        if not access.role(role).may_import:
            raise Refused.say("imp_m_role", role=role)
        S.table(table)
        if mode not in MODES:
            raise Refused.say("imp_m_unknown_mode", mode=mode, modes=", ".join(MODES))
        result = _run(path, table=table, directory=directory, user=user, crs=crs, mapping=mapping or {},
                      constants=constants or {}, skip_invalid=skip_invalid, dry_run=dry_run, mode=mode,
                      layer=layer, sheet=sheet, header_row=header_row, cascade=cascade,
                      limits=limits or Limits.from_env(), progress=progress, report=report)
    except Refused as exc:
        report.add(None, None, "error", str(exc), key=exc.key, values=exc.values)
        report.status = "refused"
    except (ValueError, PermissionError, versions.WriterBusy) as exc:
        report.error(str(exc))
        report.status = "refused"
    except MemoryError:
        report.error("file too large to read in memory")
        report.status = "refused"
    except Exception as exc:  # never a traceback for a user's file: say what failed
        report.error(f"could not read the file ({type(exc).__name__}: {short(exc)})")
        report.status = "refused"
    if report.status == "refused":
        result.preview = result.diff = None
    for issue in report.issues:  # never a server path in a message
        issue.message = _no_paths(issue.message)
        issue.values = {k: _no_paths(v) if isinstance(v, str) else v for k, v in issue.values.items()}
    _record(result, directory=directory, user=user, role=role, dry_run=dry_run)
    return result


def _record(result: ImportResult, *, directory: Path, user: str, role: str, dry_run: bool) -> None:
    """The import log (every attempt) and the audit log (every attempt but a passing dry run)."""
    report = result.report
    try:
        versions.log_import(directory, {
            "user": user, "role": role, "file": report.file, "table": report.table, "mode": report.mode,
            "status": report.status, "version": report.version, "rows": report.rows_read, "added": report.added,
            "changed": report.changed, "removed": report.removed, "errors": len(report.errors),
            "first_error": report.errors[0].message if report.errors else "",
        })
    except OSError as exc:
        report.add(None, None, "warning", f"import log not written ({exc})")
    if dry_run and report.status != "refused":
        return
    try:
        audit.record(user=user, role=role, action="import", what=report.table,
                     rows=report.added + report.changed + report.removed, path=audit.audit_file(directory),
                     detail={"file": report.file, "mode": report.mode, "status": report.status,
                             "version": report.version, "dry_run": dry_run, "errors": len(report.errors),
                             "cascade": report.cascaded or None})
    except Exception as exc:  # the version (if any) stands: say so plainly
        result.audit_failed = True
        if report.version is not None:
            report.note("error", "imp_m_audit_failed_published", version=report.version, reason=short(exc))
        else:
            report.note("error", "imp_m_audit_failed", reason=short(exc))


@dataclass
class _Read:
    """A file read and matched, before any check against the dataset (done outside the writer lock)."""

    raw: Raw
    tbl: S.Table
    matched: dict[str, str]
    geoms: np.ndarray | None


def _read(path: Path, *, table: str, crs: str | None, mapping: dict[str, str], constants: dict[str, str],
          mode: str, layer: str | None, sheet: str | None, header_row: int | None, limits: Limits,
          progress: ProgressFn, report: Report) -> _Read:
    tbl = S.table(table)
    asked = parse_crs(crs)
    progress("reading", 0.05)
    with tempfile.TemporaryDirectory(prefix="dayuan-import-") as work:
        raw = read_isolated(path, Path(work), limits=limits, table=table, layer=layer, name=report.file,
                            score=functools.partial(header_score, table=table), header_row=header_row,
                            sheet=sheet)
    report.fmt, report.encoding, report.sheet = raw.fmt, raw.encoding, raw.sheet
    report.rows_read = len(raw.frame)
    if report.rows_read == 0:
        raise Refused.say("imp_m_no_rows")
    if report.rows_read > limits.max_features:
        raise Refused.say("imp_m_too_many_rows", limit=limits.max_features)
    raw.frame.columns = [str(c) for c in raw.frame.columns]
    matched, ignored = match_columns(list(raw.frame.columns), table, mapping)
    for column in apply_constants(raw.frame, matched, constants, table):
        report.note("warning", "imp_m_set_overrides", column=column, name=column)
    report.mapping = dict(matched)
    if ignored:
        report.note("warning", "imp_m_columns_ignored", names=", ".join(ignored[:20]))
    progress("checking coordinates", 0.2)
    geoms = None
    if tbl.has_geometry:
        if raw.geometry is None and mode == "upsert" and not set(GEO_TARGETS) & set(matched):
            report.note("warning", "imp_m_no_geometry_upsert")  # a ledger updating attributes
        else:
            geoms = geometry_from_columns(raw, matched, report) if raw.geometry is None else raw.geometry
    if geoms is not None:
        total_vertices = int(sum(shapely.get_num_coordinates(g) for g in geoms if g is not None))
        if total_vertices > limits.max_vertices:
            raise Refused.say("imp_m_too_many_vertices", n=total_vertices, limit=limits.max_vertices)
        geoms = to_wgs84(np.asarray(geoms, dtype=object), raw.crs, asked, report, map_app=raw.map_app)
    elif asked is not None and not tbl.has_geometry:
        report.add(None, None, "warning", f"--crs ignored: {table} has no geometry")
    return _Read(raw, tbl, matched, geoms)


def _stage(read: _Read, *, lookup: Lookup, mode: str, limits: Limits, progress: ProgressFn,
           report: Report) -> ImportResult:
    """The checks against the dataset as lookup shows it, and the table after the merge (in `.table`)."""
    progress("checking rows", 0.35)
    tbl = read.tbl
    rows = parse_rows(read.raw, tbl, read.matched, read.geoms, limits, report, progress)
    check_plausible(rows, tbl, lookup, limits, report)
    derived = derive(rows, tbl, read.matched, lookup, report) if read.geoms is not None else set()
    check_references(rows, tbl, lookup, report)
    new_frame, preview, diff = merge(rows, lookup(tbl.name), tbl, read.matched, mode, report, derived=derived)
    return ImportResult(report, preview, diff, table=new_frame)


def _decide(report: Report, *, skip_invalid: bool, dry_run: bool) -> bool:
    """Set the status of a checked file; True when it is to be published."""
    if report.file_errors or (report.errors and not skip_invalid):
        report.status = "refused"
        return False
    if report.errors:  # skip_invalid: rows with errors were left out by merge
        report.skipped = len(report.error_rows)
        if not (report.added or report.changed or report.removed):
            raise Refused.say("imp_m_no_valid_rows")
    if not (report.added or report.changed or report.removed):
        report.status = "unchanged"  # a check that would change nothing says so (no confirm to offer)
        return False
    report.status = "checked"
    return not dry_run


def _publish(directory: Path, tables: dict[str, pd.DataFrame], reports: list[Report], *, user: str,
             mode: str) -> None:
    old = dataset.read_manifest(directory) if (directory / S.MANIFEST_NAME).exists() else {}
    as_of = dt.date.fromisoformat(old["as_of"]) if old.get("as_of") else dt.date.today()
    cascaded = {t: n for r in reports for t, n in r.cascaded.items()}
    manifest = versions.publish(
        directory, tables, source="imported", as_of=as_of,
        note="; ".join(f"{r.file} into {r.table} ({mode})" for r in reports),
        extra={k: v for k, v in old.items() if k in ("seed", "scale")},
        change={"user": user, "file": ", ".join(r.file for r in reports), "table": ", ".join(r.table for r in reports),
                "mode": mode, "added": sum(r.added for r in reports), "changed": sum(r.changed for r in reports),
                "removed": sum(r.removed for r in reports) + sum(cascaded.values()),
                **({"cascade": cascaded} if cascaded else {})},
    )
    for r in reports:
        r.version, r.status = int(manifest["dataset_version"]), "imported"


def _run(path: Path, *, table: str, directory: Path, user: str, crs: str | None, mapping: dict[str, str],
         constants: dict[str, str], skip_invalid: bool, dry_run: bool, mode: str, layer: str | None,
         sheet: str | None, header_row: int | None, cascade: bool, limits: Limits, progress: ProgressFn,
         report: Report) -> ImportResult:
    read = _read(path, table=table, crs=crs, mapping=mapping, constants=constants, mode=mode, layer=layer,
                 sheet=sheet, header_row=header_row, limits=limits, progress=progress, report=report)
    with versions.writer_lock(directory):
        result = _stage(read, lookup=functools.partial(current_table, directory), mode=mode, limits=limits,
                        progress=progress, report=report)
        tables = {table: result.table}
        if mode == "replace" and not report.file_errors:
            _orphans(tables, directory=directory, cascade=cascade, report=report)
        if _decide(report, skip_invalid=skip_invalid, dry_run=dry_run):
            progress("writing a new version", 0.7)
            _publish(directory, tables, [report], user=user, mode=mode)
            progress("done", 1.0)
        return result


def run_import_set(
    items: list[tuple[Path, str]],
    *,
    directory: Path,
    user: str,
    role: str,
    crs: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    mode: str = "replace",
    cascade: bool = False,
    limits: Limits | None = None,
    progress: ProgressFn = _noop,
) -> list[ImportResult]:
    """Several files, one per table, checked together and published as one version (or not at all):
    a replace of villages with their grids, parks and parcels leaves no row pointing at a removed one.
    Each file's references are checked against the files of the set. One result (and one audit
    entry) per file, in the order given."""
    directory = Path(directory)
    limits = limits or Limits.from_env()
    results = [ImportResult(Report(file=Path(p).name, table=t, mode=mode)) for p, t in items]
    order = sorted(range(len(items)), key=lambda i: S.TABLE_NAMES.index(items[i][1])
                   if items[i][1] in S.TABLES else -1)
    try:
        if not access.role(role).may_import:
            raise Refused.say("imp_m_role", role=role)
        if mode not in MODES:
            raise Refused.say("imp_m_unknown_mode", mode=mode, modes=", ".join(MODES))
        tables_named = [t for _, t in items]
        if len(set(tables_named)) != len(tables_named):
            raise Refused.say("imp_m_set_one_per_table")
        reads = {i: _read(Path(items[i][0]), table=S.table(items[i][1]).name, crs=crs, mapping={}, constants={},
                          mode=mode, layer=None, sheet=None, header_row=None, limits=limits, progress=progress,
                          report=results[i].report) for i in order}
        with versions.writer_lock(directory):
            staged: dict[str, pd.DataFrame] = {}

            def lookup(name: str) -> pd.DataFrame:
                return staged[name] if name in staged else current_table(directory, name)

            for i in order:
                staged_result = _stage(reads[i], lookup=lookup, mode=mode, limits=limits, progress=progress,
                                       report=results[i].report)
                staged_result.report = results[i].report
                results[i] = staged_result
                staged[items[i][1]] = staged_result.table
            reports = [results[i].report for i in order]
            if mode == "replace" and not any(r.file_errors for r in reports):
                _orphans(staged, directory=directory, cascade=cascade, report=reports[0])
            decisions = [_decide(r, skip_invalid=skip_invalid, dry_run=dry_run) for r in reports]
            if any(r.status == "refused" for r in reports):
                for r in reports:  # the set stands or falls together
                    if r.status != "refused":
                        r.note("error", "imp_m_set_refused")
                        r.status = "refused"
            elif any(decisions):
                _publish(directory, staged, reports, user=user, mode=mode)
    except Refused as exc:
        for r in results:
            r.report.add(None, None, "error", str(exc), key=exc.key, values=exc.values)
            r.report.status = "refused"
    except (ValueError, PermissionError, versions.WriterBusy) as exc:
        for r in results:
            r.report.error(str(exc))
            r.report.status = "refused"
    for r in results:
        if r.report.status == "refused":
            r.preview = r.diff = None
        _record(r, directory=directory, user=user, role=role, dry_run=dry_run)
    return results


def _orphans(tables: dict[str, pd.DataFrame], *, directory: Path, cascade: bool, report: Report) -> None:
    """A replace that leaves children pointing at removed rows is refused with counts per table,
    unless cascade is asked for: then those children are removed too (and reported)."""
    children = {child for name in tables for child, _ in integrity.children_of(name)}
    if not children:
        return
    view = dict(tables)
    for child in children:
        view.setdefault(child, current_table(directory, child))
    found = {c: cols for c, cols in integrity.orphans(view).items() if c in children}
    if not found:
        return
    if not cascade:
        report.note("error", "imp_m_orphans", table=("、".join(S.table(t).zh for t in tables),
                                                     ", ".join(S.table(t).en.lower() for t in tables)),
                    counts=("；".join(integrity.describe(found, "zh")), "; ".join(integrity.describe(found, "en"))))
        return
    removed = integrity.cascade(tables, lambda name: current_table(directory, name))
    report.cascaded = removed
    report.note("warning", "imp_m_cascaded",
                counts=("，".join(f"{S.table(t).zh} {n:,}" for t, n in removed.items()) or "—",
                        ", ".join(f"{n:,} {S.table(t).en.lower()}" for t, n in removed.items()) or "—"))
