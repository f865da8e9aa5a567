"""The remediation tracker in real Chromium: the parks map draws and a click on a park opens its story,
the timeline's section draws the Gantt, and nothing fails in the console."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import shapely

from dayuan_geo.demo import build as demo
from dayuan_geo.maps.view import fit_view
from dayuan_geo.remediation import views as remediation_views

from .conftest import SCREENSHOTS


def _world(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator world coordinates of deck.gl at zoom 0 (512 px tiles)."""
    x = (lon + 180) / 360 * 512
    y = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * 512
    return x, y


def _open(page, url: str, link: str) -> None:
    """Open the app at url and go to the tracker through the sidebar, as a person would."""
    page.goto(url, wait_until="domcontentloaded")
    page.locator('[data-testid="stSidebarNav"]').get_by_text(link).click(timeout=60_000)
    page.wait_for_selector("text=" + link, timeout=90_000)
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=90_000)  # the map section opens first
    page.wait_for_timeout(2500)  # let deck.gl draw its first frames


def _section(page, name: str) -> None:
    """Open one of the page's sections (only the open one is built: a script run)."""
    page.get_by_role("tab", name=name).click()
    page.wait_for_function("""(name) => [...document.querySelectorAll('[role="tab"]')]
        .some(t => t.innerText.includes(name) && t.getAttribute('aria-selected') === 'true')""", arg=name,
                           timeout=60_000)


def test_map_and_gantt_draw_and_a_park_click_tells_its_story(app_server, page, demo_dir):
    _open(page, app_server.url + "/", "整治进展")
    metrics = page.locator('[data-testid="stMetric"]')
    assert metrics.count() == 4
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    box = canvas.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 300
    assert len(set(canvas.screenshot()[1000:4000])) > 20  # drawn pixels, not a blank surface
    legend = page.locator("text=土地整备移交").first
    assert legend.is_visible()

    # click the biggest park: its point on surface, projected the way deck.gl does
    parks = pd.read_parquet(demo_dir / "parks.parquet")
    villages = pd.read_parquet(demo_dir / "villages.parquet")
    vgeom = shapely.from_wkb(villages["geometry"].to_numpy())
    xmin, ymin, xmax, ymax = shapely.total_bounds(vgeom)
    center = _world((xmin + xmax) / 2, (ymin + ymax) / 2)
    big = parks.sort_values("area_m2", ascending=False).iloc[0]
    point = shapely.point_on_surface(shapely.from_wkb(big["geometry"]))
    target = _world(point.x, point.y)
    # the park map opens on the whole street fitted to its width on a desktop (the page's fit_view)
    scale = 2 ** fit_view((float(xmin), float(ymin), float(xmax), float(ymax)),
                          width_px=remediation_views.MAP_WIDTH_PX, height_px=540)["zoom"]
    dx = box["width"] / 2 + (target[0] - center[0]) * scale
    dy = box["height"] / 2 + (target[1] - center[1]) * scale
    assert 0 < dx < box["width"] and 0 < dy < box["height"]
    canvas.click(position={"x": dx, "y": dy})  # scrolls the map into view first
    page.locator("h4", has_text=big["name"]).wait_for(timeout=90_000)  # the story's heading
    page.wait_for_selector("text=各阶段日期", timeout=90_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SCREENSHOTS / "remediation.png"), full_page=True)

    # the timeline's section: a bar per project in the planned trace, today's line and the overdue marks
    _section(page, "项目时间线")
    page.wait_for_selector(".st-key-rem_gantt .js-plotly-plot", timeout=90_000)
    assert "tab=timeline" in page.url
    gantt = page.locator(".st-key-rem_gantt .js-plotly-plot").first
    assert gantt.locator("g.barlayer path").count() > 64
    assert gantt.locator("g.shapelayer path").count() >= 1
    assert "2026-11-20" in gantt.inner_text()
    assert gantt.locator("g.scatterlayer path.point").count() >= 13
    assert not page.locator('[data-testid="stDeckGlJsonChart"]').count()  # the map's section is closed
    assert not page.locator('[data-testid="stException"]').count()
    assert page.console_errors == []
    assert page.failed_requests == []


def test_project_list_downloads_as_excel_friendly_csv(app_server, page, demo_dir):
    _open(page, app_server.url + "/", "整治进展")
    _section(page, "全部项目与导出")
    name = f"整治项目_{demo.DEFAULT_AS_OF.isoformat()}"  # the list, no filter, the data date
    key = re.sub(r"[^a-zA-Z0-9_-]", "-", f"export-{name}-csv")  # how Streamlit turns a key into a class
    button = page.locator(f".st-key-{key} button")
    button.scroll_into_view_if_needed()
    with page.expect_download(timeout=60_000) as info:
        button.click()
    assert info.value.suggested_filename == f"{name}.csv"
    data = Path(info.value.path()).read_bytes()
    assert data.startswith("\ufeff".encode())
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("项目编号,项目名称,园区编号")
    assert len(lines) - 1 == len(pd.read_parquet(demo_dir / "remediation_projects.parquet"))
    assert page.console_errors == []


def test_tracker_in_english(app_server, page):
    _open(page, app_server.url + "/?lang=en", "Remediation tracker")
    page.wait_for_selector("text=Stage pipeline", timeout=30_000)
    _section(page, "Project timeline")
    page.wait_for_selector(".st-key-rem_gantt .js-plotly-plot", timeout=90_000)
    assert "Planned (grey) against actual stages" in page.locator(".st-key-rem_gantt").inner_text()
    assert page.console_errors == []
