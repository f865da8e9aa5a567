"""Files in: read real files safely, match their columns to a table, report row by row, publish.

`run_import(path, table=..., ...)` is the one entry point (CLI and the import page call it). It
never raises for bad input: every problem becomes a line of the `Report`, and a file with errors is
refused whole unless `skip_invalid` is set. Hostile files (path traversal or bombs in zip archives,
huge files, spoofed extensions, broken workbooks) are refused before anything is unpacked or
parsed in bulk. Nothing reaches the dataset except through `versions.publish`, under the writer lock.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from dayuan_geo import access, chinacrs
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import versions
from dayuan_geo.ingest.read import (
    Limits,
    Raw,
    Refused,
    _short,
    read_file,
)

ProgressFn = Callable[[str, float], None]
MODES = ("append", "upsert", "replace")
CHINA_CRS = {"gcj02": "GCJ-02", "gcj-02": "GCJ-02", "bd09": "BD-09", "bd-09": "BD-09"}


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


# ---- columns ------------------------------------------------------------------------------------

GEO_TARGETS = {"lon": ("经度", "lon", "lng", "long", "longitude", "x"),
               "lat": ("纬度", "lat", "latitude", "y"),
               "wkt": ("wkt", "geometry_wkt", "geom_wkt", "几何", "geometry", "geom", "the_geom", "坐标")}
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "parcels": {"release_status": ("状态", "腾退状态", "释放状态"), "area_m2": ("面积", "用地面积", "地块面积"),
                "name": ("地块名称", "名称"), "released_on": ("释放日期", "释放时间"),
                "park_id": ("园区编号", "所属园区"), "village_code": ("所属村居", "村居代码", "村社")},
    "firms": {"name": ("企业名称", "名称"), "uscc": ("统一社会信用代码", "信用代码", "社会信用代码"),
              "risk_level": ("风险等级", "等级"), "list_status": ("处置状态",)},
    "inspections": {"inspected_on": ("巡查日期", "检查日期"), "outcome": ("巡查结果", "检查结果"),
                    "inspector": ("巡查人员", "检查人")},
    "parks": {"name": ("园区名称", "名称"), "area_m2": ("面积", "园区面积")},
    "remediation_projects": {"stage": ("阶段", "当前阶段"), "mode": ("整治模式", "模式")},
}
# Columns computed on import, never taken from the file.
DERIVED = {"area_m2"}
REFERENCES: dict[str, dict[str, str]] = {
    "parcels": {"park_id": "parks", "village_code": "villages"},
    "parks": {"village_code": "villages"},
    "grids": {"village_code": "villages"},
    "firms": {"park_id": "parks", "parcel_id": "parcels", "village_code": "villages", "grid_id": "grids"},
    "inspections": {"firm_id": "firms", "grid_id": "grids"},
    "remediation_projects": {"park_id": "parks"},
    "remediation_events": {"project_id": "remediation_projects"},
}
KEYS = {"remediation_events": ("project_id", "stage", "entered_on"), "targets": ("year", "metric")}
PAST_DATES = {"released_on", "inspected_on", "listed_on", "entered_on", "finished_on", "started_on"}
EARLIEST_DATE = dt.date(1949, 10, 1)


def key_columns(table: str) -> tuple[str, ...]:
    return KEYS.get(table, (S.table(table).key,))


def _norm(text: str) -> str:
    text = str(text).strip().lstrip("\ufeff").lower()
    text = re.sub(r"[（(].*?[)）]", "", text)
    return re.sub(r"[\s_\-·.]", "", text)


def match_columns(sources: list[str], table: str, explicit: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """target -> source column: --map first, then names, zh/en labels, ledger headers, 10-char cuts."""
    tbl = S.table(table)
    targets = [c.name for c in tbl.columns if c.dtype != "geometry"]
    if tbl.has_geometry:
        targets += list(GEO_TARGETS)
    mapping: dict[str, str] = {}
    for target, source in explicit.items():
        if target not in targets:
            raise Refused(f"--map {target}={source}: {table} has no column {target!r}; columns: {', '.join(targets)}")
        if source not in sources:
            raise Refused(f"--map {target}={source}: the file has no column {source!r}; it has: "
                          f"{', '.join(map(str, sources[:30]))}")
        mapping[target] = source
    used = set(mapping.values())
    by_norm: dict[str, str] = {}
    for s in sources:
        by_norm.setdefault(_norm(s), s)
    for target in targets:
        if target in mapping:
            continue
        if target in GEO_TARGETS:
            names = GEO_TARGETS[target]
        else:
            col = tbl.column(target)
            names = (target, col.zh, col.en, *ALIASES.get(table, {}).get(target, ()))
        for cand in names:
            src = by_norm.get(_norm(cand))
            if src is None and target not in GEO_TARGETS and len(target) > 10:
                src = by_norm.get(_norm(target[:10]))  # shapefile fields are cut to 10 characters
            if src is not None and src not in used:
                mapping[target] = src
                used.add(src)
                break
    ignored = [str(s) for s in sources if s not in used]
    return mapping, ignored


# ---- values -------------------------------------------------------------------------------------

def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NaT or (not isinstance(value, str | bytes) and pd.isna(value) is True):
        return True
    return isinstance(value, str) and value.strip() in ("", "-", "—", "nan", "NaN", "None", "null", "NULL")


def _text(value: object) -> str:
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


def parse_date(value: object) -> dt.date:
    """A date from ISO, 2024/3/5, 2024年3月5日, 20240305 or a spreadsheet date; ValueError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    text = _text(value)
    for pat in _DATE_PATTERNS:
        m = pat.match(text)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return dt.date(y, mo, d)
            except ValueError:
                raise ValueError(f"impossible date {text!r}") from None
    raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD)")


_TRUE = {"1", "true", "yes", "y", "是", "有", "t"}
_FALSE = {"0", "false", "no", "n", "否", "无", "f"}


def _parse_value(col: S.Column, table: str, value: object) -> object:
    if col.dtype == "date":
        day = parse_date(value)
        if day < EARLIEST_DATE:
            raise ValueError(f"impossible date {day.isoformat()} (before {EARLIEST_DATE.isoformat()})")
        if col.name in PAST_DATES and day > dt.date.today():
            raise ValueError(f"date {day.isoformat()} is in the future")
        return day
    if col.dtype == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        low = _text(value).lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"not yes/no: {_text(value)!r} (use 是/否)")
    if col.dtype in ("float", "int"):
        try:
            number = float(str(value).replace(",", "").strip()) if not isinstance(value, int | float) else value
        except ValueError:
            raise ValueError(f"not a number: {_text(value)!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"not a number: {_text(value)!r}")
        if col.dtype == "int":
            if not float(number).is_integer():
                raise ValueError(f"not a whole number: {_text(value)!r}")
            return int(number)
        return float(number)
    text = _text(value)
    enum = S.enum_for(table, col.name)
    if enum is not None:
        code = enum.parse(text)
        if code is None:
            allowed = ", ".join(f"{c} {enum.label(c, 'zh')}" for c in enum.codes)
            raise ValueError(f"unknown value {text!r}; allowed: {allowed}")
        return code
    if col.name == "uscc":
        text = text.upper()
        problem = S.uscc_problem(text)
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
    raise Refused(f"--crs {text!r} is not a coordinate system; use an EPSG code (EPSG:4547, EPSG:4326), "
                  "gcj02 or bd09")


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
             report: Report) -> np.ndarray:
    """Geometries in WGS 84 lon/lat from the file's CRS or the one --crs names; Refused when unknown."""
    china = asked if isinstance(asked, str) else None
    asked_crs = asked if isinstance(asked, pyproj.CRS) else None
    if china:
        if file_crs is not None and not _is_lonlat(file_crs):
            raise Refused(f"--crs {china} is for longitude/latitude from map apps, but the file is in "
                          f"{file_crs.to_string()}; leave --crs out")
        report.crs = f"{china} -> WGS 84"
        return _convert_china(geoms, china)
    crs = file_crs
    if asked_crs is not None:
        if file_crs is not None and not file_crs.equals(asked_crs) and not (
                _is_lonlat(file_crs) and _is_lonlat(asked_crs)):
            raise Refused(f"the file says its coordinates are {file_crs.to_string()} but --crs says "
                          f"{asked_crs.to_string()}; leave --crs out")
        crs = asked_crs
    if crs is None:
        bounds = _bounds_lonlat(geoms)
        if bounds and max(abs(v) for v in bounds) > 1000:  # metres, not degrees
            raise Refused(
                f"coordinates such as ({bounds[0]:.1f}, {bounds[1]:.1f}) are projected, but the file names no "
                "coordinate system; name it with --crs, e.g. --crs EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger "
                "CM 114E, Guangzhou planning) or --crs EPSG:4526 (the same with zone number)"
            )
        report.crs = "WGS 84 (assumed: no coordinate system in the file)"
        report.add(None, None, "warning", "no coordinate system in the file; longitude/latitude taken as WGS 84 "
                   "(use --crs gcj02 or bd09 for points from AMap or Baidu)")
        return geoms
    if _is_lonlat(crs):
        report.crs = crs.name
        return geoms
    report.crs = f"{crs.name} -> WGS 84"
    try:
        series = gpd.GeoSeries(geoms, crs=crs).to_crs(S.STORAGE_CRS)
    except Exception as exc:
        raise Refused(f"cannot transform from {crs.to_string()} ({_short(exc)})") from None
    return np.asarray(series.values, dtype=object)


def _geometry_from_columns(raw: Raw, mapping: dict[str, str], report: Report) -> np.ndarray:
    n = len(raw.frame)
    out = np.empty(n, dtype=object)
    if "wkt" in mapping:
        for i, v in enumerate(raw.frame[mapping["wkt"]].tolist()):
            if _blank(v):
                continue
            try:
                out[i] = shapely.from_wkt(str(v))
            except shapely.errors.GEOSException:
                report.error(f"not WKT geometry: {str(v)[:60]!r}", row=i + raw.first_row, column=mapping["wkt"])
        return out
    if "lon" in mapping and "lat" in mapping:
        for i, (x, y) in enumerate(zip(raw.frame[mapping["lon"]].tolist(), raw.frame[mapping["lat"]].tolist(),
                                       strict=True)):
            if _blank(x) or _blank(y):
                continue
            try:
                fx, fy = float(str(x).strip()), float(str(y).strip())
            except ValueError:
                report.error(f"coordinates are not numbers: {x!r}, {y!r}", row=i + raw.first_row,
                             column=mapping["lon"])
                continue
            if math.isfinite(fx) and math.isfinite(fy):
                out[i] = shapely.Point(fx, fy)
        return out
    raise Refused("no geometry: the file needs lon/lat columns (经度/纬度) or a WKT column "
                  "(map them with --map lon=COLUMN --map lat=COLUMN or --map wkt=COLUMN)")


_POLY = ("Polygon", "MultiPolygon")


def _in_bounds(g: shapely.Geometry) -> bool:
    x0, y0, x1, y1 = S.GUANGZHOU_BOUNDS
    bx0, by0, bx1, by1 = g.bounds
    return bx0 >= x0 and bx1 <= x1 and by0 >= y0 and by1 <= y1


def check_geometry(g: shapely.Geometry | None, table: S.Table, limits: Limits) -> tuple[object, str, str]:
    """(geometry to store or None, level, message) for one feature; level '' when it is fine."""
    if g is None or g.is_empty:
        return None, "error", "no geometry"
    gtype = g.geom_type
    if table.geometry_type == "Point":
        if gtype == "MultiPoint" and len(g.geoms) == 1:
            g, gtype = g.geoms[0], "Point"
        if gtype != "Point":
            return None, "error", f"{gtype} where {table.name} needs a point"
    elif gtype not in _POLY:
        return None, "error", f"{gtype} where {table.name} needs a polygon"
    n = shapely.get_num_coordinates(g)
    if n > limits.max_feature_vertices:
        return None, "error", f"{n:,} vertices; at most {limits.max_feature_vertices:,} per feature"
    coords = shapely.get_coordinates(g)
    if not np.isfinite(coords).all():
        return None, "error", "coordinates are not finite numbers"
    level, message = "", ""
    if not g.is_valid:
        reason = shapely.is_valid_reason(g)
        fixed = shapely.make_valid(g)
        parts = [p for p in shapely.get_parts(fixed) if p.geom_type in _POLY and p.area > 0]
        if not parts:
            return None, "error", f"invalid geometry ({reason}) that cannot be repaired"
        fixed = shapely.union_all(parts)
        if fixed.geom_type not in _POLY or fixed.is_empty:
            return None, "error", f"invalid geometry ({reason}) that cannot be repaired"
        g, level, message = fixed, "repaired", f"invalid geometry ({reason}) repaired with make_valid"
    if not _in_bounds(g):
        swapped = shapely.transform(g, lambda c: c[:, ::-1])
        x, y = shapely.get_coordinates(g.representative_point())[0]
        if _in_bounds(swapped):
            return None, "error", (f"outside Guangzhou at ({x:.5f}, {y:.5f}); latitude and longitude look swapped "
                                   "(map them with --map lon=… --map lat=…)")
        return None, "error", f"outside Guangzhou at ({x:.5f}, {y:.5f}); check the coordinate system (--crs)"
    return g, level, message


# ---- the import ---------------------------------------------------------------------------------

def _current(directory: Path, name: str) -> pd.DataFrame:
    path = dataset.table_path(directory, name)
    if not path.exists():
        return pd.DataFrame(columns=list(S.table(name).column_names))
    if S.table(name).has_geometry:
        return pd.DataFrame(gpd.read_parquet(path))
    return pd.read_parquet(path)


def _key_tuple(row: dict | pd.Series, keys: tuple[str, ...]) -> tuple:
    out = []
    for k in keys:
        v = row[k]
        if isinstance(v, pd.Timestamp | dt.datetime):
            v = v.date()
        out.append(None if _blank(v) else (int(v) if isinstance(v, np.integer) else v))
    return tuple(out)


def _same(a: object, b: object) -> bool:
    if isinstance(a, shapely.Geometry) or isinstance(b, shapely.Geometry):
        if a is None or b is None:
            return a is b
        return bool(shapely.equals_exact(a, b, tolerance=1e-9))
    if _blank(a) and _blank(b):
        return True
    if _blank(a) or _blank(b):
        return False
    if isinstance(a, pd.Timestamp | dt.datetime):
        a = a.date()
    if isinstance(b, pd.Timestamp | dt.datetime):
        b = b.date()
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def _derive_area(geoms: list) -> list[float | None]:
    present = [i for i, g in enumerate(geoms) if g is not None]
    out: list[float | None] = [None] * len(geoms)
    if present:
        areas = gpd.GeoSeries([geoms[i] for i in present], crs=S.STORAGE_CRS).to_crs(S.METRIC_CRS).area
        for i, a in zip(present, areas.tolist(), strict=True):
            out[i] = float(a)
    return out


def _locate(geoms: list, zones: pd.DataFrame, key: str) -> list[str | None]:
    """The zone (village or grid) holding each feature's representative point."""
    out: list[str | None] = [None] * len(geoms)
    if zones.empty:
        return out
    tree = shapely.STRtree(np.asarray(zones[S.GEOMETRY_COLUMN].values, dtype=object))
    codes = zones[key].astype(str).tolist()
    for i, g in enumerate(geoms):
        if g is None:
            continue
        hits = tree.query(g.representative_point(), predicate="within")
        if len(hits):
            out[i] = codes[int(hits[0])]
    return out


def _preview(rows: list[dict], table: S.Table, change: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*table.column_names]) if rows else pd.DataFrame(
        columns=[*table.column_names])
    frame["change"] = change
    return frame


def preview_view(preview: pd.DataFrame) -> tuple[tuple[float, float], float] | None:
    """(centre lon/lat, zoom) framing the rows of a preview, or None when none has geometry."""
    geoms = [g for g in preview.get(S.GEOMETRY_COLUMN, pd.Series(dtype=object)) if g is not None]
    if not geoms:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(np.array(geoms, dtype=object))
    span = max(x1 - x0, (y1 - y0) * 1.6, 0.002)
    zoom = float(np.clip(math.log2(360.0 / span) - 1.2, 10.0, 17.0))
    return ((float(x0 + x1) / 2, float(y0 + y1) / 2), zoom)


def run_import(
    path: Path,
    *,
    table: str,
    directory: Path,
    user: str,
    role: str,
    crs: str | None = None,
    mapping: dict[str, str] | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    mode: str = "append",
    layer: str | None = None,
    limits: Limits | None = None,
    progress: ProgressFn = _noop,
    display_name: str | None = None,
) -> ImportResult:
    """Check path against table and, unless refused or dry_run, publish it as a new dataset version."""
    path, directory = Path(path), Path(directory)
    name = display_name or path.name
    report = Report(file=name, table=table, mode=mode)
    result = ImportResult(report)
    try:
        if not access.role(role).may_import:
            raise Refused(f"role {role!r} may not import data (planners only)")
        S.table(table)
        if mode not in MODES:
            raise Refused(f"unknown mode {mode!r}; use {', '.join(MODES)}")
        result = _run(path, table=table, directory=directory, user=user, crs=crs, mapping=mapping or {},
                      skip_invalid=skip_invalid, dry_run=dry_run, mode=mode, layer=layer,
                      limits=limits or Limits.from_env(), progress=progress, report=report)
    except (Refused, ValueError, PermissionError) as exc:
        report.error(str(exc))
        report.status = "refused"
    except versions.WriterBusy as exc:
        report.error(str(exc))
        report.status = "refused"
    except MemoryError:
        report.error("file too large to read in memory")
        report.status = "refused"
    except Exception as exc:  # never a traceback for a user's file: say what failed
        report.error(f"could not read the file ({type(exc).__name__}: {_short(exc)})")
        report.status = "refused"
    if report.status == "refused":
        result.preview = None
    try:
        versions.log_import(directory, {
            "user": user, "role": role, "file": name, "table": table, "mode": mode, "status": report.status,
            "version": report.version, "rows": report.rows_read, "added": report.added,
            "changed": report.changed, "removed": report.removed, "errors": len(report.errors),
            "first_error": report.errors[0].message if report.errors else "",
        })
    except OSError as exc:
        report.add(None, None, "warning", f"import log not written ({exc})")
    return result


def _run(path: Path, *, table: str, directory: Path, user: str, crs: str | None, mapping: dict[str, str],
         skip_invalid: bool, dry_run: bool, mode: str, layer: str | None, limits: Limits,
         progress: ProgressFn, report: Report) -> ImportResult:
    tbl = S.table(table)
    asked = parse_crs(crs)
    progress("reading", 0.05)
    with tempfile.TemporaryDirectory(prefix="dayuan-import-") as work:
        raw = read_file(path, Path(work), table=table, limits=limits, layer=layer, name=report.file)
    report.fmt = raw.fmt
    report.rows_read = len(raw.frame)
    if report.rows_read == 0:
        raise Refused("the file holds no rows")
    if report.rows_read > limits.max_features:
        raise Refused(f"{report.rows_read:,} rows; at most {limits.max_features:,} are accepted")
    raw.frame.columns = [str(c) for c in raw.frame.columns]
    matched, ignored = match_columns(list(raw.frame.columns), table, mapping)
    report.mapping = {k: v for k, v in matched.items()}
    if ignored:
        report.add(None, None, "warning", "columns not imported: " + ", ".join(ignored[:20]))
    progress("checking coordinates", 0.2)
    geoms = None
    if tbl.has_geometry:
        if raw.geometry is None and mode == "upsert" and not set(GEO_TARGETS) & set(matched):
            geoms = None  # a ledger updating attributes: rows keep their current geometry
            report.add(None, None, "warning", "no geometry in the file: existing rows keep theirs, new rows are "
                       "refused")
        else:
            geoms = _geometry_from_columns(raw, matched, report) if raw.geometry is None else raw.geometry
    if geoms is not None:
        total_vertices = int(sum(shapely.get_num_coordinates(g) for g in geoms if g is not None))
        if total_vertices > limits.max_vertices:
            raise Refused(f"{total_vertices:,} vertices; at most {limits.max_vertices:,} are accepted")
        geoms = to_wgs84(np.asarray(geoms, dtype=object), raw.crs, asked, report)
    elif asked is not None and not tbl.has_geometry:
        report.add(None, None, "warning", f"--crs ignored: {table} has no geometry")

    progress("checking rows", 0.35)
    with versions.writer_lock(directory):
        current = _current(directory, table)
        rows = _parse_rows(raw, tbl, matched, geoms, limits, report, progress)
        if geoms is not None:
            _derive(rows, tbl, matched, directory, report, raw.first_row)
        _check_references(rows, tbl, directory, report, raw.first_row)
        new_frame, preview = _merge(rows, current, tbl, matched, mode, report, raw.first_row)
        if report.file_errors or (report.errors and not skip_invalid):
            report.status = "refused"
            return ImportResult(report, preview)
        if report.errors:  # skip_invalid: rows with errors were left out by _merge
            report.skipped = len(report.error_rows)
            if not (report.added or report.changed or report.removed):
                raise Refused("no row of the file is free of errors")
        if dry_run:
            report.status = "checked"
            return ImportResult(report, preview)
        if not (report.added or report.changed or report.removed):
            report.status = "unchanged"
            return ImportResult(report, preview)
        progress("writing a new version", 0.7)
        old = dataset.read_manifest(directory) if (directory / S.MANIFEST_NAME).exists() else {}
        as_of = dt.date.fromisoformat(old["as_of"]) if old.get("as_of") else dt.date.today()
        manifest = versions.publish(
            directory, {table: new_frame}, source="imported", as_of=as_of,
            note=f"{report.file} into {table} ({mode})",
            extra={k: v for k, v in old.items() if k in ("seed", "scale")},
            change={"user": user, "file": report.file, "table": table, "mode": mode, "added": report.added,
                    "changed": report.changed, "removed": report.removed},
        )
        report.version = int(manifest["dataset_version"])
        report.status = "imported"
        progress("done", 1.0)
        return ImportResult(report, preview)


def _parse_rows(raw: Raw, tbl: S.Table, matched: dict[str, str], geoms: np.ndarray | None, limits: Limits,
                report: Report, progress: ProgressFn = _noop) -> list[dict]:
    rows: list[dict] = []
    records = raw.frame.to_dict("records")
    for i, rec in enumerate(records):
        if i % 5_000 == 0 and i:
            progress(f"checking rows ({i:,} of {len(records):,})", 0.35 + 0.3 * i / len(records))
        number = i + raw.first_row
        row: dict = {"_row": number, "_ok": True}
        for col in tbl.columns:
            if col.dtype == "geometry" or col.name not in matched or col.name in DERIVED:
                continue
            value = rec.get(matched[col.name])
            if _blank(value):
                row[col.name] = None
                continue
            try:
                row[col.name] = _parse_value(col, tbl.name, value)
            except ValueError as exc:
                report.error(str(exc), row=number, column=f"{col.zh} ({col.name})")
                row[col.name] = None
                row["_ok"] = False
        if "area_m2" in matched:
            row["_area_given"] = rec.get(matched["area_m2"])
        if geoms is not None:
            g, level, message = check_geometry(geoms[i], tbl, limits)
            if level == "error":
                report.error(message, row=number, column=S.GEOMETRY_COLUMN)
                row["_ok"] = False
            elif level:
                report.add(number, S.GEOMETRY_COLUMN, level, message)
            row[S.GEOMETRY_COLUMN] = g
        rows.append(row)
    return rows


def _derive(rows: list[dict], tbl: S.Table, matched: dict[str, str], directory: Path, report: Report,
            first_row: int) -> None:
    """area_m2 from geometry in EPSG:4547; village and grid from position when the file has none."""
    names = tbl.column_names
    geoms = [r.get(S.GEOMETRY_COLUMN) for r in rows]
    if "area_m2" in names:
        for r, area in zip(rows, _derive_area(geoms), strict=True):
            r["area_m2"] = area
            given = r.pop("_area_given", None)
            if area is not None and not _blank(given):
                try:
                    g = float(str(given).replace(",", ""))
                except ValueError:
                    continue
                if g > 0 and abs(g - area) / area > 0.05:
                    report.add(r["_row"], "area_m2", "warning",
                               f"file says area {g:,.0f} m², the geometry measures {area:,.0f} m² (stored)")
    for col, zone_table, key in (("village_code", "villages", "code"), ("grid_id", "grids", "grid_id")):
        if col in names and col not in matched and tbl.has_geometry and tbl.name not in ("villages", zone_table):
            found = _locate(geoms, _current(directory, zone_table), key)
            for r, code in zip(rows, found, strict=True):
                r[col] = code
                if code is None and r.get(S.GEOMETRY_COLUMN) is not None and tbl.column(col).required:
                    report.error(f"not inside any of the street's {zone_table}", row=r["_row"], column=col)
                    r["_ok"] = False


def _check_references(rows: list[dict], tbl: S.Table, directory: Path, report: Report, first_row: int) -> None:
    for col, ref_table in REFERENCES.get(tbl.name, {}).items():
        ref = S.table(ref_table)
        known = {str(v) for v in _current(directory, ref_table)[ref.key].dropna().tolist()}
        label = ref.label("en").lower()
        for r in rows:
            v = r.get(col)
            if v is not None and str(v) not in known:
                report.error(f"unknown {label} reference {v!r} (not in {ref_table})", row=r["_row"], column=col)
                r["_ok"] = False
    if tbl.name == "parcels":
        for r in rows:
            if r.get("release_status") in S.RELEASED_STATUSES and r.get("released_on") is None \
                    and "release_status" in r:
                report.error("released parcels need a release date (释放日期)", row=r["_row"], column="released_on")
                r["_ok"] = False


def _merge(rows: list[dict], current: pd.DataFrame, tbl: S.Table, matched: dict[str, str], mode: str,
           report: Report, first_row: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table after the import, and the preview of rows added, changed and removed."""
    keys = key_columns(tbl.name)
    names = list(tbl.column_names)
    supplied = set(matched) - DERIVED - set(GEO_TARGETS)
    if tbl.has_geometry and any(S.GEOMETRY_COLUMN in r for r in rows):
        supplied |= {S.GEOMETRY_COLUMN, "area_m2", "village_code", "grid_id"} & set(names)
    cur_records = current[names].to_dict("records") if len(current) else []
    cur_by_key = {_key_tuple(r, keys): r for r in cur_records}
    seen: dict[tuple, int] = {}
    merged: dict[tuple, dict] = {} if mode == "replace" else dict(cur_by_key)
    added, changed = [], []
    absent: set[str] = set()  # required columns the file lacks, reported once
    for r in rows:
        key = tuple(r.get(k) for k in keys)
        if any(v is None for v in key):
            missing = [S.table(tbl.name).column(k).zh for k, v in zip(keys, key, strict=True) if v is None]
            report.error(f"missing id ({', '.join(missing)})", row=r["_row"], column=keys[0])
            continue
        if key in seen:
            report.error(f"duplicate id {'/'.join(map(str, key))!r} (also row {seen[key]})", row=r["_row"],
                         column=keys[0])
            r["_ok"] = False
            continue
        seen[key] = r["_row"]
        old = cur_by_key.get(key)
        if old is not None and mode == "append":
            report.error(f"id {'/'.join(map(str, key))!r} is already in {tbl.name} (use --mode upsert to update it)",
                         row=r["_row"], column=keys[0])
            continue
        base = dict(old) if (old is not None and mode == "upsert") else {c: None for c in names}
        new = {c: (r.get(c) if c in supplied or c in keys else base.get(c)) for c in names}
        if mode == "upsert" and old is not None:
            for c in names:
                if c not in supplied and c not in keys:
                    new[c] = old.get(c)
        if old is None and tbl.has_geometry and new.get(S.GEOMETRY_COLUMN) is None and r["_ok"]:
            report.error("no geometry: a new row needs one", row=r["_row"], column=S.GEOMETRY_COLUMN)
            r["_ok"] = False
        missing = [tbl.column(c) for c in names if tbl.column(c).required and new.get(c) is None
                   and (c != S.GEOMETRY_COLUMN or r["_ok"])]
        for col in missing:
            if col.dtype == "geometry":
                continue
            r["_ok"] = False
            if col.name in matched:
                report.error(f"{col.zh} ({col.name}) is required", row=r["_row"], column=col.name)
            elif col.name not in absent:  # said once for the file, not once per row
                absent.add(col.name)
                report.error(f"{col.zh} ({col.name}) is required and the file has no column for it: map one "
                             f"(import page: column mapping {col.name}=COLUMN; command line: --map "
                             f"{col.name}=COLUMN)", column=col.name)
        if not r["_ok"]:
            if old is not None:
                merged[key] = old  # a row left out keeps its current values, even in replace mode
            continue
        if old is None:
            added.append(new)
        elif not all(_same(new[c], old.get(c)) for c in names):
            changed.append(new)
        merged[key] = new
    removed = [r for k, r in cur_by_key.items() if k not in merged] if mode == "replace" else []
    if mode == "replace" and not rows:
        removed = cur_records
    report.added, report.changed, report.removed = len(added), len(changed), len(removed)
    frame = pd.DataFrame(list(merged.values()), columns=names)
    preview = pd.concat([_preview(added, tbl, "added"), _preview(changed, tbl, "changed"),
                         _preview(removed, tbl, "removed")], ignore_index=True)
    return frame, preview


# ---- the command line ---------------------------------------------------------------------------

def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """TARGET=SOURCE items (the CLI's --map, the import page's mapping lines) as {target: source}."""
    out = {}
    for item in items or []:
        if not item.strip():
            continue
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise ValueError(f"{item!r}: write TARGET=SOURCE, e.g. name=地块名称")
        out[target.strip()] = source.strip()
    return out
