"""Files out: CSV that opens cleanly in Excel, XLSX, GeoJSON and GeoParquet of exactly what is shown.

CSV and XLSX are for people: headers in the UI language, status codes as labels, UTF-8 with a BOM
so Excel shows Chinese, and every text cell that a spreadsheet would run as a formula (leading
= + - @, tab or CR) neutralised with a leading apostrophe. They carry the geometry too (经度/纬度
for points, WKT for polygons, at full precision) so an export can be edited and imported back as new
rows. GeoJSON and GeoParquet are for GIS tools: the schema's column names and codes, geometry in
WGS 84, dates typed in GeoParquet. Re-importing any export in upsert mode changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from dayuan_geo import schema as S

FORMATS = ("csv", "xlsx", "geojson", "geoparquet")
MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "geoparquet": "application/vnd.apache.parquet",
}
# Columns that only serve drawing or caching, never part of what a user exports.
INTERNAL_COLUMNS = ("wkb", "polygon", "path", "position", "color", "tooltip", "bbox")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would evaluate, made inert with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def unneutralise(value: str) -> str:
    """Text that `neutralise` made inert, as it was (an export read back by the importer)."""
    if value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def _geometry(df: pd.DataFrame) -> np.ndarray | None:
    if S.GEOMETRY_COLUMN in df.columns:
        col = df[S.GEOMETRY_COLUMN]
        if len(col) and isinstance(col.iloc[0], bytes | bytearray):
            return shapely.from_wkb(_blob_array(col))
        return np.asarray(col, dtype=object)
    if "wkb" in df.columns:
        return shapely.from_wkb(_blob_array(df["wkb"]))
    return None


def _blob_array(col: pd.Series) -> np.ndarray:
    out = np.empty(len(col), dtype=object)
    out[:] = [None if b is None else bytes(b) for b in col]
    return out


def attributes(df: pd.DataFrame) -> pd.DataFrame:
    """The exportable attribute columns, in the order given."""
    drop = [c for c in (*INTERNAL_COLUMNS, S.GEOMETRY_COLUMN) if c in df.columns]
    return df.drop(columns=drop)


WKT_HEADER = "WKT"  # the importer reads it back (ingest.columns.GEO_TARGETS)
COORDINATES = ("lon", "lat")  # labelled 经度/纬度 (Longitude/Latitude), read back by the importer


def _with_geometry(df: pd.DataFrame) -> pd.DataFrame:
    """Attributes plus the geometry as people can read and edit it: lon/lat for points, WKT otherwise."""
    out = attributes(df).copy()
    geom = _geometry(df)
    if geom is None or all(g is None for g in geom):
        return out
    if all(g is None or g.geom_type == "Point" for g in geom):
        if not set(COORDINATES) <= set(out.columns):
            out["lon"] = [None if g is None else g.x for g in geom]
            out["lat"] = [None if g is None else g.y for g in geom]
    else:
        out[WKT_HEADER] = [None if g is None else shapely.to_wkt(g, rounding_precision=-1) for g in geom]
    return out


# Headers a file (an export) gives otherwise than the screen: a code is called a code, and an English
# file's one village name is its name.
FILE_LABELS: dict[str, tuple[str, str]] = {"village_code": ("村居代码", "Village code"),
                                           "village_en": ("村居英文名", "Village name")}
# A derived name column in one language, and its twin in the other (a file in zh carries only the first).
NAME_TWINS = {"village_zh": ("zh", "village_en"), "village_en": ("en", "village_zh")}


def file_label(table_name: str, column: str, lang: str = "zh") -> str:
    """The header for column in an exported file: as on screen, but a code is called a code."""
    zh_en = FILE_LABELS.get(column)
    return S.column_label(table_name, column, lang) if zh_en is None else zh_en[0 if lang == "zh" else 1]


def for_people(df: pd.DataFrame, *, table: str, lang: str) -> pd.DataFrame:
    """Attributes (and geometry) with labelled values and headers in lang, formula cells neutralised;
    a derived name in the other language (村居英文名 in a Chinese file) is left out when its twin is there."""
    out = _with_geometry(df)
    out = out.drop(columns=[c for c, (in_lang, twin) in NAME_TWINS.items()
                            if c in out.columns and in_lang != lang and twin in out.columns])
    for col in out.columns:
        enum = S.enum_for(table, col)
        if enum is not None:
            out[col] = [enum.label(v, lang) if isinstance(v, str) else v for v in out[col]]
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = [neutralise(v) for v in out[col]]
        elif pd.api.types.is_float_dtype(out[col]) and col not in COORDINATES:
            out[col] = out[col].round(2)
    out.columns = [file_label(table, c, lang) for c in out.columns]
    return out


# Excel reads a run of 11 or more digits (village codes, grid codes, all-digit credit codes) as a number
# and shows 4.40111E+11 or drops digits past the 15th; such codes are written as ="…" in CSV (a text
# formula of digits only: nothing to evaluate) and as text cells in XLSX. The importer reads both back.
_LONG_DIGITS = re.compile(r"^\d{11,}$")


def excel_text(value: object) -> object:
    """A long all-digit code as a CSV cell Excel keeps as text."""
    return f'="{value}"' if isinstance(value, str) and _LONG_DIGITS.match(value) else value


def to_csv(df: pd.DataFrame, *, table: str, lang: str = "zh") -> bytes:
    """UTF-8 CSV with a BOM, CRLF line ends, headers in lang, long codes kept as text: opens cleanly in Excel."""
    frame = for_people(df, table=table, lang=lang)
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = [excel_text(v) for v in frame[col]]
    text = frame.to_csv(index=False, lineterminator="\r\n")
    return ("\ufeff" + text).encode("utf-8")


def to_xlsx(df: pd.DataFrame, *, table: str, lang: str = "zh") -> bytes:
    frame = for_people(df, table=table, lang=lang)
    for col in frame.columns:  # XML cannot carry control characters; a hostile name must not block the file
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = [ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v for v in frame[col]]
    for col in frame.columns:  # dates as Excel dates, not timestamps with a midnight time
        if pd.api.types.is_datetime64_any_dtype(frame[col]) or str(frame[col].dtype).startswith("date32"):
            frame[col] = pd.to_datetime(frame[col]).dt.date
    buf = io.BytesIO()
    sheet = S.table(table).label(lang)[:31] if table in S.TABLES else "data"
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name=sheet)
        ws = writer.sheets[sheet]
        ws.freeze_panes = "A2"
        for i, col in enumerate(frame.columns, 1):
            width = min(40, max(8, len(str(col)) * 2, *(len(str(v)) for v in frame[col].head(200))))
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = width
            if any(isinstance(v, str) and _LONG_DIGITS.match(v) for v in frame[col].head(200)):
                for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    cell.number_format = "@"  # a code column stays text when someone edits it
    return buf.getvalue()


def _geodataframe(df: pd.DataFrame, *, dates_as_text: bool) -> gpd.GeoDataFrame:
    """Attributes and geometry; dates as ISO text (GeoJSON has no date type) or as dates (GeoParquet)."""
    geom = _geometry(df)
    if geom is None:
        raise ValueError("this selection has no geometry; export it as CSV or XLSX")
    attrs = attributes(df).copy()
    for col in attrs.columns:
        is_dates = attrs[col].dtype == object and any(isinstance(v, dt.date) for v in attrs[col].head(50))
        if pd.api.types.is_datetime64_any_dtype(attrs[col]) or str(attrs[col].dtype).startswith("date32"):
            attrs[col] = [None if pd.isna(v) else v.date() for v in pd.to_datetime(attrs[col])]
            is_dates = True
        if is_dates and dates_as_text:
            attrs[col] = [v.isoformat() if isinstance(v, dt.date) else v for v in attrs[col]]
        elif is_dates:
            attrs[col] = pd.array([v.date() if isinstance(v, dt.datetime) else v for v in attrs[col]],
                                  dtype=pd.ArrowDtype(pa.date32()))
    return gpd.GeoDataFrame(attrs, geometry=geom, crs=S.STORAGE_CRS)


def to_geojson(df: pd.DataFrame, *, table: str, lang: str = "zh") -> bytes:
    """A FeatureCollection in WGS 84 with the schema's column names and codes."""
    del table, lang  # GIS exports keep machine-readable names and codes
    gdf = _geodataframe(df, dates_as_text=True)
    data = json.loads(gdf.to_json(drop_id=True, na="null"))
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def to_geoparquet(df: pd.DataFrame, *, table: str, lang: str = "zh") -> bytes:
    del table, lang
    buf = io.BytesIO()
    _geodataframe(df, dates_as_text=False).to_parquet(buf, index=False, write_covering_bbox=True,
                                                      schema_version=S.GEOPARQUET_VERSION)
    return buf.getvalue()


WRITERS = {"csv": to_csv, "xlsx": to_xlsx, "geojson": to_geojson, "geoparquet": to_geoparquet}


def export(df: pd.DataFrame, *, fmt: str, table: str, lang: str = "zh") -> bytes:
    if fmt not in WRITERS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[fmt](df, table=table, lang=lang)
