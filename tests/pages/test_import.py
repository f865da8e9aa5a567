"""AppTest runs of the import page: report, preview map of changes, confirm, history and restore."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from streamlit.testing.v1 import AppTest

from dayuan_geo import audit
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import versions
from dayuan_geo.ingest import run as ingest
from tests.hostile.corpus import Sample, parcel_rows

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture()
def page_env(data_copy, monkeypatch):
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(data_copy))
    return data_copy


def open_page(lang: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    if lang:
        at.query_params["lang"] = lang
    at.run()
    at.switch_page("pages/import.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def checked(at: AppTest, path: Path, **options) -> AppTest:
    """What the page's Check button stores (AppTest cannot drive a file upload)."""
    opts = {"path": str(path), "name": path.name, "table": "parcels", "mode": "append", "crs": "", "skip": False,
            "mapping": {}, **options}
    result = ingest.run_import(path, table=opts["table"], directory=dataset.data_dir(), user="t", role="planner",
                               mode=opts["mode"], dry_run=True, display_name=path.name)
    at.session_state["_import_checked"] = {"options": opts, "report": result.report, "preview": result.preview,
                                           "diff": result.diff}
    return at.run()


def test_page_shows_form_and_history(page_env):
    at = open_page()
    assert at.title[0].value == "导入数据文件"
    assert [s.label for s in at.selectbox][:3] == ["导入到", "方式", "坐标系"]
    history = at.dataframe[0].value
    assert history["版本"].tolist() == ["v1（当前）"]
    assert history["说明"].tolist() == ["演示数据集（规模 S，随机种子 20201）"]
    assert history["时间"].iloc[0].endswith("北京时间")  # China time with its zone, not UTC ISO


def test_check_preview_confirm_and_restore(page_env, tmp_path):
    path = tmp_path / "new-parcels.geojson"
    parcel_rows(Sample.of(page_env), 3).to_file(path)
    at = checked(open_page(), path)
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["新增"] == "3"
    assert any(t.value.startswith("已检查 new-parcels.geojson") for t in at.text)  # the report speaks Chinese
    spec = at.get("deck_gl_json_chart")[0].proto.json
    assert "BAD-000" in spec and "PolygonLayer" in spec
    rows = at.dataframe[0].value if "变更的记录" in at.dataframe[0].value.columns else at.dataframe[1].value
    assert sorted(rows["地块编号"]) == ["BAD-000", "BAD-001", "BAD-002"]
    assert dataset.read_manifest(page_env)["dataset_version"] == 1  # a check writes nothing
    at.button(key="import_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert dataset.read_manifest(page_env)["dataset_version"] == 2
    assert "v2" in " ".join(s.value for s in at.success)
    at.selectbox(key="restore_pick").set_value(1)
    at.button(key="restore_button").click().run()
    assert not at.exception
    assert dataset.read_manifest(page_env)["dataset_version"] == 3
    assert versions.history(page_env)[0]["note"] == "restored version 1"
    entries = audit.read(audit.audit_file(page_env))
    assert [e["action"] for e in entries].count("restore") == 1  # written once, by the operation
    assert [e for e in entries if e["action"] == "import"][-1]["detail"]["version"] == 2
    assert "v3" in " ".join(s.value for s in at.success)  # the page (and sidebar) moved to the new version


def test_refused_rows_speak_chinese_and_upsert_is_suggested(page_env, tmp_path):
    """An unmodified export re-imported in the default mode: one clear suggestion, not one error per row."""
    parcels = gpd.read_parquet(dataset.table_path(page_env, "parcels")).head(5)
    path = tmp_path / "parcels.geojson"
    parcels.drop(columns=["bbox"], errors="ignore").to_file(path)
    at = checked(open_page(), path)
    assert not at.exception
    info = " ".join(i.value for i in at.info)
    assert "5 条记录已存在" in info and "更新或追加" in info
    problems = at.dataframe[0].value
    assert set(problems["级别"]) == {"错误"}
    assert all("已在地块中" in m and "--mode" not in m for m in problems["问题"])
    assert not [b for b in at.button if b.key == "import_confirm"]


def test_upsert_check_shows_before_and_after_with_labels(page_env, tmp_path):
    parcels = gpd.read_parquet(dataset.table_path(page_env, "parcels")).head(2).drop(columns=["bbox"], errors="ignore")
    old = parcels.ownership.tolist()
    parcels["ownership"] = ["state" if o == "collective" else "collective" for o in old]
    path = tmp_path / "parcels.geojson"
    parcels.to_file(path)
    at = checked(open_page(), path, mode="upsert")
    assert not at.exception
    diff = next(d.value for d in at.dataframe if "修改前" in d.value.columns)
    assert diff["字段"].tolist() == ["权属", "权属"]
    labels = {"collective": "集体", "state": "国有"}
    assert diff["修改前"].tolist() == [labels[o] for o in old]
    assert "确认后将生成新的数据版本" in " ".join(i.value for i in at.info)
    assert [b for b in at.button if b.key == "import_confirm"]


def test_a_check_that_changes_nothing_offers_no_confirm(page_env, tmp_path):
    parcels = gpd.read_parquet(dataset.table_path(page_env, "parcels")).head(3).drop(columns=["bbox"], errors="ignore")
    path = tmp_path / "same.geojson"
    parcels.to_file(path)
    at = checked(open_page("en"), path, mode="upsert")
    assert "nothing to import or confirm" in " ".join(i.value for i in at.info)
    assert not [b for b in at.button if b.key == "import_confirm"]


def test_refused_file_shows_report_in_english(page_env, tmp_path):
    path = tmp_path / "bad.geojson"
    parcel_rows(Sample.of(page_env), 2, release_status=["搬迁中", "not_started"]).to_file(path)
    at = checked(open_page("en"), path)
    assert not at.exception
    assert "nothing was imported" in " ".join(e.value for e in at.error)
    report = at.dataframe[0].value
    assert report.loc[0, "Row"] == "1" and report.loc[0, "Level"] == "Error"
    assert "unknown value" in report.loc[0, "Problem"]
    assert not [b for b in at.button if b.key == "import_confirm"]
