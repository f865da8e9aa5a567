"""Every environment variable the product reads, declared, read and validated in one place.

A module asks `settings.get("DAYUAN_…")` (or one of the named helpers) at the moment it needs the
value, so a test or a deployment may change the environment between calls. An unset or empty
variable gives its default; a malformed one raises ValueError naming the variable and what it
accepts. `check()` lists every problem at once (also `DAYUAN_*` names nobody reads: a typo);
`python -m dayuan_geo settings` prints them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "DAYUAN_"


def _path(raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        text = raw.strip()
        if not text.isdigit() or int(text) < minimum:
            raise ValueError(f"a whole number of at least {minimum}")
        return int(text)
    return parse


def _flag(raw: str) -> bool:
    if raw.strip() not in ("0", "1"):
        raise ValueError("1 (on) or 0 (off)")
    return raw.strip() == "1"


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError("a date, YYYY-MM-DD") from None


def _hosts(raw: str) -> tuple[str, ...]:
    names = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    for name in names:
        label = name.removeprefix("*.")
        if not label or any(not (c.isalnum() or c in "-.:[]") for c in label):
            raise ValueError(f"host names separated by commas ({name!r} is not one)")
    return names


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.strip() not in options:
            raise ValueError(f"one of {', '.join(options)}")
        return raw.strip()
    return parse


def _positive(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("a number above 0") from None
    if not value > 0:
        raise ValueError("a number above 0")
    return value


def _text(raw: str) -> str:
    return raw


@dataclass(frozen=True)
class Variable:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str


VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("DAYUAN_DATA_DIR", _path, None, "the dataset folder (default: data/ of the project)"),
    Variable("DAYUAN_AUTH_FILE", _path, None, "the accounts file (default: config/auth.toml beside the data dir)"),
    Variable("DAYUAN_AUDIT_FILE", _path, None, "the audit log (default: logs/audit.jsonl beside the data dir)"),
    Variable("DAYUAN_AUDIT_KEY_FILE", _path, None,
             "the key signing the audit log (default: config/audit.key beside the log's folder)"),
    Variable("DAYUAN_ALLOWED_HOSTS", _hosts, (),
             "host names the app answers to with accounts, e.g. gis.dayuan.gov.cn (default: any); "
             "local mode answers only to localhost, 127.0.0.1 and [::1]"),
    Variable("DAYUAN_KEEP_VERSIONS", _whole(2), 10, "dataset versions kept for restore"),
    Variable("DAYUAN_STORE_LAZY", _flag, False, "1: query the files directly instead of loading them into memory"),
    Variable("DAYUAN_STAGES_FILE", _path, None, "the remediation stage catalogue (default: the packaged one)"),
    Variable("DAYUAN_IMPORT_MAX_BYTES", _whole(1), None, "largest file an import reads"),
    Variable("DAYUAN_IMPORT_MAX_FEATURES", _whole(1), None, "most rows or features an import reads"),
    Variable("DAYUAN_IMPORT_MAX_VERTICES", _whole(1), None, "most vertices an import reads"),
    Variable("DAYUAN_IMPORT_MAX_MEMORY", _whole(1), None, "bytes of memory the child process reading a file may use"),
    Variable("DAYUAN_IMPORT_MAX_SECONDS", _positive, None, "seconds the child process reading a file may take"),
    Variable("DAYUAN_IMPORT_EXTENT_MARGIN_M", _positive, None,
             "metres outside the street beyond which an imported feature is a row error"),
    Variable("DAYUAN_IMPORT_MAX_AREA_SHARE", _positive, None,
             "share of the street's area above which an imported parcel or park is a row error"),
    Variable("DAYUAN_MAP_POLYGON_BUDGET", _whole(1), None, "polygons a map may send"),
    Variable("DAYUAN_MAP_POINT_BUDGET", _whole(1), None, "firms a map draws one by one (beyond, counted per square)"),
    Variable("DAYUAN_SCREEN_ROWS", _whole(1), 1_000,
             "rows a table on screen sends (exports hold every row; 5,000 rows are about 1 MB of page)"),
    Variable("DAYUAN_CONFIG", _path, None, "the site configuration (default: config/dayuan.toml)"),
    Variable("DAYUAN_BASEMAP", _text, "", "base map: none, public, a configured source or a tile URL template"),
    Variable("DAYUAN_BASEMAP_CRS", _choice("wgs84", "gcj02"), "wgs84", "the custom tile URL's coordinate system"),
    Variable("DAYUAN_BASEMAP_ATTRIBUTION", _text, "", "the custom tile URL's attribution"),
    Variable("DAYUAN_BENCH_AS_OF", _date, None, "the benchmark's data date (set by the benchmark itself)"),
    Variable("DAYUAN_CRASH_AT", _text, "", "tests only: the named point at which a writer kills itself"),
    Variable("DAYUAN_REQUIRE_BROWSER", _flag, False, "tests only: 1 makes the Chromium tests fail instead of skip"),
    Variable("DAYUAN_CHROMIUM", _path, Path("/usr/bin/chromium"), "the Chromium the benchmark and browser tests drive"),
)}


def get(name: str, *, environ: Mapping[str, str] | None = None) -> Any:
    """The validated value of variable `name`, its default when unset or empty."""
    if name not in VARIABLES:
        raise ValueError(f"{name} is not a setting of the product; settings: {', '.join(VARIABLES)}")
    var = VARIABLES[name]
    raw = (os.environ if environ is None else environ).get(name, "")
    if not raw.strip():
        return var.default
    try:
        return var.parse(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not valid: expected {exc}") from None


def screen_rows() -> int:
    """Rows a table on screen sends, the same on every page (DAYUAN_SCREEN_ROWS): a browser without
    a GPU draws each row, so more than a person scrolls through are cut; exports hold them all."""
    return int(get("DAYUAN_SCREEN_ROWS"))


def check(*, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the DAYUAN_* variables set, one line each; empty when all are sound."""
    env = os.environ if environ is None else environ
    problems = []
    for name in sorted(env):
        if name.startswith(PREFIX) and name not in VARIABLES:
            problems.append(f"{name} is set but no part of the product reads it (a typo?)")
    for name in VARIABLES:
        try:
            get(name, environ=env)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def describe(*, environ: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(name, value in force or problem, help) for every variable, for `python -m dayuan_geo settings`."""
    out = []
    for name, var in VARIABLES.items():
        try:
            value = get(name, environ=environ)
            shown = "(default)" if value == var.default else str(value)
        except ValueError as exc:
            shown = f"INVALID: {exc}"
        out.append((name, shown, var.help))
    return out
