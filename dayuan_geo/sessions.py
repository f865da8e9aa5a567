"""Signed sign-in cookies: what lets a sign-in survive a reload without a session id carrying it.

After a password check the page hands the browser a one-time ticket (signed, 60 s, one use) to
fetch from `/_dayuan/session`; that route answers with the session cookie: signed with a key kept
beside the accounts file (`config/session.key`, owner-only), HttpOnly, SameSite=Strict, valid
SESSION_HOURS. The cookie names the account and a fingerprint of its role and password hash, so a
removed account, a new role or a new password ends every session of it; signing out revokes the
cookie's id, in a list kept beside the key (`config/session.revoked`), so a copy of the cookie stays
void after the server restarts. A Streamlit session id alone never carries an identity.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "dayuan_session"
SESSION_HOURS = 12
TICKET_S = 60
TICKET_ROUTE = "/_dayuan/session"
SIGN_OUT_ROUTE = "/_dayuan/signout"

_lock = threading.Lock()
_tickets: dict[str, float] = {}  # nonce -> expiry of tickets not yet redeemed
_revoked: dict[str, float] = {}  # cookie id -> when it expires anyway, as last read from the file
_revoked_seen: dict[Path, float] = {}  # revocation file -> its mtime when read


def _key_file(accounts_file: Path) -> Path:
    return Path(accounts_file).resolve().parent / "session.key"


def _revoked_file(accounts_file: Path) -> Path:
    return Path(accounts_file).resolve().parent / "session.revoked"


def _load_revoked(accounts_file: Path) -> None:
    """Read the revocation list when the file changed (another process, or a restart); under _lock."""
    path = _revoked_file(accounts_file)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return
    if _revoked_seen.get(path) == mtime:
        return
    for line in path.read_text(encoding="ascii").splitlines():
        cookie_id, _, until = line.partition(" ")
        try:
            _revoked[cookie_id] = max(_revoked.get(cookie_id, 0.0), float(until))
        except ValueError:
            continue  # a torn line: the rest of the list still counts
    _revoked_seen[path] = mtime


def _serializer(accounts_file: Path, salt: str) -> URLSafeTimedSerializer:
    path = _key_file(accounts_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return URLSafeTimedSerializer(path.read_text(encoding="ascii").strip(), salt=salt)


def fingerprint(role: str, password_hash: str) -> str:
    """Changes when the account's role or password does: a cookie carrying the old one is void."""
    return hashlib.sha256(f"{role}\0{password_hash}".encode()).hexdigest()[:20]


def ticket(accounts_file: Path, *, name: str, role: str, password_hash: str) -> str:
    """A one-time ticket for the browser of the person just signed in (valid TICKET_S seconds)."""
    nonce = secrets.token_urlsafe(16)
    with _lock:
        now = time.time()
        for old in [n for n, until in _tickets.items() if until < now]:
            del _tickets[old]
        _tickets[nonce] = now + TICKET_S
    return _serializer(accounts_file, "ticket").dumps({"u": name, "f": fingerprint(role, password_hash), "n": nonce})


def redeem(accounts_file: Path, token: str) -> str | None:
    """The session cookie's value for a valid, unused ticket; None otherwise (the ticket is spent)."""
    try:
        data = _serializer(accounts_file, "ticket").loads(token, max_age=TICKET_S)
    except BadSignature:
        return None
    with _lock:
        if _tickets.pop(str(data.get("n")), 0) < time.time():
            return None
    return _serializer(accounts_file, "session").dumps({"u": data["u"], "f": data["f"], "i": secrets.token_urlsafe(12)})


def read(accounts_file: Path, value: str | None) -> tuple[str, str, str] | None:
    """(name, fingerprint, cookie id) of a valid, unexpired, unrevoked session cookie, else None."""
    if not value:
        return None
    try:
        data = _serializer(accounts_file, "session").loads(value, max_age=SESSION_HOURS * 3600)
    except BadSignature:
        return None
    with _lock:
        _load_revoked(accounts_file)
        if str(data.get("i")) in _revoked:
            return None
    return str(data.get("u")), str(data.get("f")), str(data.get("i"))


def revoke(accounts_file: Path, cookie_id: str) -> None:
    """Sign-out: this cookie is void from now on, wherever a copy of it is, across restarts.

    The list (unexpired ids only) is written to a temporary file and renamed over the old one, so a
    reader sees the old list or the new one, never half of one."""
    path = _revoked_file(accounts_file)
    with _lock:
        _load_revoked(accounts_file)
        now = time.time()
        for old in [i for i, until in _revoked.items() if until < now]:
            del _revoked[old]
        _revoked[cookie_id] = now + SESSION_HOURS * 3600
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.writelines(f"{i} {until:.0f}\n" for i, until in _revoked.items())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _revoked_seen[path] = path.stat().st_mtime_ns
