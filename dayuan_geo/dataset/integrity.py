"""Referential integrity across tables: no row of a version points at a parent the version lacks.

`REFERENCES` names, once, which column of which table refers to which table's key. `orphans`
counts, per child table and column, the rows whose reference is missing; `problems` says it one
line per table for a manifest (publish refuses such a version, `validate` reports it), and
`cascade` removes orphans child by child when an import asks for it explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dayuan_geo import schema as S

# child table -> {column: parent table}; the parent's key is S.table(parent).key
REFERENCES: dict[str, dict[str, str]] = {
    "parcels": {"park_id": "parks", "village_code": "villages"},
    "parks": {"village_code": "villages"},
    "grids": {"village_code": "villages"},
    "firms": {"park_id": "parks", "parcel_id": "parcels", "village_code": "villages", "grid_id": "grids"},
    "inspections": {"firm_id": "firms", "grid_id": "grids"},
    "remediation_projects": {"park_id": "parks"},
    "remediation_events": {"project_id": "remediation_projects"},
}


def children_of(parent: str) -> list[tuple[str, str]]:
    """(child table, column) pairs that refer to parent."""
    return [(child, col) for child, refs in REFERENCES.items() for col, p in refs.items() if p == parent]


def _missing(frame: pd.DataFrame, column: str, keys: set[str]) -> pd.Series:
    values = frame[column]
    present = values.notna() & (values.astype(str).str.strip() != "")
    return present & ~values.astype(str).isin(keys)


def orphans(tables: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """{child table: {column: rows whose reference is missing}} over the tables given (a table not
    given is not checked, nor checked against)."""
    keys = {name: set(frame[S.table(name).key].dropna().astype(str)) for name, frame in tables.items()
            if S.table(name).key in frame.columns}
    out: dict[str, dict[str, int]] = {}
    for child, refs in REFERENCES.items():
        if child not in tables:
            continue
        for column, parent in refs.items():
            if parent not in keys or column not in tables[child].columns:
                continue
            n = int(_missing(tables[child], column, keys[parent]).sum())
            if n:
                out.setdefault(child, {})[column] = n
    return out


def describe(found: dict[str, dict[str, int]], lang: str = "en") -> list[str]:
    """One line per child table: how many rows point at which missing parents."""
    lines = []
    for child, cols in found.items():
        parts = ", ".join(f"{n:,} {S.column_label(child, c, lang)} → {S.table(REFERENCES[child][c]).label(lang)}"
                          for c, n in cols.items())
        lines.append(f"{S.table(child).label(lang)} ({child}): {parts}")
    return lines


def cascade(tables: dict[str, pd.DataFrame], read: callable) -> dict[str, int]:
    """Remove rows of child tables that point at missing parents, then their own children, and so
    on; `read(name)` gives a table not yet in `tables`. Returns rows removed per table; `tables`
    gains the children it changed. Optional references (a firm's park) are cleared, not removed."""
    removed: dict[str, int] = {}
    queue = list(tables)
    while queue:
        parent = queue.pop(0)
        keys = set(tables[parent][S.table(parent).key].dropna().astype(str))
        for child, column in children_of(parent):
            frame = tables[child] if child in tables else read(child)
            bad = _missing(frame, column, keys)
            if not bad.any():
                continue
            if S.table(child).column(column).required:
                frame = frame.loc[~bad].reset_index(drop=True)
                removed[child] = removed.get(child, 0) + int(bad.sum())
                queue.append(child)
            else:
                frame = frame.copy()
                frame.loc[bad, column] = None
            tables[child] = frame
    return removed


def problems(directory: Path, manifest: dict) -> list[str]:
    """Orphans of the version manifest describes, one line per child table; empty when none."""
    files = manifest.get("files", {})
    needed: dict[str, set[str]] = {}
    for child, refs in REFERENCES.items():
        for column, parent in refs.items():
            if child in files and parent in files:
                needed.setdefault(child, set()).add(column)
                needed.setdefault(parent, set()).add(S.table(parent).key)
    try:  # Arrow, not pandas: a city's million firms are checked in well under a second
        tables = {name: pq.read_table(Path(directory) / str(files[name]["file"]), columns=sorted(cols))
                  for name, cols in needed.items()}
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        return [f"references not checked: {exc}"]
    found: dict[str, dict[str, int]] = {}
    for child, refs in REFERENCES.items():
        for column, parent in refs.items():
            if child not in tables or parent not in tables:
                continue
            values = tables[child].column(column)
            keys = tables[parent].column(S.table(parent).key).combine_chunks()
            present = pc.and_(pc.is_valid(values), pc.not_equal(pc.utf8_trim_whitespace(values.cast(pa.string())), ""))
            n = pc.sum(pc.and_(present, pc.invert(pc.is_in(values.cast(pa.string()),
                                                           value_set=keys.cast(pa.string()))))).as_py() or 0
            if n:
                found.setdefault(child, {})[column] = int(n)
    return [f"orphans: {line}" for line in describe(found)]
