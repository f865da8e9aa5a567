"""The overview in real Chromium: attention first, KPI cards and the map draw, the monthly briefing
downloads as a PDF holding the month's figures, and nothing fails in the console."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from .conftest import SCREENSHOTS


def wait_for_app(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)


def test_overview_shows_kpis_and_map(app_server, page):
    wait_for_app(page, app_server.url + "/")
    metrics = page.locator('[data-testid="stMetric"]')
    metrics.nth(11).wait_for(timeout=30_000)
    assert metrics.count() == 12  # four pace cards and eight headline cards
    assert "201.58" in metrics.nth(4).inner_text()
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    page.wait_for_timeout(2500)  # let deck.gl draw its first frames
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    box = canvas.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 300
    # the map canvas holds drawn pixels, not a blank surface
    shot = canvas.screenshot()
    assert len(set(shot[1000:4000])) > 20
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
    assert page.console_errors == []
    assert page.failed_requests == []


def test_overview_in_english(app_server, page):
    wait_for_app(page, app_server.url + "/?lang=en")
    # a metric's label, not the first match (an attention table's hidden accessible cell says it too)
    page.locator('[data-testid="stMetricLabel"]', has_text="Land released").first.wait_for(timeout=30_000)
    assert "Land released" in page.content()
    assert "Blacklisted firms" in page.content()
    assert "Needs attention" in page.content()


def test_briefing_pdf_downloads_from_the_overview(app_server, page, demo_dir, tmp_path):
    wait_for_app(page, app_server.url + "/")
    page.get_by_text("需要关注").first.wait_for(timeout=30_000)
    projects = pd.read_parquet(demo_dir / "remediation_projects.parquet")
    late = projects[(pd.to_datetime(projects["planned_finish"]) < "2026-11-20") & (projects["stage"] != "completed")]
    assert f"逾期最久 ({len(late)})" in page.content()
    button = page.get_by_role("button", name="下载 PDF")
    button.scroll_into_view_if_needed(timeout=30_000)
    with page.expect_download(timeout=120_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "大源街道土地释放工作汇报_2026-11.pdf"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    kpis = json.loads(subprocess.run(
        [sys.executable, "-m", "dayuan_geo", "--data-dir", str(demo_dir), "kpis", "--json"],
        capture_output=True, text=True, check=True, timeout=120).stdout)
    if shutil.which("pdftotext"):
        path = tmp_path / "b.pdf"
        path.write_bytes(data)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert "大源街道土地释放与园区整治工作汇报（2026-11）" in text
        assert f"{kpis['released_area_m2'] / 10_000:,.2f} 万㎡" in text
        assert "演示数据 · 几何为合成示意" in text
    log = (demo_dir.parent / "logs" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    entry = json.loads(log[-1])
    assert (entry["what"], entry["detail"]["file"], entry["role"]) == ("briefing", download.suggested_filename,
                                                                       "planner")
    assert not page.locator('[data-testid="stException"]').count()
    assert page.console_errors == []
