"""Where the dataset lives, how a new version is published and how a dataset is checked.

The data dir holds one GeoParquet (or plain Parquet, for attribute tables) file per table and a
manifest naming each file with its sha256. Files are immutable: a new version writes new files
(`parcels.v7.parquet`) next to the ones in use, checks them, and then replaces the manifest in one
rename, which is the single commit point. A reader that goes by the manifest sees the old version
or the new one, never a mixture; a crash before the rename leaves the old version in force. Older
versions (manifests and files) are kept under `versions/`; see `versions.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dayuan_geo import geoparquet, settings
from dayuan_geo import schema as S
from dayuan_geo.dataset import integrity

ROW_GROUP_SIZE = 65_536
# A table file is a plain name in the data dir: `parcels.parquet` or a version's `parcels.v7.parquet`.
SAFE_FILE = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_-]+)?\.parquet$")


def data_dir() -> Path:
    """$DAYUAN_DATA_DIR if set, else data/ of the project."""
    return settings.get("DAYUAN_DATA_DIR") or S.PROJECT_DIR / "data"


def table_path(directory: Path, name: str) -> Path:
    """The file holding table name in force in directory (the manifest's, else `<name>.parquet`)."""
    S.table(name)  # refuses names outside the schema, so no path is built from user text
    try:
        entry = read_manifest(directory)["files"].get(name) or {}
    except ValueError:
        entry = {}
    file = str(entry.get("file") or f"{name}.parquet")
    if not SAFE_FILE.match(file):
        raise ValueError(f"manifest names an unsafe file for {name}: {file!r}")
    return Path(directory) / file


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / S.MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no manifest; build a dataset with `python -m dayuan_geo demo`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or "files" not in manifest:
        raise ValueError(f"{path}: manifest lacks 'files'")
    return manifest


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _coerce(df: pd.DataFrame, tbl: S.Table) -> pd.DataFrame:
    """Columns in schema order and types: dates as date32, text as strings, flags as bools."""
    out = df.copy()
    for col in tbl.columns:
        if col.name not in out.columns:
            out[col.name] = None
        if col.dtype == "date":
            out[col.name] = pd.to_datetime(out[col.name], errors="raise").astype("date32[pyarrow]")
        elif col.dtype == "string":
            out[col.name] = out[col.name].astype("string[pyarrow]")
        elif col.dtype == "float":
            out[col.name] = out[col.name].astype("float64")
        elif col.dtype == "int":
            out[col.name] = out[col.name].astype("int64")
        elif col.dtype == "bool":
            out[col.name] = out[col.name].astype("bool")
    return out[list(tbl.column_names)]


def write_table(frame: pd.DataFrame, path: Path, name: str) -> int:
    """Write one table: GeoParquet 1.1 with a bbox covering column, rows in Hilbert order."""
    tbl = S.table(name)
    frame = _coerce(frame, tbl)
    if tbl.has_geometry:
        gdf = gpd.GeoDataFrame(frame, geometry=S.GEOMETRY_COLUMN, crs=S.STORAGE_CRS)
        if len(gdf):
            gdf = gdf.iloc[gdf.geometry.hilbert_distance().argsort(kind="stable")]
        gdf.to_parquet(
            path,
            index=False,
            compression="zstd",
            write_covering_bbox=True,
            schema_version=S.GEOPARQUET_VERSION,
            row_group_size=ROW_GROUP_SIZE,
        )
    else:
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False),
            path,
            compression="zstd",
            row_group_size=ROW_GROUP_SIZE * 4,
        )
    return len(frame)


def write_json_durably(path: Path, payload: dict) -> None:
    """Write payload to path through a fsynced temporary file and a rename."""
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# ---- validation ---------------------------------------------------------------------------------

_ARROW_KIND = {
    "string": (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view),
    "float": (pa.types.is_floating,),
    "int": (pa.types.is_integer,),
    "bool": (pa.types.is_boolean,),
    "date": (pa.types.is_date,),
    "geometry": (pa.types.is_binary, pa.types.is_large_binary),
}


def _geo_problems(name: str, meta: dict | None) -> list[str]:
    if meta is None:
        return [f"{name}: not GeoParquet (no 'geo' metadata)"]
    out = geoparquet.metadata_problems(meta, label=name)  # the specification's JSON schema
    if out:
        return out
    if meta.get("version") != S.GEOPARQUET_VERSION:
        out.append(f"{name}: GeoParquet version {meta.get('version')!r}, expected {S.GEOPARQUET_VERSION}")
    if meta.get("primary_column") != S.GEOMETRY_COLUMN:
        out.append(f"{name}: primary geometry column is {meta.get('primary_column')!r}")
    col = meta.get("columns", {}).get(S.GEOMETRY_COLUMN)
    if not isinstance(col, dict):
        return [*out, f"{name}: geo metadata lacks column {S.GEOMETRY_COLUMN!r}"]
    if col.get("encoding") != "WKB":
        out.append(f"{name}: geometry encoding {col.get('encoding')!r}, expected 'WKB'")
    crs = col.get("crs")
    if crs is not None:
        ident = crs.get("id", {}) if isinstance(crs, dict) else {}
        if not (ident.get("authority") in ("EPSG", "OGC") and str(ident.get("code")) in ("4326", "CRS84")):
            out.append(f"{name}: geometry CRS is not WGS 84")
    bbox = col.get("covering", {}).get("bbox")
    if not bbox:
        out.append(f"{name}: no bbox covering column (GeoParquet 1.1)")
    return out


def validate_file(path: Path, name: str, *, expected_sha256: str | None = None) -> list[str]:
    """Problems of one table file, one line each; empty when it is sound."""
    tbl = S.table(name)
    label = path.name
    if not path.exists():
        return [f"{label}: missing"]
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except Exception as exc:  # pyarrow raises several types for corrupt files
        return [f"{label}: not a readable Parquet file ({type(exc).__name__}: {exc})"]
    problems: list[str] = []
    for col in tbl.columns:
        if col.name not in schema.names:
            problems.append(f"{label}: column {col.name!r} missing")
            continue
        typ = schema.field(col.name).type
        if not any(check(typ) for check in _ARROW_KIND[col.dtype]):
            problems.append(f"{label}: column {col.name!r} has type {typ}, expected {col.dtype}")
    if tbl.has_geometry:
        raw = (schema.metadata or {}).get(b"geo")
        meta = json.loads(raw) if raw else None
        problems += _geo_problems(label, meta)
    if problems:
        return problems
    if expected_sha256 and sha256_of(path) != expected_sha256:
        problems.append(f"{label}: sha256 differs from the manifest (file changed outside the product)")
    try:
        wanted = [c.name for c in tbl.columns if c.dtype != "geometry"]
        data = pq.read_table(path, columns=wanted)
    except Exception as exc:
        return [f"{label}: unreadable data ({type(exc).__name__}: {exc})"]
    key = data.column(tbl.key) if tbl.name not in ("remediation_events", "targets") else None
    if key is not None:
        if key.null_count:
            problems.append(f"{label}: {key.null_count} rows without {tbl.key}")
        dup = len(key) - key.null_count - pc.count_distinct(key).as_py()
        if dup:
            problems.append(f"{label}: {dup} duplicate {tbl.key} values")
    for col in tbl.columns:
        if col.dtype == "geometry":
            continue
        arr = data.column(col.name)
        if col.required and arr.null_count:
            problems.append(f"{label}: column {col.name!r} has {arr.null_count} empty values")
        enum = S.enum_for(name, col.name)
        if enum is not None:
            unknown = pc.and_(pc.is_valid(arr), pc.invert(pc.is_in(arr, pa.array(enum.choices))))
            bad = pc.unique(pc.filter(arr, unknown))
            if len(bad):
                shown = ", ".join(repr(v) for v in bad.to_pylist()[:5])
                problems.append(f"{label}: column {col.name!r} has unknown values {shown}")
    return problems


def validate(directory: Path) -> list[str]:
    """Every problem of the dataset in directory, one line each; empty when it is sound."""
    directory = Path(directory)
    try:
        manifest = read_manifest(directory)
    except ValueError as exc:
        return [str(exc)]
    problems = validate_manifest(directory, manifest)
    return problems or integrity.problems(directory, manifest)


def validate_manifest(directory: Path, manifest: dict) -> list[str]:
    """Problems of the dataset that manifest describes, its files read from directory."""
    problems = []
    for name in S.TABLE_NAMES:
        entry = manifest["files"].get(name)
        if entry is None:
            problems.append(f"{name}: not listed in the manifest")
            continue
        file = str(entry.get("file", ""))
        if not SAFE_FILE.match(file):
            problems.append(f"{name}: manifest names an unsafe file {file!r}")
            continue
        problems += validate_file(directory / file, name, expected_sha256=entry.get("sha256"))
    for name in manifest["files"]:
        if name not in S.TABLES:
            problems.append(f"manifest lists unknown table {name!r}")
    return problems
