"""`python -m dayuan_geo export`: every table, filtered, in every format, checked against the files;
wrong filters refused with exit 2 and one clear line, never a traceback."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shlex
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pytest

from dayuan_geo import schema as S
from dayuan_geo.cli import export as export_cli
from dayuan_geo.cli import main as cli
from dayuan_geo.land import filters as F
from dayuan_geo.land import queries as land


def run(*args, data_dir):
    return subprocess.run([sys.executable, "-m", "dayuan_geo", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=300)


def export(capsys, data_dir, *args) -> tuple[int, str, str]:
    code = cli.main(["--data-dir", str(data_dir), "export", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def read_csv(path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def parcels(demo_dir):
    df = gpd.read_parquet(demo_dir / "parcels.parquet")
    df["released_on"] = pd.to_datetime(df["released_on"])
    return df


def test_filtered_parcels_to_csv(capsys, demo_dir, parcels, tmp_path):
    out = tmp_path / "released.csv"
    code, stdout, _ = export(capsys, demo_dir, "parcels", "--format", "csv", "--filter", "release_status=released",
                             "--filter", "release_status=已出让", "--filter", "released_on>=2022-01-01",
                             "--filter", "area_m2<=30000", "-o", str(out))
    assert code == 0
    exp = parcels[parcels["release_status"].isin(["released", "transferred"])
                  & (parcels["released_on"] >= "2022-01-01") & (parcels["area_m2"] <= 30_000)]
    rows = read_csv(out)
    assert len(rows) == len(exp) > 0
    assert f"{len(exp):,} rows of parcels written" in stdout
    assert sorted(r["地块编号"] for r in rows) == sorted(exp["parcel_id"])
    assert {r["释放状态"] for r in rows} == {"已释放", "已出让"}
    assert all(r["释放日期"] >= "2022-01-01" for r in rows)


def test_english_headers_and_labels(capsys, demo_dir, parcels, tmp_path):
    out = tmp_path / "p.csv"
    code, _, _ = export(capsys, demo_dir, "parcels", "--filter", "planned_use=M0", "--lang", "en", "-o", str(out))
    assert code == 0
    rows = read_csv(out)
    assert len(rows) == int((parcels["planned_use"] == "M0").sum())
    assert rows[0]["Planned use"] == "M0 New industrial"
    assert "Parcel ID" in rows[0]


@pytest.mark.parametrize("name", S.TABLE_NAMES)
def test_every_table_exports_whole(capsys, demo_dir, tmp_path, name):
    out = tmp_path / f"{name}.csv"
    code, _, err = export(capsys, demo_dir, name, "--format", "csv", "-o", str(out))
    assert code == 0, err
    expected = len(pd.read_parquet(demo_dir / f"{name}.parquet", columns=[S.table(name).key]))
    assert len(read_csv(out)) == expected


def test_geo_formats_round_trip(capsys, demo_dir, tmp_path):
    firms = gpd.read_parquet(demo_dir / "firms.parquet")
    exp = firms[firms["risk_level"] == "blacklisted"]
    gj, gpq, xl = tmp_path / "f.geojson", tmp_path / "f.parquet", tmp_path / "f.xlsx"
    for path in (gj, gpq, xl):
        code, _, err = export(capsys, demo_dir, "firms", "--filter", "risk_level=黑榜", "-o", str(path))
        assert code == 0, err
    data = json.loads(gj.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == len(exp)
    got = gpd.read_file(gj)
    assert sorted(got["firm_id"]) == sorted(exp["firm_id"])
    back = gpd.read_parquet(gpq)
    assert back.crs.to_epsg() == 4326 and sorted(back["firm_id"]) == sorted(exp["firm_id"])
    merged = back.set_index("firm_id").geometry.sort_index()
    assert merged.geom_equals_exact(exp.set_index("firm_id").geometry.sort_index(), 1e-9).all()
    sheet = pd.read_excel(xl)
    assert len(sheet) == len(exp) and "统一社会信用代码" in sheet.columns


def test_contains_and_empty_filters(capsys, demo_dir, parcels, tmp_path):
    out = tmp_path / "a.csv"
    assert export(capsys, demo_dir, "parcels", "--filter", "name~华邦", "-o", str(out))[0] == 0
    assert len(read_csv(out)) == int(parcels["name"].str.contains("华邦").sum())
    assert export(capsys, demo_dir, "parcels", "--filter", "released_on=", "-o", str(out))[0] == 0
    assert len(read_csv(out)) == int(parcels["released_on"].isna().sum())


def test_values_are_bound_not_spliced(capsys, demo_dir, tmp_path):
    out = tmp_path / "x.csv"
    code, _, _ = export(capsys, demo_dir, "parcels", "--filter", "name=x' OR '1'='1", "-o", str(out))
    assert code == 0 and read_csv(out) == []


@pytest.mark.parametrize(("args", "message"), [
    (["parcels", "--filter", "geometry=x"], "no column 'geometry'"),
    (["parcels", "--filter", "owner; DROP TABLE parcels=1"], "is not COLUMN=VALUE"),
    (["parcels", "--filter", "release_status=sold"], "has no value 'sold'"),
    (["parcels", "--filter", "released_on>=2024-13-01"], "takes a date"),
    (["parcels", "--filter", "name>=a"], ">= needs a number or date column"),
    (["parcels", "--filter", "release_status~rel"], "~ needs a text column"),
    (["parks", "--filter", "party_org=maybe"], "takes true or false"),
    (["targets", "--format", "geojson"], "targets has no geometry"),
])
def test_bad_requests_exit_2_with_one_line(capsys, demo_dir, tmp_path, args, message):
    out = tmp_path / "out.csv"
    extra = [] if "--format" in args else ["--format", "csv"]
    code, _, err = export(capsys, demo_dir, *args, *extra, "-o", str(out))
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_command_line_refusals(demo_dir, tmp_path):
    r = run("export", "nope", "-o", str(tmp_path / "x.csv"), data_dir=demo_dir)
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr
    r = run("export", "parcels", "-o", str(tmp_path / "x.dat"), data_dir=demo_dir)
    assert r.returncode == 2 and "say --format" in r.stderr
    r = run("export", "parcels", "--format", "csv", "-o", str(tmp_path / "no" / "x.csv"), data_dir=demo_dir)
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run("export", "parcels", "--format", "csv", "-o", str(tmp_path / "ok.csv"), data_dir=demo_dir)
    assert r.returncode == 0 and (tmp_path / "ok.csv").exists()


def test_the_pages_command_exports_the_pages_selection(store, demo_dir, tmp_path, capsys):
    f = F.LandFilters(villages=("440111021202",), statuses=("released", "transferred"), planned_uses=("M0",),
                         released_from=dt.date(2021, 1, 1), area_min=9_000)
    command = F.cli_command(f, lang="en")
    words = shlex.split(command)
    assert words[:5] == ["python", "-m", "dayuan_geo", "export", "parcels"]
    out = tmp_path / "same.csv"
    words[words.index("-o") + 1] = str(out)
    assert cli.main(["--data-dir", str(demo_dir), *words[3:]]) == 0
    page = land.selection_table(store.cursor(), filters=f, limit=None)
    assert sorted(r["Parcel ID"] for r in read_csv(out)) == sorted(page["parcel_id"]) != []
    assert F.cli_command(F.LandFilters(search="华邦")) is None  # id-or-name search: no CLI equivalent


def test_parse_filters_groups_and_types():
    filters = export_cli.parse_filters("parcels", ["village_code=1", "village_code=2", "area_m2>=10",
                                                   "released_on<=2024-01-31"])
    assert [(f.column, f.op, f.values) for f in filters] == [
        ("village_code", "=", ("1", "2")), ("area_m2", ">=", (10.0,)),
        ("released_on", "<=", (dt.date(2024, 1, 31),))]
    with pytest.raises(ValueError, match="given twice"):
        export_cli.parse_filters("parcels", ["area_m2>=1", "area_m2>=2"])
