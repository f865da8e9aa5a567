"""Checks of what was read: geometry, position in the street, derived columns, references."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.ingest.parse import blank
from dayuan_geo.ingest.read import Limits
from dayuan_geo.ingest.report import Report

REFERENCES: dict[str, dict[str, str]] = {
    "parcels": {"park_id": "parks", "village_code": "villages"},
    "parks": {"village_code": "villages"},
    "grids": {"village_code": "villages"},
    "firms": {"park_id": "parks", "parcel_id": "parcels", "village_code": "villages", "grid_id": "grids"},
    "inspections": {"firm_id": "firms", "grid_id": "grids"},
    "remediation_projects": {"park_id": "parks"},
    "remediation_events": {"project_id": "remediation_projects"},
}


def current_table(directory: Path, name: str) -> pd.DataFrame:
    """The table as the current version holds it (empty with its columns when absent)."""
    path = dataset.table_path(directory, name)
    if not path.exists():
        return pd.DataFrame(columns=list(S.table(name).column_names))
    if S.table(name).has_geometry:
        return pd.DataFrame(gpd.read_parquet(path))
    return pd.read_parquet(path)


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


def derive(rows: list[dict], tbl: S.Table, matched: dict[str, str], directory: Path, report: Report,
            first_row: int) -> None:
    """area_m2 from geometry in EPSG:4547; village and grid from position when the file has none."""
    names = tbl.column_names
    geoms = [r.get(S.GEOMETRY_COLUMN) for r in rows]
    if "area_m2" in names:
        for r, area in zip(rows, _derive_area(geoms), strict=True):
            r["area_m2"] = area
            given = r.pop("_area_given", None)
            if area is not None and not blank(given):
                try:
                    g = float(str(given).replace(",", ""))
                except ValueError:
                    continue
                if g > 0 and abs(g - area) / area > 0.05:
                    report.add(r["_row"], "area_m2", "warning",
                               f"file says area {g:,.0f} m², the geometry measures {area:,.0f} m² (stored)")
    for col, zone_table, key in (("village_code", "villages", "code"), ("grid_id", "grids", "grid_id")):
        if col in names and col not in matched and tbl.has_geometry and tbl.name not in ("villages", zone_table):
            found = _locate(geoms, current_table(directory, zone_table), key)
            for r, code in zip(rows, found, strict=True):
                r[col] = code
                if code is None and r.get(S.GEOMETRY_COLUMN) is not None and tbl.column(col).required:
                    report.error(f"not inside any of the street's {zone_table}", row=r["_row"], column=col)
                    r["_ok"] = False


def check_references(rows: list[dict], tbl: S.Table, directory: Path, report: Report, first_row: int) -> None:
    for col, ref_table in REFERENCES.get(tbl.name, {}).items():
        ref = S.table(ref_table)
        known = {str(v) for v in current_table(directory, ref_table)[ref.key].dropna().tolist()}
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
