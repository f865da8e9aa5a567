"""What the land release explorer selects: one `LandFilters` turned into one SQL condition with
bound parameters, so the map, the KPI strip, the charts, the table and the exports always agree;
the same selection said as a command line; the months the time slider steps through; and what the
filters offer (`FilterChoices`, built by `views.filter_choices`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, fields

from dayuan_geo import schema as S

HISTORY_START = dt.date(2020, 1, 1)  # the time slider and the monthly chart start here
MAX_SEARCH_CHARS = 100


def _codes(values: Iterable[str], enum: S.Enum, what: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(values))
    unknown = [v for v in out if v not in enum.choices]  # 未知 is a value a descriptive column may hold
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; expected {', '.join(enum.choices)}")
    return out


def squish(text: object) -> str:
    """Text as a person typed or pasted it: spaces at the ends dropped, each run of spaces one."""
    return " ".join(str(text).split())


@dataclass(frozen=True)
class LandFilters:
    """Which parcels the planner is looking at. Empty fields do not filter.

    Enumerations hold codes (checked here); villages and parks hold codes or ids. Release dates and
    areas are inclusive ranges; `search` matches part of a parcel's id or name, ignoring case.
    """

    villages: tuple[str, ...] = ()
    parks: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    planned_uses: tuple[str, ...] = ()
    ownerships: tuple[str, ...] = ()
    released_from: dt.date | None = None
    released_to: dt.date | None = None
    area_min: float | None = None
    area_max: float | None = None
    search: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise in place once
        set_(self, "villages", tuple(dict.fromkeys(str(v) for v in self.villages)))
        set_(self, "parks", tuple(dict.fromkeys(str(v) for v in self.parks)))
        set_(self, "statuses", _codes(self.statuses, S.RELEASE_STATUS, "release status"))
        set_(self, "planned_uses", _codes(self.planned_uses, S.LAND_USE, "planned use"))
        set_(self, "ownerships", _codes(self.ownerships, S.OWNERSHIP, "ownership"))
        set_(self, "search", squish(self.search))
        if len(self.search) > MAX_SEARCH_CHARS:
            raise ValueError(f"search text longer than {MAX_SEARCH_CHARS} characters")
        for name in ("released_from", "released_to"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dt.date):
                raise ValueError(f"{name} must be a date, not {value!r}")
        if self.released_from and self.released_to and self.released_from > self.released_to:
            raise ValueError(f"release date range is reversed: {self.released_from} > {self.released_to}")
        for name in ("area_min", "area_max"):
            value = getattr(self, name)
            if value is not None:
                value = float(value)
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"{name} must be a non-negative number, not {value!r}")
                set_(self, name, value)
        if self.area_min is not None and self.area_max is not None and self.area_min > self.area_max:
            raise ValueError(f"area range is reversed: {self.area_min} > {self.area_max}")

    @property
    def is_empty(self) -> bool:
        return self == LandFilters()

    def where(self, alias: str = "pa") -> tuple[str, dict[str, object]]:
        """The SQL condition on parcels (under alias) and its bound parameters.

        Only constant SQL is produced here; every value the user gave travels as a parameter.
        """
        a = alias
        clauses: list[str] = []
        params: dict[str, object] = {}
        for name, column, values in (
            ("f_villages", "village_code", self.villages),
            ("f_parks", "park_id", self.parks),
            ("f_statuses", "release_status", self.statuses),
            ("f_uses", "planned_use", self.planned_uses),
            ("f_owners", "ownership", self.ownerships),
        ):
            if values:
                clauses.append(f"list_contains(${name}, {a}.{column})")
                params[name] = list(values)
        if self.released_from is not None:
            clauses.append(f"{a}.released_on >= $f_from")
            params["f_from"] = self.released_from
        if self.released_to is not None:
            clauses.append(f"{a}.released_on <= $f_to")
            params["f_to"] = self.released_to
        if self.area_min is not None:
            clauses.append(f"{a}.area_m2 >= $f_amin")
            params["f_amin"] = self.area_min
        if self.area_max is not None:
            clauses.append(f"{a}.area_m2 <= $f_amax")
            params["f_amax"] = self.area_max
        if self.search:
            clauses.append(f"(contains(lower({a}.parcel_id), $f_q) OR contains(lower({a}.name), $f_q))")
            params["f_q"] = self.search.lower()
        return (" AND ".join(clauses) if clauses else "TRUE"), params

    def cli_filters(self) -> list[str] | None:
        """The same selection as `export parcels --filter` arguments; None when it cannot be said so
        (the search matches an id or a name, and CLI filters only combine with AND)."""
        if self.search:
            return None
        out = [f"{column}={v}" for column, values in (
            ("village_code", self.villages), ("park_id", self.parks), ("release_status", self.statuses),
            ("planned_use", self.planned_uses), ("ownership", self.ownerships)) for v in values]
        if self.released_from:
            out.append(f"released_on>={self.released_from.isoformat()}")
        if self.released_to:
            out.append(f"released_on<={self.released_to.isoformat()}")
        if self.area_min is not None:
            out.append(f"area_m2>={self.area_min:g}")
        if self.area_max is not None:
            out.append(f"area_m2<={self.area_max:g}")
        return out

    def describe(self) -> dict[str, object]:
        """The filters that are set, as plain values (for the audit log and file names)."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ((), "", None):
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else (
                value.isoformat() if isinstance(value, dt.date) else value)
        return out


def cli_command(filters: LandFilters, *, fmt: str = "csv", lang: str = "zh") -> str | None:
    """The command line that exports the same parcels, or None when the filters cannot be said so."""
    args = filters.cli_filters()
    if args is None:
        return None
    words = ["python", "-m", "dayuan_geo", "export", "parcels", "--format", fmt, "--lang", lang]
    for arg in args:
        words += ["--filter", arg]
    words += ["-o", f"parcels.{fmt}"]
    return shlex.join(words)



def months_between(start: dt.date, end: dt.date) -> list[str]:
    """Every month from start's to end's, as YYYY-MM."""
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_end(month: str, *, as_of: dt.date) -> dt.date:
    """The day a month's view shows: its last day, or as_of for the month still under way."""
    y, m = (int(p) for p in month.split("-"))
    return min(dt.date(y, m, calendar.monthrange(y, m)[1]), as_of)


@dataclass(frozen=True)
class FilterChoices:
    """What the land filters offer (queries.filter_options), labelled in one language: built once
    per dataset version and language and shared (200,000 parks at scale L took 0.5 s a run)."""

    months: list[str]
    villages: dict[str, str]  # code -> name
    village_codes: dict[str, str]  # zh or en name -> code, for links naming a village
    parks: dict[str, str]  # park id -> name, in id order
    parks_of: dict[str, list[str]]  # village code -> its park ids, in id order
    date_lo: dt.date
    date_hi: dt.date
    area_lo: float
    area_hi: float
    parcels_total: int

    @property
    def latest(self) -> str:
        return self.months[-1]

    def parks_in(self, villages: list[str] | tuple[str, ...]) -> list[str]:
        """The parks of these villages (every park when none is chosen), in id order."""
        if not villages:
            return list(self.parks)
        found = [p for code in villages for p in self.parks_of.get(code, ())]
        return sorted(found) if len(villages) > 1 else found

    def parks_matching(self, parks: list[str], find: str) -> list[str]:
        """Those of parks whose name or id holds find, ignoring case and spaces at the ends."""
        needle = squish(find).lower()
        if not needle:
            return parks
        return [p for p in parks if needle in p.lower() or needle in str(self.parks.get(p, "")).lower()]
