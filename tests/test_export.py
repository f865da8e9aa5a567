"""Exports: what a user opens in Excel or a GIS tool matches the selection they saw."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import geopandas as gpd
import pandas as pd
import pytest

from dayuan_geo import export
from dayuan_geo.overview import queries

AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
def parcels(store):
    df = queries.parcels_for_map(store.cursor(), as_of=AS_OF)
    return df[df["release_status"] == "released"].reset_index(drop=True)


def test_csv_has_bom_labels_and_rows(parcels):
    data = export.to_csv(parcels, table="parcels", lang="zh")
    assert data.startswith("\ufeff".encode())
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert len(back) == len(parcels)
    assert list(back.columns[:2]) == ["地块编号", "地块名称"]
    assert set(back["释放状态"]) == {"已释放"}
    assert "wkb" not in back.columns
    en = pd.read_csv(io.BytesIO(export.to_csv(parcels, table="parcels", lang="en")), encoding="utf-8-sig")
    assert "Parcel ID" in en.columns and set(en["Release status"]) == {"Released"}


def test_formula_cells_are_neutralised(parcels):
    df = parcels.head(4).copy()
    df["name"] = ["=HYPERLINK(\"x\")", "+1", "@SUM(A1)", "-2+3"]
    back = pd.read_csv(io.BytesIO(export.to_csv(df, table="parcels")), encoding="utf-8-sig")
    assert all(v.startswith("'") for v in back["地块名称"])
    xl = pd.read_excel(io.BytesIO(export.to_xlsx(df, table="parcels")))
    assert all(v.startswith("'") for v in xl["地块名称"])


def test_xlsx_opens_with_dates(parcels):
    xl = pd.read_excel(io.BytesIO(export.to_xlsx(parcels, table="parcels", lang="en")))
    assert len(xl) == len(parcels)
    assert pd.api.types.is_datetime64_any_dtype(xl["Released on"])


def test_geojson_geometry_matches(parcels):
    data = json.loads(export.to_geojson(parcels, table="parcels"))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == len(parcels)
    gdf = gpd.GeoDataFrame.from_features(data["features"], crs="EPSG:4326")
    area = gdf.to_crs("EPSG:4547").area.sum()
    assert area == pytest.approx(parcels["area_m2"].sum(), rel=1e-6)
    assert data["features"][0]["properties"]["release_status"] == "released"
    assert data["features"][0]["properties"]["released_on"][:2] == "20"


def test_geoparquet_round_trip(parcels):
    gdf = gpd.read_parquet(io.BytesIO(export.to_geoparquet(parcels, table="parcels")))
    assert len(gdf) == len(parcels) and gdf.crs.to_epsg() == 4326


def test_unknown_format_refused(parcels):
    with pytest.raises(ValueError, match="unknown export format"):
        export.export(parcels, fmt="exe", table="parcels")


def test_long_codes_stay_text_in_excel():
    """Excel turns 440111021202 into 4.40111E+11 (and an all-digit credit code loses its last digits):
    the CSV writes such codes as ="…", the XLSX as text cells with the text format."""
    import openpyxl

    df = pd.DataFrame({"firm_id": ["F0000001"], "uscc": ["914401010000000001"], "village_code": ["440111021202"],
                       "name": ["12345678901 物流"]})
    rows = list(csv.reader(io.StringIO(export.to_csv(df, table="firms", lang="zh").decode("utf-8-sig"))))
    assert rows[1][1:3] == ['="914401010000000001"', '="440111021202"']
    assert rows[1][3] == "12345678901 物流"  # only an all-digit value is wrapped
    sheet = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(df, table="firms", lang="zh"))).active
    assert [sheet.cell(row=2, column=c).value for c in (2, 3)] == ["914401010000000001", "440111021202"]
    assert {sheet.cell(row=2, column=c).number_format for c in (2, 3)} == {"@"}


def test_land_export_names_the_village_code_and_carries_one_language(store):
    """The land page's file: 村居代码 holds the codes, 村居名称 the names, and a Chinese file has no
    English names (an English file no Chinese ones), checked against the villages table."""
    from dayuan_geo.land import filters as F
    from dayuan_geo.land import queries as land

    rows = land.selection_table(store.cursor(), filters=F.LandFilters(), limit=None, geometry=True)
    villages = store.cursor().execute("SELECT code, name_zh, name_en FROM villages").df().set_index("code")
    zh = pd.read_csv(io.BytesIO(export.to_csv(rows, table="parcels", lang="zh")), encoding="utf-8-sig", dtype=str)
    assert {"村居代码", "村居名称"} <= set(zh.columns)
    assert not {"村居英文名", "所属村居", "Village name"} & set(zh.columns)
    codes = zh["村居代码"].str.strip('="')
    assert set(codes) <= set(villages.index) and len(set(codes)) > 1
    assert (zh["村居名称"] == villages.loc[codes, "name_zh"].to_numpy()).all()
    en = pd.read_excel(io.BytesIO(export.to_xlsx(rows, table="parcels", lang="en")), dtype=str)
    assert {"Village code", "Village name"} <= set(en.columns) and "村居名称" not in en.columns
    assert (en["Village name"] == villages.loc[en["Village code"], "name_en"].to_numpy()).all()
