"""The demo's firms (points inside parks, on parcels; the published numbers of blacklisted and
high-risk firms) and their inspections (the published count this year and firms ordered to rectify)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from dayuan_geo import schema as S
from dayuan_geo.demo.base import (
    _FIRM_KIND,
    _GIVEN,
    _LIST_REASONS,
    _SURNAMES,
    _SYL_A,
    _SYL_B,
    BLACKLISTED_FIRMS,
    HIGH_RISK_FIRMS,
    INSPECTIONS_THIS_YEAR,
    RECTIFICATION_FIRMS_THIS_YEAR,
    ProgressFn,
    Scale,
    _dedupe,
    _grid_ids,
    _nearest_seed,
    _spread_dates,
    _to_lonlat,
    uscc_codes,
)
from dayuan_geo.demo.places import Grids, Layout
from dayuan_geo.demo.remediation import ParcelAttributes, Release

# How much more often a blacklisted or high-risk firm is inspected than any other: with the published
# 6,805 inspections a year over 1,600 firms, about monthly against about quarterly.
RISKY_WEIGHT = 3.0
EVICTED_AFTER_DAYS = 60  # an evicted firm is gone this long after it was listed


@dataclass
class Firms:
    """Each firm's park, parcel, village, grid, position, industry, name, credit code and listing."""

    n_firms: int
    f_park: np.ndarray
    f_parcel: np.ndarray
    f_village: np.ndarray
    f_grid: np.ndarray
    flon: np.ndarray
    flat: np.ndarray
    f_industry: np.ndarray
    f_name: np.ndarray
    uscc: np.ndarray
    risk: np.ndarray
    listed_on: np.ndarray
    list_reason: np.ndarray
    list_status: np.ndarray
    firm_ids: np.ndarray


def place_firms(rng: np.random.Generator, lay: Layout, rel: Release, grids: Grids, attrs: ParcelAttributes, *, sc:
    Scale, scale: str, today: np.datetime64, progress: ProgressFn) -> Firms:
    """Firms placed inside parks by park area, on the parcel under them, and the risky ones listed."""
    n_parks, w, h, theta, pcx, pcy = lay.n_parks, lay.w, lay.h, lay.theta, lay.pcx, lay.pcy
    kx, ky, per_park, seeds, codes = lay.kx, lay.ky, lay.per_park, lay.seeds, lay.codes
    park_area_parcels = rel.park_area_parcels
    g, gx0, gy0, grid_ids = grids.g, grids.gx0, grids.gy0, grids.grid_ids
    release_status = attrs.release_status
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
    return Firms(n_firms=n_firms, f_park=f_park, f_parcel=f_parcel, f_village=f_village, f_grid=f_grid, flon=flon,
        flat=flat, f_industry=f_industry, f_name=f_name, uscc=uscc, risk=risk, listed_on=listed_on,
        list_reason=list_reason, list_status=list_status, firm_ids=firm_ids)


@dataclass
class Inspections:
    """Each inspection's ID, firm index, date, category, outcome and inspector."""

    insp_ids: np.ndarray
    i_firm: np.ndarray
    i_date: np.ndarray
    i_cat: np.ndarray
    i_out: np.ndarray
    i_inspector: np.ndarray


def inspection_rows(rng: np.random.Generator, firms: Firms, grids: Grids, *, sc: Scale, as_of: dt.date,
                    progress: ProgressFn) -> Inspections:
    """Every inspection since 2020, in date order, with its yearly running ID."""
    risk = firms.risk
    grid_ids = grids.grid_ids
    progress("inspections", 0.6)
    # an evicted firm has left its park: inspections stop once it is cleared out
    cleared = np.where(firms.list_status == "evicted", firms.listed_on + np.timedelta64(EVICTED_AFTER_DAYS, "D"),
                       np.datetime64("NaT"))
    insp = _inspections(rng, scale=sc, as_of=as_of, risk=risk, n_grids=len(grid_ids), cleared=cleared)
    i_firm, i_date, i_cat, i_out, i_inspector = insp
    progress("inspection ids", 0.75)
    order_i = np.lexsort((i_firm, i_date))
    i_firm, i_date, i_cat, i_out, i_inspector = (
        a[order_i] for a in (i_firm, i_date, i_cat, i_out, i_inspector)
    )
    years = i_date.astype("datetime64[Y]").astype(int) + 1970
    seq = np.arange(i_date.size) - np.searchsorted(years, years)  # per-year running number
    insp_ids = np.array([f"I{y}{s + 1:07d}" for y, s in zip(years, seq, strict=True)], dtype=object)
    return Inspections(insp_ids=insp_ids, i_firm=i_firm, i_date=i_date, i_cat=i_cat, i_out=i_out,
        i_inspector=i_inspector)


def _inspections(rng, *, scale: Scale, as_of: dt.date, risk: np.ndarray, n_grids: int, cleared: np.ndarray):
    """Firm index, date, category, outcome and inspector of every inspection since 2020.

    A listed firm is visited about monthly, any other about quarterly (RISKY_WEIGHT), and no firm
    after the day it was cleared out (`cleared`, NaT for firms still there): such a visit goes to a
    firm still there, so the yearly totals stay as published."""
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
    fw = np.where(risk == "normal", 1.0, RISKY_WEIGHT)
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
        gone = ~np.isnat(cleared[firm]) & (date > cleared[firm])
        if gone.any():
            present = np.isnat(cleared)
            firm[gone] = rng.choice(np.flatnonzero(present), int(gone.sum()), p=fw[present] / fw[present].sum())
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
