"""Files shaped like what a street office really receives, made here, imported in one step.

Positions are checked against an independent GCJ-02 conversion written in this file, areas against
geopandas in EPSG:4547, names byte for byte.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.ingest import run as ingest
from tests.hostile.corpus import uscc

NAMES = ["白云区石湖村一号地块", "大源村北（腾退）", "龙归·南岭村三号"]


def current(directory: Path, table: str) -> pd.DataFrame:
    path = dataset.table_path(directory, table)
    return gpd.read_parquet(path) if S.table(table).has_geometry else pd.read_parquet(path)


def run(path: Path, directory: Path, table: str, **options) -> ingest.ImportResult:
    return ingest.run_import(path, table=table, directory=directory, user="planner1", role="planner", **options)


def gcj02_forward(lon: float, lat: float) -> tuple[float, float]:
    """WGS 84 -> GCJ-02, the published forward formula (Krasovsky ellipsoid), written out here."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
            + (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    dlat = dlat * 180.0 / ((a * (1 - ee)) / (magic * math.sqrt(magic)) * math.pi)
    dlon = dlon * 180.0 / (a / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def metres_apart(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Largest distance in metres (EPSG:4547) between matching vertices of two lon/lat geometries."""
    pa_, pb_ = (gpd.GeoSeries(shapely.points(shapely.get_coordinates(g)), crs=4326).to_crs(4547) for g in (a, b))
    return float(pa_.distance(pb_).max())


def rects_4547(point: tuple[float, float], n: int) -> list[shapely.Polygon]:
    x0, y0 = gpd.GeoSeries([shapely.Point(point)], crs=4326).to_crs(4547).iloc[0].coords[0]
    return [shapely.box(x0 + 260 * i, y0, x0 + 260 * i + 150 + 7 * i, y0 + 90) for i in range(n)]


@pytest.fixture()
def inside(data_copy) -> tuple[float, float]:
    p = current(data_copy, "parcels").geometry.iloc[0].representative_point()
    return (p.x, p.y)


def zipped(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    return out


# ---- shapefile text encodings ---------------------------------------------------------------------

def test_utf8_shapefile_without_cpg_keeps_its_names(data_copy, tmp_path, inside):
    """QGIS and the China boundary collections write UTF-8 .dbf files and no .cpg."""
    park = str(current(data_copy, "parks").park_id.iloc[0])
    frame = gpd.GeoDataFrame({"parcel_id": ["U-1", "U-2", "U-3"], "park_id": [park] * 3, "name": NAMES,
                              "release_status": ["腾退中"] * 3, "current_use": ["W1"] * 3, "planned_use": ["M0"] * 3,
                              "ownership": ["集体"] * 3, "note": ["备注" * 60] * 3},
                             geometry=rects_4547(inside, 3), crs=4547)
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(frame, folder / "地块.shp", encoding="UTF-8")
    (folder / "地块.cpg").unlink(missing_ok=True)
    dbf = (folder / "地块.dbf").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        dbf.decode("utf-8")  # the binary header is not UTF-8 (what made the old guess GBK) ...
    assert "白云区".encode() in dbf  # ... while the records are
    result = run(zipped(folder, tmp_path / "parcels.zip"), data_copy, "parcels")
    assert result.report.status == "imported", result.report.to_text()
    assert result.report.encoding == "UTF-8" and "encoding: UTF-8" in result.report.to_text()
    got = current(data_copy, "parcels").set_index("parcel_id")
    assert [got.loc[f"U-{i}", "name"].encode() for i in (1, 2, 3)] == [n.encode() for n in NAMES]
    assert dataset.validate(data_copy) == []


@pytest.mark.parametrize(("cpg", "expected"), [("ANSI 936", "gbk"), ("GB2312", "gbk"), ("GB18030", "gb18030"),
                                               ("UTF-8", "utf-8"), ("936", "gbk"), ("utf8\n", "utf-8")])
def test_cpg_names_the_usual_ways(cpg, expected):
    from dayuan_geo.ingest.read import _cpg_encoding

    assert _cpg_encoding(cpg) == expected


def test_gbk_shapefile_without_cpg_is_read_as_gbk_and_says_so(data_copy, tmp_path, inside):
    park = str(current(data_copy, "parks").park_id.iloc[0])
    frame = gpd.GeoDataFrame({"parcel_id": ["G-1", "G-2", "G-3"], "park_id": [park] * 3, "name": NAMES,
                              "release_status": ["未启动"] * 3},
                             geometry=rects_4547(inside, 3), crs=4547)
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(frame, folder / "parcels.shp", encoding="GBK")
    (folder / "parcels.cpg").unlink(missing_ok=True)
    result = run(zipped(folder, tmp_path / "parcels.zip"), data_copy, "parcels", constants={"ownership": "集体"})
    assert result.report.status == "imported", result.report.to_text()
    assert result.report.encoding in ("GBK", "GB18030")
    got = current(data_copy, "parcels").set_index("parcel_id")
    assert [got.loc[f"G-{i}", "name"] for i in (1, 2, 3)] == NAMES
    assert set(got.loc[["G-1", "G-2", "G-3"], "ownership"]) == {"collective"}  # --set


# ---- a surveyor's shapefile ------------------------------------------------------------------------

def test_surveyor_shapefile_in_4547_with_cut_names_and_no_land_use(data_copy, tmp_path, inside):
    """EPSG:4547, field names cut to 10 characters, no current/planned use or ownership columns."""
    polys = rects_4547(inside, 4)
    frame = gpd.GeoDataFrame({"parcel_id": [f"CH-{i}" for i in range(4)], "name": [f"测绘地块{i}" for i in range(4)],
                              "release_status": ["released", "released", "vacating", "not_started"],
                              "released_on": ["2025-05-06", "2025/6/7", None, None]},
                             geometry=polys, crs=4547)
    folder = tmp_path / "survey"
    folder.mkdir()
    pyogrio.write_dataframe(frame, folder / "survey.shp", encoding="UTF-8")
    fields = pyogrio.read_info(folder / "survey.shp")["fields"].tolist()
    assert "release_st" in fields and "released_o" in fields  # the cut names really are cut
    result = run(zipped(folder, tmp_path / "survey.zip"), data_copy, "parcels")
    report = result.report
    assert report.status == "imported", report.to_text()
    unknown = [i for i in report.issues if i.key == "imp_m_unknown_absent"]
    assert sorted(i.column for i in unknown) == ["current_use", "ownership", "planned_use"]
    assert all(i.values["n"] == 4 for i in unknown) and all(i.level == "warning" for i in unknown)
    assert "未知" in unknown[0].text("zh") and "--set" not in unknown[0].text("zh")
    got = current(data_copy, "parcels").set_index("parcel_id").loc[[f"CH-{i}" for i in range(4)]]
    assert set(got.current_use) == set(got.ownership) == {S.UNKNOWN}
    assert S.LAND_USE.label(got.current_use.iloc[0], "zh") == "未知"
    assert [d.isoformat() if isinstance(d, dt.date) else None for d in got.released_on] == [
        "2025-05-06", "2025-06-07", None, None]
    expected = gpd.GeoSeries(polys, crs=4547).area.to_numpy()
    assert np.allclose(got.area_m2.to_numpy(), expected, rtol=1e-6)
    back = gpd.GeoSeries(got.geometry.values, crs=4326).to_crs(4547)
    assert max(b.hausdorff_distance(p) for b, p in zip(back, polys, strict=True)) < 0.01
    villages = current(data_copy, "villages")
    holder = [villages.loc[villages.contains(g.representative_point()), "code"].iloc[0] for g in got.geometry]
    assert list(got.village_code) == holder  # derived from position, checked with geopandas
    assert dataset.validate(data_copy) == []


# ---- an Excel ledger ---------------------------------------------------------------------------------

def _ledger(path: Path, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    cover = wb.active
    cover.title = "说明"
    cover["A1"] = "本表由村委填报"
    ws = wb.create_sheet("台账")
    ws["A1"] = "大源街道物流企业安全风险台账（2024年）"
    ws.merge_cells("A1:H1")
    ws.append([])
    ws.append(["序号", "企业编号", "企业名称", "统一社会信用代码", "风险等级", "列入日期", "经度", "纬度"])
    for r in rows:
        ws.append(r)
    ws["F4"].number_format = "yyyy/m/d"  # a real date cell
    wb.save(path)
    return path


def test_ledger_with_title_row_and_dates_in_three_styles(data_copy, tmp_path):
    parcels = current(data_copy, "parcels")
    parcel = parcels.iloc[3]
    p = parcel.geometry.representative_point()
    rows = [
        [1, "LG-1", "广州市大源快运有限公司", uscc("91440111MA5L00001"), "黑榜", dt.datetime(2024, 3, 5), p.x, p.y],
        [2, "LG-2", "广州市龙归仓储有限公司", uscc("91440111MA5L00002"), "高危", "2024年3月6日", p.x + 0.0003, p.y],
        [3, "LG-3", "广州市石湖冷链有限公司", uscc("91440111MA5L00003"), "一般", 45358, p.x, p.y + 0.0003],
    ]
    path = _ledger(tmp_path / "台账.xlsx", rows)
    result = run(path, data_copy, "firms")
    report = result.report
    assert report.status == "imported", report.to_text()
    assert report.sheet == "台账" and report.rows_read == 3
    got = current(data_copy, "firms").set_index("firm_id").loc[["LG-1", "LG-2", "LG-3"]]
    assert list(got.listed_on) == [dt.date(2024, 3, 5), dt.date(2024, 3, 6), dt.date(2024, 3, 7)]
    assert [n.encode() for n in got.name] == [r[2].encode() for r in rows]
    assert set(got.industry) == {S.UNKNOWN}  # no 行业 column: one warning, counted
    warned = [i for i in report.issues if i.key == "imp_m_unknown_absent"]
    assert [(i.column, i.values["n"]) for i in warned] == [("industry", 3)]
    # the firm standing in a parcel gets that parcel (and its park) from its position
    assert got.loc["LG-1", "parcel_id"] == parcel.parcel_id and got.loc["LG-1", "park_id"] == parcel.park_id
    assert any(i.key == "imp_m_no_crs" and "--crs gcj02" in i.message for i in report.issues)


def test_ledger_rows_are_cited_as_excel_numbers_them(data_copy, tmp_path, inside):
    lon, lat = inside
    rows = [[1, "LX-1", "甲公司", uscc("91440111MA5L00011"), "黑榜", "2024-01-02", lon, lat],
            [2, "LX-2", "乙公司", uscc("91440111MA5L00012"), "特危", "2024-01-02", lon, lat]]
    result = run(_ledger(tmp_path / "l.xlsx", rows), data_copy, "firms", dry_run=True)
    assert result.report.status == "refused"
    assert result.report.error_rows == {5}  # title 1, blank 2, header 3, data from row 4
    assert len(result.report.errors) == 1  # the bad risk level, and not again as "required"
    forced = run(_ledger(tmp_path / "l2.xlsx", rows), data_copy, "firms", dry_run=True, header_row=1)
    assert forced.report.status == "refused"  # the title as header: nothing matches
    by_sheet = run(_ledger(tmp_path / "l3.xlsx", rows), data_copy, "firms", dry_run=True, sheet="说明")
    assert by_sheet.report.sheet == "说明"


# ---- DataV / AMap boundary files -------------------------------------------------------------------

def _datav(villages: gpd.GeoDataFrame) -> list[dict]:
    feats = []
    for _, v in villages.iterrows():
        moved = shapely.transform(v.geometry, lambda c: np.array([gcj02_forward(x, y) for x, y in c]))
        assert metres_apart(moved, v.geometry) > 300  # GCJ-02 is hundreds of metres off in Guangzhou
        c = moved.centroid
        feats.append({"type": "Feature", "properties": {"adcode": v.code, "name": v.name_zh, "level": "village",
                                                        "center": [c.x, c.y], "childrenNum": 0},
                      "geometry": shapely.geometry.mapping(moved)})
    return feats


def test_datav_array_in_gcj02_warns_then_lands_within_a_metre(data_copy, tmp_path):
    villages = current(data_copy, "villages").head(3).copy()
    villages["geometry"] = [shapely.affinity.translate(g, 0.0004, 0.0002) for g in villages.geometry]  # resurveyed
    path = tmp_path / "440111_full.json"
    path.write_text(json.dumps(_datav(villages), ensure_ascii=False), encoding="utf-8")  # a bare JSON array
    plain = run(path, data_copy, "villages", mode="upsert", dry_run=True)
    assert plain.report.status == "checked", plain.report.to_text()
    warned = [i for i in plain.report.issues if i.key == "imp_m_map_app"]
    assert len(warned) == 1 and "--crs gcj02" in warned[0].message and "GCJ-02" in warned[0].text("zh")
    result = run(path, data_copy, "villages", mode="upsert", crs="gcj02")
    assert result.report.status == "imported", result.report.to_text()
    assert not [i for i in result.report.issues if i.key == "imp_m_map_app"]
    got = current(data_copy, "villages").set_index("code")
    for _, v in villages.iterrows():
        assert metres_apart(got.loc[v.code, "geometry"], v.geometry) < 1.0
        assert got.loc[v.code, "name_zh"].encode() == v.name_zh.encode()
    assert dataset.validate(data_copy) == []


def test_single_feature_and_bare_geometry_are_collections(data_copy, tmp_path):
    poly = current(data_copy, "parcels").geometry.iloc[0]
    bare = tmp_path / "bare.geojson"
    bare.write_text(json.dumps(shapely.geometry.mapping(poly)))
    report = run(bare, data_copy, "parcels", dry_run=True).report
    assert report.rows_read == 1 and report.fmt == "GeoJSON"
    assert str(tmp_path) not in report.to_text()  # never a server path
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"type": "Feature", "properties": {"parcel_id": "F-1"},
                               "geometry": shapely.geometry.mapping(poly)}))
    assert run(one, data_copy, "parcels", dry_run=True).report.rows_read == 1


# ---- plausibility ----------------------------------------------------------------------------------

def test_district_polygon_and_far_features_are_row_errors_that_can_be_skipped(data_copy, tmp_path, inside):
    park = str(current(data_copy, "parks").park_id.iloc[0])
    x0, y0 = gpd.GeoSeries([shapely.Point(inside)], crs=4326).to_crs(4547).iloc[0].coords[0]
    district = shapely.box(x0 - 13_000, y0 - 13_000, x0 + 12_800, y0 + 12_800)  # some 664 km²
    far = shapely.box(x0 + 20_000, y0, x0 + 20_100, y0 + 100)
    ok = shapely.box(x0, y0, x0 + 100, y0 + 80)
    frame = gpd.GeoDataFrame({"parcel_id": ["D-1", "D-2", "D-3"], "park_id": [park] * 3, "name": ["区界", "远", "好"],
                              "release_status": ["未启动"] * 3},
                             geometry=[district, far, ok], crs=4547).to_crs(4326)
    path = tmp_path / "p.geojson"
    frame.to_file(path)
    before = current(data_copy, "parcels").area_m2.sum()
    refused = run(path, data_copy, "parcels")
    assert refused.report.status == "refused"
    assert {i.key for i in refused.report.errors} == {"imp_m_too_large", "imp_m_outside_street"}
    assert refused.report.error_rows == {1, 2} and not refused.report.file_errors
    result = run(path, data_copy, "parcels", skip_invalid=True)
    assert result.report.status == "imported" and (result.report.added, result.report.skipped) == (1, 2)
    after = current(data_copy, "parcels").area_m2.sum()
    assert after - before == pytest.approx(gpd.GeoSeries([ok], crs=4547).area.iloc[0], rel=1e-6)


def test_a_firm_outside_every_grid_is_a_row_error(data_copy, tmp_path, inside):
    villages = current(data_copy, "villages")
    _x0, y0, x1, y1 = villages.total_bounds
    lon, lat = inside
    frame = pd.DataFrame({"企业编号": ["OUT-1", "IN-1"], "企业名称": ["界外公司", "界内公司"],
                          "统一社会信用代码": [uscc("91440111MA5Q00001"), uscc("91440111MA5Q00002")],
                          "风险等级": ["一般", "一般"], "行业": ["快递", "仓储"],
                          "经度": [x1 + 0.005, lon], "纬度": [(y0 + y1) / 2, lat]})
    path = tmp_path / "firms.csv"
    frame.to_csv(path, index=False)
    refused = run(path, data_copy, "firms")
    assert not refused.report.file_errors and refused.report.error_rows == {2}
    assert {i.key for i in refused.report.errors} == {"imp_m_not_in_zone"}
    assert run(path, data_copy, "firms", skip_invalid=True).report.added == 1


# ---- referential integrity -------------------------------------------------------------------------

def test_replace_that_would_orphan_is_refused_with_counts_then_cascades(data_copy, tmp_path):
    villages = current(data_copy, "villages")
    keep = villages.iloc[[0]]
    path = tmp_path / "one-village.geojson"
    gpd.GeoDataFrame(keep.drop(columns=["bbox"], errors="ignore"), geometry="geometry", crs=4326).to_file(path)
    tables = {t: current(data_copy, t) for t in ("grids", "parks", "parcels", "firms")}
    code = keep.code.iloc[0]
    expected = {t: int((f.village_code != code).sum()) for t, f in tables.items()}
    refused = run(path, data_copy, "villages", mode="replace")
    assert refused.report.status == "refused"
    [issue] = [i for i in refused.report.errors if i.key == "imp_m_orphans"]
    for t, n in expected.items():
        assert f"{n:,} " in issue.message and t in issue.message
    assert current(data_copy, "villages").shape[0] == len(villages)  # nothing changed
    result = run(path, data_copy, "villages", mode="replace", cascade=True)
    assert result.report.status == "imported", result.report.to_text()
    assert dataset.validate(data_copy) == []
    assert result.report.cascaded["grids"] == expected["grids"]
    assert set(current(data_copy, "parcels").village_code) == {code}


def test_integrity_counts_orphans_per_table_and_column():
    from dayuan_geo.dataset import integrity

    tables = {"villages": pd.DataFrame({"code": ["A"]}),
              "grids": pd.DataFrame({"grid_id": ["g1", "g2", "g3"], "village_code": ["A", "B", "B"]})}
    assert integrity.orphans(tables) == {"grids": {"village_code": 2}}
    assert integrity.describe(integrity.orphans(tables))[0].startswith("Grids (grids): 2 Village")


def test_audit_failure_after_publishing_says_the_version_exists(data_copy, tmp_path, inside, monkeypatch):
    from dayuan_geo import audit

    def broken(**_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(audit, "record", broken)
    lon, lat = inside
    frame = pd.DataFrame({"企业编号": ["AU-1"], "企业名称": ["审计公司"],
                          "统一社会信用代码": [uscc("91440111MA5A00001")], "风险等级": ["一般"], "行业": ["快递"],
                          "经度": [lon], "纬度": [lat]})
    frame.to_csv(tmp_path / "f.csv", index=False)
    result = run(tmp_path / "f.csv", data_copy, "firms")
    assert result.report.status == "imported" and result.exit_code == 3
    [issue] = [i for i in result.report.errors if i.key == "imp_m_audit_failed_published"]
    assert f"version {result.report.version} WAS published" in issue.message and "disk full" in issue.message
    assert "AU-1" in set(current(data_copy, "firms").firm_id)


def test_file_level_refusals_are_said_in_both_languages(data_copy, tmp_path):
    path = tmp_path / "setup.exe"
    path.write_bytes(b"MZ\x90\x00")
    [issue] = run(path, data_copy, "parcels").report.errors
    assert issue.message.startswith("unsupported file type .exe")
    assert issue.text("zh").startswith("不支持的文件类型 .exe")
    frame = run(path, data_copy, "parcels").report.to_frame("zh")
    assert frame.loc[0, "message"] == issue.text("zh")


def test_a_version_with_orphans_is_described_per_table(data_copy):
    """What publish refuses and validate reports: rows pointing at parents the version lacks."""
    import pyarrow.parquet as pq

    from dayuan_geo.dataset import integrity

    manifest = dataset.read_manifest(data_copy)
    assert integrity.problems(data_copy, manifest) == []
    villages = current(data_copy, "villages")
    code = villages.code.iloc[0]
    pq.write_table(pq.read_table(data_copy / manifest["files"]["villages"]["file"]).slice(0, 1),
                   data_copy / "one-village.parquet")
    manifest["files"]["villages"]["file"] = "one-village.parquet"
    lines = integrity.problems(data_copy, manifest)
    grids = current(data_copy, "grids")
    expected = int((grids.village_code != code).sum())
    assert f"Grids (grids): {expected:,} Village" in " ".join(lines)
    assert {line.split(":")[1].split("(")[1].split(")")[0] for line in lines} == {"parcels", "parks", "grids",
                                                                                  "firms"}


def _geojson(frame: pd.DataFrame, path: Path) -> Path:
    gpd.GeoDataFrame(frame.drop(columns=["bbox"], errors="ignore"), geometry="geometry", crs=4326).to_file(path)
    return path


def test_a_set_replaces_parents_and_children_together(data_copy, tmp_path):
    villages, grids = current(data_copy, "villages"), current(data_copy, "grids")
    code = villages.code.iloc[0]
    mine = grids[grids.village_code == code]
    items = [(_geojson(villages.iloc[[0]], tmp_path / "v.geojson"), "villages"),
             (_geojson(mine, tmp_path / "g.geojson"), "grids")]
    refused = ingest.run_import_set(items, directory=data_copy, user="t", role="planner", mode="replace")
    assert [r.report.status for r in refused] == ["refused", "refused"]
    text = " ".join(i.message for r in refused for i in r.report.errors)
    assert "Grids (grids)" not in text  # replaced in the same import: not orphaned
    parcels = current(data_copy, "parcels")
    assert f"Parcels (parcels): {int((parcels.village_code != code).sum()):,} Village" in text
    renamed = villages.assign(name_zh=[f"{n}（新）" for n in villages.name_zh])
    kept = [(_geojson(renamed, tmp_path / "v2.geojson"), "villages"), (_geojson(grids, tmp_path / "g2.geojson"),
                                                                         "grids")]
    results = ingest.run_import_set(kept, directory=data_copy, user="t", role="planner", mode="replace")
    assert [r.report.status for r in results] == ["imported", "imported"], results[0].report.to_text()
    assert results[0].report.version == results[1].report.version  # one version for the set
    assert results[0].report.changed == len(villages) and results[1].report.changed == 0
    assert current(data_copy, "villages").name_zh.str.endswith("（新）").all()
    assert dataset.validate(data_copy) == []
