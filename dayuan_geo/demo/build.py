"""The deterministic demo dataset of Dayuan Street.

Geometry is synthetic (no public boundaries exist offline) but placed around the street's real
location with its real divisions and named parks. Scale S is calibrated to the published figures;
M and L keep the same distributions at city scale for the benchmark. Everything is vectorised with
numpy so scale L (1,000,000 parcels and firms, 10,000,000 inspections) builds in minutes.
"""


from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dayuan_geo import schema as S
from dayuan_geo.demo.base import (  # noqa: F401 - the names other modules use as demo.*
    _UNITS,
    CENTER_LONLAT,
    DEFAULT_AS_OF,
    DEFAULT_SEED,
    PARTY_ORG_PARKS,
    SCALES,
    ProgressFn,
    _metric_area,
    _noop,
    _to_lonlat,
    _to_metric,
    divisions,
    uscc_codes,
)
from dayuan_geo.demo.firms import inspection_rows, place_firms
from dayuan_geo.demo.places import grid_lattice, lay_out
from dayuan_geo.demo.remediation import parcel_attributes, release_land, stage_history


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

    lay = lay_out(rng, sc=sc, cx=cx, cy=cy, progress=progress)
    rel = release_land(rng, lay, scale=scale, progress=progress)
    hist = stage_history(rng, lay, rel, n_stages=n_stages, land_idx=land_idx, today=today)
    attrs = parcel_attributes(rng, lay, rel, hist, cat=cat, land_idx=land_idx, today=today, progress=progress)
    grids = grid_lattice(lay, sc=sc, progress=progress)
    firms = place_firms(rng, lay, rel, grids, attrs, sc=sc, scale=scale, today=today, progress=progress)
    insp = inspection_rows(rng, firms, grids, sc=sc, as_of=as_of, progress=progress)
    targets = _targets(rng, lay, rel, attrs, as_of=as_of, today=today, year_start=year_start)
    return _assemble(rng, lay, rel, hist, attrs, grids, firms, insp, targets, cat=cat, progress=progress)


def _targets(rng, lay, rel, attrs, *, as_of: dt.date, today: np.datetime64, year_start: np.datetime64) -> list:
    """The released area each year was meant to reach."""
    released_on, parcel_released, parcel_area = attrs.released_on, rel.parcel_released, lay.parcel_area
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
    return targets


def _assemble(rng, lay, rel, hist, attrs, grids, firms, insp, targets, *, cat, progress) -> dict[str, pd.DataFrame]:
    """The tables, in WGS 84."""
    vpolys, codes, divs, n_parks = lay.vpolys, lay.codes, lay.divs, lay.n_parks
    park_names, park_names_en = lay.park_names, lay.park_names_en
    park_village, park_geom, p_park, parcel_village = lay.park_village, lay.park_geom, lay.p_park, lay.parcel_village
    parcel_area, parcel_geom = lay.parcel_area, lay.parcel_geom
    park_area_parcels, mode_codes, mode = rel.park_area_parcels, rel.mode_codes, rel.mode
    stage, start, planned_finish, finished_on = hist.stage, hist.start, hist.planned_finish, hist.finished_on
    ev_park, ev_stage = hist.ev_park, hist.ev_stage
    ev_date = hist.ev_date
    park_ids, parcel_ids, parcel_names = attrs.park_ids, attrs.parcel_ids, attrs.parcel_names
    current_use = attrs.current_use
    planned_use, ownership = attrs.planned_use, attrs.ownership
    release_status, released_on = attrs.release_status, attrs.released_on
    grid_ids, g_vi, grid_geom_m = grids.grid_ids, grids.g_vi, grids.grid_geom_m
    firm_ids, uscc, f_name, f_industry = firms.firm_ids, firms.uscc, firms.f_name, firms.f_industry
    f_park, f_parcel = firms.f_park, firms.f_parcel
    f_village, f_grid, risk, listed_on = firms.f_village, firms.f_grid, firms.risk, firms.listed_on
    list_reason, list_status = firms.list_reason, firms.list_status
    flon, flat = firms.flon, firms.flat
    insp_ids, i_firm, i_date, i_inspector = insp.insp_ids, insp.i_firm, insp.i_date, insp.i_inspector
    i_cat, i_out = insp.i_cat, insp.i_out
    target_df_rows = targets
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
    target_df = pd.DataFrame(target_df_rows, columns=["year", "metric", "value"])
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
