"""python -m dayuan_geo bench: the naive approach against the product, on the same questions.

The naive approach is what a planner writes first: geopandas reads the GeoParquet files on every
rerun, pandas filters, and every matching parcel goes to pydeck as GeoJSON. The product answers
from one DuckDB Store (tables in memory), through `queries`, `safety` and `mapdata`. Both answer the
same questions (KPIs, a filtered parcel map, released area by month, risky firms near released
land); the benchmark checks that they agree on the values, then reports medians of repeated runs,
the bytes each map sends, cold start, memory, each page's warm rerun in AppTest, and the product's
time against the bare DuckDB SQL it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries

NEAR_DISTANCE_M = 500.0
RISKY = ("blacklisted", "high_risk")
NEAR_STATUSES = ("vacating", "released")
MAP_STATUSES = ("vacating", "released")  # the filtered map: land being vacated or released
SPATIAL_JOIN_OPERATORS = ("SPATIAL_JOIN", "IE_JOIN", "RANGE_JOIN", "PIECEWISE_MERGE_JOIN")
APP = S.PROJECT_DIR / "app.py"


# ---- measuring ----------------------------------------------------------------------------------

def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """Median seconds of repeat runs, every run's seconds, and the last result."""
    times, result = [], None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), [round(x, 4) for x in times], result


def _rss_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM, since ru_maxrss carries over from the parent
    across fork and exec on Linux, which would give a child process its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    mem_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    import duckdb
    import geopandas
    import streamlit

    return {
        "nproc": os.cpu_count(), "memory_gb": mem_gb, "cpu": cpu, "python": platform.python_version(),
        "duckdb": duckdb.__version__, "geopandas": geopandas.__version__, "streamlit": streamlit.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# ---- the naive approach: geopandas reads the files on every rerun --------------------------------

def _read(directory: Path, name: str):
    import geopandas as gpd

    path = dataset.table_path(directory, name)
    return gpd.read_parquet(path) if S.table(name).has_geometry else pd.read_parquet(path)


def _days(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series)


def naive_kpis(directory: Path, *, as_of: dt.date, stalled_days: int = queries.DEFAULT_STALLED_DAYS) -> dict:
    """The headline numbers the way a first script computes them: read everything, filter in pandas."""
    day = pd.Timestamp(as_of)
    y0 = pd.Timestamp(as_of.year, 1, 1)
    month_ago = pd.Timestamp(queries._month_before(as_of))
    parcels = _read(directory, "parcels")
    rel_on = _days(parcels["released_on"])
    firms = _read(directory, "firms")
    listed = _days(firms["listed_on"])
    firms = firms[listed.isna() | (listed <= day)]
    insp = _read(directory, "inspections")
    when = _days(insp["inspected_on"])
    insp = insp[(when >= y0) & (when <= day)]
    targets = _read(directory, "targets")
    target = targets[(targets["year"] == as_of.year) & (targets["metric"] == "released_area_m2")]["value"]
    projects = _read(directory, "remediation_projects")
    events = _read(directory, "remediation_events")
    stages = list(S.stage_catalogue().codes)
    done = S.stage_catalogue().completed
    ev = events[_days(events["entered_on"]) <= day].copy()
    ev["rank"] = ev["stage"].map({s: i for i, s in enumerate(stages)})
    ev = ev.sort_values(["project_id", "entered_on", "rank"])
    last = ev.groupby("project_id").agg(stage_at=("stage", "last"), last_change=("entered_on", "max"))
    pr = projects[_days(projects["started_on"]) <= day].merge(last, on="project_id", how="left")
    stage = pr["stage_at"].fillna(pr["stage"])
    last_change = _days(pr["last_change"].fillna(pr["started_on"]))
    not_done = stage != done
    return {
        "as_of": as_of.isoformat(),
        "released_area_m2": round(float(parcels.loc[rel_on <= day, "area_m2"].sum()), 1),
        "released_parcels": int((rel_on <= day).sum()),
        "parcels_total": len(parcels),
        "parcels_area_m2": round(float(parcels["area_m2"].sum()), 1),
        "released_area_month_ago_m2": round(float(parcels.loc[rel_on <= month_ago, "area_m2"].sum()), 1),
        "released_area_ytd_m2": round(float(parcels.loc[(rel_on >= y0) & (rel_on <= day), "area_m2"].sum()), 1),
        "released_area_target_m2": float(target.iloc[0]) if len(target) else None,
        "remediation_projects_total": len(pr),
        "remediation_projects_by_stage": {s: int((stage == s).sum()) for s in stages},
        "projects_completed": int((~not_done).sum()),
        "projects_overdue": int(((_days(pr["planned_finish"]) < day) & not_done).sum()),
        "projects_stalled": int((not_done & ((day - last_change).dt.days > stalled_days)).sum()),
        "blacklisted_firms": int((firms["risk_level"] == "blacklisted").sum()),
        "high_risk_firms": int((firms["risk_level"] == "high_risk").sum()),
        "inspections_ytd": len(insp),
        "rectification_orders_ytd": int(insp.loc[insp["outcome"] == "rectification_ordered", "firm_id"].nunique()),
    }


def _naive_status(parcels, as_of: dt.date) -> pd.Series:
    rel_on = _days(parcels["released_on"])
    return parcels["release_status"].where(~(rel_on > pd.Timestamp(as_of)), "vacating")


def naive_map(directory: Path, *, as_of: dt.date, statuses: tuple[str, ...] | None = None):
    """Every matching parcel as GeoJSON in a pydeck deck (what `st.pydeck_chart` would send)."""
    import pydeck as pdk

    parcels = _read(directory, "parcels")
    parcels["release_status"] = _naive_status(parcels, as_of)
    if statuses is not None:
        parcels = parcels[parcels["release_status"].isin(statuses)]
    parks = _read(directory, "parks")[["park_id", "name"]].rename(columns={"name": "park_name"})
    parcels = parcels.merge(parks, on="park_id", how="left")
    parcels["released_on"] = parcels["released_on"].astype(str)
    parcels["fill"] = [maps.STATUS_COLORS.get(s, [0, 0, 0, 120]) for s in parcels["release_status"]]
    keep = ["parcel_id", "name", "park_name", "area_m2", "release_status", "released_on", "fill", "geometry"]
    layer = pdk.Layer("GeoJsonLayer", data=parcels[keep], id="parcels", get_fill_color="properties.fill",
                      pickable=True, stroked=True)
    deck = pdk.Deck(layers=[layer], map_provider=None,
                    initial_view_state=pdk.ViewState(longitude=113.35, latitude=23.26, zoom=12))
    return deck, parcels


def naive_released_by_month(directory: Path, *, as_of: dt.date) -> pd.DataFrame:
    parcels = _read(directory, "parcels")
    rel_on = _days(parcels["released_on"])
    rel = parcels[rel_on <= pd.Timestamp(as_of)].assign(month=rel_on.dt.to_period("M"))
    out = rel.groupby("month").agg(released_m2=("area_m2", "sum"), parcels=("parcel_id", "count"))
    out = out.reindex(pd.period_range(out.index.min(), pd.Period(as_of, "M"), freq="M"), fill_value=0)
    out["cumulative_m2"] = out["released_m2"].cumsum()
    return out.reset_index(names="month")


def naive_firms_near(directory: Path, *, as_of: dt.date, distance_m: float = NEAR_DISTANCE_M) -> pd.DataFrame:
    """(parcel, firm) pairs within distance_m, with geopandas in the metric CRS."""
    import geopandas as gpd

    day = pd.Timestamp(as_of)
    firms = _read(directory, "firms")
    listed = _days(firms["listed_on"])
    firms = firms[firms["risk_level"].isin(RISKY) & (listed.isna() | (listed <= day))]
    parcels = _read(directory, "parcels")
    parcels = parcels[_naive_status(parcels, as_of).isin(NEAR_STATUSES)]
    pairs = gpd.sjoin(firms[["firm_id", "geometry"]].to_crs(S.METRIC_CRS),
                      parcels[["parcel_id", "geometry"]].to_crs(S.METRIC_CRS),
                      predicate="dwithin", distance=distance_m)
    return pairs[["parcel_id", "firm_id"]].reset_index(drop=True)


# ---- the product ---------------------------------------------------------------------------------

def product_firms_near(cur, *, as_of: dt.date, distance_m: float = NEAR_DISTANCE_M) -> pd.DataFrame:
    """The product's spatial join (safety.near_released_land, the firms page's query)."""
    from dayuan_geo.safety import queries as safety

    return safety.near_released_land(cur, role=S_ROLE, as_of=as_of, distance_m=distance_m,
                                     risk_levels=RISKY, parcel_statuses=NEAR_STATUSES)


S_ROLE = "planner"


def bare_firms_near(cur, *, as_of: dt.date, distance_m: float = NEAR_DISTANCE_M) -> list:
    """The spatial join alone, counted in the engine: the floor under product_firms_near."""
    from dayuan_geo.safety import queries as safety

    sql = f"""
    WITH pa AS (
        SELECT parcel_id, CASE WHEN released_on > $as_of THEN 'vacating' ELSE release_status END AS status,
               {safety._metric("geometry")} AS g
        FROM parcels
    ), f AS (
        SELECT firm_id, {safety._metric("geometry")} AS g FROM firms
        WHERE list_contains($levels, risk_level) AND (listed_on IS NULL OR listed_on <= $as_of)
    )
    SELECT count(*), count(DISTINCT f.firm_id) FROM pa JOIN f ON ST_DWithin(f.g, pa.g, $d)
    WHERE list_contains($statuses, pa.status)
    """  # noqa: S608 - the transform is a constant of safety
    params = {"as_of": as_of, "levels": list(RISKY), "statuses": list(NEAR_STATUSES), "d": distance_m}
    return cur.execute(sql, params).fetchall()


class _ExplainingCursor:
    """A cursor that records the EXPLAIN plan of every statement a query function runs."""

    def __init__(self, cur):
        self._cur = cur
        self.plans: list[str] = []

    def execute(self, sql, params=None):
        rows = self._cur.execute("EXPLAIN " + sql, params).fetchall()
        self.plans.append("\n".join(str(r[-1]) for r in rows))
        return self._cur.execute(sql, params)


def join_operators(plan: str) -> list[str]:
    """Join operators named in an EXPLAIN plan, e.g. SPATIAL_JOIN, HASH_JOIN, NESTED_LOOP_JOIN."""
    return sorted(set(re.findall(r"\b([A-Z_]*JOIN)\b", plan)))


_BARE_KPIS_SQL = (
    ("SELECT coalesce(sum(area_m2) FILTER (WHERE released_on <= $as_of), 0), count(*) FILTER "
     "(WHERE released_on <= $as_of), count(*), coalesce(sum(area_m2) FILTER (WHERE released_on <= "
     "$month_ago), 0), coalesce(sum(area_m2) FILTER (WHERE released_on BETWEEN $y0 AND $as_of), 0), "
     "coalesce(sum(area_m2), 0) FROM parcels", ("as_of", "month_ago", "y0")),
    ("SELECT count(*) FILTER (WHERE risk_level = 'blacklisted'), count(*) FILTER (WHERE risk_level = "
     "'high_risk') FROM firms WHERE listed_on IS NULL OR listed_on <= $as_of", ("as_of",)),
    ("SELECT count(*), count(DISTINCT firm_id) FILTER (WHERE outcome = 'rectification_ordered') "
     "FROM inspections WHERE inspected_on BETWEEN $y0 AND $as_of", ("y0", "as_of")),
    ("SELECT value FROM targets WHERE year = $year AND metric = 'released_area_m2'", ("year",)),
    ("SELECT stage, count(*), count(*) FILTER (WHERE planned_finish < $as_of AND stage <> $done), "
     "count(*) FILTER (WHERE stage <> $done AND datediff('day', last_change, $as_of) > 90) "
     "FROM project_state($as_of::DATE, $stages) GROUP BY stage", ("as_of", "done", "stages")),
)


def bare_kpis(cur, *, as_of: dt.date) -> list:
    """The KPI SQL alone, fetched as tuples: the engine's floor under queries.kpis."""
    values = {"as_of": as_of, "month_ago": queries._month_before(as_of), "y0": dt.date(as_of.year, 1, 1),
              "year": as_of.year, "done": S.stage_catalogue().completed,
              "stages": list(S.stage_catalogue().codes)}
    return [cur.execute(sql, {k: values[k] for k in names}).fetchall() for sql, names in _BARE_KPIS_SQL]


# ---- pages in AppTest ----------------------------------------------------------------------------

def app_pages(app: Path = APP) -> list[tuple[str, str]]:
    """(page file, url_path) of the pages registered in app.py now (other features add theirs)."""
    text = app.read_text(encoding="utf-8")
    out = []
    for call in text.split("st.Page(")[1:]:  # each call's text runs up to the next st.Page
        file_m = re.match(r"\s*\"(pages/[A-Za-z0-9_]+\.py)\"", call)
        if file_m is None:
            continue
        path_m = re.search(r"url_path=\"([A-Za-z0-9_-]+)\"", call)
        out.append((file_m.group(1), path_m.group(1) if path_m else Path(file_m.group(1)).stem))
    return out


def _role_for(url_path: str) -> str:
    """The local-mode role (planner) when it may open the page, else the first role that may."""
    from dayuan_geo import access

    allowed = access.PAGE_ROLES.get(url_path)
    if allowed is None or access.LOCAL_ROLE in allowed:
        return access.LOCAL_ROLE
    return sorted(allowed)[0]


def _deck_bytes(at) -> list[int]:
    return [len(d.proto.json.encode("utf-8")) for d in at.get("deck_gl_json_chart")]


def _naive_page() -> None:  # run by AppTest as a script: imports inside
    import datetime as dt
    import os
    from pathlib import Path

    import streamlit as st

    from benchmarks import bench

    directory = Path(os.environ["DAYUAN_DATA_DIR"])
    as_of = dt.date.fromisoformat(os.environ["DAYUAN_BENCH_AS_OF"])
    k = bench.naive_kpis(directory, as_of=as_of)
    for key in ("released_area_m2", "released_parcels", "blacklisted_firms", "inspections_ytd"):
        st.metric(key, k[key])
    st.line_chart(bench.naive_released_by_month(directory, as_of=as_of).set_index("month")["cumulative_m2"]
                  .rename(index=str))
    deck, _ = bench.naive_map(directory, as_of=as_of)
    st.pydeck_chart(deck)


def pages_bench(directory: Path, *, as_of: dt.date, repeat: int, naive: bool = False,
                only: tuple[str, ...] = (), progress: Callable[[str], None] = lambda _step: None) -> dict:
    """First run and warm reruns of every registered page (or of the naive page) in AppTest."""
    import logging

    from streamlit.testing.v1 import AppTest

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    os.environ["DAYUAN_DATA_DIR"] = str(directory)
    os.environ["DAYUAN_BENCH_AS_OF"] = as_of.isoformat()
    out: dict[str, dict] = {}
    if naive:
        progress("naive page")
        at = AppTest.from_function(_naive_page, default_timeout=3600)
        warm, runs, _ = _timed(at.run, repeat)
        out["naive"] = {"warm_s": round(warm, 4), "warm_runs_s": runs, "deck_bytes": _deck_bytes(at),
                        "exception": bool(at.exception)}
        return out
    for page, url_path in app_pages():
        name = Path(page).stem
        if only and name not in only:
            continue
        progress(f"page {name}")
        at = AppTest.from_file(str(APP), default_timeout=600)
        at.session_state["role"] = role = _role_for(url_path)  # local mode may preview a role
        t0 = time.perf_counter()
        try:
            at.run()
            at.switch_page(page)
            at.run()
        except Exception as exc:  # a page that cannot open here is reported, not fatal
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:300], "role": role}
            continue
        first = time.perf_counter() - t0
        if at.exception:
            out[name] = {"error": str(at.exception[0].message)[:300], "role": role}
            continue
        warm, runs, _ = _timed(at.run, repeat)
        out[name] = {"first_s": round(first, 3), "warm_s": round(warm, 4), "warm_runs_s": runs,
                     "deck_bytes": _deck_bytes(at), "role": role,
                     "exception": str(at.exception[0].message)[:300] if at.exception else None}
    return out


def _pages_in_child(directory: Path, *, as_of: dt.date, repeat: int, naive: bool, only: tuple[str, ...] = (),
                    progress: Callable[[str], None]) -> dict:
    """pages_bench in a fresh process, so its peak memory is that of an app server alone."""
    progress("naive page (child process)" if naive else "pages (child process)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pages.json"
        cmd = [sys.executable, "-m", "benchmarks.bench", str(directory), as_of.isoformat(), str(repeat),
               "naive" if naive else "product", str(out), ",".join(only)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=S.PROJECT_DIR, check=False)
        if proc.returncode != 0 or not out.exists():
            return {"error": (proc.stderr or proc.stdout)[-800:]}
        return json.loads(out.read_text(encoding="utf-8"))


def _child(argv: list[str]) -> None:
    directory, as_of, repeat, kind, out, only = argv
    pages = pages_bench(Path(directory), as_of=dt.date.fromisoformat(as_of), repeat=int(repeat),
                        naive=kind == "naive", only=tuple(p for p in only.split(",") if p))
    Path(out).write_text(json.dumps({"pages": pages, "peak_rss_mb": round(_peak_rss_mb(), 1)}), encoding="utf-8")


# ---- the run -------------------------------------------------------------------------------------

def _agree_kpis(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > 0.11 + 1e-9 * abs(x):
                return False
        elif x != y:
            return False
    return True


def run(
    directory: Path,
    *,
    repeat: int = 3,
    naive_repeat: int | None = None,
    pages: bool = True,
    only_pages: tuple[str, ...] = (),
    naive_page: bool = True,
    lazy_store: bool = True,
    progress: Callable[[str], None] = lambda _step: None,
) -> dict:
    """Every measurement on the dataset in directory, as one JSON-ready dict."""
    from dayuan_geo.store import Store

    directory = Path(directory).resolve()
    naive_repeat = repeat if naive_repeat is None else naive_repeat
    manifest = dataset.read_manifest(directory)
    as_of = dt.date.fromisoformat(str(manifest["as_of"]))
    result: dict[str, Any] = {
        "scale": manifest.get("scale"), "data_dir": str(directory), "as_of": as_of.isoformat(),
        "repeat": repeat, "naive_repeat": naive_repeat,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine(),
        "dataset": {name: entry.get("rows") for name, entry in manifest["files"].items()}
        | {"bytes": sum(int(e.get("bytes", 0)) for e in manifest["files"].values())},
    }

    # cold start: open the store (tables loaded into memory) and answer a first question
    progress("cold start")
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    store = Store(directory)
    opened = time.perf_counter() - t0
    cur = store.cursor()
    t1 = time.perf_counter()
    queries.kpis(cur, as_of=as_of)
    first = time.perf_counter() - t1
    duck_mb = float(cur.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]) / 2**20
    cold = {"store_open_s": round(opened, 3), "first_query_s": round(first, 3),
            "store_rss_mb": round(_rss_mb() - rss0, 1), "duckdb_memory_mb": round(duck_mb, 1)}
    if lazy_store:
        t0 = time.perf_counter()
        views = Store(directory, lazy=True)
        cold["views_open_s"] = round(time.perf_counter() - t0, 3)
        vcur = views.cursor()
        t1 = time.perf_counter()
        queries.kpis(vcur, as_of=as_of)
        cold["views_first_query_s"] = round(time.perf_counter() - t1, 3)
        cold["views_kpis_s"] = round(_timed(lambda: queries.kpis(vcur, as_of=as_of), repeat)[0], 4)
        views.close()
    result["cold_start"] = cold

    q: dict[str, dict] = {}
    # KPIs
    progress("kpis")
    p_s, p_runs, p_val = _timed(lambda: queries.kpis(cur, as_of=as_of), repeat)
    b_s, _, _ = _timed(lambda: bare_kpis(cur, as_of=as_of), repeat)
    q["kpis"] = {"product_s": p_s, "product_runs_s": p_runs, "bare_sql_s": b_s,
                 "values": {k: p_val[k] for k in ("released_area_m2", "released_parcels", "blacklisted_firms",
                                                  "high_risk_firms", "inspections_ytd", "projects_overdue")}}
    # the filtered parcel map
    progress("parcel map")

    def product_map() -> tuple[mapdata.MapView, int]:
        view = mapdata.parcel_view(cur, as_of=as_of, statuses=MAP_STATUSES)
        spec = mapdata.deck([view.layer], center=queries.view_center(cur), zoom=view.zoom).to_json()
        return view, len(spec.encode("utf-8"))

    p_s, p_runs, (view, p_bytes) = _timed(product_map, repeat)
    md = mapdata.parcel_map(cur, as_of=as_of, statuses=MAP_STATUSES)
    b_s, _, _ = _timed(lambda: cur.execute(f"SELECT count(*), sum(area_m2) FROM ({mapdata._source('TRUE')})",  # noqa: S608
                                           mapdata._params(as_of, None, MAP_STATUSES, None, None)).fetchall(),
                       repeat)
    area_drawn = float(md.frame["area_m2"].sum()) if len(md.frame) else 0.0
    parcels_drawn = int(md.frame["parcels"].sum()) if md.aggregated else len(md.frame)
    q["parcel_map"] = {"product_s": p_s, "product_runs_s": p_runs, "bare_sql_s": b_s, "product_bytes": p_bytes,
                       "level": view.level, "shown": view.shown, "cell_m": view.cell_m,
                       "parcels": md.parcels, "parcels_drawn": parcels_drawn, "area_m2": round(area_drawn, 1)}
    # released area by month
    progress("released by month")
    p_s, p_runs, p_month = _timed(lambda: queries.released_by_month(cur, as_of=as_of), repeat)
    b_s, _, _ = _timed(lambda: cur.execute(
        "SELECT date_trunc('month', released_on), sum(area_m2) FROM parcels WHERE released_on <= $a GROUP BY 1",
        {"a": as_of}).fetchall(), repeat)
    q["released_by_month"] = {"product_s": p_s, "product_runs_s": p_runs, "bare_sql_s": b_s,
                              "months": len(p_month), "total_m2": round(float(p_month["released_m2"].sum()), 1)}
    # firms near released land: cold (first call) then medians; the plan must use a spatial join
    progress("firms near released land")
    spy = _ExplainingCursor(store.cursor())
    t0 = time.perf_counter()
    near = product_firms_near(spy, as_of=as_of)
    near_cold = time.perf_counter() - t0
    plan = "\n".join(spy.plans)
    ops = join_operators(plan)
    p_s, p_runs, near = _timed(lambda: product_firms_near(cur, as_of=as_of), repeat)
    b_s, _, _ = _timed(lambda: bare_firms_near(cur, as_of=as_of), repeat)
    q["firms_near_released"] = {
        "product_s": p_s, "product_runs_s": p_runs, "bare_sql_s": b_s, "product_cold_s": round(near_cold, 3),
        "distance_m": NEAR_DISTANCE_M, "pairs": len(near), "firms": int(near["firm_id"].nunique()),
        "join_operators": ops, "spatial_join": any(op in SPATIAL_JOIN_OPERATORS for op in ops),
        "nested_loop": "NESTED_LOOP_JOIN" in ops or "BLOCKWISE_NL_JOIN" in ops,
    }
    result["product_peak_rss_mb"] = round(_peak_rss_mb(), 1)

    if naive_repeat < 1:  # the product alone
        result["questions"] = q
        return _finish(result, q, store, directory, as_of=as_of, repeat=repeat, pages=pages,
                       only_pages=only_pages, naive_page=False, naive_repeat=0, progress=progress)
    # the naive approach, same questions
    progress("naive kpis")
    n_s, n_runs, n_val = _timed(lambda: naive_kpis(directory, as_of=as_of), naive_repeat)
    q["kpis"].update(naive_s=n_s, naive_runs_s=n_runs, agree=_agree_kpis(p_val, n_val))
    progress("naive map")

    def naive_map_bytes() -> tuple[int, int, float]:
        deck, frame = naive_map(directory, as_of=as_of, statuses=MAP_STATUSES)
        return len(deck.to_json().encode("utf-8")), len(frame), float(frame["area_m2"].sum())

    n_s, n_runs, (n_bytes, n_parcels, n_area) = _timed(naive_map_bytes, naive_repeat)
    q["parcel_map"].update(naive_s=n_s, naive_runs_s=n_runs, naive_bytes=n_bytes, naive_parcels=n_parcels,
                           agree=n_parcels == md.parcels == parcels_drawn and abs(n_area - area_drawn) < 1.0)
    progress("naive released by month")
    n_s, n_runs, n_month = _timed(lambda: naive_released_by_month(directory, as_of=as_of), naive_repeat)
    q["released_by_month"].update(
        naive_s=n_s, naive_runs_s=n_runs,
        agree=len(n_month) == len(p_month) and bool(np.allclose(n_month["cumulative_m2"].to_numpy(),
                                                                 p_month["cumulative_m2"].to_numpy(), atol=0.1)))
    progress("naive firms near released land")
    n_s, n_runs, n_near = _timed(lambda: naive_firms_near(directory, as_of=as_of), naive_repeat)
    same = set(zip(near["parcel_id"], near["firm_id"], strict=True)) == set(
        zip(n_near["parcel_id"], n_near["firm_id"], strict=True))
    q["firms_near_released"].update(naive_s=n_s, naive_runs_s=n_runs, naive_pairs=len(n_near), agree=same)
    return _finish(result, q, store, directory, as_of=as_of, repeat=repeat, pages=pages,
                   only_pages=only_pages, naive_page=naive_page, naive_repeat=naive_repeat, progress=progress)


def _finish(result: dict, q: dict, store, directory: Path, *, as_of: dt.date, repeat: int, pages: bool,
            only_pages: tuple[str, ...], naive_page: bool, naive_repeat: int,
            progress: Callable[[str], None]) -> dict:
    for entry in q.values():
        if entry.get("product_s") and entry.get("naive_s"):
            entry["speedup"] = round(entry["naive_s"] / entry["product_s"], 1)
        for key in ("product_s", "naive_s", "bare_sql_s"):
            if key in entry:
                entry[key] = round(entry[key], 4)
    result["questions"] = q

    if pages:
        child = _pages_in_child(directory, as_of=as_of, repeat=repeat, naive=False, only=only_pages,
                                progress=progress)
        result["pages"] = child.get("pages", {"error": {"error": child.get("error", "?")}})
        result["server_peak_rss_mb"] = child.get("peak_rss_mb")
        if naive_page and naive_repeat > 0:
            child = _pages_in_child(directory, as_of=as_of, repeat=naive_repeat, naive=True, progress=progress)
            result["pages"].update(child.get("pages", {"naive": {"error": child.get("error", "?")}}))
            result["naive_page_peak_rss_mb"] = child.get("peak_rss_mb")
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    store.close()
    return result


# ---- the command ---------------------------------------------------------------------------------

def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.2f} MB"


def _sec(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f} s"


def report(r: dict) -> str:
    """The result as the Markdown tables docs/benchmarks.md keeps."""
    m = r["machine"]
    lines = [
        f"### Scale {r['scale']} ({r['dataset'].get('parcels', 0):,} parcels, {r['dataset'].get('firms', 0):,} "
        f"firms, {r['dataset'].get('inspections', 0):,} inspections; {r['dataset']['bytes'] / 1e6:,.0f} MB of "
        "GeoParquet)",
        "",
        f"Measured {r['measured_at']} on {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB memory, "
        f"load average {m['load_average']}; DuckDB {m['duckdb']}, Streamlit {m['streamlit']}; medians of "
        f"{r['repeat']} runs (naive: {r['naive_repeat']}).",
        "",
        "| question | naive | product | bare DuckDB SQL | speed-up | answers agree |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, e in r["questions"].items():
        lines.append(f"| {name} | {_sec(e.get('naive_s'))} | {_sec(e['product_s'])} | "
                     f"{_sec(e.get('bare_sql_s'))} | {e.get('speedup', '—')}× | "
                     f"{'—' if 'agree' not in e else 'yes' if e['agree'] else 'NO'} |")
    pm, near, cold = r["questions"]["parcel_map"], r["questions"]["firms_near_released"], r["cold_start"]
    lines += [
        "",
        f"- Filtered parcel map ({', '.join(MAP_STATUSES)}: {pm['parcels']:,} parcels): naive GeoJSON "
        f"{_mb(pm.get('naive_bytes'))}; product {_mb(pm['product_bytes'])} as {pm['shown']:,} "
        f"{pm['level']}{' polygons' if pm['level'] == 'parcel' else 's'}"
        + (f" of {pm['cell_m']:,} m" if pm.get("cell_m") else "") + ".",
        f"- Firms near released land ({near['distance_m']:.0f} m): {near['pairs']:,} pairs, {near['firms']:,} "
        f"firms; first call {near['product_cold_s']:.2f} s, then cached by the app; plan joins with "
        f"{', '.join(near['join_operators'])} (spatial join: {'yes' if near['spatial_join'] else 'no'}, "
        f"nested loop: {'yes' if near['nested_loop'] else 'no'}).",
        f"- Cold start: Store open {cold['store_open_s']:.2f} s + first KPI query {cold['first_query_s']:.2f} s; "
        f"tables in DuckDB memory {cold['duckdb_memory_mb']:,.0f} MB."
        + (f" Views over the Parquet files instead: open {cold['views_open_s']:.2f} s, first KPI query "
           f"{cold['views_first_query_s']:.2f} s, KPIs each time {cold['views_kpis_s']:.3f} s (tables: "
           f"{r['questions']['kpis']['product_s']:.3f} s)." if "views_open_s" in cold else ""),
        f"- Peak memory (RSS) of the benchmark process: {r['product_peak_rss_mb']:,.0f} MB after the product's "
        "questions (both stores open, every result held)"
        + (f"; {r['peak_rss_mb']:,.0f} MB with the naive approach too." if r.get("naive_repeat") else "."),
    ]
    if r.get("pages"):
        lines += ["", "| page | first run | warm rerun | maps sent |", "| --- | ---: | ---: | --- |"]
        for name, e in r["pages"].items():
            if "error" in e:
                lines.append(f"| {name} | error: {e['error'][:80]} | | |")
                continue
            sent = ", ".join(_mb(b) for b in e["deck_bytes"]) or "—"
            first = f"{e['first_s']:.2f} s" if "first_s" in e else "—"
            note = f" (page raised: {e['exception'][:60]})" if isinstance(e.get("exception"), str) else ""
            lines.append(f"| {name} | {first} | {e['warm_s']:.3f} s{note} | {sent} |")
        lines.append("")
        lines.append(f"App server (all pages, one process): peak RSS {r.get('server_peak_rss_mb') or 0:,.0f} MB"
                     + (f"; naive page process {r['naive_page_peak_rss_mb']:,.0f} MB."
                        if r.get("naive_page_peak_rss_mb") else "."))
    return "\n".join(lines) + "\n"


def cmd_bench(args: argparse.Namespace) -> int:
    from dayuan_geo.cli.common import _data_dir

    directory = _data_dir(args)
    if args.scale:
        directory = Path(args.bench_dir or Path(tempfile.gettempdir()) / f"dayuan-{args.scale}").resolve()
        if not (directory / S.MANIFEST_NAME).exists():
            from dayuan_geo.demo import build as demo

            print(f"building the scale {args.scale} demo dataset in {directory}", file=sys.stderr)
            demo.write(directory, scale=args.scale)
    if args.repeat < 1:
        raise ValueError("--repeat must be at least 1")
    if args.naive_repeat is not None and args.naive_repeat < 0:
        raise ValueError("--naive-repeat must be 0 or more")

    def progress(step: str) -> None:
        print(f"bench: {step}", file=sys.stderr, flush=True)

    if args.browser or args.gpu:
        from benchmarks import browser

        result = browser.run(directory, repeat=args.repeat, gpu=args.gpu, naive=not args.no_naive_page,
                             progress=progress)
        print(json.dumps(result, ensure_ascii=False, indent=1) if args.json
              else browser.report(result, scale=args.scale or str(directory)))
        return 0
    with contextlib.redirect_stdout(sys.stderr):  # Streamlit prints page tracebacks on stdout
        result = run(directory, repeat=args.repeat, naive_repeat=args.naive_repeat, pages=not args.no_pages,
                     only_pages=tuple(args.page or ()), naive_page=not args.no_naive_page, progress=progress)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else report(result))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="the naive approach against the product, side by side")
    p.add_argument("--scale", choices=("S", "M", "L"),
                   help="benchmark the demo dataset of this scale (built into --bench-dir when missing); "
                        "default: the dataset of --data-dir")
    p.add_argument("--bench-dir", help="where the --scale dataset lives (default /tmp/dayuan-SCALE)")
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement; medians are reported")
    p.add_argument("--naive-repeat", type=int,
                   help="runs of the naive approach (default: --repeat; 0: the product alone)")
    p.add_argument("--no-pages", action="store_true", help="skip the AppTest page runs")
    p.add_argument("--page", action="append", help="run only this page (file name without .py); repeatable")
    p.add_argument("--no-naive-page", action="store_true",
                   help="skip the naive page in AppTest (at scale L it would build a GB-sized map)")
    p.add_argument("--browser", action="store_true",
                   help="time interactions in real Chromium (software WebGL) against the naive page, "
                        "server and browser pinned to separate cores (benchmarks/browser.py)")
    p.add_argument("--gpu", action="store_true", help="with --browser: use the machine's GPU instead")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench)


if __name__ == "__main__":  # the child process of _pages_in_child
    _child(sys.argv[1:])
