"""The firms page in real Chromium: the firm map draws, a link zooms to a firm and opens its
story, and a real click on another firm's point (its pixel computed from the view state) opens
that firm's story instead."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd

from dayuan_geo.safety import queries as safety

from .conftest import SCREENSHOTS

FOCUS = "F0000147"
ZOOM = 16  # the zoom the page uses for ?firm=
TILE = 512  # deck.gl's world size in pixels at zoom 0


def _pixel_offset(lon0: float, lat0: float, lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Screen offset (x right, y down) of (lon, lat) from the view centre (lon0, lat0), Web Mercator."""
    scale = TILE * 2**zoom

    def y(phi: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(phi) / 2))

    return (lon - lon0) / 360 * scale, -(y(lat) - y(lat0)) / (2 * math.pi) * scale


def _neighbour(demo_dir) -> tuple[str, str, str, tuple[float, float]]:
    """A risky firm near the focus whose point stands clear of every other risky point on screen."""
    firms = gpd.read_parquet(demo_dir / "firms.parquet")
    risky = firms[firms["risk_level"].isin(safety.RISKY_LEVELS)]
    focus = firms.set_index("firm_id").loc[FOCUS]
    lon0, lat0 = focus.geometry.x, focus.geometry.y
    px = {f: _pixel_offset(lon0, lat0, g.x, g.y, ZOOM) for f, g in zip(risky["firm_id"], risky.geometry, strict=True)}
    best = None
    for fid, (dx, dy) in px.items():
        if fid == FOCUS or abs(dx) > 400 or abs(dy) > 250:
            continue
        clearance = min(math.dist((dx, dy), p) for f, p in px.items() if f != fid)
        if clearance >= 20 and (best is None or math.hypot(dx, dy) < math.hypot(*px[best])):
            best = fid
    assert best is not None, "no risky firm stands clear near the focus"
    row = firms.set_index("firm_id").loc[best]
    return best, row["name"], focus["name"], px[best]


def _wait_until_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until the script run is over (Streamlit's running indicator gone); the machine is shared."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout_ms)


def _known_deep_link_probe(url: str) -> bool:
    # Opened at /firms, Streamlit's frontend first asks /firms/_stcore/... then falls back to /_stcore
    return "/firms/_stcore/" in url


def test_firm_link_zooms_and_a_click_opens_another_story(app_server, page, demo_dir):
    bad_responses = []
    page.on("response", lambda r: bad_responses.append(r.url) if r.status >= 400 else None)
    _, other_name, focus_name, (dx, dy) = _neighbour(demo_dir)

    page.goto(f"{app_server.url}/firms?firm={FOCUS}", wait_until="domcontentloaded")
    page.wait_for_selector(f"text=企业档案：{focus_name}", timeout=90_000)
    _wait_until_idle(page)
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', state="visible", timeout=90_000)
    page.wait_for_timeout(3000)  # let deck.gl draw its first frames
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    canvas.scroll_into_view_if_needed(timeout=60_000)
    box = canvas.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 300
    assert len(set(canvas.screenshot()[1000:4000])) > 20  # drawn, not blank
    metrics = page.locator('[data-testid="stMetric"]').all_inner_texts()
    assert any("12" in m and "黑榜企业" in m for m in metrics)

    x = box["x"] + box["width"] / 2 + dx
    y = box["y"] + box["height"] / 2 + dy
    page.mouse.move(x, y)
    page.wait_for_timeout(800)
    # the tooltip (values escaped) names the firm under the mouse
    page.locator(".deck-tooltip", has_text=other_name).first.wait_for(state="visible", timeout=15_000)
    page.mouse.click(x, y)
    page.wait_for_selector(f"text=企业档案：{other_name}", timeout=90_000)
    assert page.locator(f"text=企业档案：{focus_name}").count() == 0
    page.wait_for_timeout(1500)  # the story, below the map, is brought into view (it opened out of sight)
    top = page.locator(".st-key-firm_story").bounding_box()["y"]
    assert 0 < top < page.viewport_size["height"] / 2, top
    page.screenshot(path=str(SCREENSHOTS / "firms.png"), full_page=True)

    assert not page.locator('[data-testid="stException"]').count()
    unexpected = [u for u in bad_responses if not _known_deep_link_probe(u)]
    assert unexpected == []
    assert all("404" in e for e in page.console_errors), page.console_errors
    assert len(page.console_errors) <= len(bad_responses)


def test_list_exports_the_filtered_selection_as_csv(app_server, page, demo_dir):
    firms = gpd.read_parquet(demo_dir / "firms.parquet")
    rectifying = firms[firms["risk_level"].isin(safety.RISKY_LEVELS) & (firms["list_status"] == "rectifying")]
    page.goto(f"{app_server.url}/firms", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=90_000)
    _wait_until_idle(page)
    # filter by status: rectifying only
    page.locator('[data-testid="stMultiSelect"]').nth(1).click()
    page.get_by_role("option", name="整改中").click()
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="名单").click()
    page.wait_for_selector(f"text=共 {len(rectifying)} 家", timeout=90_000)
    _wait_until_idle(page)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="导出 CSV").first.click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith("\ufeff".encode())  # UTF-8 with BOM, so Excel shows Chinese
    lines = data.decode("utf-8-sig").strip().splitlines()
    assert "企业名称" in lines[0] and "统一社会信用代码" in lines[0]
    assert len(lines) == 1 + len(rectifying)
    assert all("整改中" in line for line in lines[1:])
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(rectifying["firm_id"])


def test_switching_a_tab_runs_the_script_once(app_server, browser):
    """A click on a tab of the firms page costs one script run (counted from the websocket, as the
    browser benchmark counts), and the URL names the open tab, so a reload keeps it."""
    from benchmarks import browser as bench

    page, wire = bench.new_page(browser)
    try:
        load = bench.measure(page, wire, lambda: (page.goto(app_server.url + "/firms"), bench._canvas(page)),
                             first_load=True)
        assert load.runs == 1
        steps, urls = {}, {}
        for name, code in (("名单", "list"), ("临近释放地块", "near"), ("巡查", "inspections"), ("地图", "map")):
            tab = page.get_by_role("tab", name=name, exact=True)
            tab.wait_for(timeout=30_000)
            steps[name] = bench.measure(page, wire, tab.click)
            urls[code] = page.url
        assert {name: (m.reruns_asked, m.runs) for name, m in steps.items()} == {name: (1, 1) for name in steps}
        assert all(f"tab={code}" in url for code, url in urls.items() if code != "map")
        assert "tab=" not in urls["map"]  # the first tab is the default, left out of the link
        assert page.errors == []
    finally:
        page.context.close()
