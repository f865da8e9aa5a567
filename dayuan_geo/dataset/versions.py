"""Versions of the dataset: one writer at a time, history, restore, pruning, the import log.

Layout of a data dir:

    manifest.json              the version in force (its rename is the commit point)
    <table>[.vN].parquet       files of the current (and the previous) version; never rewritten
    versions/manifest.vN.json  every kept version's manifest
    versions/<file>.parquet    hard links (or copies) of every kept version's files
    versions/import-log.jsonl  one line per import attempt, refused ones included
    .writer.lock               fcntl lock held by the one writer

A crash at any point leaves the old manifest or the new one in force, each naming complete,
fsynced files; `prepare_write` clears what an interrupted writer left behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pandas as pd

from dayuan_geo import access, audit, settings
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import integrity

# the writer lock lives in lock.py; callers keep using versions.writer_lock, .WriterBusy, .LOCK_NAME
from dayuan_geo.dataset.lock import LOCK_NAME, WriterBusy, writer_lock  # noqa: F401

VERSIONS_DIR = "versions"
IMPORT_LOG = "import-log.jsonl"
DEFAULT_KEEP = 10
CRASH_ENV = "DAYUAN_CRASH_AT"  # test hook: the named point at which the process kills itself

_MANIFEST_FILE = re.compile(r"^manifest\.v(\d+)\.json$")


def keep_count() -> int:
    """How many versions to keep: $DAYUAN_KEEP_VERSIONS, else DEFAULT_KEEP (at least 2)."""
    return settings.get("DAYUAN_KEEP_VERSIONS")


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when $DAYUAN_CRASH_AT names this point (durability tests)."""
    if settings.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def versions_dir(directory: Path) -> Path:
    return Path(directory) / VERSIONS_DIR


def _archived_manifest(directory: Path, number: int) -> Path:
    return versions_dir(directory) / f"manifest.v{int(number)}.json"


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    tmp = dst.with_name(f".tmp-{dst.name}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
        dataset._fsync(tmp)
    os.replace(tmp, dst)


def archive(directory: Path, manifest: dict) -> None:
    """Keep manifest and its files under versions/ so the version can be restored later."""
    directory = Path(directory)
    vdir = versions_dir(directory)
    vdir.mkdir(exist_ok=True)
    for entry in manifest.get("files", {}).values():
        file = str(entry.get("file", ""))
        if dataset.SAFE_FILE.match(file) and (directory / file).exists():
            _link_or_copy(directory / file, vdir / file)
    dataset.fsync_dir(vdir)
    target = _archived_manifest(directory, manifest.get("dataset_version", 0))
    if not target.exists():
        dataset.write_json_durably(target, manifest)


class ManifestBroken(ValueError):
    """The manifest in force cannot be trusted: every writer stops rather than start again at version 1."""


def recovery_hint(directory: Path) -> str:
    """How to bring the dataset back from the archived manifests (for the error and `validate`)."""
    directory = Path(directory)
    kept = sorted((int(m.get("dataset_version", 0)) for m in _kept_manifests(directory)), reverse=True)
    if not kept:
        return "no archived manifests in versions/ to recover from: rebuild or import the dataset again"
    newest = _archived_manifest(directory, kept[0])
    return (f"to recover, copy the newest intact archived manifest over it, e.g. `cp {newest} "
            f"{directory / S.MANIFEST_NAME}` (archived versions: {', '.join(map(str, kept))}), "
            "then check it with `python -m dayuan_geo validate`")


def manifest_problem(directory: Path) -> str | None:
    """Why the manifest in force cannot be trusted, with how to recover; None when it can."""
    try:
        _current(directory)
    except ManifestBroken as exc:
        return str(exc)
    return None


def _current(directory: Path) -> dict:
    """The manifest in force; version 0 only for a data dir that never held a dataset.

    A manifest that is missing while versions are archived, unreadable, or older than the newest
    archived version raises ManifestBroken: read as "version 0", the next import or restore would
    be numbered 1 and pruning would delete the newest version's files.
    """
    directory = Path(directory)
    kept = _kept_manifests(directory)
    if not (directory / S.MANIFEST_NAME).exists() and not kept:
        return {"dataset_version": 0, "files": {}}
    try:
        manifest = dataset.read_manifest(directory)
        number = manifest.get("dataset_version")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError(f"{directory / S.MANIFEST_NAME}: no dataset_version")
        newest = max((int(m.get("dataset_version", 0)) for m in kept), default=0)
        if number < newest:
            raise ValueError(f"{directory / S.MANIFEST_NAME}: names version {number}, "
                             f"but version {newest} is archived")
    except ValueError as exc:
        raise ManifestBroken(f"{exc}; nothing was changed; {recovery_hint(directory)}") from None
    return manifest


def prepare_write(directory: Path) -> dict:
    """Under the lock: clear what an interrupted writer left, archive the version in force, return it."""
    directory = Path(directory)
    for leftover in directory.glob(".tmp-*"):
        leftover.unlink(missing_ok=True)
    for leftover in directory.glob(".staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if versions_dir(directory).exists():
        for leftover in versions_dir(directory).glob(".tmp-*"):
            leftover.unlink(missing_ok=True)
    current = _current(directory)
    if current.get("files"):
        archive(directory, current)
    return current


def commit(directory: Path, manifest: dict, *, keep: int | None = None) -> None:
    """Make manifest the version in force (one rename), then archive it and prune old versions."""
    directory = Path(directory)
    crash_point("before_commit")
    dataset.write_json_durably(directory / S.MANIFEST_NAME, manifest)
    crash_point("after_commit")
    archive(directory, manifest)
    crash_point("archived")
    prune(directory, keep=keep or keep_count())


def _kept_manifests(directory: Path) -> list[dict]:
    """Archived manifests, newest first."""
    out = []
    vdir = versions_dir(directory)
    if not vdir.exists():
        return out
    for path in vdir.iterdir():
        m = _MANIFEST_FILE.match(path.name)
        if not m:
            continue
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    out.sort(key=lambda man: int(man.get("dataset_version", 0)), reverse=True)
    return out


def _files_of(manifest: dict) -> set[str]:
    return {str(e.get("file")) for e in manifest.get("files", {}).values()}


def prune(directory: Path, *, keep: int) -> None:
    """Drop versions beyond the newest `keep`, and data-dir files neither current nor previous.

    The previous version's files stay in the data dir, so a reader that read the old manifest just
    before the commit can still open every file it names.
    """
    directory = Path(directory)
    vdir = versions_dir(directory)
    current = _current(directory)
    kept = _kept_manifests(directory)
    number = int(current.get("dataset_version", 0))
    keep_these = [m for m in kept if int(m.get("dataset_version", 0)) <= number][:keep]
    drop = [m for m in kept if m not in keep_these and int(m.get("dataset_version", 0)) <= number]
    for m in drop:
        _archived_manifest(directory, m["dataset_version"]).unlink(missing_ok=True)
    wanted = set().union(*(_files_of(m) for m in keep_these), _files_of(current))
    if vdir.exists():
        for path in vdir.glob("*.parquet"):
            if path.name not in wanted:
                path.unlink(missing_ok=True)
    previous = next((m for m in kept if int(m.get("dataset_version", 0)) < number), {})
    in_use = _files_of(current) | _files_of(previous)
    for path in directory.glob("*.parquet"):
        archived = (vdir / path.name).exists()
        if path.name not in in_use and (archived or path.name not in wanted):
            path.unlink(missing_ok=True)


def history(directory: Path) -> list[dict]:
    """Kept versions, newest first: version, when, who, source, file, table, mode, rows changed."""
    directory = Path(directory)
    current = _current(directory)
    manifests = _kept_manifests(directory)
    if current.get("files") and all(m.get("dataset_version") != current.get("dataset_version") for m in manifests):
        manifests.insert(0, current)
    out = []
    for m in manifests:
        change = m.get("change") or {}
        out.append({
            "version": int(m.get("dataset_version", 0)),
            "created_at": m.get("created_at"),
            "current": m.get("dataset_version") == current.get("dataset_version"),
            "source": m.get("source"),
            "user": change.get("user") or "",
            "file": change.get("file") or "",
            "table": change.get("table") or "",
            "mode": change.get("mode") or "",
            "added": change.get("added"),
            "changed": change.get("changed"),
            "removed": change.get("removed"),
            "note": m.get("note", ""),
            "scale": m.get("scale"),  # a demo version's scale and seed, a restore's origin: said in the UI's words
            "seed": m.get("seed"),
            "restored_from": change.get("restored_from"),
        })
    return out


def restore(directory: Path, version: int, *, user: str, role: str, keep: int | None = None) -> dict:
    """Make the kept version `version` current again, as a new version; returns its manifest."""
    if not access.role(role).may_import:
        raise PermissionError(f"role {role!r} may not change the dataset (planners only)")
    directory = Path(directory)
    with writer_lock(directory):
        current = prepare_write(directory)
        path = _archived_manifest(directory, version)
        if not path.exists():
            known = ", ".join(str(h["version"]) for h in history(directory)) or "none"
            raise ValueError(f"version {version} is not kept; kept versions: {known}")
        old = json.loads(path.read_text(encoding="utf-8"))
        damaged = file_problems(directory, old)
        if damaged:  # files are shared between versions: one damaged in place breaks each version holding it
            good = ", ".join(str(n) for n in intact_versions(directory)) or "none"
            raise ValueError(f"version {version} cannot be restored: {'; '.join(damaged)}; "
                             f"versions whose files are intact: {good}")
        vdir = versions_dir(directory)
        for entry in old["files"].values():
            file = str(entry["file"])
            if not (directory / file).exists():
                _link_or_copy(vdir / file, directory / file)
        manifest = {
            **{k: v for k, v in old.items() if k != "change"},
            "dataset_version": int(current.get("dataset_version", 0)) + 1,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "note": f"restored version {version}",
            "change": {"user": user, "restored_from": int(version), "mode": "restore"},
        }
        problems = dataset.validate_manifest(directory, manifest)
        if problems:
            raise ValueError(f"version {version} does not validate:\n" + "\n".join(problems))
        # the restore records itself, before it takes effect: no entry, no restore
        audit.record(user=user, role=role, action="restore", what=f"version {int(version)}", rows=None,
                     detail={"new_version": manifest["dataset_version"]}, path=audit.audit_file(directory))
        commit(directory, manifest, keep=keep)
        return manifest


def file_problems(directory: Path, manifest: dict) -> list[str]:
    """Files of an archived version that are gone or no longer match their sha256, one line each.

    A file is looked for in the data dir, then under versions/ (both names may be one hard link).
    """
    directory = Path(directory)
    out = []
    for entry in manifest.get("files", {}).values():
        file = str(entry.get("file", ""))
        if not dataset.SAFE_FILE.match(file):
            out.append(f"unsafe file name {file!r}")
            continue
        found = [p for p in (directory / file, versions_dir(directory) / file) if p.exists()]
        if not found:
            out.append(f"{file} is gone")
        elif entry.get("sha256") and all(dataset.sha256_of(p) != entry["sha256"] for p in found):
            out.append(f"{file} no longer matches its sha256 (changed outside the product)")
    return out


def intact_versions(directory: Path) -> list[int]:
    """Kept versions whose every file is present and matches its sha256, newest first."""
    return [int(m.get("dataset_version", 0)) for m in _kept_manifests(directory) if not file_problems(directory, m)]


def log_import(directory: Path, entry: dict) -> None:
    """Append one import attempt to the import log (durably; the only trace of a refused import)."""
    vdir = versions_dir(directory)
    vdir.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **entry},
                      ensure_ascii=False, default=str)
    fd = os.open(vdir / IMPORT_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def import_log(directory: Path, *, limit: int = 50) -> list[dict]:
    """The latest import attempts, newest first."""
    path = versions_dir(directory) / IMPORT_LOG
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-limit:]
    out = []
    for line in reversed(lines):
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def publish(
    directory: Path,
    tables: dict[str, pd.DataFrame],
    *,
    source: str,
    as_of: dt.date,
    note: str = "",
    extra: dict | None = None,
    change: dict | None = None,
    keep: int | None = None,
) -> dict:
    """Write tables as the dataset's next version; unchanged tables keep their files.

    One writer at a time (the data dir's lock). Files are written under temporary names, fsynced,
    renamed to their version's names, the whole new version is validated, and only then does the
    manifest rename make it current. `change` (who, which file, rows added/changed/removed) is
    recorded in the manifest for `history`. Raises ValueError when the new version does not validate.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with writer_lock(directory):
        old = prepare_write(directory)
        number = int(old.get("dataset_version", 0)) + 1
        fresh = not old.get("files")
        files = dict(old.get("files", {}))
        written: list[Path] = []
        try:
            for name, frame in tables.items():
                S.table(name)
                file = f"{name}.parquet" if fresh else f"{name}.v{number}.parquet"
                tmp = directory / f".tmp-{file}"
                rows = dataset.write_table(frame, tmp, name)
                dataset._fsync(tmp)
                os.replace(tmp, directory / file)
                written.append(directory / file)
                crash_point("table_written")
                files[name] = {"file": file, "sha256": dataset.sha256_of(directory / file), "rows": rows,
                               "bytes": (directory / file).stat().st_size}
            manifest = {
                "dataset_version": number,
                "as_of": as_of.isoformat(),
                "source": source,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "note": note,
                "files": {name: files[name] for name in sorted(files, key=_table_order)},
                **(extra or {}),
            }
            if change:
                manifest["change"] = change
            # Tables that still hold demo rows: an append or upsert keeps them, only a replace clears
            # them; the UI keeps calling such data demo data.
            if source == "demo":
                demo_tables = set(tables)
            else:
                demo_tables = set(old.get("demo_tables", []))
                if (change or {}).get("mode") == "replace":
                    demo_tables -= set(tables)
            manifest["demo_tables"] = sorted(demo_tables, key=_table_order)
            problems = dataset.validate_manifest(directory, manifest)
            problems = problems or integrity.problems(directory, manifest)  # no rows pointing at nothing
            if problems:
                raise ValueError("new dataset does not validate:\n" + "\n".join(problems))
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        commit(directory, manifest, keep=keep)
        return manifest


def _table_order(name: str) -> int:
    return S.TABLE_NAMES.index(name) if name in S.TABLES else len(S.TABLE_NAMES)
