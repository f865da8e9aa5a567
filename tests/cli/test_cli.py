"""The CLI's exit codes and messages: 0 on success, 2 with one clear line per problem, no traceback."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from dayuan_geo.dataset import files as dataset

KPI_KEYS = {
    "as_of", "released_area_m2", "released_parcels", "parcels_total", "remediation_projects_total",
    "remediation_projects_by_stage", "projects_overdue", "blacklisted_firms", "high_risk_firms",
    "inspections_ytd", "rectification_orders_ytd",
}


def run(*args, data_dir=None):
    cmd = [sys.executable, "-m", "dayuan_geo"]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300)


def test_kpis_json(demo_dir):
    r = run("kpis", "--json", data_dir=demo_dir)
    assert r.returncode == 0, r.stderr
    k = json.loads(r.stdout)
    assert set(k) >= KPI_KEYS
    assert k["released_area_m2"] == 2015800.0
    assert (k["blacklisted_firms"], k["high_risk_firms"], k["inspections_ytd"], k["rectification_orders_ytd"]) == (
        12, 31, 6805, 44)


def test_kpis_as_of(demo_dir):
    r = run("kpis", "--json", "--as-of", "2022-12-31", data_dir=demo_dir)
    assert r.returncode == 0
    assert json.loads(r.stdout)["released_area_m2"] < 2015800.0
    bad = run("kpis", "--as-of", "2022-13-45", data_dir=demo_dir)
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_validate_clean(demo_dir):
    r = run("validate", data_dir=demo_dir)
    assert r.returncode == 0 and "valid" in r.stdout


def test_validate_reports_corrupt_and_missing_files(data_copy):
    (data_copy / "parcels.parquet").write_bytes(b"PAR1 this is not parquet")
    (data_copy / "firms.parquet").unlink()
    r = run("validate", data_dir=data_copy)
    assert r.returncode == 2
    assert "Traceback" not in r.stdout + r.stderr
    assert "parcels.parquet: not a readable Parquet file" in r.stdout
    assert "firms.parquet: missing" in r.stdout


def test_validate_reports_bad_values(data_copy):
    import pandas as pd

    path = data_copy / "remediation_projects.parquet"
    df = pd.read_parquet(path)
    df.loc[0, "mode"] = "bulldoze"
    df.to_parquet(path)
    r = run("validate", data_dir=data_copy)
    assert r.returncode == 2
    assert "sha256 differs" in r.stdout
    assert "column 'mode' has unknown values 'bulldoze'" in r.stdout


def test_validate_without_dataset(tmp_path):
    r = run("validate", data_dir=tmp_path)
    assert r.returncode == 2 and "no manifest" in r.stdout
    assert "Traceback" not in r.stderr


def test_demo_if_missing_keeps_existing(data_copy):
    before = dataset.read_manifest(data_copy)
    r = run("demo", "--if-missing", data_dir=data_copy)
    assert r.returncode == 0 and "nothing built" in r.stdout
    assert dataset.read_manifest(data_copy) == before


def test_demo_other_seed_and_date(tmp_path):
    r = run("demo", "--seed", "5", "--as-of", "2025-06-30", data_dir=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    k = json.loads(run("kpis", "--json", data_dir=tmp_path / "d").stdout)
    assert k["as_of"] == "2025-06-30"
    assert abs(k["released_area_m2"] - 2015800) < 2015.8
    assert k["inspections_ytd"] == 6805 and k["rectification_orders_ytd"] == 44


def test_validate_checks_geoparquet_metadata_against_the_spec(data_copy):
    import json

    import pyarrow.parquet as pq

    from dayuan_geo.dataset import files as D

    name = D.read_manifest(data_copy)["files"]["parks"]["file"]
    table = pq.read_table(data_copy / name)
    geo = json.loads(table.schema.metadata[b"geo"])
    geo["columns"]["geometry"]["geometry_types"] = ["Hexagon"]
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"geo": json.dumps(geo).encode()}),
                   data_copy / name)
    r = run("validate", data_dir=data_copy)
    assert r.returncode == 2
    assert "geo metadata columns/geometry/geometry_types/0: 'Hexagon' does not match" in r.stdout


def test_cli_export_is_audited(data_copy, tmp_path):
    out = tmp_path / "black.csv"
    r = run("export", "firms", "--filter", "risk_level=blacklisted", "-o", str(out), data_dir=data_copy)
    assert r.returncode == 0, r.stderr
    log = (data_copy.parent / "logs" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    entry = json.loads(log[-1])
    assert (entry["action"], entry["what"], entry["rows"]) == ("export", "firms", 12)
    assert entry["filters"] == {"cli": ["risk_level=blacklisted"]}


def test_cli_export_without_its_audit_entry_delivers_no_file(data_copy, tmp_path):
    (data_copy.parent / "logs").mkdir(exist_ok=True)
    (data_copy.parent / "logs" / "audit.jsonl").mkdir()  # the log cannot be written
    out = tmp_path / "firms.csv"
    r = run("export", "firms", "-o", str(out), data_dir=data_copy)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not out.exists() and list(tmp_path.glob(".firms.csv.*")) == []


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_kpis_on_a_damaged_file_exits_2_with_one_line(data_copy, damage):
    path = data_copy / "parcels.parquet"
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:-64] + b"\0" * 64)
    r = run("kpis", data_dir=data_copy)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "parcels.parquet" in r.stderr
    assert "Traceback" not in r.stderr and "duckdb" not in r.stderr.lower()


def test_history_shows_escape_sequences_in_file_names_as_text(data_copy):
    """An uploaded file's name (and the uploader's) reach `history` as text: an escape sequence that
    would clear the terminal or recolour it, or a right-to-left override, is printed escaped."""
    import pandas as pd

    from dayuan_geo.dataset import versions

    targets = pd.read_parquet(data_copy / "targets.parquet")
    manifest = dataset.read_manifest(data_copy)
    versions.publish(data_copy, {"targets": targets}, source="imported", as_of=dt.date.fromisoformat(manifest["as_of"]),
                     change={"user": "li\x1b]0;owned\x07", "file": "目标\x1b[2J\u202egpj.xlsx", "table": "targets",
                             "mode": "upsert", "added": 0, "changed": 1, "removed": 0})
    result = run("history", data_dir=data_copy)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "\x07" not in result.stdout
    assert "目标\\x1b[2J\\u202egpj.xlsx" in result.stdout
