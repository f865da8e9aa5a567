"""The import page in real Chromium: upload a GeoJSON, read the report and the change map, confirm."""

from __future__ import annotations

import shutil

import pytest

from dayuan_geo.dataset import files as dataset
from tests.hostile.corpus import Sample, parcel_rows

from .conftest import SCREENSHOTS, AppServer


@pytest.fixture()
def import_server(demo_dir, browser, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    server = AppServer(data)
    yield server, data
    server.stop()


def test_upload_check_confirm(import_server, page, tmp_path):
    server, data = import_server
    upload = tmp_path / "新地块.geojson"
    parcel_rows(Sample.of(data), 3).to_file(upload)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto(server.url + "/import", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stFileUploader"]', timeout=60_000)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(upload))
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="检查文件").click()
    page.wait_for_selector("text=检查通过", timeout=60_000)
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
    page.wait_for_timeout(2000)
    assert dataset.read_manifest(data)["dataset_version"] == 1
    page.screenshot(path=str(SCREENSHOTS / "import-check.png"), full_page=True)
    chart = page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    chart.screenshot(path=str(SCREENSHOTS / "import-preview-map.png"))
    page.get_by_role("button", name="确认导入").click()
    page.wait_for_selector("text=已导入，数据版本 v2", timeout=60_000)
    assert dataset.read_manifest(data)["dataset_version"] == 2
    assert dataset.validate(data) == []
    assert not page.locator('[data-testid="stException"]').count()
    # a deep link makes Streamlit probe /import/_stcore/...; those 404s are its own, not the page's
    assert all(u.split("/import/", 1)[-1].startswith("_stcore/") for u in missing), missing
    assert all("404" in e for e in page.console_errors), page.console_errors


def test_titled_ledger_reports_in_chinese(import_server, page, tmp_path):
    """A village's Excel 台账 (title row, blank row, no 行业 column) checks in one step, reported in Chinese."""
    import datetime as dt

    import geopandas as gpd
    import openpyxl

    from tests.hostile.corpus import uscc

    server, data = import_server
    point = gpd.read_parquet(dataset.table_path(data, "parcels")).geometry.iloc[2].representative_point()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    ws["A1"] = "大源街道物流企业安全风险台账（2024年）"
    ws.merge_cells("A1:G1")
    ws.append([])
    ws.append(["企业编号", "企业名称", "统一社会信用代码", "风险等级", "列入日期", "经度", "纬度"])
    ws.append(["TZ-1", "广州市台账快运有限公司", uscc("91440111MA5T00001"), "黑榜", dt.datetime(2024, 3, 5),
               point.x, point.y])
    upload = tmp_path / "台账.xlsx"
    wb.save(upload)
    page.goto(server.url + "/import", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stFileUploader"]', timeout=60_000)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(upload))
    page.wait_for_timeout(1000)
    page.get_by_label("导入到").click()
    page.get_by_role("option", name="企业 (firms)").click()
    page.get_by_role("button", name="检查文件").click()
    page.wait_for_selector("text=检查通过", timeout=60_000)
    body = page.inner_text("body")
    assert "工作表 台账" in body and "读取 1 行" in body
    page.screenshot(path=str(SCREENSHOTS / "import-ledger.png"), full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
