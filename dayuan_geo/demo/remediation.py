"""The demo's remediation: which parks release land (to the published total), each project's
stage history, and what that makes of each parcel's status, dates and uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dayuan_geo import schema as S
from dayuan_geo.demo.base import (
    HISTORY_START,
    RELEASED_AREA_TARGET_M2,
    ProgressFn,
    _metric_area,
    _polygons_lonlat,
    _rects,
    _weights,
)
from dayuan_geo.demo.places import Layout


@dataclass
class Release:
    """Each park's remediation mode and whether (and which of its parcels) it releases land."""

    mode_codes: np.ndarray
    mode: np.ndarray
    park_area_parcels: np.ndarray
    releasable: np.ndarray
    releasing: np.ndarray
    partial_park: int
    parcel_released: np.ndarray


def release_land(rng: np.random.Generator, lay: Layout, *, scale: str, progress: ProgressFn) -> Release:
    """Parks released whole in random order until the target area is met, the last one in part (its last parcel shrunk
    so the total is exact; the layout's arrays change in place)."""
    n_parks, p_park, parcel_area, pw = lay.n_parks, lay.p_park, lay.parcel_area, lay.pw
    ph, parcel_cx = lay.ph, lay.parcel_cx
    parcel_cy, th, parcel_geom = lay.parcel_cy, lay.th, lay.parcel_geom
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
    return Release(mode_codes=mode_codes, mode=mode, park_area_parcels=park_area_parcels, releasable=releasable,
        releasing=releasing, partial_park=partial_park, parcel_released=parcel_released)


@dataclass
class History:
    """Each project's stage, its dated stage events, start, planned and actual finish."""

    stage: np.ndarray
    regular: np.ndarray
    done: np.ndarray
    event_dates: np.ndarray
    start: np.ndarray
    ev_park: np.ndarray
    ev_stage: np.ndarray
    ev_date: np.ndarray
    planned_finish: np.ndarray
    finished_on: np.ndarray


def stage_history(rng: np.random.Generator, lay: Layout, rel: Release, *, n_stages: int, land_idx: int, today:
    np.datetime64) -> History:
    """A target stage per park, then a dated stage history that ends before the as-of date."""
    n_parks = lay.n_parks
    releasing, releasable, mode, partial_park = rel.releasing, rel.releasable, rel.mode, rel.partial_park
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
    return History(stage=stage, regular=regular, done=done, event_dates=event_dates, start=start, ev_park=ev_park,
        ev_stage=ev_stage, ev_date=ev_date, planned_finish=planned_finish, finished_on=finished_on)


@dataclass
class ParcelAttributes:
    """Each parcel's status, release date, uses and ownership, and the park and parcel IDs and names."""

    release_status: np.ndarray
    released_on: np.ndarray
    current_use: np.ndarray
    planned_use: np.ndarray
    ownership: np.ndarray
    park_ids: np.ndarray
    parcel_ids: np.ndarray
    parcel_names: np.ndarray


def parcel_attributes(rng: np.random.Generator, lay: Layout, rel: Release, hist: History, *, cat: S.StageCatalogue,
    land_idx: int, today: np.datetime64, progress: ProgressFn) -> ParcelAttributes:
    """What the project's stage makes of each parcel: status, release date, current and planned use."""
    n_parks, p_park, n_parcels, local, park_names = lay.n_parks, lay.p_park, lay.n_parcels, lay.local, lay.park_names
    releasing, releasable, parcel_released = rel.releasing, rel.releasable, rel.parcel_released
    event_dates, stage, regular = hist.event_dates, hist.stage, hist.regular
    n_stages = len(cat.stages)
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
    return ParcelAttributes(release_status=release_status, released_on=released_on, current_use=current_use,
        planned_use=planned_use, ownership=ownership, park_ids=park_ids, parcel_ids=parcel_ids,
        parcel_names=parcel_names)
