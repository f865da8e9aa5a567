"""Queries agree with independent computations made straight from the files with pandas."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dayuan_geo.overview import queries
from dayuan_geo.store import Store

AS_OF = dt.date(2026, 11, 20)


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


# ---- pace, villages and what changed (overview.leadership), against the files ---------------------

def _released(demo_dir) -> tuple[pd.DataFrame, pd.Series]:
    parcels = _files(demo_dir, "parcels")
    return parcels, pd.to_datetime(parcels["released_on"])


@pytest.mark.parametrize("day", [AS_OF, dt.date(2026, 10, 31), dt.date(2024, 3, 15)])
def test_pace_against_the_prorated_target(cur, demo_dir, day):
    from dayuan_geo.overview import leadership

    p = leadership.pace(cur, as_of=day)
    parcels, on = _released(demo_dir)
    ts = pd.Timestamp(day)
    ytd = parcels.loc[(on >= f"{day.year}-01-01") & (on <= ts), "area_m2"].sum()
    target = _files(demo_dir, "targets").query("year == @day.year")["value"].item()
    days_in_year = 366 if day.year % 4 == 0 else 365
    due = target * day.timetuple().tm_yday / days_in_year
    assert p["released_ytd_m2"] == pytest.approx(ytd, abs=0.1)
    assert p["due_by_now_m2"] == pytest.approx(due, abs=0.1)
    assert p["gap_m2"] == pytest.approx(ytd - due, abs=0.2)
    assert p["status"] == ("on_track" if ytd >= due else "behind")
    month = on.dt.strftime("%Y-%m")
    this = parcels.loc[(month == f"{day:%Y-%m}") & (on <= ts), "area_m2"].sum()
    last = (ts.replace(day=1) - pd.Timedelta(days=1)).strftime("%Y-%m")
    year_ago = f"{day.year - 1}-{day.month:02d}"
    assert p["month_m2"] == pytest.approx(this, abs=0.1)
    assert (p["last_month"], p["year_ago_month"]) == (last, year_ago)
    assert p["last_month_m2"] == pytest.approx(parcels.loc[month == last, "area_m2"].sum(), abs=0.1)
    assert p["year_ago_month_m2"] == pytest.approx(parcels.loc[month == year_ago, "area_m2"].sum(), abs=0.1)
    before = parcels.loc[on < f"{day.year}-01-01", "area_m2"].sum()
    assert p["released_before_year_m2"] == pytest.approx(before, abs=0.1)


def test_village_ranking_against_the_files(cur, demo_dir):
    from dayuan_geo.overview import leadership

    r = leadership.village_ranking(cur, as_of=AS_OF).set_index("village_code")
    parcels, on = _released(demo_dir)
    ts = pd.Timestamp(AS_OF)
    released = parcels[on <= ts].groupby("village_code")["area_m2"].sum()
    ytd = parcels[(on >= "2026-01-01") & (on <= ts)].groupby("village_code")["area_m2"].sum()
    open_ = parcels[on.isna() | (on >= "2026-01-01")].groupby("village_code")["area_m2"].sum()
    targets = pd.read_parquet(demo_dir / "targets.parquet")
    target = targets.loc[(targets["year"] == AS_OF.year) & (targets["metric"] == "released_area_m2"), "value"].item()
    share = target * open_ / open_.sum()
    due = share * AS_OF.timetuple().tm_yday / 365
    for code in r.index:
        assert r.at[code, "released_m2"] == pytest.approx(released.get(code, 0), abs=0.1)
        assert r.at[code, "target_share_m2"] == pytest.approx(share.get(code, 0), abs=0.1)
        assert bool(r.at[code, "behind"]) == (ytd.get(code, 0) < due.get(code, 0))
    assert list(r["released_m2"]) == sorted(r["released_m2"], reverse=True)
    assert r["target_share_m2"].sum() == pytest.approx(target)
    # projects counted where their park lies; overdue as kpis counts them
    projects = _files(demo_dir, "remediation_projects").merge(
        _files(demo_dir, "parks")[["park_id", "village_code"]], on="park_id")
    overdue = projects[(pd.to_datetime(projects["planned_finish"]) < ts) & (projects["stage"] != "completed")]
    assert r["overdue"].to_dict() == {c: int((overdue["village_code"] == c).sum()) for c in r.index}
    assert int(r["stalled"].sum()) == queries.kpis(cur, as_of=AS_OF)["projects_stalled"]


def test_changes_in_a_month_against_the_files(cur, demo_dir):
    from dayuan_geo.overview import leadership

    start, end = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    ch = leadership.changes_between(cur, start=start, end=end, role="viewer")
    parcels, on = _released(demo_dir)
    assert sorted(ch["released"]["parcel_id"]) == sorted(parcels.loc[on.dt.strftime("%Y-%m") == "2026-10", "parcel_id"])
    events = _files(demo_dir, "remediation_events")
    entered = pd.to_datetime(events["entered_on"])
    assert len(ch["stages"]) == int(((entered >= "2026-10-01") & (entered <= "2026-10-31")).sum())
    firms = _files(demo_dir, "firms")
    listed = pd.to_datetime(firms["listed_on"])
    risky = firms["risk_level"].isin(["blacklisted", "high_risk"])
    assert sorted(ch["listed"]["firm_id"]) == sorted(
        firms.loc[risky & (listed >= "2026-10-01") & (listed <= "2026-10-31"), "firm_id"])
    assert "name" not in ch["listed"].columns  # a viewer sees no firm names
