"""Queries agree with independent computations made straight from the files with pandas."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dayuan_geo.overview import queries
from dayuan_geo.store import Store

AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
def cur(store):
    return store.cursor()


def _files(demo_dir, name):
    return pd.read_parquet(demo_dir / f"{name}.parquet")


def test_kpis_match_files(cur, demo_dir):
    k = queries.kpis(cur, as_of=AS_OF)
    parcels = _files(demo_dir, "parcels")
    rel = parcels[pd.to_datetime(parcels["released_on"]) <= pd.Timestamp(AS_OF)]
    assert k["released_area_m2"] == pytest.approx(rel["area_m2"].sum(), abs=0.1)
    assert k["released_area_m2"] == pytest.approx(2_015_800, rel=0.001)
    assert k["released_parcels"] == len(rel)
    assert k["parcels_total"] == len(parcels)
    projects = _files(demo_dir, "remediation_projects")
    assert k["remediation_projects_total"] == len(projects)
    assert k["remediation_projects_by_stage"] == {
        s: int((projects["stage"] == s).sum()) for s in k["remediation_projects_by_stage"]
    }
    overdue = (pd.to_datetime(projects["planned_finish"]) < pd.Timestamp(AS_OF)) & (projects["stage"] != "completed")
    assert k["projects_overdue"] == int(overdue.sum())
    assert (k["blacklisted_firms"], k["high_risk_firms"]) == (12, 31)
    assert (k["inspections_ytd"], k["rectification_orders_ytd"]) == (6805, 44)
    targets = _files(demo_dir, "targets")
    assert k["released_area_target_m2"] == targets.loc[targets["year"] == 2026, "value"].item()


def test_kpis_as_of_an_earlier_day(cur, demo_dir):
    day = dt.date(2024, 6, 30)
    k = queries.kpis(cur, as_of=day)
    parcels = _files(demo_dir, "parcels")
    rel = parcels[pd.to_datetime(parcels["released_on"]) <= pd.Timestamp(day)]
    assert k["released_area_m2"] == pytest.approx(rel["area_m2"].sum(), abs=0.1)
    insp = _files(demo_dir, "inspections")
    d = pd.to_datetime(insp["inspected_on"])
    assert k["inspections_ytd"] == int(((d >= "2024-01-01") & (d <= "2024-06-30")).sum())
    projects = _files(demo_dir, "remediation_projects")
    assert k["remediation_projects_total"] == int((pd.to_datetime(projects["started_on"]) <= "2024-06-30").sum())


def test_released_by_month_adds_up(cur):
    df = queries.released_by_month(cur, as_of=AS_OF)
    assert df["cumulative_m2"].iloc[-1] == pytest.approx(2_015_800, rel=0.001)
    assert df["released_m2"].sum() == pytest.approx(df["cumulative_m2"].iloc[-1])
    assert df["month"].is_monotonic_increasing
    assert pd.Timestamp(df["month"].iloc[0]).year == 2020


def test_stage_funnel_is_monotonic(cur, demo_dir):
    df = queries.stage_funnel(cur, as_of=AS_OF)
    assert df["stage"].iloc[0] == "surveyed"
    assert df["reached"].iloc[0] == len(_files(demo_dir, "remediation_projects"))
    assert df["reached"].is_monotonic_decreasing
    assert df["projects"].sum() == df["reached"].iloc[0]


def test_firm_points_hide_names_from_viewers(cur):
    full = queries.firm_points(cur, role="planner")
    viewer = queries.firm_points(cur, role="viewer")
    assert len(full) == len(viewer) == 12
    assert "name" in full.columns and "uscc" in full.columns
    assert "name" not in viewer.columns and "uscc" not in viewer.columns
    with pytest.raises(ValueError):
        queries.firm_points(cur, role="admin")


def test_connection_is_locked_down(store):
    cur = store.cursor()
    with pytest.raises(Exception, match=r"(?i)permission|disabled|not allowed"):
        cur.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    with pytest.raises(Exception, match=r"(?i)lock|configuration"):
        cur.execute("SET enable_external_access = true")


def test_store_picks_up_a_new_version(data_copy):
    from dayuan_geo.demo import build as demo

    s = Store(data_copy)
    v1 = s.version
    assert not s.refresh()
    demo.write(data_copy, seed=99)
    assert s.refresh()
    assert s.version != v1
    assert s.manifest["dataset_version"] == 2


def test_precomputed_kpis_equal_a_live_computation(cur):
    day = AS_OF
    assert queries._precomputed(cur, day) is not None  # the Store computed them when it loaded
    assert queries.kpis(cur, as_of=day) == queries._compute_kpis(cur, as_of=day, stalled_days=90)
    other = queries.kpis(cur, as_of=day, stalled_days=30)
    assert other["projects_stalled"] >= queries.kpis(cur, as_of=day)["projects_stalled"]
    assert queries._precomputed(cur, dt.date(2025, 1, 1)) is None
