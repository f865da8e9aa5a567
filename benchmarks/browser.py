"""python -m dayuan_geo bench --browser: what a person waits for in a real browser.

AppTest times a page's script; a person waits for the script, the bytes, the browser drawing the
map in software (SwiftShader, as on the street offices' cloud desktops with no GPU) and any further
script runs the page triggers after it draws. So this drives Chromium with playwright against a
real Streamlit server, the server pinned to one core and the browser to another, and times each
interaction (first load, a filter change, a map click, a tab switch, the time slider) from the
browser's request to the last message applied plus two animation frames. It also counts the script
runs each interaction caused (Streamlit ends every run with a `script_finished` message) and the
bytes the server sent. The naive one-file geopandas page (benchmarks/naive_app.py) gets the same
interactions in the same run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.wire import Measure, measure, new_page
from dayuan_geo import schema as S
from dayuan_geo import settings

CHROMIUM = str(settings.get("DAYUAN_CHROMIUM"))
SOFTWARE_GL_ARGS = ["--use-gl=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu"]
COMMON_ARGS = ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
TILE = 512  # deck.gl's world width in pixels at zoom 0
NAIVE_APP = Path(__file__).resolve().parent / "naive_app.py"
GOTO_MS = 180_000  # the naive page at M takes 20-60 s to load: a page is measured, not abandoned
FLOOR_APP = Path(__file__).resolve().parent / "floor_app.py"  # a map, a chart, a table, no data
STORY_TAB = "整治项目"  # the parcel story's second tab (text.py: land_story_project)

# ---- the server and the browser -----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(script: Path, directory: Path, *, core: int | None, log: Path) -> Iterator[str]:
    """A Streamlit server of script (run from its project, the folder above benchmarks/ or of app.py)
    over directory's dataset, pinned to core; yields its URL."""
    project = script.parent.parent if script.parent.name == "benchmarks" else script.parent
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    env = {**os.environ, "DAYUAN_DATA_DIR": str(directory), "PYTHONPATH": str(project)}
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:  # noqa: S310
                        if r.status == 200:
                            break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"streamlit did not start; see {log}") from None
                    time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def chromium(*, gpu: bool = False, core: int | None = None) -> Iterator[object]:
    """Headless Chromium (Debian's), software WebGL unless gpu, pinned with this process to core."""
    from playwright.sync_api import sync_playwright

    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})  # playwright's driver and Chromium inherit it
    args = COMMON_ARGS + ([] if gpu else SOFTWARE_GL_ARGS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield browser
        finally:
            browser.close()


# ---- where to click -----------------------------------------------------------------------------

def pixel_offset(view: dict, lon: float, lat: float) -> tuple[float, float]:
    """Screen offset (x right, y down) of (lon, lat) from the centre of a Web Mercator view."""
    scale = TILE * 2 ** view["zoom"]

    def y(phi: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(phi) / 2))

    return ((lon - view["longitude"]) / 360 * scale, -(y(lat) - y(view["latitude"])) / (2 * math.pi) * scale)


@dataclass(frozen=True)
class Target:
    """The village a person picks and a parcel in it to click (its largest, on a point inside it)."""

    village_code: str
    village_name: str
    extent: tuple[float, float, float, float]
    park_id: str
    park_extent: tuple[float, float, float, float]  # the view after a click drills into the park
    lon: float
    lat: float


def pick_target(directory: Path) -> Target:
    import geopandas as gpd
    import pandas as pd

    villages = pd.read_parquet(directory / "villages.parquet", columns=["code", "name_zh"])
    parcels = gpd.read_parquet(directory / "parcels.parquet", columns=["parcel_id", "village_code", "park_id",
                                                                       "area_m2", "geometry"])
    from edge.land import PARK_OPTION_LIMIT

    code = str(sorted(parcels["village_code"].unique())[0])
    mine = parcels[parcels["village_code"] == code]
    # the park filter offers a village's first PARK_OPTION_LIMIT parks (by id): the parcel is in one
    offered = sorted(mine["park_id"].dropna().unique())[:PARK_OPTION_LIMIT]
    pickable = mine[mine["park_id"].isin(offered)]
    largest = pickable.loc[pickable["area_m2"].idxmax()]
    point = largest.geometry.representative_point()
    park = parcels[parcels["park_id"] == largest["park_id"]]
    name = str(villages.loc[villages["code"] == code, "name_zh"].iloc[0])
    return Target(code, name, tuple(float(v) for v in mine.total_bounds), str(largest["park_id"]),
                  tuple(float(v) for v in park.total_bounds), float(point.x), float(point.y))


def _canvas(page):
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    canvas.wait_for(timeout=120_000)
    return canvas


def _click_map(page, view: dict, target: Target) -> Callable[[], None]:
    """Hover the target until its tooltip shows (so the click lands on it), then the click to time."""
    canvas = _canvas(page)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    dx, dy = pixel_offset(view, target.lon, target.lat)
    x, y = box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy
    page.mouse.move(x, y)
    with contextlib.suppress(Exception):
        page.locator(".deck-tooltip").first.wait_for(state="visible", timeout=20_000)
    return lambda: page.mouse.click(x, y)


def _choose_village(page, target: Target) -> Callable[[], None]:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    box.click()
    option = page.get_by_role("option", name=target.village_name).first
    option.wait_for(timeout=30_000)
    return option.click


def _slider_step(page) -> Callable[[], None]:
    thumb = page.locator('[data-testid="stMain"] [data-testid="stSlider"] input[type="range"]').first
    thumb.wait_for(timeout=30_000)
    thumb.focus()
    return lambda: thumb.press("ArrowLeft")


# ---- the scenarios ------------------------------------------------------------------------------

def land_scenario(browser, url: str, target: Target, view_of: Callable[[tuple], dict]) -> dict[str, Measure]:
    """The product's land page: load, pick the village, click its largest parcel, switch the story's
    tab, step the time slider back a month. When the village is more than the map draws one by one
    the click lands on a park (which filters to it) or a grid cell (which opens nothing): the park is
    then chosen in the filter and its parcel clicked."""
    page, wire = new_page(browser)
    out = {"first load": measure(page, wire, lambda: (page.goto(url + "/land", timeout=GOTO_MS), _canvas(page)),
                                 first_load=True)}
    out["filter change"] = measure(page, wire, _choose_village(page, target))
    page.keyboard.press("Escape")
    out["map click"] = measure(page, wire, _click_map(page, view_of(target.extent), target))
    story_tab = page.get_by_role("tab", name=STORY_TAB)
    if not story_tab.count():
        if f"park={target.park_id}" not in page.url:
            out["filter change (park)"] = measure(page, wire, _choose_park(page, target))
            page.keyboard.press("Escape")
        out["map click (parcel)"] = measure(page, wire, _click_map(page, view_of(target.park_extent), target))
    story_tab.wait_for(timeout=30_000)
    out["tab switch"] = measure(page, wire, story_tab.click)
    out["time slider"] = measure(page, wire, _slider_step(page))
    page.context.close()
    return out


def _choose_park(page, target: Target) -> Callable[[], None]:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').nth(1)
    box.click()
    page.keyboard.type(target.park_id)
    option = page.get_by_role("option", name=re.compile(re.escape(target.park_id))).first
    option.wait_for(timeout=30_000)
    return option.click


def naive_scenario(browser, url: str, target: Target) -> dict[str, Measure]:
    """The naive page with the same interactions."""
    page, wire = new_page(browser)
    out = {"first load": measure(page, wire, lambda: (page.goto(url, timeout=GOTO_MS), _canvas(page)), first_load=True)}
    out["filter change"] = measure(page, wire, _choose_village(page, target))
    page.keyboard.press("Escape")
    x0, y0, x1, y1 = target.extent
    out["map click"] = measure(page, wire, _click_map(page, {"longitude": (x0 + x1) / 2,
                                                              "latitude": (y0 + y1) / 2, "zoom": 12}, target))
    tab = page.get_by_role("tab").nth(1)
    out["tab switch"] = measure(page, wire, tab.click)
    out["time slider"] = measure(page, wire, _slider_step(page))
    page.context.close()
    return out


def first_loads(browser, url: str, paths: list[str]) -> dict[str, Measure]:
    """Each page opened in a fresh browser context, from navigation to its last message drawn."""
    out = {}
    for path in paths:
        page, wire = new_page(browser)
        out[path] = measure(page, wire, lambda p=page, u=f"{url}/{path}": p.goto(u, timeout=GOTO_MS), first_load=True)
        page.context.close()
    return out


def revisits(browser, url: str, paths: list[str]) -> dict[str, Measure]:
    """Each page opened a second time in the same browser context: what a leader who opens the
    dashboard every day waits for, Streamlit's scripts already in the browser's cache. The second
    visit starts once the first has drawn its whole page, below the first screen too, and the
    browser has been idle: a day later nothing of yesterday's visit is still drawing."""
    out = {}
    for path in paths:
        page, wire = new_page(browser)
        measure(page, wire, lambda p=page, u=f"{url}/{path}": p.goto(u, timeout=GOTO_MS), first_load=True)
        page.wait_for_function("() => window.__bench.wholePageLacking() === 0", timeout=GOTO_MS)
        page.evaluate("() => new Promise(r => requestIdleCallback(() => r(), {timeout: 10000}))")
        page.wait_for_timeout(500)
        out[path] = measure(page, wire, lambda p=page, u=f"{url}/{path}": p.goto(u, timeout=GOTO_MS), first_load=True)
        page.context.close()
    return out


def _attempt(scenario: Callable[[], dict[str, Measure]], failures: list[str]) -> dict[str, Measure] | None:
    """One run of a scenario; a run the browser cannot finish (a page still drawing after the
    timeout) is noted, not fatal: the other runs and pages are still measured."""
    try:
        return scenario()
    except Exception as e:  # playwright's timeouts and closed pages alike
        failures.append(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
        return None


def _median(runs: list[dict[str, Measure] | None]) -> dict[str, dict]:
    runs = [r for r in runs if r]
    keys = list(dict.fromkeys(k for r in runs for k in r))
    out = {}
    for k in keys:
        ms = [r[k] for r in runs if k in r]
        out[k] = {"seconds": round(statistics.median(m.seconds for m in ms), 3),
                  "runs": sorted({m.runs for m in ms}), "bytes": int(statistics.median(m.bytes for m in ms)),
                  "last_message_s": round(statistics.median(m.last_message_s for m in ms), 3),
                  "settled_s": round(statistics.median(m.settled_s for m in ms), 3),
                  "all_seconds": [m.seconds for m in ms]}
    return out


def run(directory: Path, *, repeat: int = 3, gpu: bool = False, naive: bool = True,
        pages: tuple[str, ...] = ("overview", "land", "remediation", "firms"),
        progress: Callable[[str], None] = lambda _s: None, log_dir: Path | None = None,
        app: Path = S.PROJECT_DIR / "server.py") -> dict:
    """The browser benchmark over directory's dataset: medians of repeat runs of each scenario.

    app is the product as `make run` serves it (another checkout's server.py compares a change with main)."""
    from dayuan_geo.land import views as land_views

    log_dir = log_dir or Path(tempfile.gettempdir())
    target = pick_target(directory)
    two_cores = (os.cpu_count() or 1) >= 2
    server_core, browser_core = (0, 1) if two_cores else (None, None)
    result: dict = {"scale_parcels": None, "gl": "gpu" if gpu else "software (SwiftShader)",
                    "pinned": two_cores, "repeat": repeat, "measured_at": dt.datetime.now(dt.UTC).isoformat(
                        timespec="seconds"), "village": target.village_code}
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        with chromium(gpu=gpu, core=browser_core) as browser:
            with serve(app, directory, core=server_core, log=log_dir / "bench-app.log") as url:
                progress("product: warming the server")
                first_loads(browser, url, list(pages))  # warm: every page's queries cached once
                product_runs, load_runs, failures = [], [], []
                for i in range(repeat):
                    progress(f"product: run {i + 1} of {repeat}")
                    load_runs.append(_attempt(lambda: first_loads(browser, url, [p for p in pages if p != "land"]),
                                              failures))
                    product_runs.append(_attempt(lambda: land_scenario(browser, url, target, land_views.opening_view),
                                                 failures))
                result["land"] = _median(product_runs)
                result["first_loads"] = _median(load_runs)
                result["revisits"] = _median([_attempt(lambda: revisits(browser, url, list(pages)), failures)
                                              for _ in range(repeat)])
                result["product_failures"] = failures
            with serve(FLOOR_APP, directory, core=server_core, log=log_dir / "bench-floor.log") as url:
                progress("floor page")
                first_loads(browser, url, [""])
                failures = result["product_failures"]
                result["floor"] = _median([_attempt(lambda: first_loads(browser, url, [""]), failures)
                                           for _ in range(repeat)]).get("")
                result["floor_revisit"] = _median([_attempt(lambda: revisits(browser, url, [""]), failures)
                                                   for _ in range(repeat)]).get("")
            if naive:
                with serve(NAIVE_APP, directory, core=server_core, log=log_dir / "bench-naive.log") as url:
                    progress("naive page: warming the server")
                    first_loads(browser, url, [""])
                    naive_runs, failures = [], []
                    for i in range(repeat):
                        progress(f"naive page: run {i + 1} of {repeat}")
                        naive_runs.append(_attempt(lambda: naive_scenario(browser, url, target), failures))
                    result["naive"] = _median(naive_runs)
                    result["naive_revisit"] = _median([_attempt(lambda: revisits(browser, url, [""]), failures)
                                                       for _ in range(repeat)]).get("")
                    result["naive_failures"] = failures
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    return result


def report(r: dict, *, scale: str = "") -> str:
    """The result as the Markdown table docs/benchmarks.md keeps."""
    lines = [f"#### Scale {scale} — {r['gl']}, server and browser pinned to separate cores: "
             f"{'yes' if r['pinned'] else 'no'}; medians of {r['repeat']} runs ({r['measured_at']})", "",
             "| land page interaction | product | script runs | sent | naive page | script runs | sent |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    naive = r.get("naive", {})
    for name, m in r.get("land", {}).items():
        n = naive.get(name)
        lines.append(f"| {name} | {m['seconds']:.2f} s | {', '.join(map(str, m['runs']))} | "
                     f"{m['bytes'] / 1e6:.2f} MB | "
                     + (f"{n['seconds']:.2f} s | {', '.join(map(str, n['runs']))} | {n['bytes'] / 1e6:.2f} MB |"
                        if n else "— | — | — |"))
    for who in ("product", "naive"):
        for failure in r.get(f"{who}_failures") or []:
            lines.append(f"\n{who} run not finished: {failure}")
    lines += ["", "| page | first visit: screen drawn | its last message + 2 frames | script runs | sent "
              "| revisit (scripts cached) | its last message + 2 frames | script runs |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    loads = {**({"land": r["land"]["first load"]} if "first load" in r.get("land", {}) else {}),
             **r.get("first_loads", {})}
    again = r.get("revisits", {})
    if "first load" in naive:
        loads["naive page"] = naive["first load"]
        again = {**again, "naive page": r.get("naive_revisit")}
    if r.get("floor"):
        loads["floor: a map, a chart, a table, no data"] = r["floor"]
        again = {**again, "floor: a map, a chart, a table, no data": r.get("floor_revisit")}
    for name, m in loads.items():
        v = again.get(name)
        lines.append(f"| {name} | {m['seconds']:.2f} s | {m['settled_s']:.2f} s | "
                     f"{', '.join(map(str, m['runs']))} | "
                     f"{m['bytes'] / 1e6:.2f} MB | "
                     + (f"{v['seconds']:.2f} s | {v['settled_s']:.2f} s | {', '.join(map(str, v['runs']))} |"
                        if v else "— | — | — |"))
    return "\n".join(lines) + "\n"
