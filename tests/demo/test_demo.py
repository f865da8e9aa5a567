"""The demo dataset reproduces the published figures, checked from the files with geopandas/pandas."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.demo import build as demo
from dayuan_geo.uscc import uscc_problem

AS_OF = pd.Timestamp(demo.DEFAULT_AS_OF)


def test_released_area_matches_published_figure(demo_dir):
    parcels = gpd.read_parquet(demo_dir / "parcels.parquet")
    released = parcels[pd.to_datetime(parcels["released_on"]) <= AS_OF]
    area = released.to_crs(S.METRIC_CRS).area.sum()  # independent of the stored area_m2
    assert abs(area - 2_015_800) / 2_015_800 < 0.001
    assert np.allclose(released["area_m2"], released.to_crs(S.METRIC_CRS).area, rtol=1e-6)
    assert released["release_status"].isin(S.RELEASED_STATUSES).all()


def test_firm_and_inspection_figures(demo_dir):
    firms = pd.read_parquet(demo_dir / "firms.parquet")
    assert (firms["risk_level"] == "blacklisted").sum() == 12
    assert (firms["risk_level"] == "high_risk").sum() == 31
    assert all(uscc_problem(c) is None for c in firms["uscc"])
    insp = pd.read_parquet(demo_dir / "inspections.parquet")
    day = pd.to_datetime(insp["inspected_on"])
    this_year = insp[(day >= pd.Timestamp(AS_OF.year, 1, 1)) & (day <= AS_OF)]
    assert len(this_year) == 6805
    assert this_year.loc[this_year["outcome"] == "rectification_ordered", "firm_id"].nunique() == 44
    assert day.min() < pd.Timestamp("2020-12-31")  # history from 2020
    assert day.max() <= AS_OF


def test_history_has_late_and_stalled_projects(demo_dir):
    projects = pd.read_parquet(demo_dir / "remediation_projects.parquet")
    events = pd.read_parquet(demo_dir / "remediation_events.parquet")
    overdue = (pd.to_datetime(projects["planned_finish"]) < AS_OF) & (projects["stage"] != "completed")
    assert overdue.sum() >= 3
    last = pd.to_datetime(events.groupby("project_id")["entered_on"].max())
    assert ((AS_OF - last).dt.days > 90).sum() >= 3
    assert set(projects["mode"]) == {"shutdown", "upgrade", "regularise"}


def test_real_divisions_and_named_parks(demo_dir):
    villages = gpd.read_parquet(demo_dir / "villages.parquet")
    assert sorted(villages["code"]) == sorted(d["code"] for d in demo.divisions())
    assert "石湖村委会" in set(villages["name_zh"])
    parks = gpd.read_parquet(demo_dir / "parks.parquet")
    names = set(parks["name"])
    assert {"林安物流园", "华邦物流园", "石湖供应链产业园"} <= names
    shihu = parks[parks["name"] == "石湖供应链产业园"].iloc[0]
    assert shihu["village_code"] == "440111021201"
    center = villages.union_all().centroid
    assert abs(center.x - 113.35) < 0.05 and abs(center.y - 23.26) < 0.05


def test_geoparquet_1_1_with_bbox_and_spatial_order(demo_dir):
    for name in ("villages", "grids", "parks", "parcels", "firms"):
        meta = json.loads(pq.read_schema(demo_dir / f"{name}.parquet").metadata[b"geo"])
        assert meta["version"] == "1.1.0"
        assert meta["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    parcels = gpd.read_parquet(demo_dir / "parcels.parquet")
    h = parcels.geometry.hilbert_distance(total_bounds=parcels.total_bounds).to_numpy()
    assert (np.diff(h) >= 0).mean() > 0.95  # rows stored along the Hilbert curve


def test_deterministic_per_seed(tmp_path):
    a = demo.build(seed=7)
    b = demo.build(seed=7)
    c = demo.build(seed=8)
    assert a["parcels"].geometry.equals(b["parcels"].geometry)
    assert not a["parcels"].geometry.iloc[:50].reset_index(drop=True).equals(
        c["parcels"].geometry.iloc[:50].reset_index(drop=True))
    # every seed stays calibrated
    rel = c["parcels"][pd.to_datetime(c["parcels"]["released_on"]) <= AS_OF]
    assert abs(rel["area_m2"].sum() - 2_015_800) < 2_015_800 * 0.001


def test_manifest_records_files_and_hashes(demo_dir):
    manifest = dataset.read_manifest(demo_dir)
    assert manifest["source"] == "demo" and manifest["as_of"] == "2026-11-20"
    for name in S.TABLE_NAMES:
        entry = manifest["files"][name]
        assert entry["sha256"] == dataset.sha256_of(demo_dir / entry["file"])
    assert dataset.validate(demo_dir) == []


def test_every_park_has_its_own_name(demo_dir):
    parks = gpd.read_parquet(demo_dir / "parks.parquet")
    assert not parks["name"].duplicated().any(), parks.loc[parks["name"].duplicated(keep=False), "name"].tolist()
    assert (parks["name"] == "华邦物流园").sum() == 1


def test_firms_are_inspected_at_a_believable_rate(demo_dir):
    firms = pd.read_parquet(demo_dir / "firms.parquet").set_index("firm_id")
    insp = pd.read_parquet(demo_dir / "inspections.parquet")
    insp["day"] = pd.to_datetime(insp["inspected_on"])
    this_year = insp[(insp["day"] >= pd.Timestamp(AS_OF.year, 1, 1)) & (insp["day"] <= AS_OF)]
    per_firm = this_year.groupby("firm_id").size().reindex(firms.index, fill_value=0)
    risky = firms["risk_level"] != "normal"
    # about monthly for a listed firm, about quarterly for the others; nowhere near daily
    assert 6 <= per_firm[risky].mean() <= 16 and per_firm[risky].max() <= 30
    assert 2 <= per_firm[~risky].mean() <= 6 and per_firm.max() <= 30
    # an evicted firm has left: no inspection more than two months after it was listed
    evicted = firms[firms["list_status"] == "evicted"]
    visits = insp.merge(evicted[["listed_on"]], left_on="firm_id", right_index=True)
    assert len(evicted) and not (visits["day"] > pd.to_datetime(visits["listed_on"]) + pd.Timedelta(days=60)).any()


def test_the_build_is_split_by_table():
    from pathlib import Path

    folder = Path(demo.__file__).parent
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in folder.glob("*.py")}
    assert {"base.py", "places.py", "remediation.py", "firms.py", "build.py"} <= set(sizes)
    assert max(sizes.values()) < 450, sizes
