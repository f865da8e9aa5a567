"""The report of one import: what was read, what was assumed, and each problem row by row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from dayuan_geo import schema as S
from dayuan_geo.text import t

ProgressFn = Callable[[str, float], None]


def say(key: str, lang: str, values: dict) -> str:
    """The text of key in lang; a (zh, en) pair among the values is shown in the same language."""
    return t(key, lang, **{k: (v[1] if lang == "en" else v[0]) if isinstance(v, tuple) else v
                           for k, v in values.items()})


@dataclass
class Issue:
    row: int | None  # the row as the user sees it (Excel's row number for a sheet); None for the whole file
    column: str | None  # a column of the table (or of the file, for a column the file has)
    level: str  # error, repaired, warning
    message: str  # in English, for the command line and the import log
    key: str = ""  # the text key in dayuan_geo.text, when the message has a Chinese version
    values: dict = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return say(self.key, lang, self.values) if self.key else self.message


@dataclass
class Report:
    file: str
    table: str
    mode: str = "append"
    fmt: str = ""
    crs: str = ""
    rows_read: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    added: int = 0
    changed: int = 0
    removed: int = 0
    skipped: int = 0
    status: str = "refused"  # imported, checked, refused
    version: int | None = None
    encoding: str = ""  # of a shapefile's or CSV's text, as detected or as its .cpg says
    sheet: str = ""  # of a workbook
    cascaded: dict[str, int] = field(default_factory=dict)  # rows of child tables removed with --cascade

    def add(self, row: int | None, column: str | None, level: str, message: str, *, key: str = "",
            values: dict | None = None) -> None:
        self.issues.append(Issue(row, column, level, message, key, dict(values or {})))

    def error(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        self.add(row, column, "error", message)

    def note(self, level: str, key: str, *, row: int | None = None, column: str | None = None,
             **values: object) -> None:
        """A problem said once in both languages (the English text is the one the CLI prints)."""
        self.add(row, column, level, say(key, "en", values), key=key, values=values)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def error_rows(self) -> set[int]:
        return {i.row for i in self.errors if i.row is not None}

    @property
    def file_errors(self) -> list[Issue]:
        return [i for i in self.errors if i.row is None]

    def summary(self) -> str:
        counts = f"{self.added} added, {self.changed} changed, {self.removed} removed"
        if self.status == "imported":
            skipped = f"; {self.skipped} invalid rows skipped" if self.skipped else ""
            return f"IMPORTED {self.file} into {self.table} as version {self.version}: {counts}{skipped}"
        if self.status == "unchanged":
            return f"UNCHANGED {self.file} for {self.table}: the dataset already holds these rows; no new version"
        if self.status == "checked":
            return f"CHECKED {self.file} for {self.table} (dry run, nothing written): would be {counts}"
        n = len(self.errors)
        rows = len(self.error_rows)
        where = f" in {rows} of {self.rows_read} rows" if rows else ""
        return f"REFUSED {self.file} for {self.table}: {n} error(s){where}; nothing imported"

    def to_text(self) -> str:
        lines = [self.summary()]
        if self.fmt:
            extra = "".join(f"; {k}: {v}" for k, v in (("encoding", self.encoding), ("sheet", self.sheet)) if v)
            lines.append(f"  format: {self.fmt}; coordinates: {self.crs or '-'}; rows read: {self.rows_read}{extra}")
        if self.mapping:
            lines.append("  columns: " + ", ".join(f"{t}<-{s}" for t, s in self.mapping.items()))
        for i in sorted(self.issues, key=lambda x: (x.row or 0, x.level != "error")):
            where = f"row {i.row}" if i.row is not None else "file"
            col = f" [{i.column}]" if i.column else ""
            lines.append(f"  {i.level:8} {where}{col}: {i.message}")
        return "\n".join(lines)

    def to_frame(self, lang: str = "en") -> pd.DataFrame:
        """One line per problem in lang: row, column (its label), level, message."""
        return pd.DataFrame(
            [{"row": i.row, "column": S.column_label(self.table, i.column, lang) if i.column else "",
              "level": i.level, "message": i.text(lang)} for i in self.issues],
            columns=["row", "column", "level", "message"],
        )


@dataclass
class ImportResult:
    report: Report
    preview: gpd.GeoDataFrame | None = None  # rows added / changed / removed, column `change`
    diff: pd.DataFrame | None = None  # each changed value: key, column, before, after
    audit_failed: bool = False  # the audit entry could not be written (a published version stands)
    table: pd.DataFrame | None = None  # the whole table after the import (not shown; what is published)

    @property
    def exit_code(self) -> int:
        """0 done (or nothing to do), 2 refused, 3 published but the audit entry failed."""
        if self.audit_failed and self.report.status == "imported":
            return 3
        return 0 if self.report.status in ("imported", "checked", "unchanged") else 2


def _noop(_step: str, _fraction: float) -> None:
    return None
