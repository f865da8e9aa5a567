"""Reading import files: each format to a `Raw` (attributes, geometry, CRS), within `Limits`.

Nothing is parsed in bulk before its size, feature count and column count are within `Limits`;
CSV and Excel ledgers are read by `ingest.sheets` (title rows, header detection, Excel row numbers).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from dayuan_geo import schema as S
from dayuan_geo.ingest import sheets
from dayuan_geo.ingest.guard import _EXPECTED, _KIND_NAMES, Limits, Raw, Refused, extract_zip, short, sniff

__all__ = ["FORMATS", "SUFFIXES", "Limits", "Raw", "Refused", "read_file"]

FORMATS = ("GeoJSON", "GeoPackage", "Shapefile (zip)", "File Geodatabase (zip)", "CSV", "XLSX", "GeoParquet")
SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".csv", ".txt", ".xlsx", ".parquet", ".geoparquet")

_CPG = {"936": "gbk", "cp936": "gbk", "gbk": "gbk", "gb2312": "gbk", "gb18030": "gb18030", "65001": "utf-8",
        "utf-8": "utf-8", "utf8": "utf-8", "cp65001": "utf-8", "big5": "big5", "950": "big5"}
ENCODING_NAMES = {"utf-8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030", "big5": "Big5"}


def _cpg_encoding(text: str) -> str | None:
    """The encoding a .cpg names: `UTF-8`, `936`, `ANSI 936`, `GB2312`, `GB18030`, ..., else None."""
    name = text.strip().lower().replace("_", "-")
    name = name.removeprefix("ansi").strip(" -")
    return _CPG.get(name) or _CPG.get(name.replace("-", ""))


def _dbf_text(dbf: Path) -> bytes:
    """The text of a .dbf: its field names and records, not the binary header around them."""
    data = dbf.read_bytes()
    if len(data) < 32:
        return b""
    n_records = int.from_bytes(data[4:8], "little")
    header_len = int.from_bytes(data[8:10], "little")
    record_len = int.from_bytes(data[10:12], "little")
    names = b" ".join(data[pos:pos + 11].split(b"\x00", 1)[0] for pos in range(32, header_len - 32, 32)
                      if data[pos:pos + 1] != b"\r")
    end = min(len(data), header_len + n_records * max(record_len, 1))
    return names + b" " + data[header_len:end]


def decode_guess(text: bytes) -> str | None:
    """UTF-8 when the bytes decode as UTF-8 (text that decodes both ways is UTF-8), else GB18030 (GBK's
    superset, what Chinese GIS writes without saying), else None."""
    for enc in ("utf-8", "gb18030"):
        try:
            text.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    return None


def _shapefile_encoding(shp: Path) -> str:
    """The .cpg's encoding; without one, what the .dbf's records decode as (UTF-8 first, then GBK)."""
    for cpg in shp.parent.glob("*"):
        if cpg.suffix.lower() == ".cpg" and cpg.stem == shp.stem:
            text = cpg.read_text(encoding="ascii", errors="ignore")
            found = _cpg_encoding(text)
            if found:
                return found
            raise Refused.say("imp_m_cpg_unknown", file=cpg.name, name=text.strip()[:40])
    for dbf in shp.parent.glob("*"):
        if dbf.suffix.lower() == ".dbf" and dbf.stem == shp.stem:
            found = decode_guess(_dbf_text(dbf))
            if found is None:
                raise Refused.say("imp_m_dbf_undecodable", file=dbf.name)
            return found
    return "utf-8"


def _vector(path: Path, fmt: str, *, layer: str | None, table: str, limits: Limits,
            encoding: str | None = None) -> Raw:
    import pyogrio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise Refused.say("imp_m_not_readable", fmt=fmt, reason=short(exc)) from None
    if not layers:
        raise Refused.say("imp_m_no_layer", fmt=fmt)
    if layer is None:
        if len(layers) == 1:
            layer = layers[0]
        elif table in layers:
            layer = table
        else:
            raise Refused.say("imp_m_several_layers", fmt=fmt, layers=", ".join(layers[:10]))
    elif layer not in layers:
        raise Refused.say("imp_m_layer_missing", fmt=fmt, layer=layer, layers=", ".join(layers[:10]))
    try:
        info = pyogrio.read_info(path, layer=layer, encoding=encoding)
        if info["features"] > limits.max_features:
            raise Refused.say("imp_m_too_many_rows", limit=limits.max_features)
        if len(info["fields"]) > limits.max_columns:
            raise Refused.say("imp_m_too_many_columns", n=len(info["fields"]), limit=limits.max_columns)
        # dates as text, so an impossible date is one row's error rather than an unreadable file
        options = {"DATE_AS_STRING": "YES"} if fmt == "GeoJSON" else {}
        with warnings.catch_warnings():  # GDAL's notes on odd files are not the user's report
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = pyogrio.read_dataframe(path, layer=layer, encoding=encoding, datetime_as_string=True,
                                         on_invalid="ignore", **options)
    except Refused:
        raise
    except Exception as exc:
        raise Refused.say("imp_m_not_readable", fmt=fmt, reason=short(exc)) from None
    geom = np.asarray(gdf.geometry.values, dtype=object) if isinstance(gdf, gpd.GeoDataFrame) else None
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name) if geom is not None else gdf)
    return Raw(frame, geom, gdf.crs if geom is not None else None, fmt)


def _parquet(path: Path, limits: Limits) -> Raw:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        rows = pf.metadata.num_rows
        geo = (pf.schema_arrow.metadata or {}).get(b"geo")
    except Exception as exc:
        raise Refused.say("imp_m_not_readable", fmt=("Parquet", "Parquet file"), reason=short(exc)) from None
    if rows > limits.max_features:
        raise Refused.say("imp_m_too_many_rows", limit=limits.max_features)
    if len(pf.schema_arrow.names) > limits.max_columns:
        raise Refused.say("imp_m_too_many_columns", n=len(pf.schema_arrow.names), limit=limits.max_columns)
    try:
        if geo:
            gdf = gpd.read_parquet(path)
            geom = np.asarray(gdf.geometry.values, dtype=object)
            frame = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name]))
            frame = frame.drop(columns=[c for c in frame.columns if c == S.BBOX_COLUMN])
            return Raw(frame, geom, gdf.crs, "GeoParquet")
        return Raw(pd.read_parquet(path), None, None, "Parquet")
    except Exception as exc:
        raise Refused.say("imp_m_not_readable", fmt=("GeoParquet", "GeoParquet file"), reason=short(exc)) from None


_GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                   "GeometryCollection"}
# Properties DataV (datav.aliyun.com areas) and AMap district files carry on every feature.
MAP_APP_PROPERTIES = ("adcode", "center", "centroid", "citycode", "childrenNum", "acroutes")


def _json(path: Path, work: Path, *, table: str, limits: Limits) -> Raw:
    """A FeatureCollection, or what public boundary files often are instead: a JSON array of
    features, one feature, or a bare geometry, read as a collection."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused.say("imp_m_json_unreadable", reason=short(exc)) from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features, target = doc.get("features"), path
    elif isinstance(doc, list):
        features, target = doc, None
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        features, target = [doc], None
    elif isinstance(doc, dict) and doc.get("type") in _GEOMETRY_TYPES:
        features, target = [{"type": "Feature", "properties": {}, "geometry": doc}], None
    else:
        raise Refused.say("imp_m_json_not_geojson")
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise Refused.say("imp_m_json_not_geojson")
    if len(features) > limits.max_features:
        raise Refused.say("imp_m_too_many_rows", limit=limits.max_features)
    if target is None:
        features = [f if f.get("type") == "Feature" else {"type": "Feature", "properties": {}, "geometry": f}
                    for f in features]
        target = work / "features.geojson"
        target.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    raw = _vector(target, "GeoJSON", layer=None, table=table, limits=limits)
    props = [f.get("properties") or {} for f in features[:50]]
    if not doc_names_crs(doc) and any(k in p for p in props for k in MAP_APP_PROPERTIES):
        raw.map_app = "DataV/AMap (adcode, center)"
    return raw


def doc_names_crs(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("crs"), dict)


def read_file(path: Path, work: Path, *, table: str, limits: Limits, layer: str | None = None,
              name: str | None = None, score: sheets.ScoreFn | None = None, header_row: int | None = None,
              sheet: str | None = None) -> Raw:
    """Read any supported file; Refused with a clear message for anything unsafe or unreadable."""
    name = name or path.name
    suffix = Path(name).suffix.lower()
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise Refused.say("imp_m_too_many_bytes", size=f"{size:,}", limit=f"{limits.max_bytes:,}")
    if suffix == ".shp":
        raise Refused.say("imp_m_bare_shp")
    if suffix not in _EXPECTED:
        raise Refused.say("imp_m_unsupported", suffix=suffix or "(none)", formats=", ".join(FORMATS))
    kind = sniff(path)
    if kind == "empty":
        raise Refused.say("imp_m_empty")
    if kind != _EXPECTED[suffix]:
        raise Refused.say("imp_m_mislabelled", suffix=suffix, kind=_KIND_NAMES.get(kind, kind))
    if suffix in (".geojson", ".json"):
        return _json(path, work, table=table, limits=limits)
    if suffix == ".gpkg":
        return _vector(path, "GeoPackage", layer=layer, table=table, limits=limits)
    if suffix in (".csv", ".txt"):
        return sheets.read_csv(path, limits, score=score, header_row=header_row)
    if suffix == ".xlsx":
        return sheets.read_xlsx(path, limits, score=score, header_row=header_row, sheet=sheet)
    if suffix in (".parquet", ".geoparquet"):
        return _parquet(path, limits)
    files = extract_zip(path, work, limits)
    gdbs = sorted({p for f in files for p in f.relative_to(work).parents if p.suffix.lower() == ".gdb"})
    shps = [f for f in files if f.suffix.lower() == ".shp"]
    if gdbs:
        if len(gdbs) > 1:
            raise Refused.say("imp_m_zip_several_gdb")
        return _vector(work / gdbs[0], "File Geodatabase", layer=layer, table=table, limits=limits)
    if len(shps) == 1:
        shp = shps[0]
        stems = {f.suffix.lower() for f in files if f.stem == shp.stem and f.parent == shp.parent}
        missing = [s for s in (".shx", ".dbf") if s not in stems]
        if missing:
            raise Refused.say("imp_m_shp_lacks", name=shp.name, missing=" + ".join(missing))
        encoding = _shapefile_encoding(shp)
        raw = _vector(shp, "Shapefile", layer=None, table=table, limits=limits, encoding=encoding)
        raw.encoding = ENCODING_NAMES.get(encoding, encoding)
        return raw
    if len(shps) > 1:
        raise Refused.say("imp_m_zip_several_shapefiles")
    if any(f.name == "workbook.xml" for f in files):
        raise Refused.say("imp_m_zip_is_xlsx")
    raise Refused.say("imp_m_zip_no_shapefile")


