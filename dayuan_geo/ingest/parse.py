"""Values and coordinates: text to typed values, dates in any usual style, any CRS to WGS 84."""

from __future__ import annotations

import datetime as dt
import math
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from dayuan_geo import chinacrs
from dayuan_geo import schema as S
from dayuan_geo.export import unneutralise
from dayuan_geo.ingest.read import Raw, Refused, short
from dayuan_geo.ingest.report import Report, say
from dayuan_geo.uscc import uscc_problem

CHINA_CRS = {"gcj02": "GCJ-02", "gcj-02": "GCJ-02", "bd09": "BD-09", "bd-09": "BD-09"}
PAST_DATES = {"released_on", "inspected_on", "listed_on", "entered_on", "finished_on", "started_on"}
EARLIEST_DATE = dt.date(1949, 10, 1)


class BadValue(ValueError):
    """One cell's value cannot be taken; said in both languages (keys in dayuan_geo.text)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(say(key, "en", values))
        self.key, self.values = key, values


def blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NaT or (not isinstance(value, str | bytes) and pd.isna(value) is True):
        return True
    return isinstance(value, str) and value.strip() in ("", "-", "—", "nan", "NaN", "None", "null", "NULL")


def as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value).strip()


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?: .*)?$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


EXCEL_EPOCH = dt.date(1899, 12, 30)  # day 0 of Excel's serial dates (1900 system, leap-year bug included)


def parse_date(value: object) -> dt.date:
    """A date from ISO, 2024/3/5, 2024年3月5日, 20240305, a spreadsheet date cell or an Excel serial
    number such as 45357 (a date cell formatted as a number); ValueError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, int | float) and not isinstance(value, bool) and 10_000 <= value < 100_000 \
            and float(value).is_integer():
        return EXCEL_EPOCH + dt.timedelta(days=int(value))
    text = as_text(value)
    for pat in _DATE_PATTERNS:
        m = pat.match(text)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return dt.date(y, mo, d)
            except ValueError:
                raise BadValue("imp_m_impossible_date", value=text) from None
    raise BadValue("imp_m_not_date", value=text)


_TRUE = {"1", "true", "yes", "y", "是", "有", "t"}
_FALSE = {"0", "false", "no", "n", "否", "无", "f"}


def parse_value(col: S.Column, table: str, value: object) -> object:
    if col.dtype == "date":
        day = parse_date(value)
        if day < EARLIEST_DATE:
            raise BadValue("imp_m_date_too_early", value=day.isoformat(), earliest=EARLIEST_DATE.isoformat())
        if col.name in PAST_DATES and day > dt.date.today():
            raise BadValue("imp_m_date_future", value=day.isoformat())
        return day
    if col.dtype == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        low = as_text(value).lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise BadValue("imp_m_not_bool", value=as_text(value))
    if col.dtype in ("float", "int"):
        try:
            number = float(str(value).replace(",", "").strip()) if not isinstance(value, int | float) else value
        except ValueError:
            raise BadValue("imp_m_not_number", value=as_text(value)) from None
        if not math.isfinite(number):
            raise BadValue("imp_m_not_number", value=as_text(value))
        if col.dtype == "int":
            if not float(number).is_integer():
                raise BadValue("imp_m_not_whole", value=as_text(value))
            return int(number)
        return float(number)
    text = unneutralise(as_text(value))
    enum = S.enum_for(table, col.name)
    if enum is not None:
        code = enum.parse(text)
        if code is None:
            allowed = (", ".join(f"{c} {enum.label(c, 'zh')}" for c in enum.choices),
                       ", ".join(f"{c} {enum.label(c, 'en')}" for c in enum.choices))
            raise BadValue("imp_m_unknown_value", value=text, allowed=allowed)
        return code
    if col.name == "uscc":
        text = text.upper()
        problem = uscc_problem(text)
        if problem:
            raise ValueError(problem)
    return text


# ---- coordinates --------------------------------------------------------------------------------

def parse_crs(text: str | None) -> str | pyproj.CRS | None:
    """None, 'GCJ-02', 'BD-09' or a pyproj CRS for --crs; Refused for anything else."""
    if text is None or not str(text).strip():
        return None
    key = str(text).strip().lower().replace("_", "")
    if key in CHINA_CRS:
        return CHINA_CRS[key]
    m = re.fullmatch(r"(?:epsg:)?(\d{4,6})", key)
    try:
        if m:
            return pyproj.CRS.from_epsg(int(m.group(1)))
    except pyproj.exceptions.CRSError:
        pass
    raise Refused.say("imp_m_crs_nonsense", text=str(text)[:60])


def _is_lonlat(crs: pyproj.CRS) -> bool:
    return crs.is_geographic


def _bounds_lonlat(geoms: np.ndarray) -> tuple[float, float, float, float] | None:
    valid = [g for g in geoms if g is not None and not g.is_empty]
    if not valid:
        return None
    b = shapely.total_bounds(np.array(valid, dtype=object))
    return tuple(float(v) for v in b)


def _convert_china(geoms: np.ndarray, which: str) -> np.ndarray:
    fn = chinacrs.gcj02_to_wgs84 if which == "GCJ-02" else chinacrs.bd09_to_wgs84

    def move(coords: np.ndarray) -> np.ndarray:
        lon, lat = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        out[i] = None if g is None else shapely.transform(g, move)
    return out


def to_wgs84(geoms: np.ndarray, file_crs: pyproj.CRS | None, asked: str | pyproj.CRS | None,
             report: Report, *, map_app: str = "") -> np.ndarray:
    """Geometries in WGS 84 lon/lat from the file's CRS or the one --crs names; Refused when unknown.

    A file that names no CRS but looks like a Chinese map app's (map_app says why) is taken as WGS 84
    with a warning naming --crs gcj02: those apps publish GCJ-02, some 500-700 m off in Guangzhou."""
    china = asked if isinstance(asked, str) else None
    asked_crs = asked if isinstance(asked, pyproj.CRS) else None
    if china:
        if file_crs is not None and not _is_lonlat(file_crs):
            raise Refused.say("imp_m_crs_china_projected", asked=china, crs=file_crs.to_string())
        report.crs = f"{china} -> WGS 84"
        return _convert_china(geoms, china)
    crs = file_crs
    if asked_crs is not None:
        if file_crs is not None and not file_crs.equals(asked_crs) and not (
                _is_lonlat(file_crs) and _is_lonlat(asked_crs)):
            raise Refused.say("imp_m_crs_conflict", crs=file_crs.to_string(), asked=asked_crs.to_string())
        crs = asked_crs
    if crs is None:
        bounds = _bounds_lonlat(geoms)
        if bounds and max(abs(v) for v in bounds) > 1000:  # metres, not degrees
            raise Refused.say("imp_m_projected_no_crs", x=f"{bounds[0]:.1f}", y=f"{bounds[1]:.1f}")
        report.crs = "WGS 84 (assumed: no coordinate system in the file)"
        if map_app:
            report.note("warning", "imp_m_map_app", why=map_app)
        else:
            report.note("warning", "imp_m_no_crs")
        return geoms
    if _is_lonlat(crs):
        report.crs = crs.name
        if map_app and asked_crs is None:
            report.crs = f"{crs.name} (assumed)"
            report.note("warning", "imp_m_map_app", why=map_app)
        return geoms
    report.crs = f"{crs.name} -> WGS 84"
    try:
        series = gpd.GeoSeries(geoms, crs=crs).to_crs(S.STORAGE_CRS)
    except Exception as exc:
        raise Refused.say("imp_m_crs_transform", crs=crs.to_string(), reason=short(exc)) from None
    return np.asarray(series.values, dtype=object)


def geometry_from_columns(raw: Raw, mapping: dict[str, str], report: Report) -> np.ndarray:
    n = len(raw.frame)
    out = np.empty(n, dtype=object)
    if "wkt" in mapping:
        for i, v in enumerate(raw.frame[mapping["wkt"]].tolist()):
            if blank(v):
                continue
            try:
                out[i] = shapely.from_wkt(str(v))
            except shapely.errors.GEOSException:
                report.note("error", "imp_m_not_wkt", row=raw.row_number(i), column=mapping["wkt"], value=str(v)[:60])
        return out
    if "lon" in mapping and "lat" in mapping:
        for i, (x, y) in enumerate(zip(raw.frame[mapping["lon"]].tolist(), raw.frame[mapping["lat"]].tolist(),
                                       strict=True)):
            if blank(x) or blank(y):
                continue
            try:
                fx, fy = float(str(x).strip()), float(str(y).strip())
            except ValueError:
                report.note("error", "imp_m_lonlat_not_numbers", row=raw.row_number(i), column=mapping["lon"],
                            x=str(x)[:40], y=str(y)[:40])
                continue
            if math.isfinite(fx) and math.isfinite(fy):
                out[i] = shapely.Point(fx, fy)
        return out
    raise Refused.say("imp_m_no_geometry_columns")
