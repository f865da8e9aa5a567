"""Who may sign in and with which role: local accounts in a TOML file, or an OpenID Connect provider.

Local accounts live in `$DAYUAN_AUTH_FILE`, by default `config/auth.toml` next to the data dir
(`<data dir>/../config/auth.toml`). Each account has a role and a bcrypt hash; the file is written
atomically and readable only by its owner. It may also hold an `[oidc]` section that gives
identities from the provider a role, from a claim or from a mapping by e-mail:

    [users."wang.li"]
    role = "leader"
    hash = "$2b$12$..."
    created = "2026-11-25T08:40:00+00:00"

    [oidc]
    role_claim = "dayuan_role"          # a claim the provider sends with the role (optional)
    [oidc.roles]
    "chen@dayuan.gov.cn" = "viewer"     # e-mail (or subject) -> role

Password checks are slow by design (bcrypt) and slowed further per user name after failures: each
failure costs a fixed pause, and from the third failure in a row the name is locked for a time that
doubles with each further failure. Unknown names cost the same as known ones, so a caller learns
nothing about which accounts exist.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from dayuan_geo import access, audit, settings
from dayuan_geo.dataset import files as dataset

AUTH_FILE_ENV = "DAYUAN_AUTH_FILE"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further; longer passwords are refused, not truncated
BCRYPT_ROUNDS = 12
FAILURE_PAUSE_S = 1.0  # every failed check waits this long before answering
LOCK_AFTER = 3  # failures in a row before the name is locked
LOCK_BASE_S = 2.0  # first lock; doubles with each further failure
LOCK_MAX_S = 300.0
FAILURE_MEMORY_S = 3600.0  # failures older than this are forgotten



def auth_file() -> Path:
    """$DAYUAN_AUTH_FILE if set, else config/auth.toml beside the data dir."""
    env = settings.get(AUTH_FILE_ENV)
    if env:
        return env
    return dataset.data_dir().parent / "config" / "auth.toml"


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password: unknown names are checked against it so they take as long."""
    return bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    hash: str
    created: str = ""


@dataclass(frozen=True)
class AuthConfig:
    """The accounts file: local accounts and the provider's role settings."""

    users: dict[str, Account] = field(default_factory=dict)
    role_claim: str | None = None
    oidc_roles: dict[str, str] = field(default_factory=dict)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(
            f"invalid user name {name!r}: 1-32 characters, lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password too long: at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
    return password


def hash_password(password: str, *, rounds: int = BCRYPT_ROUNDS) -> str:
    """A salted bcrypt hash of password (which must pass check_password)."""
    check_password(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def _hash_matches(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))
    except ValueError:  # too long a password, or a damaged hash: never a match
        return False


# ---- the accounts file -------------------------------------------------------------------------

def load(path: Path | None = None) -> AuthConfig:
    """The accounts file at path (default auth_file()); an empty config when it does not exist."""
    path = Path(path) if path is not None else auth_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AuthConfig()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: unreadable accounts file ({exc})") from exc
    users: dict[str, Account] = {}
    for name, entry in (raw.get("users") or {}).items():
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: users.{name} is not a table")
        check_name(name)
        role = entry.get("role")
        if not access.is_role(role):
            raise ValueError(f"{path}: users.{name} has unknown role {role!r}")
        hashed = entry.get("hash")
        if not isinstance(hashed, str) or not hashed.startswith("$2"):
            raise ValueError(f"{path}: users.{name} has no bcrypt hash")
        users[name] = Account(name, role, hashed, str(entry.get("created", "")))
    oidc = raw.get("oidc") or {}
    claim = oidc.get("role_claim")
    mapping: dict[str, str] = {}
    for who, role in (oidc.get("roles") or {}).items():
        if not access.is_role(role):
            raise ValueError(f"{path}: oidc.roles.{who} has unknown role {role!r}")
        mapping[str(who).strip().lower()] = role
    return AuthConfig(users, str(claim) if claim else None, mapping)


def _toml_str(text: str) -> str:
    """A TOML basic string (names and hashes are ASCII from a narrow alphabet; escaped regardless)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def save(config: AuthConfig, path: Path | None = None) -> Path:
    """Write config atomically, readable by its owner only."""
    path = Path(path) if path is not None else auth_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Dayuan dashboard accounts, managed by `python -m dayuan_geo users ...`; do not share.", ""]
    for acc in sorted(config.users.values(), key=lambda a: a.name):
        lines += [f"[users.{_toml_str(acc.name)}]", f"role = {_toml_str(acc.role)}",
                  f"hash = {_toml_str(acc.hash)}", f"created = {_toml_str(acc.created)}", ""]
    if config.role_claim or config.oidc_roles:
        lines.append("[oidc]")
        if config.role_claim:
            lines.append(f"role_claim = {_toml_str(config.role_claim)}")
        lines += ["", "[oidc.roles]"]
        lines += [f"{_toml_str(who)} = {_toml_str(role)}" for who, role in sorted(config.oidc_roles.items())]
        lines.append("")
    fd, tmp = tempfile.mkstemp(prefix=".auth-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _audit_change(change: str, name: str, *, role: str | None, before: str | None, path: Path | None,
                  by: str | None) -> None:
    """Record an account change (before it is saved: no entry, no change) as the shell's operator.

    The log is $DAYUAN_AUDIT_FILE, else logs/audit.jsonl beside the accounts file's config folder
    (for the default accounts file, the default audit log beside the data dir).
    """
    import getpass

    accounts = Path(path) if path is not None else auth_file()
    log = None if settings.get(audit.AUDIT_FILE_ENV) else accounts.resolve().parent.parent / "logs" / "audit.jsonl"
    audit.record(user=by or getpass.getuser(), role=audit.OPERATOR, action="account", what=name, rows=None,
                 detail={"change": change, "role": role, "role_before": before, "accounts_file": accounts.name},
                 path=log)


def add_user(name: str, role: str, password: str, *, path: Path | None = None,
             rounds: int = BCRYPT_ROUNDS, by: str | None = None) -> Account:
    check_name(name)
    access.role(role)
    config = load(path)
    if name in config.users:
        raise ValueError(f"user {name!r} exists; remove it first or use set-role")
    acc = Account(name, role, hash_password(password, rounds=rounds),
                  dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    _audit_change("add", name, role=role, before=None, path=path, by=by)
    save(AuthConfig({**config.users, name: acc}, config.role_claim, config.oidc_roles), path)
    return acc


def remove_user(name: str, *, path: Path | None = None, by: str | None = None) -> None:
    config = load(path)
    if name not in config.users:
        raise ValueError(f"no user {name!r}")
    users = {k: v for k, v in config.users.items() if k != name}
    _audit_change("remove", name, role=None, before=config.users[name].role, path=path, by=by)
    save(AuthConfig(users, config.role_claim, config.oidc_roles), path)


def set_role(name: str, role: str, *, path: Path | None = None, by: str | None = None) -> Account:
    access.role(role)
    config = load(path)
    if name not in config.users:
        raise ValueError(f"no user {name!r}")
    old = config.users[name]
    acc = Account(name, role, old.hash, old.created)
    _audit_change("set-role", name, role=role, before=old.role, path=path, by=by)
    save(AuthConfig({**config.users, name: acc}, config.role_claim, config.oidc_roles), path)
    return acc


# ---- checking passwords ------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """The answer to a sign-in attempt: the account when it succeeded, else why not."""

    account: Account | None
    locked_for: float = 0.0  # seconds until this name may try again; 0 when not locked

    @property
    def ok(self) -> bool:
        return self.account is not None


class Throttle:
    """Failures per user name and the lock they earn; shared by every session of the process."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # name -> (failures in a row, last failure)
        self._pending: dict[str, int] = {}  # name -> checks under way (reserved by begin, not yet answered)

    def _entry(self, name: str) -> tuple[int, float]:
        count, last = self._failures.get(name, (0, 0.0))
        if count and self._clock() - last > FAILURE_MEMORY_S:
            return 0, 0.0
        return count, last

    def locked_for(self, name: str) -> float:
        with self._lock:
            count, last = self._entry(name)
        if count < LOCK_AFTER:
            return 0.0
        span = min(LOCK_BASE_S * 2 ** (count - LOCK_AFTER), LOCK_MAX_S)
        return max(0.0, last + span - self._clock())

    def begin(self, name: str) -> float:
        """Reserve one password check for name, or say how long to wait (0.0: go ahead, then call
        failed, succeeded or abandon). Checking and reserving are one step under the lock, so parallel
        attempts can never check more passwords than the failures still allowed before the lock."""
        with self._lock:
            count, last = self._entry(name)
            pending = self._pending.get(name, 0)
            if count >= LOCK_AFTER:
                span = min(LOCK_BASE_S * 2 ** (count - LOCK_AFTER), LOCK_MAX_S)
                wait = last + span - self._clock()
                if wait > 0:
                    return wait
                allowed = pending == 0  # after a lock: one try at a time
            else:
                allowed = count + pending < LOCK_AFTER
            if not allowed:
                return max(FAILURE_PAUSE_S, LOCK_BASE_S)
            self._pending[name] = pending + 1
            return 0.0

    def _release(self, name: str) -> None:
        left = self._pending.get(name, 0) - 1
        if left > 0:
            self._pending[name] = left
        else:
            self._pending.pop(name, None)

    def abandon(self, name: str) -> None:
        """A reserved check that never compared a password (the accounts file failed to load)."""
        with self._lock:
            self._release(name)

    def failed(self, name: str) -> None:
        with self._lock:
            count, _ = self._entry(name)
            self._failures[name] = (count + 1, self._clock())
            self._release(name)
        self._sleep(FAILURE_PAUSE_S)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)
            self._release(name)

    def failures(self, name: str) -> int:
        with self._lock:
            return self._entry(name)[0]


THROTTLE = Throttle()


def verify(name: str, password: str, *, path: Path | None = None, throttle: Throttle | None = None) -> Verdict:
    """Check a sign-in. Locked names are refused without looking at the password."""
    throttle = throttle or THROTTLE
    key = str(name).strip().lower()[:64]
    wait = throttle.begin(key)
    if wait > 0:
        return Verdict(None, wait)
    try:
        account = load(path).users.get(key)
        matched = _hash_matches(password, account.hash if account else _dummy_hash())
    except BaseException:
        throttle.abandon(key)
        raise
    if account is not None and matched:
        throttle.succeeded(key)
        return Verdict(account)
    throttle.failed(key)
    return Verdict(None, throttle.locked_for(key))


# ---- OpenID Connect ----------------------------------------------------------------------------

def oidc_configured(secrets: Mapping | None) -> bool:
    """Whether Streamlit's secrets configure an identity provider for st.login ([auth] section)."""
    if not secrets:
        return False
    try:
        section = secrets.get("auth")
    except Exception:  # a broken secrets file means no provider: sign-in stays local
        return False
    if not isinstance(section, Mapping):
        return False
    has_default = bool(section.get("client_id")) and bool(section.get("server_metadata_url"))
    has_named = any(isinstance(v, Mapping) and v.get("client_id") for v in section.values())
    return has_default or has_named


def oidc_identity(claims: Mapping, config: AuthConfig) -> tuple[str, str | None]:
    """(display name, role or None) for an identity from the provider.

    The role comes from config.role_claim when the provider sends a known role there (a list
    gives the first known role in it), else from the mapping by e-mail (only a verified one) or
    by subject. No role means the person may not use the dashboard.
    """
    email = str(claims.get("email") or "").strip().lower()
    subject = str(claims.get("sub") or "").strip()
    display = str(claims.get("name") or email or subject or "?")
    if config.role_claim:
        value = claims.get(config.role_claim)
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if access.is_role(v):
                return display, v
    if email and claims.get("email_verified", True) is not False and email in config.oidc_roles:
        return display, config.oidc_roles[email]
    if subject and subject.lower() in config.oidc_roles:
        return display, config.oidc_roles[subject.lower()]
    return display, None


# ---- local mode --------------------------------------------------------------------------------

def is_loopback_client(ip_address: str | None) -> bool:
    """Whether a client address (st.context.ip_address; None means localhost) is this machine."""
    if ip_address is None:
        return True
    import ipaddress

    try:
        addr = ipaddress.ip_address(ip_address.strip("[]"))
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def host_allowed(host: str | None, *, local: bool, allowed: tuple[str, ...] = ()) -> bool:
    """Whether a request's Host header names this app (against DNS rebinding: a foreign page whose
    name resolves to this machine). Local mode answers only to loopback names; with accounts, to the
    names in $DAYUAN_ALLOWED_HOSTS (`*.example.org` for subdomains), or to any when none are set.
    None (no header: AppTest, or a connection made on this machine) is allowed."""
    if host is None:
        return True
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:8501
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if local:
        return name in LOOPBACK_NAMES or name.endswith(".localhost")
    if not allowed:
        return True
    return any(name == a or (a.startswith("*.") and name.endswith(a[1:])) for a in allowed)
