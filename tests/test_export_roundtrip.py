"""Exports come back: any export re-imported in upsert mode changes nothing; CSV/XLSX of geometry
tables carry their geometry, so an edited export can add rows; GeoParquet keeps dates as dates."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from dayuan_geo import audit
from dayuan_geo import schema as S
from dayuan_geo.cli.export import export_table
from dayuan_geo.dataset import files as dataset
from dayuan_geo.ingest import run as ingest
from dayuan_geo.store import Store


def exported(directory, table: str, fmt: str, tmp_path, lang: str = "zh"):
    store = Store(directory)
    try:
        path = tmp_path / f"{table}.{fmt}"
        export_table(store.cursor(), table, fmt=fmt, path=path, lang=lang,
                     audit_as={"user": "test", "role": audit.OPERATOR, "path": tmp_path / "audit.jsonl"})
    finally:
        store.close()
    return path


@pytest.mark.parametrize(("table", "fmt", "lang"), [
    ("parcels", "csv", "zh"), ("parcels", "xlsx", "en"), ("parcels", "geojson", "zh"), ("parcels", "geoparquet", "zh"),
    ("firms", "csv", "zh"), ("firms", "xlsx", "zh"), ("inspections", "csv", "en"),
])
def test_reimporting_an_export_in_upsert_mode_changes_nothing(data_copy, tmp_path, table, fmt, lang):
    path = exported(data_copy, table, fmt, tmp_path, lang)
    before = dataset.read_manifest(data_copy)["dataset_version"]
    result = ingest.run_import(path, table=table, directory=data_copy, user="t", role="planner", mode="upsert")
    report = result.report
    assert report.status == "unchanged", report.to_text()[:2000]
    assert (report.added, report.changed, report.removed) == (0, 0, 0)
    assert not report.errors
    assert dataset.read_manifest(data_copy)["dataset_version"] == before


def test_csv_export_of_parcels_carries_wkt_that_adds_rows(data_copy, tmp_path):
    path = exported(data_copy, "parcels", "csv", tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert "WKT" in frame.columns
    new = frame.head(2).copy()
    new["地块编号"] = ["NEW-1", "NEW-2"]
    new["WKT"] = [shapely.affinity.translate(shapely.from_wkt(w), 0.001, 0).wkt for w in new["WKT"]]
    edited = tmp_path / "edited.csv"
    new.to_csv(edited, index=False, encoding="utf-8-sig")
    result = ingest.run_import(edited, table="parcels", directory=data_copy, user="t", role="planner")
    assert result.report.status == "imported" and result.report.added == 2, result.report.to_text()
    got = gpd.read_parquet(dataset.table_path(data_copy, "parcels")).set_index("parcel_id")
    expected = gpd.GeoSeries([shapely.from_wkt(w) for w in new["WKT"]], crs=4326).to_crs(4547).area
    assert got.loc[["NEW-1", "NEW-2"], "area_m2"].tolist() == pytest.approx(expected.tolist(), rel=1e-6)


def test_firms_csv_export_has_longitude_and_latitude_at_full_precision(data_copy, tmp_path):
    path = exported(data_copy, "firms", "csv", tmp_path)
    frame = pd.read_csv(path, encoding="utf-8-sig")
    firms = gpd.read_parquet(dataset.table_path(data_copy, "firms")).sort_values("firm_id")
    assert frame["经度"].tolist() == firms.geometry.x.tolist()
    assert frame["纬度"].tolist() == firms.geometry.y.tolist()


def test_geoparquet_export_keeps_dates_typed(data_copy, tmp_path):
    path = exported(data_copy, "parcels", "geoparquet", tmp_path)
    schema = pq.read_schema(path)
    assert str(schema.field("released_on").type) == "date32[day]"
    back = pq.read_table(path).to_pandas()
    released = [v for v in back["released_on"] if v is not None and not pd.isna(v)]
    assert released and all(isinstance(v, dt.date) for v in released)
    assert S.GEOMETRY_COLUMN in schema.names
