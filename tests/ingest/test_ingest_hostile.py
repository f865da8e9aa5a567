"""Every bad or hostile file of the corpus is refused with a message, and the data stays as it was."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import versions
from dayuan_geo.ingest import run as ingest
from tests.hostile.corpus import CASES, Sample


def fingerprint(directory: Path) -> dict[str, str]:
    """sha256 of every file of the data dir except the import log (the one trace a refusal leaves)."""
    out = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name not in (versions.IMPORT_LOG, versions.LOCK_NAME):
            out[str(path.relative_to(directory))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_corpus_is_large_and_named_uniquely():
    assert len(CASES) >= 50
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_file_is_refused_and_changes_nothing(case, data_copy, tmp_path):
    work = tmp_path / "in"
    work.mkdir()
    path = case.build(work, Sample.of(data_copy))
    before = fingerprint(data_copy)
    log_before = len(versions.import_log(data_copy, limit=10_000))
    options = {"user": "tester", "role": "planner", **case.options}
    start = time.monotonic()
    result = ingest.run_import(path, table=case.table, directory=data_copy, **options)
    elapsed = time.monotonic() - start
    report = result.report
    text = report.to_text()
    assert report.status == "refused", text
    assert result.exit_code == 2
    assert text.startswith("REFUSED"), text
    assert case.expect in text, text
    assert elapsed < 20, f"took {elapsed:.1f}s to refuse"
    assert fingerprint(data_copy) == before
    assert dataset.validate(data_copy) == []
    log = versions.import_log(data_copy, limit=10_000)
    assert len(log) == log_before + 1
    assert log[0]["status"] == "refused" and log[0]["file"] == path.name
    # nothing was unpacked next to the data or left in the import's temporary folder
    assert not any(p.name.startswith((".tmp-", ".staging-")) for p in data_copy.iterdir())


def test_dry_run_of_a_good_file_changes_nothing(data_copy, tmp_path):
    from tests.hostile.corpus import parcel_rows

    path = tmp_path / "ok.geojson"
    parcel_rows(Sample.of(data_copy), 3).to_file(path)
    before = fingerprint(data_copy)
    result = ingest.run_import(path, table="parcels", directory=data_copy, user="t", role="planner", dry_run=True)
    assert result.report.status == "checked", result.report.to_text()
    assert result.report.added == 3
    assert fingerprint(data_copy) == before


def test_limits_come_from_the_environment(data_copy, tmp_path, monkeypatch):
    from tests.hostile.corpus import parcel_rows

    path = tmp_path / "ok.geojson"
    parcel_rows(Sample.of(data_copy), 3).to_file(path)
    monkeypatch.setenv("DAYUAN_IMPORT_MAX_FEATURES", "2")
    report = ingest.run_import(path, table="parcels", directory=data_copy, user="t", role="planner").report
    assert report.status == "refused" and "at most 2" in report.to_text()
    monkeypatch.setenv("DAYUAN_IMPORT_MAX_FEATURES", "lots")
    report = ingest.run_import(path, table="parcels", directory=data_copy, user="t", role="planner").report
    assert report.status == "refused" and "DAYUAN_IMPORT_MAX_FEATURES='lots' is not valid" in report.to_text()
