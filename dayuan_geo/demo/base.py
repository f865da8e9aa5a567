"""The demo dataset's constants (published figures, scales, names) and the small helpers every
table's module shares: projections, rotated rectangles, names, credit codes, dates."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from dayuan_geo import schema as S
from dayuan_geo import uscc

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
    alphabet = np.array(list(uscc.USCC_ALPHABET))
    body = rng.integers(0, 10, size=(n, 8))
    org_w = np.array([3, 7, 9, 10, 5, 8, 4, 2])
    c9 = 11 - (body * org_w).sum(axis=1) % 11
    org_check = np.where(c9 == 10, 33, np.where(c9 == 11, 0, c9))  # 'X' is index 33 below
    prefix = np.array([9, 1] + [int(ch) for ch in region])  # 9 = market regulator, 1 = enterprise
    # index into the USCC alphabet: digits map to themselves; X is its own letter
    x_index = uscc.USCC_ALPHABET.index("X")
    org_idx = np.where(org_check == 33, x_index, org_check)
    idx17 = np.concatenate([np.tile(prefix, (n, 1)), body, org_idx[:, None]], axis=1)
    weights = np.array(uscc.USCC_WEIGHTS)
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



def unique_park_names(names: np.ndarray, named: set[int]) -> np.ndarray:
    """Park names made unique: a generated name that a named park (or an earlier park) already
    carries gets the next free number, the way _names numbers its own repeats (`华邦物流园2号`)."""
    out = names.copy()
    taken = {str(out[i]) for i in named}
    for i in range(out.size):
        if i in named:
            continue
        name, k = str(out[i]), 1
        while name in taken:
            k += 1
            name = f"{out[i]}{k}号"
        out[i] = name
        taken.add(name)
    return out
