"""The DuckDB connection over the dataset's GeoParquet files, with spatial loaded offline.

One Store per process and data dir; each caller (a Streamlit script run, a thread, a CLI command)
takes its own cursor, since a DuckDB connection is not thread-safe. Tables are loaded into DuckDB's
memory once per dataset version so every query runs at engine speed; `refresh()` swaps in a newly
published version atomically. After loading, the connection is locked down: it can read only the
data dir, reach nothing outside, and no query can change its configuration.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import duckdb

from dayuan_geo import schema as S
from dayuan_geo import settings
from dayuan_geo.dataset import files as dataset
from dayuan_geo.overview import queries

_SAFE_FILE = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_-]+)?\.parquet$")


def spatial_extension_path() -> Path:
    """The spatial extension file shipped by the duckdb-extension-spatial package."""
    import duckdb_extension_spatial

    base = Path(duckdb_extension_spatial.__file__).parent / "extensions"
    path = base / f"v{duckdb.__version__}" / "spatial.duckdb_extension"
    if not path.exists():
        found = sorted(base.glob("*/spatial.duckdb_extension"))
        raise RuntimeError(
            f"no spatial extension for DuckDB {duckdb.__version__} in {base} "
            f"(found: {', '.join(str(p.parent.name) for p in found) or 'none'}); "
            "pin duckdb and duckdb-extension-spatial to the same version"
        )
    return path


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _changed_files(directory: Path, manifest: dict) -> list[str]:
    """Files of manifest that are missing or whose sha256 is not the manifest's, one line each."""
    out = []
    for name, entry in manifest.get("files", {}).items():
        file = str(entry.get("file", ""))
        if not _SAFE_FILE.match(file):
            out.append(f"{name}: unsafe file name {file!r}")
            continue
        path = directory / file
        if not path.exists():
            out.append(f"{file} is missing")
        elif entry.get("sha256") and dataset.sha256_of(path) != entry["sha256"]:
            out.append(f"{file} differs from its sha256")
    return out


class Store:
    """The dataset in data_dir, loaded into a locked-down DuckDB database."""

    def __init__(self, directory: Path | None = None, *, lazy: bool | None = None):
        # lazy: views over the GeoParquet files instead of tables in memory (default: $DAYUAN_STORE_LAZY
        # set to 1). Opening is instant and memory stays low, but every query reads and decodes the
        # files again, two to three times slower at scale L (docs/benchmarks.md)
        self.directory = Path(directory) if directory is not None else dataset.data_dir()
        self.lazy = settings.get("DAYUAN_STORE_LAZY") if lazy is None else lazy
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:", config={"threads": 2})
        self._con.execute(f"LOAD {_sql_literal(str(spatial_extension_path()))}")
        self._con.execute("SET allowed_directories = [?]", [str(self.directory.resolve()) + "/"])
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")
        self.manifest: dict = {}
        self.refresh(force=True)

    @property
    def version(self) -> str:
        """Identifies the loaded dataset; cache keys include it so results never go stale."""
        m = self.manifest
        return f"{m.get('dataset_version')}:{m.get('created_at')}"

    @property
    def as_of(self) -> str:
        return str(self.manifest.get("as_of"))

    def refresh(self, *, force: bool = False) -> bool:
        """Load the dataset again if the manifest on disk names another version; True if it did."""
        with self._lock:
            manifest = dataset.read_manifest(self.directory)
            same = (manifest.get("dataset_version"), manifest.get("created_at")) == (
                self.manifest.get("dataset_version"),
                self.manifest.get("created_at"),
            )
            if same and not force:
                return False
            problems = _changed_files(self.directory, manifest)
            if problems:  # a file swapped, damaged or gone since it was published: not served
                raise ValueError(f"dataset version {manifest.get('dataset_version')} does not match its "
                                 f"manifest: {'; '.join(problems)}")
            cur = self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                for name in S.TABLE_NAMES:
                    entry = manifest["files"].get(name)
                    if entry is None:
                        raise ValueError(f"manifest lists no file for table {name}")
                    file = str(entry["file"])
                    if not _SAFE_FILE.match(file):
                        raise ValueError(f"manifest names an unsafe file for {name}: {file!r}")
                    path = (self.directory / file).resolve()
                    cols = ", ".join(f'"{c}"' for c in S.table(name).column_names)
                    # table and column names come from the schema's allow-list; the path is quoted
                    kind = "VIEW" if self.lazy else "TABLE"
                    cur.execute(
                        f'CREATE OR REPLACE {kind} "{name}" AS SELECT {cols} '  # noqa: S608
                        f"FROM read_parquet({_sql_literal(str(path))})"
                    )
                cur.execute(queries.MACROS_SQL)
                queries.precompute(cur, as_of=dt.date.fromisoformat(str(manifest["as_of"])))
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            self.manifest = manifest
            return True

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    def close(self) -> None:
        self._con.close()
