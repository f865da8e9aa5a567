"""The demo street's places: villages, parks on a lattice inside a blob-shaped boundary, their
parcels, and the management grid clipped by village (all in EPSG:4547 metres until assembled)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from dayuan_geo.demo.base import (
    _PARK_KIND,
    NAMED_PARKS,
    ProgressFn,
    Scale,
    _boundary_and_cells,
    _grid_ids,
    _metric_area,
    _names,
    _nearest_seed,
    _polygons_lonlat,
    _rects,
    _villages,
    unique_park_names,
)


@dataclass
class Layout:
    """The street's villages, parks and parcels, in metres (EPSG:4547) and as WGS 84 polygons."""

    n_parks: int
    kx: np.ndarray
    ky: np.ndarray
    boundary: shapely.Polygon
    pcx: np.ndarray
    pcy: np.ndarray
    divs: list[dict[str, str]]
    seeds: np.ndarray
    vpolys: list
    codes: np.ndarray
    w: np.ndarray
    h: np.ndarray
    theta: np.ndarray
    park_village: np.ndarray
    park_names: np.ndarray
    park_names_en: np.ndarray
    park_geom: np.ndarray
    per_park: np.ndarray
    p_park: np.ndarray
    local: np.ndarray
    parcel_cx: np.ndarray
    parcel_cy: np.ndarray
    pw: np.ndarray
    ph: np.ndarray
    th: np.ndarray
    n_parcels: int
    parcel_geom: np.ndarray
    parcel_area: np.ndarray
    parcel_village: np.ndarray


def lay_out(rng: np.random.Generator, *, sc: Scale, cx: float, cy: float, progress: ProgressFn) -> Layout:
    """Villages, parks and parcels: where they lie and what they are called."""
    progress("parks", 0.02)
    if sc.parks is not None:
        n_parks = sc.parks
        kx = rng.integers(1, 5, n_parks)
        ky = rng.integers(1, 4, n_parks)
    else:
        n_parks = int(sc.parcels / 4.6) + 16
        kx = rng.integers(1, 5, n_parks)
        ky = rng.integers(1, 4, n_parks)
        per = kx * ky
        cum = np.cumsum(per)
        n_parks = int(np.searchsorted(cum, sc.parcels) + 1)
        kx, ky = kx[:n_parks], ky[:n_parks]
    boundary, pcx, pcy = _boundary_and_cells(rng, n_parks, sc.cell_m, sc.density, cx, cy)
    divs, seeds, vpolys = _villages(rng, boundary, cx, cy)
    codes = np.array([d["code"] for d in divs], dtype=object)

    w = sc.cell_m * rng.uniform(0.3, 0.65, n_parks)
    h = sc.cell_m * rng.uniform(0.3, 0.65, n_parks)
    theta = np.deg2rad(rng.uniform(-25, 25, n_parks))
    jitter = 0.06 * sc.cell_m
    pcx = pcx + rng.uniform(-jitter, jitter, n_parks)
    pcy = pcy + rng.uniform(-jitter, jitter, n_parks)
    park_village = _nearest_seed(seeds, pcx, pcy)

    # The named parks take the biggest footprints, in the village their name belongs to.
    park_names = _names(rng, n_parks, _PARK_KIND)
    park_names_en = np.array([None] * n_parks, dtype=object)
    taken: set[int] = set()
    for name, name_en, village, size in NAMED_PARKS[: min(len(NAMED_PARKS), n_parks)]:
        candidates = [i for i in range(n_parks) if i not in taken]
        if village is not None:
            vi = int(np.where(codes == village)[0][0])
            in_village = [i for i in candidates if park_village[i] == vi]
            candidates = in_village or candidates
        i = candidates[0]
        taken.add(i)
        park_names[i], park_names_en[i] = name, name_en
        w[i] = h[i] = sc.cell_m * (0.5 + 0.15 * size)
        kx[i], ky[i] = 4, 3
    park_names = unique_park_names(park_names, taken)  # a generated name may repeat a named park's
    park_rings = _rects(pcx, pcy, w, h, theta)
    park_geom = _polygons_lonlat(park_rings)

    progress("parcels", 0.08)
    per_park = kx * ky
    if sc.parcels is not None:  # trim the last parks so the count is exact
        # (the named parks grew to 4 x 3 above, so the excess can exceed the last park's parcels)
        excess = int(per_park.sum() - sc.parcels)
        for j in range(n_parks - 1, -1, -1):
            if excess <= 0:
                break
            cut = min(excess, int(per_park[j]) - 1)
            per_park[j] -= cut
            excess -= cut
    p_park = np.repeat(np.arange(n_parks), per_park)
    local = np.concatenate([np.arange(k) for k in per_park]) if n_parks < 5000 else (
        np.arange(p_park.size) - np.repeat(np.cumsum(per_park) - per_park, per_park)
    )
    pkx = kx[p_park]
    iu = local % pkx
    iv = local // pkx
    gap = np.minimum(12.0, 0.05 * np.minimum(w, h))[p_park]
    cw = w[p_park] / pkx
    ch = h[p_park] / ky[p_park]
    u = -w[p_park] / 2 + (iu + 0.5) * cw
    v = -h[p_park] / 2 + (iv + 0.5) * ch
    th = theta[p_park]
    parcel_cx = pcx[p_park] + u * np.cos(th) - v * np.sin(th)
    parcel_cy = pcy[p_park] + u * np.sin(th) + v * np.cos(th)
    pw = np.maximum(cw - gap, 1.0)
    ph = np.maximum(ch - gap, 1.0)
    n_parcels = p_park.size
    parcel_geom = _polygons_lonlat(_rects(parcel_cx, parcel_cy, pw, ph, th))
    parcel_area = _metric_area(parcel_geom)
    parcel_village = _nearest_seed(seeds, parcel_cx, parcel_cy)
    return Layout(n_parks=n_parks, kx=kx, ky=ky, boundary=boundary, pcx=pcx, pcy=pcy, divs=divs, seeds=seeds,
        vpolys=vpolys, codes=codes, w=w, h=h, theta=theta, park_village=park_village, park_names=park_names,
        park_names_en=park_names_en, park_geom=park_geom, per_park=per_park, p_park=p_park, local=local,
        parcel_cx=parcel_cx, parcel_cy=parcel_cy, pw=pw, ph=ph, th=th, n_parcels=n_parcels,
        parcel_geom=parcel_geom, parcel_area=parcel_area, parcel_village=parcel_village)


@dataclass
class Grids:
    """The management grids: lattice pitch and origin, village index, IDs and metric polygons."""

    g: float
    gx0: float
    gy0: float
    g_vi: np.ndarray
    grid_ids: np.ndarray
    grid_geom_m: np.ndarray


def grid_lattice(lay: Layout, *, sc: Scale, progress: ProgressFn) -> Grids:
    """Third-level management grids: a lattice clipped by village."""
    boundary, vpolys, codes = lay.boundary, lay.vpolys, lay.codes
    progress("grids", 0.4)
    g = sc.grid_m
    gx0, gy0 = boundary.bounds[0], boundary.bounds[1]
    grid_rows = []
    for vi, vpoly in enumerate(vpolys):
        vminx, vminy, vmaxx, vmaxy = vpoly.bounds
        for ix in range(int((vminx - gx0) // g), int((vmaxx - gx0) // g) + 1):
            for iy in range(int((vminy - gy0) // g), int((vmaxy - gy0) // g) + 1):
                square = shapely.box(gx0 + ix * g, gy0 + iy * g, gx0 + (ix + 1) * g, gy0 + (iy + 1) * g)
                piece = square.intersection(vpoly)
                if piece.is_empty or piece.area < 1.0:
                    continue
                grid_rows.append((vi, ix, iy, piece))
    g_vi = np.array([r[0] for r in grid_rows])
    g_ix = np.array([r[1] for r in grid_rows])
    g_iy = np.array([r[2] for r in grid_rows])
    grid_ids = _grid_ids(codes[g_vi], g_ix, g_iy)
    grid_geom_m = np.array([r[3] for r in grid_rows], dtype=object)
    return Grids(g=g, gx0=gx0, gy0=gy0, g_vi=g_vi, grid_ids=grid_ids, grid_geom_m=grid_geom_m)
