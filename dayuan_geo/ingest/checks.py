"""Checks of what was read: geometry, position in the street, derived columns, references."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset.integrity import REFERENCES
from dayuan_geo.ingest.parse import blank
from dayuan_geo.ingest.read import Limits
from dayuan_geo.ingest.report import Report


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


def check_geometry(g: shapely.Geometry | None, table: S.Table, limits: Limits) -> tuple[object, str, str, dict]:
    """(geometry to store or None, level, message key, values) for one feature; level '' when it is fine."""
    if g is None or g.is_empty:
        return None, "error", "imp_m_geom_none", {}
    gtype = g.geom_type
    if table.geometry_type == "Point":
        if gtype == "MultiPoint" and len(g.geoms) == 1:
            g, gtype = g.geoms[0], "Point"
        if gtype != "Point":
            return None, "error", "imp_m_geom_needs_point", {"gtype": gtype, "table": table.name}
    elif gtype not in _POLY:
        return None, "error", "imp_m_geom_needs_polygon", {"gtype": gtype, "table": table.name}
    n = shapely.get_num_coordinates(g)
    if n > limits.max_feature_vertices:
        return None, "error", "imp_m_geom_vertices", {"n": f"{n:,}", "limit": f"{limits.max_feature_vertices:,}"}
    coords = shapely.get_coordinates(g)
    if not np.isfinite(coords).all():
        return None, "error", "imp_m_geom_not_finite", {}
    level, key, values = "", "", {}
    if not g.is_valid:
        reason = shapely.is_valid_reason(g)
        fixed = shapely.make_valid(g)
        parts = [p for p in shapely.get_parts(fixed) if p.geom_type in _POLY and p.area > 0]
        fixed = shapely.union_all(parts) if parts else None
        if fixed is None or fixed.geom_type not in _POLY or fixed.is_empty:
            return None, "error", "imp_m_geom_unrepairable", {"reason": reason}
        g, level, key, values = fixed, "repaired", "imp_m_geom_repaired", {"reason": reason}
    if not _in_bounds(g):
        swapped = shapely.transform(g, lambda c: c[:, ::-1])
        x, y = shapely.get_coordinates(g.representative_point())[0]
        where = {"x": f"{x:.5f}", "y": f"{y:.5f}"}
        if _in_bounds(swapped):
            return None, "error", "imp_m_geom_swapped", where
        return None, "error", "imp_m_geom_outside_guangzhou", where
    return g, level, key, values


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


# Columns found from a feature's position when the file has none: (column, zone table, zone key).
LOCATED = (("village_code", "villages", "code"), ("grid_id", "grids", "grid_id"),
           ("park_id", "parks", "park_id"), ("parcel_id", "parcels", "parcel_id"))


Lookup = Callable[[str], pd.DataFrame]  # a table as the import sees it (current, or staged in the same import)


def derive(rows: list[dict], tbl: S.Table, matched: dict[str, str], lookup: Lookup, report: Report) -> set[str]:
    """area_m2 from geometry in EPSG:4547; village, grid (and a firm's park and parcel) from position
    when the file has none. A row that cannot be placed is that row's error. Returns the columns
    derived."""
    names = tbl.column_names
    geoms = [r.get(S.GEOMETRY_COLUMN) for r in rows]
    derived: set[str] = set()
    if "area_m2" in names:
        derived.add("area_m2")
        for r, area in zip(rows, _derive_area(geoms), strict=True):
            r["area_m2"] = area
            given = r.pop("_area_given", None)
            if area is not None and not blank(given):
                try:
                    g = float(str(given).replace(",", ""))
                except ValueError:
                    continue
                if g > 0 and abs(g - area) / area > 0.05:
                    report.note("warning", "imp_m_area_differs", row=r["_row"], column="area_m2",
                                given=f"{g:,.0f}", measured=f"{area:,.0f}")
    for col, zone_table, key in LOCATED:
        if col not in names or col in matched or tbl.name in ("villages", zone_table):
            continue
        if col in ("park_id", "parcel_id") and tbl.name != "firms":
            continue
        derived.add(col)
        found = _locate(geoms, lookup(zone_table), key)
        for r, code in zip(rows, found, strict=True):
            r[col] = code
            if code is None and r.get(S.GEOMETRY_COLUMN) is not None and tbl.column(col).required and r["_ok"]:
                report.note("error", "imp_m_not_in_zone", row=r["_row"], column=col,
                            zones=(S.table(zone_table).zh, S.table(zone_table).en.lower()))
                r["_ok"] = False
    return derived


def street_extent(lookup: Lookup) -> tuple[tuple[float, float, float, float], float] | None:
    """The street's villages: their lon/lat bounds and their area in m² (EPSG:4547); None without villages."""
    villages = lookup("villages")
    geoms = [g for g in villages.get(S.GEOMETRY_COLUMN, []) if g is not None and not g.is_empty]
    if not geoms:
        return None
    series = gpd.GeoSeries(geoms, crs=S.STORAGE_CRS)
    return tuple(float(v) for v in series.total_bounds), float(series.to_crs(S.METRIC_CRS).area.sum())


def check_plausible(rows: list[dict], tbl: S.Table, lookup: Lookup, limits: Limits, report: Report) -> None:
    """Row errors for features outside the street (with limits.extent_margin_m) and for parcels or
    parks larger than limits.max_area_share of the street: a district boundary is not a parcel."""
    extent = street_extent(lookup)
    if extent is None or not tbl.has_geometry:
        return
    (x0, y0, x1, y1), street_m2 = extent
    dy = limits.extent_margin_m / 111_320.0
    dx = dy / max(np.cos(np.radians((y0 + y1) / 2)), 0.1)
    box = shapely.box(x0 - dx, y0 - dy, x1 + dx, y1 + dy)
    sized = tbl.name in ("parcels", "parks")
    areas = _derive_area([r.get(S.GEOMETRY_COLUMN) if r["_ok"] else None for r in rows]) if sized else []
    for i, r in enumerate(rows):
        g = r.get(S.GEOMETRY_COLUMN)
        if g is None or not r["_ok"]:
            continue
        area = areas[i] if sized else None
        if area and area > limits.max_area_share * street_m2:  # said first: a district holds the street
            report.note("error", "imp_m_too_large", row=r["_row"], column=S.GEOMETRY_COLUMN,
                        km2=f"{area / 1e6:,.2f}", share=f"{limits.max_area_share:.0%}",
                        street=f"{street_m2 / 1e6:,.2f}")
            r["_ok"] = False
        elif not box.contains(g):
            x, y = shapely.get_coordinates(g.representative_point())[0]
            report.note("error", "imp_m_outside_street", row=r["_row"], column=S.GEOMETRY_COLUMN,
                        x=f"{x:.5f}", y=f"{y:.5f}", km=f"{limits.extent_margin_m / 1000:g}")
            r["_ok"] = False


def check_references(rows: list[dict], tbl: S.Table, lookup: Lookup, report: Report) -> None:
    for col, ref_table in REFERENCES.get(tbl.name, {}).items():
        ref = S.table(ref_table)
        known = {str(v) for v in lookup(ref_table)[ref.key].dropna().tolist()}
        for r in rows:
            v = r.get(col)
            if v is not None and str(v) not in known:
                report.note("error", "imp_m_unknown_reference", row=r["_row"], column=col, value=str(v),
                            table=(ref.zh, ref_table))
                r["_ok"] = False
    if tbl.name == "parcels":
        for r in rows:
            if r.get("release_status") in S.RELEASED_STATUSES and r.get("released_on") is None \
                    and "release_status" in r:
                report.note("error", "imp_m_release_date", row=r["_row"], column="released_on")
                r["_ok"] = False
