"""The deterministic demo dataset of Dayuan Street.

Geometry is synthetic (no public boundaries exist offline) but placed around the street's real
location with its real divisions and named parks. Scale S is calibrated to the published figures;
M and L keep the same distributions at city scale for the benchmark. Everything is vectorised with
numpy so scale L (1,000,000 parcels and firms, 10,000,000 inspections) builds in minutes.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from dayuan_geo import schema as S

CENTER_LONLAT = (113.35, 23.26)
DEFAULT_AS_OF = dt.date(2026, 11, 20)
DEFAULT_SEED = 20201
HISTORY_START = np.datetime64("2020-01-15")

# Published figures the S dataset reproduces (../shared/reference/dayuan-facts.md).
RELEASED_AREA_TARGET_M2 = 2_015_800.0
BLACKLISTED_FIRMS = 12
HIGH_RISK_FIRMS = 31
INSPECTIONS_THIS_YEAR = 6_805
RECTIFICATION_FIRMS_THIS_YEAR = 44
PARTY_ORG_PARKS = 8

DIVISIONS_CSV = S.PACKAGE_DIR / "divisions.csv"


@dataclass(frozen=True)
class Scale:
    name: str
    parks: int | None  # fixed park count (S), or None to derive from parcels
    parcels: int | None  # exact parcel count (M, L)
    firms: int
    inspections: int | None  # total rows (M, L); S derives them from the yearly calibration
    cell_m: float  # lattice pitch that parks are placed on
    density: float  # share of lattice cells holding a park
    grid_m: float  # pitch of the management grid


SCALES = {
    "S": Scale("S", 64, None, 1_600, None, 700.0, 0.55, 900.0),
    "M": Scale("M", None, 100_000, 100_000, 1_000_000, 180.0, 0.9, 1_500.0),
    "L": Scale("L", None, 1_000_000, 1_000_000, 10_000_000, 180.0, 0.9, 3_000.0),
}

NAMED_PARKS = (
    # name, English name, village the park belongs in (None: anywhere), relative size
    ("林安物流园", "Linan Logistics Park", None, 1.0),
    ("华邦物流园", "Huabang Logistics Park", None, 0.8),
    ("石湖供应链产业园", "Shihu Supply Chain Industrial Park", "440111021201", 0.9),
    ("白云智慧供应链物流总部", "Baiyun Smart Supply-Chain Logistics HQ", "440111021201", 0.7),
    ("大源智慧汽车产业园", "Dayuan Smart Auto Industrial Park", "440111021200", 0.9),
)
_SYL_A = list("源丰金运通达顺兴福鹏宏盛安泰隆汇华新广恒")
_SYL_B = list("达通丰运祥发泰盈和骏辉捷宇信邦昌海旺德利")
_PARK_KIND = ("物流园", "仓储园", "货运市场", "供应链园", "电商产业园", "冷链基地")
_FIRM_KIND = {
    "express": "快递服务",
    "freight": "货运代理",
    "warehousing": "仓储服务",
    "cold_chain": "冷链物流",
    "ecommerce": "电子商务",
    "auto_trade": "汽车贸易",
    "manufacturing": "制品",
    "other": "商贸",
}
_LIST_REASONS = (
    "违规存放危险化学品",
    "消防通道堵塞、违规住人",
    "寄递渠道夹带违禁品",
    "货车超载超限屡查屡犯",
    "无证经营且拒不整改",
    "多次巡查整改不到位",
)
_SURNAMES = list("陈李黄张梁林刘吴罗何郑谢冯邓曾彭蔡许")
_GIVEN = ("伟", "敏", "志强", "丽华", "建华", "晓东", "嘉欣", "俊杰", "婉婷", "国平", "海燕", "立新")
_UNITS = ("大源街道规划建设办", "大源街道经济发展办", "大源街道综合行政执法队", "大源街道城市更新工作组")

ProgressFn = Callable[[str, float], None]


def _noop(_step: str, _fraction: float) -> None:
    return None


def divisions() -> list[dict[str, str]]:
    """The six divisions under Dayuan Street, as published (codes of the statistical division list)."""
    with DIVISIONS_CSV.open(encoding="utf-8") as fh:
        return [row for row in csv.DictReader(fh) if row["kind"] != "street"]


def _to_lonlat() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(S.METRIC_CRS, S.STORAGE_CRS, always_xy=True)


def _to_metric() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(S.STORAGE_CRS, S.METRIC_CRS, always_xy=True)


def _rects(cx, cy, w, h, theta) -> np.ndarray:
    """Corner rings (n, 5, 2) of rotated rectangles centred on cx, cy."""
    u = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    v = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    du = w[:, None] * u[None, :]
    dv = h[:, None] * v[None, :]
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x = cx[:, None] + du * c - dv * s
    y = cy[:, None] + du * s + dv * c
    return np.stack([x, y], axis=-1)


def _polygons_lonlat(rings_metric: np.ndarray) -> np.ndarray:
    tr = _to_lonlat()
    flat = rings_metric.reshape(-1, 2)
    lon, lat = tr.transform(flat[:, 0], flat[:, 1])
    coords = np.stack([lon, lat], axis=-1).reshape(rings_metric.shape)
    return shapely.polygons(coords)


def _metric_area(geoms: np.ndarray) -> np.ndarray:
    return gpd.GeoSeries(geoms, crs=S.STORAGE_CRS).to_crs(S.METRIC_CRS).area.to_numpy().copy()


def _dates(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype="datetime64[D]")


def _names(rng: np.random.Generator, n: int, kinds: tuple[str, ...] | list[str]) -> np.ndarray:
    a = rng.integers(0, len(_SYL_A), n)
    b = rng.integers(0, len(_SYL_B), n)
    k = rng.integers(0, len(kinds), n)
    base = [f"{_SYL_A[i]}{_SYL_B[j]}{kinds[m]}" for i, j, m in zip(a, b, k, strict=True)]
    seen: dict[str, int] = {}
    out = []
    for name in base:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}{seen[name]}号")
    return np.array(out, dtype=object)


def uscc_codes(rng: np.random.Generator, n: int, *, region: str = "440111") -> np.ndarray:
    """n valid unified social credit codes (GB 32100, with a GB 11714 organisation code inside)."""
    alphabet = np.array(list(S.USCC_ALPHABET))
    body = rng.integers(0, 10, size=(n, 8))
    org_w = np.array([3, 7, 9, 10, 5, 8, 4, 2])
    c9 = 11 - (body * org_w).sum(axis=1) % 11
    org_check = np.where(c9 == 10, 33, np.where(c9 == 11, 0, c9))  # 'X' is index 33 below
    prefix = np.array([9, 1] + [int(ch) for ch in region])  # 9 = market regulator, 1 = enterprise
    # index into the USCC alphabet: digits map to themselves; X is its own letter
    x_index = S.USCC_ALPHABET.index("X")
    org_idx = np.where(org_check == 33, x_index, org_check)
    idx17 = np.concatenate([np.tile(prefix, (n, 1)), body, org_idx[:, None]], axis=1)
    weights = np.array(S.USCC_WEIGHTS)
    check = (31 - (idx17 * weights).sum(axis=1) % 31) % 31
    idx = np.concatenate([idx17, check[:, None]], axis=1)
    chars = alphabet[idx]
    return np.array(["".join(row) for row in chars], dtype=object)


def _boundary_and_cells(rng, n_parks: int, cell: float, density: float, cx: float, cy: float):
    """A blob-shaped street boundary and the lattice cells inside it that hold parks."""
    phase = rng.uniform(0, 2 * np.pi, 3)
    angles = np.linspace(0, 2 * np.pi, 97)[:-1]
    shape = 1 + 0.12 * np.sin(3 * angles + phase[0]) + 0.07 * np.sin(5 * angles + phase[1])
    needed_cells = n_parks / density
    radius = cell * np.sqrt(needed_cells / np.pi) * 1.05
    for _ in range(60):
        bx = cx + radius * shape * np.cos(angles)
        by = cy + radius * shape * np.sin(angles)
        boundary = shapely.Polygon(np.column_stack([bx, by]))
        half = int(np.ceil(radius * 1.3 / cell))
        ii, jj = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1))
        px = cx + ii.ravel() * cell
        py = cy + jj.ravel() * cell
        inner = boundary.buffer(-cell * 0.75)
        inside = shapely.contains_xy(inner, px, py)
        if inside.sum() >= needed_cells:
            break
        radius *= 1.06
    px, py = px[inside], py[inside]
    chosen = rng.choice(px.size, size=n_parks, replace=False)
    return boundary, px[chosen], py[chosen]


def _villages(rng, boundary: shapely.Polygon, cx: float, cy: float):
    divs = divisions()
    minx, miny, maxx, maxy = boundary.bounds
    span = min(maxx - minx, maxy - miny)
    angles = np.sort(rng.uniform(0, 2 * np.pi, len(divs) - 1))
    seeds = [(cx + rng.uniform(-0.05, 0.05) * span, cy + rng.uniform(-0.05, 0.05) * span)]
    seeds += [(cx + 0.3 * span * np.cos(a), cy + 0.3 * span * np.sin(a)) for a in angles]
    seeds = np.array(seeds)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=boundary)
    polys = []
    for sx, sy in seeds:
        cell = next(g for g in cells.geoms if g.contains(shapely.Point(sx, sy)))
        polys.append(cell.intersection(boundary))
    return divs, seeds, polys


def _nearest_seed(seeds: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = (x[:, None] - seeds[None, :, 0]) ** 2 + (y[:, None] - seeds[None, :, 1]) ** 2
    return d.argmin(axis=1)


def _grid_ids(codes: np.ndarray, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    return np.array(
        [f"{c[-3:]}-{i:03d}-{j:03d}" for c, i, j in zip(codes, ix, iy, strict=True)], dtype=object
    )


def _spread_dates(rng, n: int, start: np.datetime64, end: np.datetime64) -> np.ndarray:
    span = int((end - start).astype(int))
    return start + rng.integers(0, span + 1, n).astype("timedelta64[D]")


def build(
    *,
    seed: int = DEFAULT_SEED,
    scale: str = "S",
    as_of: dt.date = DEFAULT_AS_OF,
    progress: ProgressFn = _noop,
) -> dict[str, pd.DataFrame]:
    """All tables of the demo dataset as (Geo)DataFrames in WGS 84, keyed by table name."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if as_of.year < 2021:
        raise ValueError("as-of date must be in 2021 or later: history starts in 2020")
    sc = SCALES[scale]
    rng = np.random.default_rng(seed)
    today = np.datetime64(as_of.isoformat())
    year_start = np.datetime64(f"{as_of.year}-01-01")
    cx, cy = _to_metric().transform(*CENTER_LONLAT)
    cat = S.load_stage_catalogue(S.DEFAULT_STAGES_FILE)
    n_stages = len(cat.stages)
    land_idx = cat.order(cat.land_released)

    # ---- parks and their parcels --------------------------------------------------------------
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

    # ---- which land is released: parks in random order until the target area is reached ------
    progress("remediation", 0.2)
    mode_codes = np.array(S.REMEDIATION_MODE.codes, dtype=object)
    mode = rng.choice(len(mode_codes), n_parks, p=[0.35, 0.45, 0.20])
    park_area_parcels = np.bincount(p_park, weights=parcel_area, minlength=n_parks)
    releasable = mode != 2
    # S meets the published figure; M and L release the same share of their land
    target = RELEASED_AREA_TARGET_M2 if scale == "S" else 0.42 * park_area_parcels[releasable].sum()
    order = rng.permutation(n_parks)
    order = order[releasable[order]]
    cum = np.cumsum(park_area_parcels[order])
    n_full = int(np.searchsorted(cum, target))  # parks released whole before the partial one
    if n_full >= order.size:
        raise ValueError("demo layout too small for the released-area target")
    releasing = np.zeros(n_parks, dtype=bool)
    releasing[order[: n_full + 1]] = True
    partial_park = order[n_full]
    parcel_released = releasing[p_park].copy()
    need = target - (cum[n_full - 1] if n_full > 0 else 0.0)
    in_partial = np.where(p_park == partial_park)[0]
    acc = 0.0
    for k, idx in enumerate(in_partial):
        if acc + parcel_area[idx] >= need:
            # shrink this parcel about its centre so the released total meets the target exactly
            factor = np.sqrt((need - acc) / parcel_area[idx])
            pw[idx] *= factor
            ph[idx] *= factor
            one = _polygons_lonlat(
                _rects(parcel_cx[[idx]], parcel_cy[[idx]], pw[[idx]], ph[[idx]], th[[idx]])
            )
            parcel_geom[idx] = one[0]
            parcel_area[idx] = _metric_area(one)[0]
            parcel_released[in_partial[k + 1 :]] = False
            break
        acc += parcel_area[idx]

    # ---- projects: a target stage per park, then a dated stage history -----------------------
    post = np.arange(land_idx, n_stages)  # stages at or after land release
    pre = np.arange(0, land_idx)
    stage = np.empty(n_parks, dtype=int)
    stage[releasing] = rng.choice(post, releasing.sum(), p=_weights(post.size, 0.45))
    non_rel = ~releasing & releasable
    stage[non_rel] = rng.choice(pre, non_rel.sum(), p=_weights(pre.size, 0.0))
    regular = mode == 2
    reg_path = np.array([0, 1, 2, n_stages - 1])
    stage[regular] = rng.choice(reg_path, regular.sum(), p=[0.2, 0.25, 0.25, 0.3])
    stage[partial_park] = land_idx

    durations = rng.gamma(3.0, 30.0, size=(n_parks, n_stages)) + 20  # days spent before each stage
    durations[:, 0] = 0
    visits = np.ones((n_parks, n_stages), dtype=bool)
    visits[regular] = False
    visits[np.ix_(regular, reg_path)] = True
    reached = np.arange(n_stages)[None, :] <= stage[:, None]
    visits &= reached
    durations = np.where(visits, durations, 0.0)
    done = stage == n_stages - 1
    # Each project is anchored on one dated stage: releasing parks on their land release, spread
    # over the years since 2020 so the trend means something; the rest on their latest stage.
    idle = np.where(done, rng.uniform(20, 700, n_parks), rng.exponential(45, n_parks) + 3)
    anchor_idx = np.where(releasing, land_idx, stage)
    first_release = np.datetime64("2020-06-01")
    release_span = (today - 15 - first_release).astype(int)
    release_day = first_release + np.round(
        release_span * rng.uniform(0, 1, n_parks) ** 0.8
    ).astype("timedelta64[D]")
    anchor_date = np.where(releasing, release_day, today - np.round(idle).astype("timedelta64[D]"))
    anchor_date = anchor_date.astype("datetime64[D]")
    cum = np.cumsum(durations, axis=1)
    cum_anchor = cum[np.arange(n_parks), anchor_idx]
    after = cum[:, -1] - cum_anchor
    room_after = (today - 3 - anchor_date).astype(int).astype(float)
    squeeze_after = np.minimum(1.0, room_after / np.maximum(after, 1.0))
    room_before = (anchor_date - HISTORY_START).astype(int).astype(float)
    squeeze_before = np.minimum(1.0, room_before / np.maximum(cum_anchor, 1.0))
    is_after = np.arange(n_stages)[None, :] > anchor_idx[:, None]
    durations = durations * np.where(is_after, squeeze_after[:, None], squeeze_before[:, None])
    cum = np.cumsum(durations, axis=1)
    rel_days = cum - cum[np.arange(n_parks), anchor_idx][:, None]
    event_dates = anchor_date[:, None] + np.round(rel_days).astype("timedelta64[D]")
    start = event_dates[:, 0]
    ev_park, ev_stage = np.nonzero(visits)
    ev_date = event_dates[ev_park, ev_stage]

    planned_len = np.where(regular, 420.0, 110.0 * n_stages) * rng.uniform(0.5, 1.2, n_parks)
    planned_finish = start + np.round(planned_len).astype("timedelta64[D]")
    finished_on = np.where(done, event_dates[:, n_stages - 1], np.datetime64("NaT"))

    # ---- parcel attributes --------------------------------------------------------------------
    progress("parcel attributes", 0.3)
    land_date = event_dates[:, land_idx]
    status_codes = np.array(S.RELEASE_STATUS.codes, dtype=object)
    post_status = {  # the status a released parcel shows while its project is at a given stage
        land_idx + k: code for k, code in enumerate(S.RELEASED_STATUSES)
    }
    park_status = np.full(n_parks, "not_started", dtype=object)
    for st_idx, code in post_status.items():
        park_status[stage == st_idx] = code
    park_status[stage >= n_stages - 1] = "completed"
    leases_idx = cat.order("leases_terminated") if "leases_terminated" in cat.codes else 3
    park_status[~releasing & releasable & (stage >= leases_idx)] = "vacating"
    park_status[regular] = "not_started"
    release_status = park_status[p_park].copy()
    release_status[releasing[p_park] & ~parcel_released] = "vacating"
    released_on = np.where(
        parcel_released,
        np.minimum(land_date[p_park] + rng.integers(0, 45, n_parcels).astype("timedelta64[D]"), today),
        np.datetime64("NaT"),
    )
    assert set(release_status) <= set(status_codes)
    land_uses = np.array(S.LAND_USE.codes, dtype=object)  # W1 M0 M1 B1 R2 G1 S A
    current_use = rng.choice(land_uses[[0, 2]], n_parcels, p=[0.8, 0.2])
    planned_use = np.where(
        parcel_released | releasing[p_park],
        rng.choice(land_uses, n_parcels, p=[0.15, 0.45, 0.0, 0.15, 0.05, 0.1, 0.05, 0.05]),
        current_use,
    )
    ownership = rng.choice(np.array(S.OWNERSHIP.codes, dtype=object), n_parcels, p=[0.85, 0.15])
    park_ids = np.array([f"P{i + 1:05d}" if n_parks < 100_000 else f"P{i + 1:06d}" for i in range(n_parks)],
                        dtype=object)
    parcel_ids = np.array(
        [f"{park_ids[p]}-{k + 1:02d}" for p, k in zip(p_park, local, strict=True)], dtype=object
    )
    parcel_names = np.array(
        [f"{park_names[p]}{k + 1}号地块" for p, k in zip(p_park, local, strict=True)], dtype=object
    )

    # ---- management grids: a lattice clipped by village -------------------------------------------
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

    # ---- firms: points inside parks, on parcels -----------------------------------------------
    progress("firms", 0.5)
    n_firms = sc.firms
    f_park = rng.choice(n_parks, n_firms, p=park_area_parcels / park_area_parcels.sum())
    fu = rng.uniform(-0.45, 0.45, n_firms) * w[f_park]
    fv = rng.uniform(-0.45, 0.45, n_firms) * h[f_park]
    fth = theta[f_park]
    fx = pcx[f_park] + fu * np.cos(fth) - fv * np.sin(fth)
    fy = pcy[f_park] + fu * np.sin(fth) + fv * np.cos(fth)
    f_iu = np.clip(((fu + w[f_park] / 2) / (w[f_park] / kx[f_park])).astype(int), 0, kx[f_park] - 1)
    f_iv = np.clip(((fv + h[f_park] / 2) / (h[f_park] / ky[f_park])).astype(int), 0, ky[f_park] - 1)
    f_local = np.minimum(f_iv * kx[f_park] + f_iu, per_park[f_park] - 1)
    first_parcel = np.cumsum(per_park) - per_park
    f_parcel = first_parcel[f_park] + f_local
    f_village = _nearest_seed(seeds, fx, fy)
    f_grid = _grid_ids(codes[f_village], ((fx - gx0) // g).astype(int), ((fy - gy0) // g).astype(int))
    grid_set = set(grid_ids)
    assert all(gid in grid_set for gid in f_grid[: min(n_firms, 5000)])
    flon, flat = _to_lonlat().transform(fx, fy)
    industries = np.array(S.INDUSTRY.codes, dtype=object)
    f_industry = rng.choice(industries, n_firms, p=[0.3, 0.22, 0.18, 0.06, 0.1, 0.05, 0.04, 0.05])
    f_name = np.array(
        [
            f"广州市{a}{b}{_FIRM_KIND[ind]}有限公司"
            for a, b, ind in zip(
                np.array(_SYL_A)[rng.integers(0, len(_SYL_A), n_firms)],
                np.array(_SYL_B)[rng.integers(0, len(_SYL_B), n_firms)],
                f_industry,
                strict=True,
            )
        ],
        dtype=object,
    )
    # make names unique the way the registry would: a branch suffix
    f_name = _dedupe(f_name)
    uscc = uscc_codes(rng, n_firms)

    n_black = BLACKLISTED_FIRMS if scale == "S" else int(n_firms * BLACKLISTED_FIRMS / 1600)
    n_high = HIGH_RISK_FIRMS if scale == "S" else int(n_firms * HIGH_RISK_FIRMS / 1600)
    near_release = np.isin(release_status[f_parcel], ["vacating", "released"])
    pick_weights = np.where(near_release, 6.0, 1.0)
    risky = rng.choice(n_firms, n_black + n_high, replace=False, p=pick_weights / pick_weights.sum())
    risk = np.full(n_firms, "normal", dtype=object)
    risk[risky[:n_black]] = "blacklisted"
    risk[risky[n_black:]] = "high_risk"
    listed_on = np.full(n_firms, np.datetime64("NaT"), dtype="datetime64[D]")
    listed_on[risky] = _spread_dates(rng, risky.size, np.datetime64("2023-03-01"), today - 10)
    list_reason = np.full(n_firms, None, dtype=object)
    list_reason[risky] = rng.choice(np.array(_LIST_REASONS, dtype=object), risky.size)
    list_status = np.full(n_firms, None, dtype=object)
    list_status[risky[:n_black]] = rng.choice(
        np.array(["evicted", "listed", "rectifying"], dtype=object), n_black, p=[0.6, 0.2, 0.2]
    )
    list_status[risky[n_black:]] = rng.choice(
        np.array(["rectifying", "delisted", "listed", "evicted"], dtype=object),
        n_high, p=[0.4, 0.35, 0.15, 0.1],
    )
    firm_ids = np.array([f"F{i + 1:07d}" for i in range(n_firms)], dtype=object)

    # ---- inspections ---------------------------------------------------------------------------
    progress("inspections", 0.6)
    insp = _inspections(rng, scale=sc, as_of=as_of, risk=risk, n_grids=len(grid_ids))
    i_firm, i_date, i_cat, i_out, i_inspector = insp
    progress("inspection ids", 0.75)
    order_i = np.lexsort((i_firm, i_date))
    i_firm, i_date, i_cat, i_out, i_inspector = (
        a[order_i] for a in (i_firm, i_date, i_cat, i_out, i_inspector)
    )
    years = i_date.astype("datetime64[Y]").astype(int) + 1970
    seq = np.arange(i_date.size) - np.searchsorted(years, years)  # per-year running number
    insp_ids = np.array([f"I{y}{s + 1:07d}" for y, s in zip(years, seq, strict=True)], dtype=object)

    # ---- targets: the released area each year was meant to reach ------------------------------------
    rel_year = released_on[parcel_released].astype("datetime64[Y]").astype(int) + 1970
    rel_area = parcel_area[parcel_released]
    targets = []
    prev = 0.0
    for year in range(2020, as_of.year + 1):
        got = float(rel_area[rel_year == year].sum())
        if year == as_of.year:
            elapsed = (today - year_start).astype(int) + 1
            got = got * 365 / max(elapsed, 30)
        value = max(round(got * rng.uniform(1.05, 1.25), -4), round(prev * 0.8, -4), 10_000.0)
        targets.append((year, "released_area_m2", value))
        prev = value

    # ---- assemble ------------------------------------------------------------------------------
    progress("assembling tables", 0.85)
    lonlat = _to_lonlat()

    def to_lonlat(geoms):
        return shapely.transform(
            np.asarray(geoms, dtype=object),
            lambda xy: np.column_stack(lonlat.transform(xy[:, 0], xy[:, 1])),
        )

    v_geom = to_lonlat(np.array(vpolys, dtype=object))
    villages = gpd.GeoDataFrame(
        {
            "code": codes,
            "name_zh": [d["name_zh"] for d in divs],
            "name_en": [d["name_en"] for d in divs],
            "kind": [d["kind"] for d in divs],
            "area_m2": _metric_area(v_geom),
        },
        geometry=v_geom,
        crs=S.STORAGE_CRS,
    )
    g_geom = to_lonlat(grid_geom_m)
    grids = gpd.GeoDataFrame(
        {
            "grid_id": grid_ids,
            "village_code": codes[g_vi],
            "name": [f"{divs[vi]['name_zh'][:2]}第{k + 1}网格" for k, vi in enumerate(g_vi)],
            "area_m2": _metric_area(g_geom),
        },
        geometry=g_geom,
        crs=S.STORAGE_CRS,
    )
    party = np.zeros(n_parks, dtype=bool)
    party[np.argsort(-park_area_parcels)[:PARTY_ORG_PARKS]] = True
    operators = np.array([f"广州市{n[:2]}实业有限公司" for n in park_names], dtype=object)
    micro_fire = rng.uniform(0, 1, n_parks) < 0.3
    micro_fire[park_names == "华邦物流园"] = True
    parks = gpd.GeoDataFrame(
        {
            "park_id": park_ids,
            "name": park_names,
            "name_en": park_names_en,
            "village_code": codes[park_village],
            "operator": operators,
            "party_org": party,
            "micro_fire_station": micro_fire,
            "area_m2": _metric_area(park_geom),
        },
        geometry=park_geom,
        crs=S.STORAGE_CRS,
    )
    parcels = gpd.GeoDataFrame(
        {
            "parcel_id": parcel_ids,
            "park_id": park_ids[p_park],
            "village_code": codes[parcel_village],
            "name": parcel_names,
            "area_m2": parcel_area,
            "current_use": current_use,
            "planned_use": planned_use,
            "ownership": ownership,
            "release_status": release_status,
            "released_on": released_on,
        },
        geometry=parcel_geom,
        crs=S.STORAGE_CRS,
    )
    stage_codes = np.array(cat.codes, dtype=object)
    projects = pd.DataFrame(
        {
            "project_id": np.array([f"R{p[1:]}" for p in park_ids], dtype=object),
            "park_id": park_ids,
            "name": np.array([f"{n}整治项目" for n in park_names], dtype=object),
            "mode": mode_codes[mode],
            "stage": stage_codes[stage],
            "started_on": start,
            "planned_finish": planned_finish,
            "finished_on": finished_on,
            "responsible_unit": rng.choice(np.array(_UNITS, dtype=object), n_parks),
        }
    )
    events = pd.DataFrame(
        {
            "project_id": projects["project_id"].to_numpy()[ev_park],
            "stage": stage_codes[ev_stage],
            "entered_on": ev_date,
        }
    )
    firms = gpd.GeoDataFrame(
        {
            "firm_id": firm_ids,
            "uscc": uscc,
            "name": f_name,
            "industry": f_industry,
            "park_id": park_ids[f_park],
            "parcel_id": parcel_ids[f_parcel],
            "village_code": codes[f_village],
            "grid_id": f_grid,
            "risk_level": risk,
            "listed_on": listed_on,
            "list_reason": list_reason,
            "list_status": list_status,
        },
        geometry=shapely.points(np.column_stack([flon, flat])),
        crs=S.STORAGE_CRS,
    )
    inspections = pd.DataFrame(
        {
            "inspection_id": insp_ids,
            "firm_id": firm_ids[i_firm],
            "inspected_on": i_date,
            "grid_id": f_grid[i_firm],
            "inspector": i_inspector,
            "category": i_cat,
            "outcome": i_out,
        }
    )
    target_df = pd.DataFrame(targets, columns=["year", "metric", "value"])
    progress("done", 0.9)
    return {
        "villages": villages,
        "grids": grids,
        "parks": parks,
        "parcels": parcels,
        "remediation_projects": projects,
        "remediation_events": events,
        "firms": firms,
        "inspections": inspections,
        "targets": target_df,
    }


def _weights(n: int, tail: float) -> np.ndarray:
    """Probabilities over n ordered stages; tail > 0 favours the early ones of the range."""
    base = np.linspace(1.0 + tail * n, 1.0, n) if tail else np.ones(n)
    return base / base.sum()


def _dedupe(names: np.ndarray) -> np.ndarray:
    seen: dict[str, int] = {}
    out = np.empty(names.size, dtype=object)
    for i, name in enumerate(names):
        k = seen.get(name, 0) + 1
        seen[name] = k
        out[i] = name if k == 1 else name.replace("有限公司", f"第{k}分公司")
    return out


def _inspections(rng, *, scale: Scale, as_of: dt.date, risk: np.ndarray, n_grids: int):
    """Firm index, date, category, outcome and inspector of every inspection since 2020."""
    today = np.datetime64(as_of.isoformat())
    year_start = np.datetime64(f"{as_of.year}-01-01")
    n_firms = risk.size
    years = list(range(2020, as_of.year + 1))
    relative = np.array([0.35, 0.55, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1][: len(years)])
    if len(relative) < len(years):
        relative = np.concatenate([relative, np.full(len(years) - len(relative), 1.1)])
    elapsed = ((today - year_start).astype(int) + 1) / 365.0
    if scale.inspections is None:
        this_year = INSPECTIONS_THIS_YEAR
        full = this_year / elapsed
        counts = [int(full * r) for r in relative[:-1]] + [this_year]
    else:
        shares = relative * np.r_[np.ones(len(years) - 1), elapsed]
        counts = np.floor(scale.inspections * shares / shares.sum()).astype(int)
        counts[-1] += scale.inspections - counts.sum()
        counts = list(counts)
    fw = np.where(risk == "normal", 1.0, 8.0)
    fw /= fw.sum()
    cats = np.array(S.INSPECTION_CATEGORY.codes, dtype=object)
    outs = np.array(S.INSPECTION_OUTCOME.codes, dtype=object)  # passed fixed rect penalised
    n_inspectors = max(12, n_grids // 2)
    inspector_pool = np.array(
        [
            f"{_SURNAMES[i % len(_SURNAMES)]}{_GIVEN[(i // len(_SURNAMES)) % len(_GIVEN)]}"
            + ("" if i < len(_SURNAMES) * len(_GIVEN) else str(i))
            for i in range(n_inspectors)
        ],
        dtype=object,
    )
    parts = []
    for year, count in zip(years, counts, strict=True):
        start = np.datetime64(f"{year}-01-01") if year > 2020 else np.datetime64("2020-03-01")
        end = today if year == as_of.year else np.datetime64(f"{year}-12-31")
        firm = rng.choice(n_firms, count, p=fw)
        date = _spread_dates(rng, count, start, end)
        cat = rng.choice(cats, count, p=[0.34, 0.2, 0.12, 0.14, 0.2])
        out = rng.choice(outs, count, p=[0.78, 0.17, 0.04, 0.01])
        parts.append([firm, date, cat, out])
    # Calibrate this year's rectification orders: exactly the published number of distinct firms.
    firm, date, cat, out = parts[-1]
    if scale.inspections is None:
        out[out == "rectification_ordered"] = "fixed_on_site"
        inspected = np.unique(firm)
        risky_inspected = inspected[risk[inspected] != "normal"]
        k_risky = min(20, risky_inspected.size)
        chosen = np.concatenate(
            [
                rng.choice(risky_inspected, k_risky, replace=False),
                rng.choice(
                    np.setdiff1d(inspected, risky_inspected),
                    RECTIFICATION_FIRMS_THIS_YEAR - k_risky,
                    replace=False,
                ),
            ]
        )
        for f in chosen:
            rows = np.where(firm == f)[0]
            n_orders = 1 if rows.size == 1 or rng.uniform() < 0.7 else 2
            out[rng.choice(rows, n_orders, replace=False)] = "rectification_ordered"
    firm = np.concatenate([p[0] for p in parts])
    date = np.concatenate([p[1] for p in parts])
    cat = np.concatenate([p[2] for p in parts])
    out = np.concatenate([p[3] for p in parts])
    inspector = inspector_pool[rng.integers(0, n_inspectors, firm.size)]
    return firm, date, cat, out, inspector


def write(
    data_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    scale: str = "S",
    as_of: dt.date = DEFAULT_AS_OF,
    progress: ProgressFn = _noop,
) -> dict:
    """Build the demo dataset and publish it to data_dir; returns the new manifest."""
    from dayuan_geo.dataset.versions import publish

    tables = build(seed=seed, scale=scale, as_of=as_of, progress=progress)
    progress("writing GeoParquet", 0.9)
    return publish(
        Path(data_dir),
        tables,
        source="demo",
        as_of=as_of,
        note=f"demo dataset, scale {scale}, seed {seed}",
        extra={"seed": seed, "scale": scale},
    )


def ensure(data_dir: Path) -> bool:
    """Build the default demo dataset when data_dir has none; True when it built one."""
    if (Path(data_dir) / S.MANIFEST_NAME).exists():
        return False
    write(Path(data_dir))
    return True
