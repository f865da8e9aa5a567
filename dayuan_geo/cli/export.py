"""`python -m dayuan_geo export TABLE --format csv|xlsx|geojson|geoparquet [--filter ...] [--lang zh|en] -o FILE`

Any table, whole or filtered, to a file, written by `export` exactly as the app's download buttons
write it (CSV with a BOM and headers in the language, formula cells neutralised; GeoJSON and
GeoParquet with the schema's names and codes). The command runs as the local operator, who holds
the data files anyway, so every column is exported.

Filters: `COLUMN=VALUE` (repeat for several values: any of them), `COLUMN>=VALUE`, `COLUMN<=VALUE`
(numbers and dates), `COLUMN~TEXT` (text containing TEXT, any case), and `COLUMN=` for empty.
Columns must be the table's (the schema is the allow-list); enumerations take the code or its
zh/en label; filters on different columns must all hold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from dayuan_geo import audit, export
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset

Cursor = duckdb.DuckDBPyConnection
OPERATORS = ("=", ">=", "<=", "~")
_FILTER = re.compile(r"^(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>>=|<=|=|~)(?P<value>.*)$", re.S)
_ORDERED = ("int", "float", "date")
_REPEATED_KEY = ("remediation_events", "targets")  # tables whose key column is not unique
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
_TRUE, _FALSE = {"true", "1", "yes", "y", "是", "有"}, {"false", "0", "no", "n", "否", "无"}


@dataclass(frozen=True)
class ColumnFilter:
    """One --filter: column op value(s), the values already of the column's type."""

    column: str
    op: str
    values: tuple[object, ...]


def _typed(tbl: S.Table, col: S.Column, text: str) -> object:
    """text as a value of col; ValueError saying what the column takes."""
    if col.dtype == "string":
        enum = S.enum_for(tbl.name, col.name)
        if enum is None:
            return text
        code = enum.parse(text)
        if code is None:
            raise ValueError(f"{tbl.name}.{col.name} has no value {text!r}; "
                             f"expected one of {', '.join(enum.codes)} (or their zh/en labels)")
        return code
    try:
        if col.dtype == "int":
            return int(text)
        if col.dtype == "float":
            return float(text)
        if col.dtype == "date":
            return dt.date.fromisoformat(text)
    except ValueError:
        kind = {"int": "a whole number", "float": "a number", "date": "a date (YYYY-MM-DD)"}[col.dtype]
        raise ValueError(f"{tbl.name}.{col.name} takes {kind}, not {text!r}") from None
    if col.dtype == "bool":
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"{tbl.name}.{col.name} takes true or false, not {text!r}")
    raise ValueError(f"cannot filter on {tbl.name}.{col.name}")


def parse_filters(table_name: str, texts: list[str]) -> list[ColumnFilter]:
    """--filter arguments for table_name, checked against the schema; `=` on one column repeated
    means any of the values. ValueError names the first wrong one."""
    tbl = S.table(table_name)
    allowed = [c.name for c in tbl.columns if c.dtype != "geometry"]
    grouped: dict[tuple[str, str], list[object]] = {}
    for text in texts:
        match = _FILTER.match(text.strip())
        if not match:
            raise ValueError(f"filter {text!r} is not COLUMN=VALUE (or >=, <=, ~)")
        name, op, raw = match["column"], match["op"], match["value"].strip()
        if name not in allowed:
            raise ValueError(f"{table_name} has no column {name!r} to filter on; columns: {', '.join(allowed)}")
        col = tbl.column(name)
        if op in (">=", "<=") and col.dtype not in _ORDERED:
            raise ValueError(f"{op} needs a number or date column; {name} is {col.dtype}")
        if op == "~" and (col.dtype != "string" or S.enum_for(table_name, name) is not None):
            kind = "an enumeration" if col.dtype == "string" else col.dtype
            raise ValueError(f"~ needs a text column; {name} is {kind}")
        if op in (">=", "<=", "~") and not raw:
            raise ValueError(f"filter {text!r} has no value")
        value = None if (op == "=" and raw == "") else (raw if op == "~" else _typed(tbl, col, raw))
        if op in (">=", "<=") and (name, op) in grouped:
            raise ValueError(f"{name}{op} given twice")
        grouped.setdefault((name, op), []).append(value)
    return [ColumnFilter(name, op, tuple(values)) for (name, op), values in grouped.items()]


def where_sql(filters: list[ColumnFilter]) -> tuple[str, dict[str, object]]:
    """The SQL condition of filters with bound parameters; column names come from the schema."""
    clauses, params = [], {}
    for i, f in enumerate(filters):
        col, p = f'"{f.column}"', f"p{i}"
        if f.op == "=":
            present = [v for v in f.values if v is not None]
            parts = []
            if present:
                parts.append(f"list_contains(${p}, {col})")
                params[p] = present
            if len(present) < len(f.values):
                parts.append(f"{col} IS NULL")
            clauses.append("(" + " OR ".join(parts) + ")")
        elif f.op in (">=", "<="):
            clauses.append(f"{col} {f.op} ${p}")
            params[p] = f.values[0]
        else:  # ~: every text given must be contained
            sub = []
            for j, v in enumerate(f.values):
                sub.append(f"contains(lower({col}), ${p}_{j})")
                params[f"{p}_{j}"] = str(v).lower()
            clauses.append("(" + " AND ".join(sub) + ")")
    return (" AND ".join(clauses) if clauses else "TRUE"), params


def table_rows(cur: Cursor, table_name: str, *, filters: list[ColumnFilter] | None = None) -> pd.DataFrame:
    """Every column of table_name for the rows that pass filters, in key order; geometry as WKB."""
    tbl = S.table(table_name)
    cols = [f'ST_AsWKB("{c.name}") AS "{c.name}"' if c.dtype == "geometry" else f'"{c.name}"'
            for c in tbl.columns]
    where, params = where_sql(filters or [])
    # a stable order: the key, and where the key repeats (stage history, targets) every other column
    keys = [tbl.key] + ([c.name for c in tbl.columns if c.name != tbl.key and c.dtype != "geometry"]
                        if tbl.name in _REPEATED_KEY else [])
    order = ", ".join(f'"{c}"' for c in keys)
    # identifiers come from the schema; every value is bound
    df = cur.execute(f'SELECT {", ".join(cols)} FROM "{tbl.name}" WHERE {where} ORDER BY {order}',  # noqa: S608
                     params).df()
    for col in tbl.columns:  # dates as datetime64 (NaT when empty), which every writer formats as dates
        if col.dtype == "date" and col.name in df:
            df[col.name] = pd.to_datetime(df[col.name])
    return df


def export_table(cur: Cursor, table_name: str, *, fmt: str, path: Path, filters: list[ColumnFilter] | None = None,
                 lang: str = "zh", audit_as: dict) -> int:
    """Write the filtered table to path in fmt (replacing it only once the file is complete); the rows written."""
    if fmt not in export.FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(export.FORMATS)}")
    tbl = S.table(table_name)
    if fmt in ("geojson", "geoparquet") and not tbl.has_geometry:
        raise ValueError(f"{table_name} has no geometry; export it as csv or xlsx")
    df = table_rows(cur, table_name, filters=filters)
    if fmt == "xlsx" and len(df) > XLSX_MAX_ROWS:
        raise ValueError(f"{len(df):,} rows do not fit in an Excel sheet ({XLSX_MAX_ROWS:,}); use csv or geoparquet")
    path = Path(path)  # audit.deliver: the file exists only once its audit entry is written
    data = audit.deliver(lambda: (export.export(df, fmt=fmt, table=table_name, lang=lang), len(df)), table=table_name,
                         detail={"format": fmt, "file": path.name}, **audit_as)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name with -o")
    if not path.parent.exists():
        raise ValueError(f"folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(df)


_SUFFIX = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson", ".parquet": "geoparquet",
           ".geoparquet": "geoparquet"}


def cmd_export(args: argparse.Namespace) -> int:
    from dayuan_geo.store import Store

    path = Path(args.output)
    fmt = args.format or _SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"say --format (one of {', '.join(export.FORMATS)}); {path.name!r} does not tell")
    S.table(args.table)  # unknown tables are refused before the dataset is loaded
    filters = parse_filters(args.table, args.filter or [])
    directory = Path(args.data_dir).resolve() if args.data_dir else dataset.data_dir()
    store = Store(directory)
    try:
        # the shell is the machine's operator: the export is logged under the login name
        rows = export_table(store.cursor(), args.table, fmt=fmt, path=path, filters=filters, lang=args.lang,
                            audit_as={"user": getpass.getuser(), "role": audit.OPERATOR,
                                      "filters": {"cli": list(args.filter or [])}, "path": audit.audit_file(directory)})
    finally:
        store.close()
    print(f"{rows:,} rows of {args.table} written to {path} ({fmt})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `export` to the CLI."""
    p = sub.add_parser("export", help="write a table (whole or filtered) to CSV, XLSX, GeoJSON or GeoParquet",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", choices=S.TABLE_NAMES, metavar="TABLE", help=f"one of: {', '.join(S.TABLE_NAMES)}")
    p.add_argument("--format", choices=export.FORMATS, help="default: from the output file's suffix")
    p.add_argument("--filter", action="append", metavar="COLUMN=VALUE",
                   help="keep rows where COLUMN=VALUE (also >=, <=, ~ for contains); repeatable")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="headers and labels of CSV/XLSX (default zh)")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.set_defaults(handler=cmd_export)
