"""Versions: history and restore round trip, pruning, one writer at a time, and kill -9 at any moment."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import integrity, lock, versions
from dayuan_geo.ingest import run as ingest
from dayuan_geo.store import Store
from tests.hostile.corpus import Sample, uscc

ROOT = Path(__file__).resolve().parents[2]


def firm_csv(path: Path, sample: Sample, ids: list[str], risk: str = "一般") -> Path:
    lon, lat = sample.lonlat
    pd.DataFrame({
        "企业编号": ids,
        "企业名称": [f"测试企业{i}" for i in ids],
        "统一社会信用代码": [uscc(f"91440111MA5{sum(map(ord, i)) * 7919 % 10**6:06d}") for i in ids],
        "行业": ["快递"] * len(ids),
        "风险等级": [risk] * len(ids),
        "经度": [lon + 0.0001 * k for k in range(len(ids))],
        "纬度": [lat] * len(ids),
    }).to_csv(path, index=False)
    return path


def firm_ids(directory: Path) -> set[str]:
    return set(pd.read_parquet(dataset.table_path(directory, "firms"), columns=["firm_id"]).firm_id)


def imp(directory: Path, path: Path, table: str = "firms", **kw) -> ingest.Report:
    report = ingest.run_import(path, table=table, directory=directory, user="li", role="planner", **kw).report
    assert report.status == "imported", report.to_text()
    return report


def shas(manifest: dict) -> dict[str, str]:
    return {name: entry["sha256"] for name, entry in manifest["files"].items()}


def test_history_and_restore_round_trip(data_copy, tmp_path):
    sample = Sample.of(data_copy)
    v1 = dataset.read_manifest(data_copy)
    r2 = imp(data_copy, firm_csv(tmp_path / "a.csv", sample, ["FA1", "FA2"]))
    v2 = dataset.read_manifest(data_copy)
    r3 = imp(data_copy, firm_csv(tmp_path / "b.csv", sample, ["FA1", "FB1"], risk="黑榜"), mode="upsert")
    assert (r2.version, r3.version) == (2, 3)
    assert (r3.added, r3.changed) == (1, 1)

    hist = versions.history(data_copy)
    assert [h["version"] for h in hist] == [3, 2, 1]
    assert hist[0]["current"] and not hist[1]["current"]
    assert (hist[0]["user"], hist[0]["file"], hist[0]["table"], hist[0]["added"], hist[0]["changed"]) == (
        "li", "b.csv", "firms", 1, 1)
    assert hist[1]["added"] == 2 and hist[2]["source"] == "demo"

    restored = versions.restore(data_copy, 1, user="zhao", role="planner")
    assert restored["dataset_version"] == 4
    assert shas(dataset.read_manifest(data_copy)) == shas(v1)
    assert dataset.validate(data_copy) == []
    assert "FA1" not in firm_ids(data_copy)
    versions.restore(data_copy, 2, user="zhao", role="planner")
    assert shas(dataset.read_manifest(data_copy)) == shas(v2)
    assert firm_ids(data_copy) >= {"FA1", "FA2"} and "FB1" not in firm_ids(data_copy)
    hist = versions.history(data_copy)
    assert hist[0]["version"] == 5 and hist[0]["mode"] == "restore" and hist[0]["user"] == "zhao"
    store = Store(data_copy)
    assert store.cursor().execute("SELECT count(*) FROM firms WHERE firm_id = 'FA2'").fetchone()[0] == 1


def test_restore_refuses_unknown_versions_and_other_roles(data_copy):
    with pytest.raises(ValueError, match="not kept"):
        versions.restore(data_copy, 99, user="x", role="planner")
    with pytest.raises(PermissionError):
        versions.restore(data_copy, 1, user="x", role="leader")


def test_cli_history_and_restore(data_copy, tmp_path):
    imp(data_copy, firm_csv(tmp_path / "a.csv", Sample.of(data_copy), ["FC1"]))
    cmd = [sys.executable, "-m", "dayuan_geo", "--data-dir", str(data_copy)]
    r = subprocess.run([*cmd, "restore", "1", "--user", "zhao"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0 and "as version 3" in r.stdout, r.stderr
    r = subprocess.run([*cmd, "history"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[1].startswith("*     3") and "zhao" in lines[1] and "a.csv" in r.stdout
    r = subprocess.run([*cmd, "restore", "42"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "not kept" in r.stderr and "Traceback" not in r.stderr


def test_old_versions_are_pruned_to_the_configured_count(data_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("DAYUAN_KEEP_VERSIONS", "3")
    sample = Sample.of(data_copy)
    for k in range(5):
        imp(data_copy, firm_csv(tmp_path / f"{k}.csv", sample, [f"FP{k}"]))
    hist = versions.history(data_copy)
    assert [h["version"] for h in hist] == [6, 5, 4]
    kept_files = {e["file"] for m in versions._kept_manifests(data_copy) for e in m["files"].values()}
    in_versions = {p.name for p in versions.versions_dir(data_copy).glob("*.parquet")}
    assert in_versions == kept_files
    # the data dir holds the current version's files and the previous one's (for readers mid-refresh)
    firms_files = sorted(p.name for p in data_copy.glob("firms*.parquet"))
    assert firms_files == ["firms.v5.parquet", "firms.v6.parquet"]
    with pytest.raises(ValueError, match="not kept"):
        versions.restore(data_copy, 2, user="x", role="planner")
    versions.restore(data_copy, 4, user="x", role="planner")
    assert firm_ids(data_copy) >= {"FP0", "FP1", "FP2"} and "FP3" not in firm_ids(data_copy)
    assert dataset.validate(data_copy) == []


def test_one_writer_at_a_time(data_copy, tmp_path, monkeypatch):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from dayuan_geo.dataset import versions\n"
         "with versions.writer_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(4)", str(data_copy)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(lock, "LOCK_TIMEOUT_S", 0.5)
        path = firm_csv(tmp_path / "a.csv", Sample.of(data_copy), ["FL1"])
        before = dataset.read_manifest(data_copy)
        report = ingest.run_import(path, table="firms", directory=data_copy, user="li", role="planner").report
        assert report.status == "refused" and "another import" in report.to_text()
        assert dataset.read_manifest(data_copy) == before
    finally:
        holder.wait(timeout=30)
    monkeypatch.setattr(lock, "LOCK_TIMEOUT_S", 30)
    assert imp(data_copy, path).version == 2


def test_concurrent_imports_in_one_process_lose_nothing(data_copy, tmp_path):
    """Two sessions of the app importing at once: one waits for the other, both rows arrive."""
    sample = Sample.of(data_copy)
    paths = [firm_csv(tmp_path / f"t{k}.csv", sample, [f"FT{k}"]) for k in range(3)]
    reports: list[ingest.Report] = []

    def work(path):
        reports.append(ingest.run_import(path, table="firms", directory=data_copy, user="t", role="planner").report)

    threads = [threading.Thread(target=work, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.version for r in reports) == [2, 3, 4], [r.to_text() for r in reports]
    assert {"FT0", "FT1", "FT2"} <= firm_ids(data_copy)
    assert dataset.validate(data_copy) == []


def test_readers_never_see_a_half_written_version(data_copy, tmp_path):
    sample = Sample.of(data_copy)
    files = [firm_csv(tmp_path / f"{k}.csv", sample, [f"FR{k}"]) for k in range(6)]
    problems: list[str] = []
    seen: set[int] = set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            found = dataset.validate(data_copy)
            if found:
                problems.extend(found)
            seen.add(int(dataset.read_manifest(data_copy)["dataset_version"]))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for path in files:
            imp(data_copy, path)
    finally:
        stop.set()
        thread.join()
    assert problems == []
    assert max(seen) >= 5


def _run_import_process(data_dir: Path, path: Path, env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "dayuan_geo", "--data-dir", str(data_dir), "import", str(path), "--table", "firms"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _assert_old_or_new(data_dir: Path, old: set[str], new_ids: set[str]) -> set[str]:
    assert dataset.validate(data_dir) == []
    got = firm_ids(data_dir)
    assert got in (old, old | new_ids), f"neither old nor new: {sorted(got ^ old)[:5]}"
    Store(data_dir).close()  # the app can load it
    return got


@pytest.mark.parametrize(("point", "lands"), [
    ("table_written", "old"), ("before_commit", "old"), ("after_commit", "new"), ("archived", "new"),
])
def test_crash_at_named_points_leaves_old_or_new(data_copy, tmp_path, point, lands):
    sample = Sample.of(data_copy)
    old = firm_ids(data_copy)
    path = firm_csv(tmp_path / "k.csv", sample, ["FK1", "FK2"])
    proc = _run_import_process(data_copy, path, {versions.CRASH_ENV: point})
    assert proc.wait(timeout=120) == -signal.SIGKILL
    got = _assert_old_or_new(data_copy, old, {"FK1", "FK2"})
    assert got == (old if lands == "old" else old | {"FK1", "FK2"})
    # the next writer clears what the killed one left and carries on
    report = imp(data_copy, firm_csv(tmp_path / "next.csv", sample, ["FK9"]))
    assert report.version == (2 if lands == "old" else 3)
    assert not list(data_copy.glob(".tmp-*"))
    assert versions.history(data_copy)[0]["version"] == report.version


def test_kill_9_at_random_moments(data_copy, tmp_path):
    """20 imports, each killed at a random moment (half of them while writing the new version): the data
    is always the old or the new version."""
    sample = Sample.of(data_copy)
    rng = random.Random(20201)
    start = time.monotonic()
    full = _run_import_process(data_copy, firm_csv(tmp_path / "warm.csv", sample, ["FW0"]))
    assert full.wait(timeout=120) == 0
    duration = time.monotonic() - start
    state = firm_ids(data_copy)
    outcomes = {"old": 0, "new": 0}
    for k in range(20):
        ids = {f"FX{k}a", f"FX{k}b"}
        path = firm_csv(tmp_path / f"x{k}.csv", sample, sorted(ids))
        proc = _run_import_process(data_copy, path)
        if k % 2:  # anywhere in the run
            time.sleep(rng.uniform(0.3, 1.1) * duration)
        else:  # inside the write: from the first temporary file on
            deadline = time.monotonic() + 3 * duration
            while not list(data_copy.glob(".tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        got = _assert_old_or_new(data_copy, state, ids)
        outcomes["new" if got != state else "old"] += 1
        state = got
    assert outcomes["old"] + outcomes["new"] == 20
    print(f"kill -9 outcomes: {outcomes}")
    report = imp(data_copy, firm_csv(tmp_path / "last.csv", sample, ["FZ1"]))
    assert report.status == "imported" and dataset.validate(data_copy) == []


def test_imports_into_demo_data_keep_the_demo_label(data_copy):
    """A leader must never take demo figures for real: appended rows do not make a table real."""
    import geopandas as gpd

    from dayuan_geo.dataset import files as D

    m = D.read_manifest(data_copy)
    assert set(m["demo_tables"]) == set(m["files"])
    parcels = gpd.read_parquet(data_copy / m["files"]["parcels"]["file"])
    versions.publish(data_copy, {"parcels": parcels}, source="imported", as_of=dt.date(2026, 11, 20),
              change={"table": "parcels", "mode": "upsert"})
    assert "parcels" in D.read_manifest(data_copy)["demo_tables"]
    versions.publish(data_copy, {"parcels": parcels}, source="imported", as_of=dt.date(2026, 11, 20),
              change={"table": "parcels", "mode": "replace"})
    m = D.read_manifest(data_copy)
    assert "parcels" not in m["demo_tables"] and "firms" in m["demo_tables"]


# ---- a broken manifest stops every writer; damaged files are never restored ----------------------

def _republish(directory: Path, table: str, *, keep: int) -> dict:
    """A new version whose `table` keeps only its first `keep` rows (as an import would publish it)."""
    import geopandas as gpd

    def read(name: str):
        return (gpd if S.table(name).has_geometry else pd).read_parquet(dataset.table_path(directory, name))

    tables = {table: read(table).head(keep)}
    integrity.cascade(tables, read)  # child rows pointing at removed rows go too, as `import --cascade` does
    return versions.publish(directory, tables, source="import", as_of=dt.date(2026, 11, 20))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dayuan_geo", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


@pytest.mark.parametrize("broken", ["", "[]", "{\"files\": {}}", None], ids=["truncated", "list", "no-version",
                                                                              "deleted"])
def test_a_broken_manifest_stops_restore_and_import_and_says_how_to_recover(data_copy, tmp_path, broken):
    _republish(data_copy, "targets", keep=50)  # v2
    v3 = _republish(data_copy, "firms", keep=7)  # v3
    newest_firms = v3["files"]["firms"]["file"]
    before = sorted(p.relative_to(data_copy).as_posix() for p in data_copy.rglob("*.parquet"))
    manifest = data_copy / "manifest.json"
    if broken is None:
        manifest.unlink()
    else:
        manifest.write_text(broken)

    with pytest.raises(versions.ManifestBroken, match=r"manifest\.v3\.json"):
        versions.restore(data_copy, 2, user="li", role="planner")
    with pytest.raises(versions.ManifestBroken):
        _republish(data_copy, "firms", keep=3)
    after = sorted(p.relative_to(data_copy).as_posix() for p in data_copy.rglob("*.parquet"))
    assert after == before and (data_copy / newest_firms).exists()

    done = _cli("--data-dir", str(data_copy), "restore", "2", "--role", "planner")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "manifest.v3.json" in done.stderr and (data_copy / newest_firms).exists()
    for command in ("validate", "history"):
        shown = _cli("--data-dir", str(data_copy), command)
        assert shown.returncode == 2, command
        assert f"cp {data_copy / 'versions' / 'manifest.v3.json'} {manifest}" in shown.stdout + shown.stderr

    # following the advice brings v3 back whole
    (data_copy / "manifest.json").write_bytes((data_copy / "versions" / "manifest.v3.json").read_bytes())
    assert dataset.validate(data_copy) == []
    assert len(pd.read_parquet(data_copy / newest_firms)) == 7


def test_a_file_damaged_in_place_is_never_restored_and_the_intact_versions_are_named(data_copy):
    v1 = dataset.read_manifest(data_copy)
    _republish(data_copy, "targets", keep=50)  # v2 shares firms.parquet with v1
    _republish(data_copy, "firms", keep=7)  # v3
    name = v1["files"]["firms"]["file"]
    data = bytearray((data_copy / name).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte flipped in place: every hard link of the file sees it
    for path in (data_copy / name, data_copy / "versions" / name):  # (the test's copy holds two inodes)
        with open(path, "r+b") as fh:
            fh.write(bytes(data))

    for number in (1, 2):
        with pytest.raises(ValueError, match=r"no longer matches its sha256.*intact: 3$"):
            versions.restore(data_copy, number, user="li", role="planner")
    assert dataset.read_manifest(data_copy)["dataset_version"] == 3  # nothing changed
    assert versions.intact_versions(data_copy) == [3]


def test_restore_writes_its_own_audit_entry(data_copy, monkeypatch, tmp_path):
    from dayuan_geo import audit

    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv(audit.AUDIT_FILE_ENV, str(log))
    _republish(data_copy, "firms", keep=7)
    versions.restore(data_copy, 1, user="li", role="planner")
    (entry,) = audit.read(log)
    assert (entry["user"], entry["role"], entry["action"], entry["what"]) == ("li", "planner", "restore", "version 1")
    assert entry["detail"] == {"new_version": 3}

    log.unlink()
    log.mkdir()  # the log cannot be written: the restore does not happen
    with pytest.raises(OSError):
        versions.restore(data_copy, 2, user="li", role="planner")
    assert dataset.read_manifest(data_copy)["dataset_version"] == 3
