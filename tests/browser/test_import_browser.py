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
