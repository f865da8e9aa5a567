"""The land page's state in its URL: filters, month, open parcel, distance and sort order round-trip
through the query string with `LandView.from_query` / `to_query`, using codes, so a link
reproduces the view in either language.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from dayuan_geo import schema as S
from dayuan_geo.land.filters import MAX_SEARCH_CHARS, LandFilters
from dayuan_geo.safety.queries import DEFAULT_DISTANCE_M as _SAFETY_DISTANCE_M

# One distance for "risky firms nearby" on every page: the firms page's, in whole metres here.
DEFAULT_DISTANCE_M = int(_SAFETY_DISTANCE_M)
MAX_DISTANCE_M = 5_000
SORT_COLUMNS = ("parcel_id", "name", "park_name", "village_code", "area_m2", "planned_use",
                "release_status", "released_on")
DEFAULT_SORT = "parcel_id"

# query parameter -> LandFilters field (multi-valued ones repeat: ?status=released&status=completed)
_MULTI = {"village": "villages", "park": "parks", "status": "statuses", "use": "planned_uses",
          "owner": "ownerships"}
_ENUM_OF = {"status": S.RELEASE_STATUS, "use": S.LAND_USE, "owner": S.OWNERSHIP}
URL_KEYS = ("village", "park", "status", "use", "owner", "released_from", "released_to",
            "area_min", "area_max", "q", "month", "parcel", "dist", "sort")


def _first(params: Mapping[str, list[str]], key: str) -> str:
    values = params.get(key) or []
    return str(values[-1]).strip() if values else ""


@dataclass(frozen=True)
class LandView:
    """Everything a link to the page reproduces: the filters, the month on the time slider, the
    parcel whose story is open, the distance for risky firms nearby and the table's sort order."""

    filters: LandFilters = field(default_factory=LandFilters)
    month: str | None = None  # YYYY-MM; None: the data's own month
    parcel: str | None = None
    distance_m: int = DEFAULT_DISTANCE_M
    sort: str = DEFAULT_SORT
    descending: bool = False

    @classmethod
    def from_query(cls, params: Mapping[str, list[str]], *, months: list[str] | None = None,
                   village_names: Mapping[str, str] | None = None) -> tuple[LandView, list[str]]:
        """The view a URL asks for, and one line per value it had to ignore.

        Lenient on purpose: a hand-edited or outdated link opens what it can. Enumerations take the
        code or the zh/en label; villages take the code or a name (village_names maps names to codes).
        """
        ignored: list[str] = []
        multi: dict[str, list[str]] = {}
        for key, attr in _MULTI.items():
            kept = []
            for raw in params.get(key) or []:
                text = str(raw).strip()
                if not text:
                    continue
                if key in _ENUM_OF:
                    code = _ENUM_OF[key].parse(text)
                elif key == "village" and village_names is not None:
                    code = village_names.get(text, text if text in village_names.values() else None)
                else:
                    code = text[:64]
                if code is None:
                    ignored.append(f"{key}={text}")
                else:
                    kept.append(code)
            multi[attr] = kept

        def date_of(key: str) -> dt.date | None:
            text = _first(params, key)
            if not text:
                return None
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                ignored.append(f"{key}={text}")
                return None

        def number_of(key: str) -> float | None:
            text = _first(params, key)
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not math.isfinite(value) or value < 0:
                ignored.append(f"{key}={text}")
                return None
            return value

        start, end = date_of("released_from"), date_of("released_to")
        if start and end and start > end:
            ignored.append(f"released_from={start} > released_to={end}")
            start = end = None
        amin, amax = number_of("area_min"), number_of("area_max")
        if amin is not None and amax is not None and amin > amax:
            ignored.append(f"area_min={amin:g} > area_max={amax:g}")
            amin = amax = None
        search = _first(params, "q")[:MAX_SEARCH_CHARS]
        filters = LandFilters(released_from=start, released_to=end, area_min=amin, area_max=amax,
                              search=search, **{k: tuple(v) for k, v in multi.items()})

        month = _first(params, "month") or None
        if month is not None and months is not None and month not in months:
            ignored.append(f"month={month}")
            month = None
        parcel = _first(params, "parcel")[:64] or None
        distance = DEFAULT_DISTANCE_M
        if text := _first(params, "dist"):
            try:
                distance = int(float(text))
                if not 0 < distance <= MAX_DISTANCE_M:
                    raise ValueError
            except ValueError:
                ignored.append(f"dist={text}")
                distance = DEFAULT_DISTANCE_M
        sort, descending = DEFAULT_SORT, False
        if text := _first(params, "sort"):
            descending = text.startswith("-")
            sort = text.lstrip("-")
            if sort not in SORT_COLUMNS:
                ignored.append(f"sort={text}")
                sort, descending = DEFAULT_SORT, False
        return cls(filters, month, parcel, distance, sort, descending), ignored

    def to_query(self, *, default_month: str | None = None) -> dict[str, list[str]]:
        """The URL query of this view, codes only, defaults left out so links stay short."""
        f = self.filters
        out: dict[str, list[str]] = {key: list(getattr(f, attr)) for key, attr in _MULTI.items()}
        out["released_from"] = [f.released_from.isoformat()] if f.released_from else []
        out["released_to"] = [f.released_to.isoformat()] if f.released_to else []
        out["area_min"] = [f"{f.area_min:g}"] if f.area_min is not None else []
        out["area_max"] = [f"{f.area_max:g}"] if f.area_max is not None else []
        out["q"] = [f.search] if f.search else []
        out["month"] = [self.month] if self.month and self.month != default_month else []
        out["parcel"] = [self.parcel] if self.parcel else []
        out["dist"] = [str(self.distance_m)] if self.distance_m != DEFAULT_DISTANCE_M else []
        sort = ("-" if self.descending else "") + self.sort
        out["sort"] = [sort] if sort != DEFAULT_SORT else []
        return {k: v for k, v in out.items() if v}

