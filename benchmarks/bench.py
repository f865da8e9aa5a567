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
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.apptest import pages_in_child
from benchmarks.measure import machine, peak_rss_mb, rss_mb, timed
from benchmarks.questions import (
    MAP_STATUSES,
    NEAR_DISTANCE_M,
    _ExplainingCursor,
    bare_firms_near,
    bare_kpis,
    join_operators,
    naive_firms_near,
    naive_kpis,
    naive_map,
    naive_released_by_month,
    product_firms_near,
)
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.maps import budget as mapdata
from dayuan_geo.overview import queries

SPATIAL_JOIN_OPERATORS = ("SPATIAL_JOIN", "IE_JOIN", "RANGE_JOIN", "PIECEWISE_MERGE_JOIN")


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
    rss0 = rss_mb()
    t0 = time.perf_counter()
    store = Store(directory)
    opened = time.perf_counter() - t0
    cur = store.cursor()
    t1 = time.perf_counter()
    queries.kpis(cur, as_of=as_of)
    first = time.perf_counter() - t1
    duck_mb = float(cur.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]) / 2**20
    cold = {"store_open_s": round(opened, 3), "first_query_s": round(first, 3),
            "store_rss_mb": round(rss_mb() - rss0, 1), "duckdb_memory_mb": round(duck_mb, 1)}
    if lazy_store:
        t0 = time.perf_counter()
        views = Store(directory, lazy=True)
        cold["views_open_s"] = round(time.perf_counter() - t0, 3)
        vcur = views.cursor()
        t1 = time.perf_counter()
        queries.kpis(vcur, as_of=as_of)
        cold["views_first_query_s"] = round(time.perf_counter() - t1, 3)
        cold["views_kpis_s"] = round(timed(lambda: queries.kpis(vcur, as_of=as_of), repeat)[0], 4)
        views.close()
    result["cold_start"] = cold

    q: dict[str, dict] = {}
    # KPIs
    progress("kpis")
    p_s, p_runs, p_val = timed(lambda: queries.kpis(cur, as_of=as_of), repeat)
    b_s, _, _ = timed(lambda: bare_kpis(cur, as_of=as_of), repeat)
    q["kpis"] = {"product_s": p_s, "product_runs_s": p_runs, "bare_sql_s": b_s,
                 "values": {k: p_val[k] for k in ("released_area_m2", "released_parcels", "blacklisted_firms",
                                                  "high_risk_firms", "inspections_ytd", "projects_overdue")}}
    # the filtered parcel map
    progress("parcel map")

    def product_map() -> tuple[mapdata.MapView, int]:
        view = mapdata.parcel_view(cur, as_of=as_of, statuses=MAP_STATUSES)
        spec = mapdata.deck([view.layer], center=queries.view_center(cur), zoom=view.zoom).to_json()
        return view, len(spec.encode("utf-8"))

    p_s, p_runs, (view, p_bytes) = timed(product_map, repeat)
    md = mapdata.parcel_map(cur, as_of=as_of, statuses=MAP_STATUSES)
    b_s, _, _ = timed(lambda: cur.execute(f"SELECT count(*), sum(area_m2) FROM ({mapdata._source('TRUE')})",  # noqa: S608
                                           mapdata._params(as_of, None, MAP_STATUSES, None, None)).fetchall(),
                       repeat)
    area_drawn = float(md.frame["area_m2"].sum()) if len(md.frame) else 0.0
    parcels_drawn = int(md.frame["parcels"].sum()) if md.aggregated else len(md.frame)
    q["parcel_map"] = {"product_s": p_s, "product_runs_s": p_runs, "bare_sql_s": b_s, "product_bytes": p_bytes,
                       "level": view.level, "shown": view.shown, "cell_m": view.cell_m,
                       "parcels": md.parcels, "parcels_drawn": parcels_drawn, "area_m2": round(area_drawn, 1)}
    # released area by month
    progress("released by month")
    p_s, p_runs, p_month = timed(lambda: queries.released_by_month(cur, as_of=as_of), repeat)
    b_s, _, _ = timed(lambda: cur.execute(
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
    p_s, p_runs, near = timed(lambda: product_firms_near(cur, as_of=as_of), repeat)
    b_s, _, _ = timed(lambda: bare_firms_near(cur, as_of=as_of), repeat)
    q["firms_near_released"] = {
        "product_s": p_s, "product_runs_s": p_runs, "bare_sql_s": b_s, "product_cold_s": round(near_cold, 3),
        "distance_m": NEAR_DISTANCE_M, "pairs": len(near), "firms": int(near["firm_id"].nunique()),
        "join_operators": ops, "spatial_join": any(op in SPATIAL_JOIN_OPERATORS for op in ops),
        "nested_loop": "NESTED_LOOP_JOIN" in ops or "BLOCKWISE_NL_JOIN" in ops,
    }
    result["product_peak_rss_mb"] = round(peak_rss_mb(), 1)

    if naive_repeat < 1:  # the product alone
        result["questions"] = q
        return _finish(result, q, store, directory, as_of=as_of, repeat=repeat, pages=pages,
                       only_pages=only_pages, naive_page=False, naive_repeat=0, progress=progress)
    # the naive approach, same questions
    progress("naive kpis")
    n_s, n_runs, n_val = timed(lambda: naive_kpis(directory, as_of=as_of), naive_repeat)
    q["kpis"].update(naive_s=n_s, naive_runs_s=n_runs, agree=_agree_kpis(p_val, n_val))
    progress("naive map")

    def naive_map_bytes() -> tuple[int, int, float]:
        deck, frame = naive_map(directory, as_of=as_of, statuses=MAP_STATUSES)
        return len(deck.to_json().encode("utf-8")), len(frame), float(frame["area_m2"].sum())

    n_s, n_runs, (n_bytes, n_parcels, n_area) = timed(naive_map_bytes, naive_repeat)
    q["parcel_map"].update(naive_s=n_s, naive_runs_s=n_runs, naive_bytes=n_bytes, naive_parcels=n_parcels,
                           agree=n_parcels == md.parcels == parcels_drawn and abs(n_area - area_drawn) < 1.0)
    progress("naive released by month")
    n_s, n_runs, n_month = timed(lambda: naive_released_by_month(directory, as_of=as_of), naive_repeat)
    q["released_by_month"].update(
        naive_s=n_s, naive_runs_s=n_runs,
        agree=len(n_month) == len(p_month) and bool(np.allclose(n_month["cumulative_m2"].to_numpy(),
                                                                 p_month["cumulative_m2"].to_numpy(), atol=0.1)))
    progress("naive firms near released land")
    n_s, n_runs, n_near = timed(lambda: naive_firms_near(directory, as_of=as_of), naive_repeat)
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
        child = pages_in_child(directory, as_of=as_of, repeat=repeat, naive=False, only=only_pages,
                                progress=progress)
        result["pages"] = child.get("pages", {"error": {"error": child.get("error", "?")}})
        result["server_peak_rss_mb"] = child.get("peak_rss_mb")
        if naive_page and naive_repeat > 0:
            child = pages_in_child(directory, as_of=as_of, repeat=naive_repeat, naive=True, progress=progress)
            result["pages"].update(child.get("pages", {"naive": {"error": child.get("error", "?")}}))
            result["naive_page_peak_rss_mb"] = child.get("peak_rss_mb")
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
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


