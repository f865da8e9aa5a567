"""The report of one import: what was read, what was assumed, and each problem row by row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

ProgressFn = Callable[[str, float], None]


@dataclass
class Issue:
    row: int | None  # the row as the user counts it (first data row = 1); None for the whole file
    column: str | None
    level: str  # error, repaired, warning
    message: str


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

    def add(self, row: int | None, column: str | None, level: str, message: str) -> None:
        self.issues.append(Issue(row, column, level, message))

    def error(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        self.add(row, column, "error", message)

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
            lines.append(f"  format: {self.fmt}; coordinates: {self.crs or '-'}; rows read: {self.rows_read}")
        if self.mapping:
            lines.append("  columns: " + ", ".join(f"{t}<-{s}" for t, s in self.mapping.items()))
        for i in sorted(self.issues, key=lambda x: (x.row or 0, x.level != "error")):
            where = f"row {i.row}" if i.row is not None else "file"
            col = f" [{i.column}]" if i.column else ""
            lines.append(f"  {i.level:8} {where}{col}: {i.message}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"row": i.row, "column": i.column or "", "level": i.level, "message": i.message} for i in self.issues],
            columns=["row", "column", "level", "message"],
        )


@dataclass
class ImportResult:
    report: Report
    preview: gpd.GeoDataFrame | None = None  # rows added / changed / removed, column `change`

    @property
    def exit_code(self) -> int:
        return 0 if self.report.status in ("imported", "checked", "unchanged") else 2


def _noop(_step: str, _fraction: float) -> None:
    return None
