"""The audit log: one JSON line per export and import (who, when, what, filter, rows), append-only.

The log is `$DAYUAN_AUDIT_FILE`, by default `logs/audit.jsonl` beside the data dir. Lines are only
ever appended (O_APPEND, fsync, under an exclusive lock) and each carries the SHA-256 of the line
before it, so a line removed or edited later breaks the chain and `verify` names where.

The chain alone cannot see its own end: an edited last line, a cut-off tail or a chain recomputed
from scratch all look intact. So every line is also signed (HMAC-SHA256) with a key kept outside
the log (`$DAYUAN_AUDIT_KEY_FILE`, by default `config/audit.key` beside the log's folder, created
on first use, owner-only), and an anchor beside the log (`audit.jsonl.anchor`, signed with the same
key) holds the line count and the last line's hash; `verify` checks both. Lines written after the
anchor (a crash between the two writes) are accepted when their signatures hold.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from dayuan_geo import access, settings
from dayuan_geo.dataset import files as dataset

AUDIT_FILE_ENV = "DAYUAN_AUDIT_FILE"
# restore: an earlier dataset version made current again; account: an account added, removed or given a role
ACTIONS = ("export", "import", "restore", "account")
GENESIS = "0" * 64
OPERATOR = "operator"  # the role recorded for the machine's shell user (the CLI), who holds the files anyway
_TAIL_BYTES = 1 << 16


def audit_file(directory: Path | None = None) -> Path:
    """$DAYUAN_AUDIT_FILE if set, else logs/audit.jsonl beside the data dir (directory, or the default)."""
    env = settings.get(AUDIT_FILE_ENV)
    if env:
        return env
    return Path(directory or dataset.data_dir()).resolve().parent / "logs" / "audit.jsonl"


KEY_FILE_ENV = "DAYUAN_AUDIT_KEY_FILE"


def key_file(log: Path) -> Path:
    """$DAYUAN_AUDIT_KEY_FILE if set, else config/audit.key beside the log's folder."""
    env = settings.get(KEY_FILE_ENV)
    if env:
        return env
    return Path(log).resolve().parent.parent / "config" / "audit.key"


def _key(log: Path, *, create: bool) -> bytes | None:
    path = key_file(log)
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        if not create:
            return None
    except ValueError as exc:
        raise ValueError(f"{path}: not an audit key") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another writer made it first
        return _key(log, create=False)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(os.urandom(32).hex())
        fh.flush()
        os.fsync(fh.fileno())
    return _key(log, create=False)


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _anchor_path(log: Path) -> Path:
    return Path(log).with_name(Path(log).name + ".anchor")


def _write_anchor(log: Path, key: bytes, *, lines: int, last: str) -> None:
    body = json.dumps({"lines": lines, "last": last}, sort_keys=True)
    dataset.write_json_durably(_anchor_path(log), {"lines": lines, "last": last, "mac": _sign(key, body)})


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
    key = _key(path, create=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        entry["prev"] = _digest(last) if last is not None else GENESIS
        entry = json.loads(json.dumps(entry, ensure_ascii=False, default=str))  # as it will read back
        entry["mac"] = _sign(key, _body(entry))
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
        _write_anchor(path, key, lines=_count_after(path, fd, last), last=_digest(line))
    finally:
        os.close(fd)  # releases the lock
    return entry


def _body(entry: dict) -> str:
    """What a line's signature covers: the entry without its signature, in one canonical form."""
    return json.dumps({k: v for k, v in entry.items() if k != "mac"}, ensure_ascii=False, sort_keys=True)


def _count_after(path: Path, fd: int, previous: str | None) -> int:
    """Lines in the log now: the anchor's count plus one when it named the line before, else counted."""
    if previous is None:
        return 1
    try:
        anchor = json.loads(_anchor_path(path).read_text(encoding="utf-8"))
        if anchor.get("last") == _digest(previous):
            return int(anchor["lines"]) + 1
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return _count_lines(fd)


def _count_lines(fd: int) -> int:
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0) if size else b""
    return sum(1 for x in data.split(b"\n") if x.strip())


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
    key = _key(path, create=False)
    if lines and key is None:
        problems.append(f"no audit key at {key_file(path)}: signatures cannot be checked")
    signed: list[bool] = []
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            prev = entry.get("prev")
        except (json.JSONDecodeError, AttributeError):
            entry, prev = {}, None
        if prev != expected:
            problems.append(f"line {number}: does not follow line {number - 1} (edited or removed lines)")
        ok = key is not None and isinstance(entry.get("mac"), str) and hmac.compare_digest(
            entry["mac"], _sign(key, _body(entry)))
        signed.append(ok)
        if key is not None and not ok:
            problems.append(f"line {number}: signature does not match (edited, or written without the key)")
        expected = _digest(line)
    if key is not None:
        problems += _anchor_problems(path, key, lines, signed)
    return problems


def _anchor_problems(path: Path, key: bytes, lines: list[str], signed: list[bool]) -> list[str]:
    """The log against its anchor: as many lines as the anchor counts, ending in the line it names."""
    try:
        anchor = json.loads(_anchor_path(path).read_text(encoding="utf-8"))
        body = json.dumps({"lines": anchor["lines"], "last": anchor["last"]}, sort_keys=True)
        valid = hmac.compare_digest(str(anchor["mac"]), _sign(key, body))
    except FileNotFoundError:
        return [f"{_anchor_path(path).name} is missing: the end of the log cannot be checked"] if lines else []
    except (OSError, ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        return [f"{_anchor_path(path).name}: not signed with the audit key (replaced or edited)"]
    count = int(anchor["lines"])
    if len(lines) < count:
        return [f"the log has {len(lines)} lines but {count} were written (lines cut off at the end)"]
    if count and _digest(lines[count - 1]) != anchor["last"]:
        return [f"line {count}: not the line last written (edited, or the log rewritten)"]
    if not all(signed[count:]):
        return [f"lines after {count}: written after the anchor without the key"]
    return []


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
