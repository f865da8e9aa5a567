"""The audit log: one JSON line per export and import (who, when, what, filter, rows), append-only.

The log is `$DAYUAN_AUDIT_FILE`, by default `logs/audit.jsonl` beside the data dir. Lines are only
ever appended (O_APPEND, fsync, under an exclusive lock) and each carries the SHA-256 of the line
before it, so a line removed or edited later breaks the chain and `verify` names where.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from dayuan_geo import access
from dayuan_geo.dataset import files as dataset

AUDIT_FILE_ENV = "DAYUAN_AUDIT_FILE"
# restore: an earlier dataset version made current again; account: an account added, removed or given a role
ACTIONS = ("export", "import", "restore", "account")
GENESIS = "0" * 64
OPERATOR = "operator"  # the role recorded for the machine's shell user (the CLI), who holds the files anyway
_TAIL_BYTES = 1 << 16


def audit_file(directory: Path | None = None) -> Path:
    """$DAYUAN_AUDIT_FILE if set, else logs/audit.jsonl beside the data dir (directory, or the default)."""
    env = os.environ.get(AUDIT_FILE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(directory or dataset.data_dir()).resolve().parent / "logs" / "audit.jsonl"


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def _last_line(fd: int) -> str | None:
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    start = max(0, size - _TAIL_BYTES)
    tail = os.pread(fd, size - start, start).decode("utf-8", errors="replace")
    lines = [x for x in tail.split("\n") if x.strip()]
    return lines[-1] if lines else None


def record(
    *,
    user: str,
    role: str,
    action: str,
    what: str,
    rows: int | None,
    filters: Mapping | None = None,
    detail: Mapping | None = None,
    path: Path | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """Append one entry and return it. action is one of ACTIONS; what names the table or file."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; actions: {', '.join(ACTIONS)}")
    path = Path(path) if path is not None else audit_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "user": str(user),
        "role": str(role),
        "action": action,
        "what": str(what),
        "filters": dict(filters or {}),
        "rows": None if rows is None else int(rows),
        **({"detail": dict(detail)} if detail else {}),
    }
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        entry["prev"] = _digest(last) if last is not None else GENESIS
        line = json.dumps(entry, ensure_ascii=False, default=str, sort_keys=True)
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    return entry


def read(path: Path | None = None, *, limit: int | None = None) -> list[dict]:
    """Entries, newest first (at most limit); unreadable lines come back as {'unreadable': text}."""
    path = Path(path) if path is not None else audit_file()
    try:
        lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    except FileNotFoundError:
        return []
    out = []
    for line in reversed(lines[-limit:] if limit else lines):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({"unreadable": line})
    return out


def verify(path: Path | None = None) -> list[str]:
    """Problems with the log's chain (lines edited, removed or inserted); empty when it is intact."""
    path = Path(path) if path is not None else audit_file()
    try:
        lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    except FileNotFoundError:
        return []
    problems = []
    expected = GENESIS
    for number, line in enumerate(lines, start=1):
        try:
            prev = json.loads(line).get("prev")
        except (json.JSONDecodeError, AttributeError):
            prev = None
        if prev != expected:
            problems.append(f"line {number}: does not follow line {number - 1} (edited or removed lines)")
        expected = _digest(line)
    return problems


def deliver(build: Callable[[], tuple[bytes, int]], *, user: str, role: str, table: str,
            filters: Mapping | None = None, detail: Mapping | None = None, path: Path | None = None) -> bytes:
    """An export's bytes, handed over only once its audit entry is written: no entry, no file.

    The one place an export is allowed and recorded, for the page's download button and the CLI alike.
    build() returns (bytes, rows). The role is the one the caller holds at this moment (a page checks
    the accounts file again at the click), and it is the role the entry records.
    """
    if role != OPERATOR and not access.may_export(table, role):
        raise PermissionError(f"role {role!r} may not export {table}")
    data, rows = build()
    record(user=user, role=role, action="export", what=table, rows=rows, filters=filters, detail=detail,
           path=path)
    return data
