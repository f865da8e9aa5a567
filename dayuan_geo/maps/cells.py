"""Parcels summed on square cells: the aggregate a map falls back to when even parks are too many.

Shared by the overview's map budget (mapdata) and the land explorer (land); each passes the parcels
it selected as a SQL source with their geometry, area and release date.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import numpy as np
import pandas as pd

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0
COORD_DIGITS = 6


def m_per_deg_lon(lat: float) -> float:
    """Metres per degree of longitude at latitude lat (the squares' local scale)."""
    return M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat))


def with_share(df: pd.DataFrame) -> pd.DataFrame:
    """Adds `share`: released_m2 over area_m2 (0 where there is no area)."""
    area = df["area_m2"].to_numpy(dtype=float)
    df["share"] = np.where(area > 0, df["released_m2"].to_numpy(dtype=float) / np.maximum(area, 1e-9), 0.0)
    return df


def square_cells(
    cur: duckdb.DuckDBPyConnection,
    *,
    source: str,
    params: dict,
    budget: int,
    sizes: tuple[int, ...],
    released_by: dt.date | None = None,
    prune_by_extent: bool = False,
) -> tuple[pd.DataFrame, int]:
    """The parcels of source summed on the smallest cell of sizes (metres) giving at most budget cells.

    source is a SELECT yielding geometry, area_m2 and released_on; it comes from the callers' own
    constant SQL, its values bound through params. A parcel counts as released when released_on is
    set, or on or before released_by when given. prune_by_extent starts at the first size whose
    cells could hold the selection's bounding box, saving queries at city scale.
    Returns the cells (id, parcels, area_m2, released_m2, share, closed square ring) and the size.
    """
    lat0 = cur.execute(
        f"SELECT avg((ST_YMin(geometry) + ST_YMax(geometry)) / 2) FROM ({source})", params  # noqa: S608
    ).fetchone()[0]
    kx = m_per_deg_lon(float(lat0 or 0.0))
    centres = f"""
        SELECT (ST_XMin(geometry) + ST_XMax(geometry)) / 2 * $kx AS x,
               (ST_YMin(geometry) + ST_YMax(geometry)) / 2 * $ky AS y,
               area_m2, released_on
        FROM ({source})
    """  # noqa: S608 - source is the caller's constant SQL
    params = {**params, "kx": kx, "ky": M_PER_DEG_LAT}
    candidates = list(sizes)
    if prune_by_extent:
        extent = cur.execute(
            f"SELECT max(x) - min(x), max(y) - min(y) FROM ({centres})", params  # noqa: S608
        ).fetchone()
        box = max(float(extent[0] or 0), 1.0) * max(float(extent[1] or 0), 1.0)
        candidates = [c for c in sizes if c * c * budget >= box / 16] or [sizes[-1]]
    for cell in candidates:
        n = cur.execute(
            f"SELECT count(DISTINCT (floor(x / $c), floor(y / $c))) FROM ({centres})",  # noqa: S608
            {**params, "c": float(cell)},
        ).fetchone()[0]
        if n <= budget:
            break
    released = "released_on IS NOT NULL" if released_by is None else "released_on <= $view"
    extra = {} if released_by is None else {"view": released_by}
    df = cur.execute(
        f"""
        SELECT floor(x / $c)::BIGINT AS ix, floor(y / $c)::BIGINT AS iy, count(*) AS parcels,
               sum(area_m2) AS area_m2,
               coalesce(sum(area_m2) FILTER (WHERE {released}), 0) AS released_m2
        FROM ({centres}) GROUP BY ix, iy ORDER BY ix, iy
        """,  # noqa: S608 - released is one of two constants above
        {**params, **extra, "c": float(cell)},
    ).df()
    df["polygon"] = square_rings(df["ix"].to_numpy(), df["iy"].to_numpy(), cell=cell, kx=kx)
    df["id"] = [f"{i}:{j}" for i, j in zip(df["ix"], df["iy"], strict=True)]
    return with_share(df.drop(columns=["ix", "iy"])), int(cell)


def square_rings(ix: np.ndarray, iy: np.ndarray, *, cell: float, kx: float) -> list:
    """The closed lon/lat ring of each cell (ix, iy) of size cell metres (kx: metres per degree of
    longitude at the cells' latitude)."""
    x0 = np.asarray(ix, dtype=float) * cell / kx
    y0 = np.asarray(iy, dtype=float) * cell / M_PER_DEG_LAT
    dx, dy = cell / kx, cell / M_PER_DEG_LAT
    corners = np.stack(
        [np.stack([x0 + u * dx, y0 + v * dy], axis=-1) for u, v in ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))],
        axis=1,
    )
    return np.round(corners, COORD_DIGITS).tolist()


def point_cells(lon: np.ndarray, lat: np.ndarray, *, budget: int,
                sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Points on the smallest square cell of sizes (metres) that gives at most budget cells: each
    point's cell index (ix, iy) and the size (the largest size when none does)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    kx = m_per_deg_lon(float(lat.mean()) if len(lat) else 0.0)
    for cell in sizes:
        ix, iy = np.floor(lon * kx / cell).astype(np.int64), np.floor(lat * M_PER_DEG_LAT / cell).astype(np.int64)
        if len(np.unique(np.stack([ix, iy], axis=1), axis=0)) <= budget:
            break
    return ix, iy, int(cell)
