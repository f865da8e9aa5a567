"""Good files in every format and coordinate system, imported and checked against independent sums."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from dayuan_geo import chinacrs
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import versions
from dayuan_geo.ingest import run as ingest
from dayuan_geo.store import Store
from tests.hostile.corpus import uscc

ROOT = Path(__file__).resolve().parents[2]


def current(directory: Path, table: str) -> pd.DataFrame:
    path = dataset.table_path(directory, table)
    return gpd.read_parquet(path) if S.table(table).has_geometry else pd.read_parquet(path)


def run(path: Path, directory: Path, table: str, **options) -> ingest.ImportResult:
    result = ingest.run_import(path, table=table, directory=directory, user="planner1", role="planner", **options)
    assert dataset.validate(directory) == []
    return result


def metric(geoms) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs="EPSG:4326").to_crs(S.METRIC_CRS)


def rects_4547(center_lonlat: tuple[float, float], n: int, *, size=(120.0, 80.0), step=300.0) -> list:
    """n rectangles in EPSG:4547 metres east of a point of the street."""
    x0, y0 = gpd.GeoSeries([shapely.Point(center_lonlat)], crs=4326).to_crs(4547).iloc[0].coords[0]
    w, h = size
    return [shapely.box(x0 + i * step, y0, x0 + i * step + w + 10 * i, y0 + h) for i in range(n)]


@pytest.fixture()
def street_point(data_copy) -> tuple[float, float]:
    parcels = current(data_copy, "parcels")
    p = parcels.geometry.iloc[0].representative_point()
    return (p.x, p.y)


# ---- published conversion pairs ------------------------------------------------------------------

# wandergis/coordtransform, test/app.js: conversions of (116.404, 39.915) published with the library.
PUBLISHED = {
    "wgs84_to_gcj02": (116.41024449916938, 39.91640428150164),
    "gcj02_to_bd09": (116.41036949371029, 39.92133699351021),
    "gcj02_to_wgs84": (116.39775550083061, 39.91359571849836),
    "bd09_to_gcj02": (116.39762729119315, 39.90865673957631),
}


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    pts = gpd.GeoSeries([shapely.Point(a), shapely.Point(b)], crs=4326).to_crs(3857)
    scale = np.cos(np.radians(a[1]))
    return float(pts.iloc[0].distance(pts.iloc[1]) * scale)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_china_conversions_match_published_pairs_to_a_metre(name):
    lon, lat = getattr(chinacrs, name)(116.404, 39.915)
    assert metres_between((float(lon), float(lat)), PUBLISHED[name]) < 0.5


def test_china_round_trips_are_sub_centimetre_around_the_street():
    lon = np.linspace(113.25, 113.45, 30)
    lat = np.linspace(23.18, 23.33, 30)
    pairs = ((chinacrs.wgs84_to_gcj02, chinacrs.gcj02_to_wgs84), (chinacrs.wgs84_to_bd09, chinacrs.bd09_to_wgs84))
    for fwd, back in pairs:
        x, y = back(*fwd(lon, lat))
        assert np.abs(x - lon).max() < 1e-7 and np.abs(y - lat).max() < 1e-7


# ---- vector formats ------------------------------------------------------------------------------

def _bureau_frame(data_copy, point, n=3) -> gpd.GeoDataFrame:
    parcels = current(data_copy, "parcels")
    park = str(parcels.park_id.dropna().iloc[0])
    return gpd.GeoDataFrame({
        "parcel_id": [f"GZ-{i:03d}" for i in range(n)],
        "park_id": [park] * n,
        "name": [f"石湖村测试地块{i}号（腾退）" for i in range(n)],
        "current_use": ["W1"] * n,
        "planned_use": ["M0 新型产业用地"] * n,
        "ownership": ["集体"] * n,
        "release_status": ["已释放", "腾退中", "未启动"][:n],
        "released_on": ["2025-06-30", None, None][:n],
        "面积": [1.0] * n,  # wrong on purpose: areas are measured, not trusted
    }, geometry=rects_4547(point, n), crs="EPSG:4547")


@pytest.mark.parametrize("cpg", [True, False], ids=["with-cpg", "gbk-detected"])
def test_shapefile_in_cgcs2000_with_gbk_attributes(data_copy, tmp_path, street_point, cpg):
    frame = _bureau_frame(data_copy, street_point)
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    pyogrio.write_dataframe(frame, shp_dir / "地块.shp", encoding="GBK")
    (shp_dir / "地块.cpg").unlink(missing_ok=True)
    if cpg:
        (shp_dir / "地块.cpg").write_text("936")  # the code page number ArcGIS writes for GBK
    dbf = (shp_dir / "地块.dbf").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        dbf.decode("utf-8")  # the attributes really are GBK
    zpath = tmp_path / "bureau.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f"地块/{f.name}")
    result = run(zpath, data_copy, "parcels")
    report = result.report
    assert report.status == "imported", report.to_text()
    assert report.fmt == "Shapefile" and "Gauss-Kruger CM 114E" in report.crs
    assert report.mapping["release_status"] == "release_st"  # the 10-character shapefile field
    assert report.added == 3
    assert any("measures" in i.message for i in report.issues)  # the file's wrong areas are reported
    got = current(data_copy, "parcels").set_index("parcel_id").loc[frame.parcel_id]
    assert list(got.name) == list(frame.name)
    assert list(got.release_status) == ["released", "vacating", "not_started"]
    assert got.released_on.iloc[0] == dt.date(2025, 6, 30)
    np.testing.assert_allclose(got.area_m2.to_numpy(), frame.geometry.area.to_numpy(), rtol=1e-6)
    back = metric(got.geometry)
    for a, b in zip(back, frame.geometry, strict=True):
        assert a.hausdorff_distance(b) < 0.01  # centimetres after the round trip through WGS 84
    assert got.village_code.notna().all()


def test_geopackage_firms_with_labels_and_derived_village_and_grid(data_copy, tmp_path, street_point):
    lon, lat = street_point
    pts = [shapely.Point(lon + 0.0003 * i, lat + 0.0002 * i) for i in range(4)]
    frame = gpd.GeoDataFrame({
        "firm_id": [f"FG{i}" for i in range(4)],
        "企业名称": [f"广州市测试物流{i}有限公司" for i in range(4)],
        "统一社会信用代码": [uscc(f"91440111MA59{i:02d}XY1") for i in range(4)],
        "行业": ["快递", "Freight", "cold_chain", "仓储"],
        "风险等级": ["黑榜", "高危", "一般", "Blacklisted"],
        "列入日期": ["2025-03-01", "2025/4/2", None, "2025年5月3日"],
    }, geometry=pts, crs="EPSG:4326")
    path = tmp_path / "firms.gpkg"
    frame.to_file(path, layer="企业")
    result = run(path, data_copy, "firms")
    assert result.report.status == "imported", result.report.to_text()
    got = current(data_copy, "firms").set_index("firm_id").loc[frame.firm_id]
    assert list(got.risk_level) == ["blacklisted", "high_risk", "normal", "blacklisted"]
    assert list(got.industry) == ["express", "freight", "cold_chain", "warehousing"]
    assert got.listed_on.iloc[3] == dt.date(2025, 5, 3)
    villages = current(data_copy, "villages")
    grids = current(data_copy, "grids")
    expect_v = gpd.sjoin(frame, villages[["code", "geometry"]], predicate="within").code
    expect_g = gpd.sjoin(frame, grids[["grid_id", "geometry"]], predicate="within").grid_id
    assert list(got.village_code) == list(expect_v)
    assert list(got.grid_id) == list(expect_g)
    assert all(a.equals_exact(b, 1e-12) for a, b in zip(got.geometry, frame.geometry, strict=True))


@pytest.mark.skipif("OpenFileGDB" not in pyogrio.list_drivers(write=True), reason="GDAL cannot write FileGDB")
def test_zipped_file_geodatabase_upsert(data_copy, tmp_path):
    parcels = current(data_copy, "parcels")
    old = parcels.iloc[:2].copy()
    changed = gpd.GeoDataFrame({
        "parcel_id": [*old.parcel_id, "GDB-NEW"],
        "park_id": [*old.park_id, old.park_id.iloc[0]],
        "name": [*old.name, "新增地块"],
        "current_use": ["W1"] * 3, "planned_use": ["M1"] * 3, "ownership": ["state"] * 3,
        "release_status": ["released", "released", "vacating"],
        "released_on": ["2025-01-15", "2025-01-16", None],
    }, geometry=[*old.geometry.buffer(0.0001, join_style="mitre"),
                 shapely.affinity.translate(old.geometry.iloc[0], 0.004, 0)], crs="EPSG:4326").to_crs(4547)
    gdb = tmp_path / "bureau.gdb"
    pyogrio.write_dataframe(changed, gdb, layer="parcels", driver="OpenFileGDB")
    zpath = tmp_path / "bureau.gdb.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in gdb.iterdir():
            zf.write(f, f"bureau.gdb/{f.name}")
    result = run(zpath, data_copy, "parcels", mode="upsert")
    report = result.report
    assert report.status == "imported", report.to_text()
    assert report.fmt == "File Geodatabase"
    assert (report.added, report.changed, report.removed) == (1, 2, 0)
    got = current(data_copy, "parcels").set_index("parcel_id")
    assert len(got) == len(parcels) + 1
    expect_area = changed.set_index("parcel_id").geometry.area
    np.testing.assert_allclose(got.loc[expect_area.index, "area_m2"], expect_area, rtol=1e-6)
    assert set(result.preview.change) == {"added", "changed"}


def test_geojson_with_invalid_polygon_repaired_and_reported(data_copy, tmp_path, street_point):
    lon, lat = street_point
    d = 0.001
    bowtie = shapely.Polygon([(lon, lat), (lon + d, lat + d), (lon + d, lat), (lon, lat + d), (lon, lat)])
    assert not bowtie.is_valid
    parcels = current(data_copy, "parcels")
    frame = gpd.GeoDataFrame({
        "parcel_id": ["GJ-1"], "park_id": [parcels.park_id.dropna().iloc[0]], "name": ["蝴蝶形地块"],
        "current_use": ["W1"], "planned_use": ["G1"], "ownership": ["collective"], "release_status": ["not_started"],
    }, geometry=[bowtie], crs="EPSG:4326")
    path = tmp_path / "bowtie.geojson"
    frame.to_file(path)
    result = run(path, data_copy, "parcels")
    assert result.report.status == "imported", result.report.to_text()
    assert [i.level for i in result.report.issues if i.row == 1] == ["repaired"]
    got = current(data_copy, "parcels").set_index("parcel_id").loc["GJ-1"]
    assert got.geometry.is_valid
    expect = gpd.GeoSeries([shapely.make_valid(bowtie)], crs=4326).to_crs(4547).area.iloc[0]
    assert got.area_m2 == pytest.approx(expect, rel=1e-9)


def test_geoparquet_in_cgcs2000(data_copy, tmp_path, street_point):
    frame = gpd.GeoDataFrame({
        "park_id": ["PQ1", "PQ2"], "name": ["测试物流园甲", "测试物流园乙"], "village_code": ["440111021201"] * 2,
        "party_org": ["是", "否"], "micro_fire_station": [True, False],
    }, geometry=rects_4547(street_point, 2, size=(400.0, 300.0), step=900.0), crs="EPSG:4547")
    path = tmp_path / "parks.parquet"
    frame.to_parquet(path)
    result = run(path, data_copy, "parks")
    assert result.report.status == "imported", result.report.to_text()
    got = current(data_copy, "parks").set_index("park_id").loc[["PQ1", "PQ2"]]
    np.testing.assert_allclose(got.area_m2, frame.geometry.area, rtol=1e-6)
    assert list(got.party_org) == [True, False]


# ---- tables with coordinates ---------------------------------------------------------------------

def _firm_ledger(point, n=3) -> tuple[pd.DataFrame, list[tuple[float, float]]]:
    lon, lat = point
    truth = [(lon + 0.0004 * i, lat - 0.0003 * i) for i in range(n)]
    frame = pd.DataFrame({
        "企业编号": [f"FC{i}" for i in range(n)],
        "企业名称": [f"广州市测试冷链{i}有限公司" for i in range(n)],
        "统一社会信用代码": [uscc(f"91440111MA5A{i:02d}QW2") for i in range(n)],
        "行业": ["冷链"] * n,
        "风险等级": ["高危"] * n,
    })
    return frame, truth


@pytest.mark.parametrize(("crs", "forward", "encoding"), [
    ("gcj02", chinacrs.wgs84_to_gcj02, "utf-8-sig"),
    ("bd09", chinacrs.wgs84_to_bd09, "gbk"),
])
def test_csv_points_from_chinese_map_apps(data_copy, tmp_path, street_point, crs, forward, encoding):
    frame, truth = _firm_ledger(street_point)
    lon, lat = forward(np.array([t[0] for t in truth]), np.array([t[1] for t in truth]))
    frame["经度"], frame["纬度"] = lon, lat
    path = tmp_path / f"firms-{crs}.csv"
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    result = run(path, data_copy, "firms", crs=crs)
    assert result.report.status == "imported", result.report.to_text()
    got = current(data_copy, "firms").set_index("firm_id").loc[frame.企业编号]
    assert list(got.name) == list(frame.企业名称)
    moved = metric(got.geometry)
    exact = metric([shapely.Point(t) for t in truth])
    assert max(a.distance(b) for a, b in zip(moved, exact, strict=True)) < 0.5  # sub-metre
    offset = metric([shapely.Point(x, y) for x, y in zip(lon, lat, strict=True)])
    assert min(a.distance(b) for a, b in zip(offset, exact, strict=True)) > 100  # the offset was real


def test_xlsx_ledger_updates_statuses_without_geometry(data_copy, tmp_path):
    parcels = current(data_copy, "parcels").set_index("parcel_id")
    ids = [i for i in parcels.index if parcels.loc[i, "release_status"] == "not_started"][:3]
    ledger = pd.DataFrame({
        "地块编号": ids,
        "地块名称": [parcels.loc[i, "name"] for i in ids],
        "面积": [round(parcels.loc[i, "area_m2"]) for i in ids],
        "腾退状态": ["已释放", "腾退中", "已出让"],
        "释放日期": [dt.datetime(2025, 9, 1), None, dt.datetime(2025, 10, 8)],
    })
    buf = io.BytesIO()
    ledger.to_excel(buf, index=False, sheet_name="台账")
    path = tmp_path / "腾退台账.xlsx"
    path.write_bytes(buf.getvalue())
    result = run(path, data_copy, "parcels", mode="upsert")
    assert result.report.status == "imported", result.report.to_text()
    assert (result.report.added, result.report.changed, result.report.removed) == (0, 3, 0)
    got = current(data_copy, "parcels").set_index("parcel_id")
    assert list(got.loc[ids, "release_status"]) == ["released", "vacating", "transferred"]
    assert got.loc[ids[0], "released_on"] == dt.date(2025, 9, 1)
    for i in ids:  # geometry and measured area untouched
        assert got.loc[i, "geometry"].equals(parcels.loc[i, "geometry"])
        assert got.loc[i, "area_m2"] == parcels.loc[i, "area_m2"]
    assert len(got) == len(parcels)


def test_xlsx_inspection_ledger_with_chinese_labels(data_copy, tmp_path):
    firms = current(data_copy, "firms")
    ledger = pd.DataFrame({
        "巡查编号": ["IX-1", "IX-2"], "企业编号": list(firms.firm_id.iloc[:2]),
        "巡查日期": ["2025-10-01", "2025/10/02"], "网格编号": list(firms.grid_id.iloc[:2]),
        "巡查人员": ["张三", "李四"], "巡查类别": ["消防安全", "危险品"], "巡查结果": ["责令整改", "合格"],
    })
    buf = io.BytesIO()
    ledger.to_excel(buf, index=False)
    path = tmp_path / "巡查台账.xlsx"
    path.write_bytes(buf.getvalue())
    result = run(path, data_copy, "inspections")
    assert result.report.status == "imported", result.report.to_text()
    got = current(data_copy, "inspections").set_index("inspection_id").loc[["IX-1", "IX-2"]]
    assert list(got.outcome) == ["rectification_ordered", "passed"]
    assert list(got.category) == ["fire", "dangerous_goods"]


def test_skip_invalid_imports_the_good_rows(data_copy, tmp_path, street_point):
    frame, truth = _firm_ledger(street_point, n=4)
    frame["经度"] = [t[0] for t in truth]
    frame["纬度"] = [t[1] for t in truth]
    frame.loc[2, "统一社会信用代码"] = "91440111MA5A02QW2X"
    path = tmp_path / "firms.csv"
    frame.to_csv(path, index=False)
    refused = run(path, data_copy, "firms")
    # the bad row is data row 3, which a spreadsheet shows as row 4 (the header is row 1)
    assert refused.report.status == "refused" and refused.report.error_rows == {4}
    result = run(path, data_copy, "firms", skip_invalid=True)
    assert result.report.status == "imported"
    assert (result.report.added, result.report.skipped) == (3, 1)
    got = set(current(data_copy, "firms").firm_id)
    assert {"FC0", "FC1", "FC3"} <= got and "FC2" not in got


def test_replace_targets_from_csv(data_copy, tmp_path):
    before = current(data_copy, "targets")
    path = tmp_path / "targets.csv"
    path.write_text("年度,指标,目标值\n2026,released_area_m2,\"500,000\"\n2027,年度土地释放目标(平方米),600000\n",
                    encoding="utf-8")
    result = run(path, data_copy, "targets", mode="replace")
    assert result.report.status == "imported", result.report.to_text()
    got = current(data_copy, "targets").sort_values("year")
    assert list(got.year) == [2026, 2027] and list(got.value) == [500000.0, 600000.0]
    assert result.report.removed == len(before) - (1 if 2026 in set(before.year) else 0)


def test_store_serves_the_imported_version(data_copy, tmp_path, street_point):
    frame, truth = _firm_ledger(street_point, n=2)
    frame["经度"] = [t[0] for t in truth]
    frame["纬度"] = [t[1] for t in truth]
    path = tmp_path / "firms.csv"
    frame.to_csv(path, index=False)
    store = Store(data_copy)
    before = store.cursor().execute("SELECT count(*) FROM firms").fetchone()[0]
    assert run(path, data_copy, "firms").report.status == "imported"
    assert store.refresh() is True
    assert store.cursor().execute("SELECT count(*) FROM firms").fetchone()[0] == before + 2
    assert store.manifest["source"] == "imported"


def test_cli_import_exit_codes_and_report_on_stdout(data_copy, tmp_path, street_point):
    frame, truth = _firm_ledger(street_point, n=2)
    frame["经度"] = [t[0] for t in truth]
    frame["纬度"] = [t[1] for t in truth]
    good = tmp_path / "firms.csv"
    frame.to_csv(good, index=False)
    bad = tmp_path / "firms-bad.csv"
    frame.assign(风险等级="很危险").to_csv(bad, index=False)
    cmd = [sys.executable, "-m", "dayuan_geo", "--data-dir", str(data_copy), "import"]
    r = subprocess.run([*cmd, str(bad), "--table", "firms"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and r.stdout.startswith("REFUSED") and "很危险" in r.stdout
    assert "Traceback" not in r.stderr
    r = subprocess.run([*cmd, str(good), "--table", "firms", "--dry-run"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("CHECKED")
    r = subprocess.run([*cmd, str(good), "--table", "firms", "--user", "wang"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("IMPORTED"), r.stdout + r.stderr
    r = subprocess.run([*cmd, str(good), "--table", "firms", "--role", "viewer"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "may not import" in r.stdout
    r = subprocess.run([sys.executable, "-m", "dayuan_geo", "--data-dir", str(data_copy), "history"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0 and "wang" in r.stdout and "firms.csv" in r.stdout
    log = versions.import_log(data_copy)
    assert [e["status"] for e in log[:4]] == ["refused", "imported", "checked", "refused"]


def test_missing_column_is_reported_once_and_a_mapping_fixes_it(data_copy, tmp_path):
    """A planner's file names a column its own way: one clear message, then the mapping imports it."""
    from dayuan_geo.ingest import run as I
    from tests.hostile.corpus import Sample, parcel_rows

    frame = parcel_rows(Sample.of(data_copy), 5).rename(columns={"name": "标注"})
    path = tmp_path / "ledger.geojson"
    frame.to_file(path)
    refused = I.run_import(path, table="parcels", directory=data_copy, user="t", role="planner", dry_run=True)
    about = [i for i in refused.report.errors if i.column == "name"]
    assert len(about) == 1 and "name=COLUMN" in about[0].message
    assert "列对应" in about[0].text("zh")
    ok = I.run_import(path, table="parcels", directory=data_copy, user="t", role="planner", dry_run=True,
                      mapping=I.parse_mapping(["name=标注"]))
    assert not ok.report.errors and ok.report.added == 5
