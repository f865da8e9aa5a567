"""Reading import files safely: sniff what the bytes are, check archives before unpacking, read.

Every function here refuses a file with `Refused` and a message a planner can act on; nothing is
unpacked before the archive's members, sizes and ratios are checked, and nothing is parsed in bulk
before its size, feature count and column count are within `Limits`.
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from dayuan_geo import schema as S

FORMATS = ("GeoJSON", "GeoPackage", "Shapefile (zip)", "File Geodatabase (zip)", "CSV", "XLSX", "GeoParquet")
SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".csv", ".txt", ".xlsx", ".parquet", ".geoparquet")


@dataclass(frozen=True)
class Limits:
    """What a single import may hold; anything larger is refused before it is parsed in bulk."""

    max_bytes: int = 200 * 2**20
    max_unzipped_bytes: int = 1024 * 2**20
    max_ratio: float = 200.0  # uncompressed / compressed size of one zip member
    max_members: int = 5_000
    max_features: int = 1_000_000
    max_vertices: int = 20_000_000
    max_feature_vertices: int = 250_000
    max_columns: int = 500

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, with any of $DAYUAN_IMPORT_MAX_BYTES, _MAX_FEATURES, _MAX_VERTICES raised or lowered."""
        values = {}
        for field_name in ("max_bytes", "max_features", "max_vertices"):
            raw = os.environ.get(f"DAYUAN_IMPORT_{field_name.upper()}")
            if raw:
                try:
                    values[field_name] = max(1, int(raw))
                except ValueError:
                    raise ValueError(f"DAYUAN_IMPORT_{field_name.upper()}={raw!r} is not a whole number") from None
        return cls(**values)


class Refused(Exception):
    """The file as a whole cannot be taken; the message says why and what to do."""


# ---- sniffing and archives ----------------------------------------------------------------------

def sniff(path: Path) -> str:
    """What the bytes of path are, whatever its name says: zip, sqlite, parquet, json, text or binary."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
        fh.seek(0, 2)
        size = fh.tell()
        tail = b""
        if size >= 8:
            fh.seek(-4, 2)
            tail = fh.read(4)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PAR1") and tail == b"PAR1":
        return "parquet"
    if b"\x00" in head:
        return "binary"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        return "json"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
            try:
                head.decode("gb18030")
            except UnicodeDecodeError:
                return "binary"
    return "text" if head.strip() else "empty"


_EXPECTED = {
    ".geojson": "json", ".json": "json", ".gpkg": "sqlite", ".zip": "zip", ".xlsx": "zip",
    ".csv": "text", ".txt": "text", ".parquet": "parquet", ".geoparquet": "parquet",
}
_KIND_NAMES = {"zip": "a ZIP archive", "sqlite": "an SQLite database (GeoPackage)", "parquet": "a Parquet file",
               "json": "JSON text", "text": "plain text", "binary": "binary data", "empty": "empty"}


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\\" in name:
        name = name.replace("\\", "/")
    pure = PurePosixPath(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"member {info.filename!r} has an absolute path"
    if ".." in pure.parts:
        return f"member {info.filename!r} points outside the archive ('..')"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"member {info.filename!r} is a symbolic link"
    if info.flag_bits & 0x1:
        return f"member {info.filename!r} is encrypted"
    return None


def check_zip(path: Path, limits: Limits) -> list[zipfile.ZipInfo]:
    """The members of a zip archive, after refusing traversal, links, encryption and bombs."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Refused(f"broken ZIP archive ({exc})") from None
    if len(infos) > limits.max_members:
        raise Refused(f"archive holds {len(infos):,} members; at most {limits.max_members:,} are accepted")
    total = 0
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise Refused(f"unsafe archive: {problem}")
        total += info.file_size
        if info.file_size > 1_000_000 and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
            raise Refused(
                f"archive member {info.filename!r} expands {info.file_size / max(info.compress_size, 1):,.0f} "
                f"times (at most {limits.max_ratio:,.0f}); looks like a zip bomb"
            )
    if total > limits.max_unzipped_bytes:
        raise Refused(f"archive expands to {total:,} bytes; at most {limits.max_unzipped_bytes:,} are accepted")
    return infos


def extract_zip(path: Path, dest: Path, limits: Limits) -> list[Path]:
    """Extract a checked archive, counting real bytes (headers can lie); returns the files written."""
    infos = check_zip(path, limits)
    written = []
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in infos:
            if info.is_dir():
                continue
            rel = PurePosixPath(info.filename.replace("\\", "/"))
            target = dest.joinpath(*rel.parts)
            if dest.resolve() not in target.resolve().parents:
                raise Refused(f"unsafe archive: member {info.filename!r} points outside the archive")
            target.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        size += len(chunk)
                        total += len(chunk)
                        if size > info.file_size or total > limits.max_unzipped_bytes:
                            raise Refused(f"archive member {info.filename!r} is larger than its header says")
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise Refused(f"broken ZIP archive member {info.filename!r} ({exc})") from None
            written.append(target)
    return written


# ---- readers ------------------------------------------------------------------------------------

@dataclass
class Raw:
    """What a reader found: attribute columns as text/values, and geometry when the format has it."""

    frame: pd.DataFrame
    geometry: np.ndarray | None  # shapely geometries in the file's coordinates
    crs: pyproj.CRS | None
    fmt: str
    first_row: int = 1  # the row number users see for the first data row


_CPG = {"936": "gbk", "cp936": "gbk", "gbk": "gbk", "gb2312": "gbk", "gb18030": "gb18030", "65001": "utf-8",
        "utf-8": "utf-8", "utf8": "utf-8", "big5": "big5", "950": "big5"}


def _shapefile_encoding(shp: Path) -> str:
    """The .cpg's encoding; without one, UTF-8 if the .dbf decodes as UTF-8, else GBK (Chinese GIS default)."""
    for cpg in shp.parent.glob("*"):
        if cpg.suffix.lower() == ".cpg" and cpg.stem == shp.stem:
            name = cpg.read_text(encoding="ascii", errors="ignore").strip().lower()
            if name in _CPG:
                return _CPG[name]
            raise Refused(f"{cpg.name} names an unknown encoding {name!r}; use UTF-8 or GBK")
    for dbf in shp.parent.glob("*"):
        if dbf.suffix.lower() == ".dbf" and dbf.stem == shp.stem:
            try:
                dbf.read_bytes().decode("utf-8")
                return "utf-8"
            except UnicodeDecodeError:
                return "gbk"
    return "utf-8"


def _vector(path: Path, fmt: str, *, layer: str | None, table: str, limits: Limits,
            encoding: str | None = None) -> Raw:
    import pyogrio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise Refused(f"not a readable {fmt} ({short(exc)})") from None
    if not layers:
        raise Refused(f"{fmt} holds no layer")
    if layer is None:
        if len(layers) == 1:
            layer = layers[0]
        elif table in layers:
            layer = table
        else:
            raise Refused(f"{fmt} holds several layers ({', '.join(layers[:10])}); name one with --layer")
    elif layer not in layers:
        raise Refused(f"{fmt} has no layer {layer!r}; layers: {', '.join(layers[:10])}")
    try:
        info = pyogrio.read_info(path, layer=layer, encoding=encoding)
        if info["features"] > limits.max_features:
            raise Refused(f"{info['features']:,} features; at most {limits.max_features:,} are accepted")
        if len(info["fields"]) > limits.max_columns:
            raise Refused(f"{len(info['fields'])} columns; at most {limits.max_columns} are accepted")
        # dates as text, so an impossible date is one row's error rather than an unreadable file
        options = {"DATE_AS_STRING": "YES"} if fmt == "GeoJSON" else {}
        with warnings.catch_warnings():  # GDAL's notes on odd files are not the user's report
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, datetime_as_string=True,
                                         on_invalid="ignore", **options)
    except Refused:
        raise
    except Exception as exc:
        raise Refused(f"not a readable {fmt} ({short(exc)})") from None
    geom = np.asarray(gdf.geometry.values, dtype=object) if isinstance(gdf, gpd.GeoDataFrame) else None
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name) if geom is not None else gdf)
    return Raw(frame, geom, gdf.crs if geom is not None else None, fmt)


def _csv(path: Path, limits: Limits) -> Raw:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Refused("CSV is neither UTF-8 nor GBK text")
    if text.count("\n") > limits.max_features + 1:
        raise Refused(f"more than {limits.max_features:,} rows; split the file")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise Refused(f"not a readable CSV ({short(exc)})") from None
    if len(frame.columns) > limits.max_columns:
        raise Refused(f"{len(frame.columns)} columns; at most {limits.max_columns} are accepted")
    return Raw(frame, None, None, "CSV")


def _xlsx(path: Path, limits: Limits) -> Raw:
    import openpyxl
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:  # openpyxl parses with defusedxml when it is installed; never without it
        raise Refused("Excel import needs the defusedxml package")
    names = {i.filename for i in check_zip(path, limits)}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise Refused("not an Excel workbook (.xlsx): the archive lacks xl/workbook.xml")
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            ws = wb.worksheets[0]
            rows = []
            for values in ws.iter_rows(values_only=True):
                if len(rows) > limits.max_features + 1:
                    raise Refused(f"more than {limits.max_features:,} rows; split the workbook")
                rows.append(values)
        finally:
            wb.close()
    except Refused:
        raise
    except Exception as exc:
        raise Refused(f"broken Excel workbook ({short(exc)})") from None
    while rows and all(v is None or str(v).strip() == "" for v in rows[0]):
        rows.pop(0)
    if not rows:
        raise Refused("the first worksheet is empty")
    header = [str(v).strip() if v is not None else "" for v in rows[0]]
    if len(header) > limits.max_columns:
        raise Refused(f"{len(header)} columns; at most {limits.max_columns} are accepted")
    body = [list(r) + [None] * (len(header) - len(r)) for r in rows[1:]
            if any(v is not None and str(v).strip() != "" for v in r)]
    frame = pd.DataFrame([r[: len(header)] for r in body], columns=_unique(header), dtype=object)
    return Raw(frame, None, None, "XLSX", first_row=1)


def _parquet(path: Path, limits: Limits) -> Raw:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        rows = pf.metadata.num_rows
        geo = (pf.schema_arrow.metadata or {}).get(b"geo")
    except Exception as exc:
        raise Refused(f"not a readable Parquet file ({short(exc)})") from None
    if rows > limits.max_features:
        raise Refused(f"{rows:,} rows; at most {limits.max_features:,} are accepted")
    if len(pf.schema_arrow.names) > limits.max_columns:
        raise Refused(f"{len(pf.schema_arrow.names)} columns; at most {limits.max_columns} are accepted")
    try:
        if geo:
            gdf = gpd.read_parquet(path)
            geom = np.asarray(gdf.geometry.values, dtype=object)
            frame = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name]))
            frame = frame.drop(columns=[c for c in frame.columns if c == S.BBOX_COLUMN])
            return Raw(frame, geom, gdf.crs, "GeoParquet")
        return Raw(pd.read_parquet(path), None, None, "Parquet")
    except Exception as exc:
        raise Refused(f"not a readable GeoParquet file ({short(exc)})") from None


def read_file(path: Path, work: Path, *, table: str, limits: Limits, layer: str | None = None,
              name: str | None = None) -> Raw:
    """Read any supported file; Refused with a clear message for anything unsafe or unreadable."""
    name = name or path.name
    suffix = Path(name).suffix.lower()
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise Refused(f"file is {size:,} bytes; at most {limits.max_bytes:,} are accepted")
    if suffix == ".shp":
        raise Refused("upload a shapefile as one .zip holding its .shp, .shx, .dbf, .prj and .cpg files")
    if suffix not in _EXPECTED:
        raise Refused(f"unsupported file type {suffix or '(none)'}; supported: {', '.join(FORMATS)}")
    kind = sniff(path)
    if kind == "empty":
        raise Refused("file is empty")
    if kind != _EXPECTED[suffix]:
        raise Refused(f"file is named {suffix} but holds {_KIND_NAMES.get(kind, kind)}; refused")
    if suffix in (".geojson", ".json"):
        return _vector(path, "GeoJSON", layer=None, table=table, limits=limits)
    if suffix == ".gpkg":
        return _vector(path, "GeoPackage", layer=layer, table=table, limits=limits)
    if suffix in (".csv", ".txt"):
        return _csv(path, limits)
    if suffix == ".xlsx":
        return _xlsx(path, limits)
    if suffix in (".parquet", ".geoparquet"):
        return _parquet(path, limits)
    files = extract_zip(path, work, limits)
    gdbs = sorted({p for f in files for p in f.relative_to(work).parents if p.suffix.lower() == ".gdb"})
    shps = [f for f in files if f.suffix.lower() == ".shp"]
    if gdbs:
        if len(gdbs) > 1:
            raise Refused("archive holds several File Geodatabases; send one")
        return _vector(work / gdbs[0], "File Geodatabase", layer=layer, table=table, limits=limits)
    if len(shps) == 1:
        shp = shps[0]
        stems = {f.suffix.lower() for f in files if f.stem == shp.stem and f.parent == shp.parent}
        missing = [s for s in (".shx", ".dbf") if s not in stems]
        if missing:
            raise Refused(f"shapefile {shp.name} lacks its {' and '.join(missing)} file")
        return _vector(shp, "Shapefile", layer=None, table=table, limits=limits, encoding=_shapefile_encoding(shp))
    if len(shps) > 1:
        raise Refused("archive holds several shapefiles; send one per import")
    if any(f.name == "workbook.xml" for f in files):
        raise Refused("an Excel workbook renamed to .zip; send it as .xlsx")
    raise Refused("archive holds no shapefile (.shp) or File Geodatabase (.gdb)")


def short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, n in enumerate(names):
        n = n or f"column_{i + 1}"
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
        out.append(n)
    return out
