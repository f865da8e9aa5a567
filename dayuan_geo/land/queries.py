"""The land release explorer's questions: which parcels a planner's filters select, what that
selection adds up to (in total, by month, by village, by planned use), what the map can draw of it
within its budget, and the story of one parcel.

Everything the page shows comes from one `LandFilters` turned into one SQL condition with bound
parameters, so the map, the KPI strip, the charts, the table and the exports always agree. The
state of the page (filters, month, open parcel...) round-trips through the URL query string with
`LandView.from_query` / `to_query`, using codes, so a link reproduces the view in either language.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

import duckdb
import numpy as np
import pandas as pd

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.maps import cells

Cursor = duckdb.DuckDBPyConnection

HISTORY_START = dt.date(2020, 1, 1)  # the time slider and the monthly chart start here
DEFAULT_DISTANCE_M = 500
MAX_DISTANCE_M = 5_000
RISKY_LEVELS = ("blacklisted", "high_risk")
MAX_SEARCH_CHARS = 100

# Map budget: parcels drawn one by one up to POLYGON_BUDGET, else their parks (coloured by the
# share released) up to PARK_BUDGET, else square grid cells sized so that at most CELL_BUDGET
# are drawn. The page also refuses to send a map larger than MAP_BYTES_BUDGET.
POLYGON_BUDGET = 20_000
PARK_BUDGET = 20_000
CELL_BUDGET = 10_000
CELL_SIZES_M = (250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000)
MAP_BYTES_BUDGET = 10_000_000
M_PER_DEG_LON_EQUATOR = cells.M_PER_DEG_LON_EQUATOR

TABLE_ROW_LIMIT = 5_000  # rows the on-screen table shows; exports always hold the whole selection
EXPORT_ROW_LIMIT = 200_000  # beyond this a browser download is unwieldy: the page points to the CLI
# Columns of the selection, in table and export order; park and village names are joined in.
SELECTION_COLUMNS = ("parcel_id", "name", "park_id", "park_name", "village_code", "village_zh",
                     "village_en", "area_m2", "current_use", "planned_use", "ownership",
                     "release_status", "released_on")
SORT_COLUMNS = ("parcel_id", "name", "park_name", "village_code", "area_m2", "planned_use",
                "release_status", "released_on")
DEFAULT_SORT = "parcel_id"

_TO_METRIC = f"ST_Transform({{g}}, '{S.STORAGE_CRS}', '{S.METRIC_CRS}', always_xy := true)"
_TO_STORAGE = f"ST_Transform({{g}}, '{S.METRIC_CRS}', '{S.STORAGE_CRS}', always_xy := true)"


def _metric(expr: str) -> str:
    return _TO_METRIC.format(g=expr)


# ---- the filters --------------------------------------------------------------------------------

def _codes(values: Iterable[str], enum: S.Enum, what: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(values))
    unknown = [v for v in out if v not in enum.codes]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; expected {', '.join(enum.codes)}")
    return out


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
        set_(self, "search", " ".join(str(self.search).split()))
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


# ---- the page state in the URL ------------------------------------------------------------------

# query parameter -> LandFilters field (multi-valued ones repeat: ?status=released&status=completed)
_MULTI = {"village": "villages", "park": "parks", "status": "statuses", "use": "planned_uses",
          "owner": "ownerships"}
_ENUM_OF = {"status": S.RELEASE_STATUS, "use": S.LAND_USE, "owner": S.OWNERSHIP}
URL_KEYS = ("village", "park", "status", "use", "owner", "released_from", "released_to",
            "area_min", "area_max", "q", "month", "parcel", "dist", "sort")


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


# ---- what the filters can offer -----------------------------------------------------------------

def filter_options(cur: Cursor) -> dict[str, object]:
    """What the filter widgets offer: villages, parks, and the range of release dates and areas."""
    villages = cur.execute("SELECT code, name_zh, name_en FROM villages ORDER BY code").df()
    parks = cur.execute(
        "SELECT park_id, name, coalesce(name_en, name) AS name_en, village_code FROM parks ORDER BY park_id"
    ).df()
    lo, hi, amin, amax, total = cur.execute(
        "SELECT min(released_on), max(released_on), min(area_m2), max(area_m2), count(*) FROM parcels"
    ).fetchone()
    return {
        "villages": villages,
        "parks": parks,
        "released_min": lo,
        "released_max": hi,
        "area_min": math.floor(float(amin or 0)),
        "area_max": math.ceil(float(amax or 0)),
        "parcels_total": int(total),
    }


# ---- the selection ------------------------------------------------------------------------------

_FROM = """
FROM parcels pa
LEFT JOIN parks pk ON pk.park_id = pa.park_id
LEFT JOIN villages v ON v.code = pa.village_code
"""
_SELECT_COLUMNS = """
pa.parcel_id, pa.name, pa.park_id, pk.name AS park_name, pa.village_code,
v.name_zh AS village_zh, v.name_en AS village_en, pa.area_m2, pa.current_use, pa.planned_use,
pa.ownership, pa.release_status, pa.released_on
"""


def _order_by(sort: str, descending: bool) -> str:
    if sort not in SORT_COLUMNS:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_COLUMNS)}")
    column = "pk.name" if sort == "park_name" else f"pa.{sort}"
    direction = "DESC" if descending else "ASC"
    tie = "" if sort == "parcel_id" else ", pa.parcel_id"
    return f"{column} {direction} NULLS LAST{tie}"


def selection_summary(cur: Cursor, *, filters: LandFilters, view_date: dt.date) -> dict[str, float | int]:
    """How many parcels the filters select, their area, and how much of it was released by view_date."""
    where, params = filters.where()
    row = cur.execute(
        f"""
        SELECT count(*), coalesce(sum(pa.area_m2), 0),
               count(*) FILTER (WHERE pa.released_on <= $view),
               coalesce(sum(pa.area_m2) FILTER (WHERE pa.released_on <= $view), 0),
               count(DISTINCT pa.park_id)
        FROM parcels pa WHERE {where}
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "view": view_date},
    ).fetchone()
    parcels, area, rel_parcels, rel_area, parks = row
    return {"parcels": int(parcels), "area_m2": float(area), "released_parcels": int(rel_parcels),
            "released_area_m2": float(rel_area), "parks": int(parks),
            "released_share": float(rel_area) / float(area) if area else 0.0}


def selection_table(cur: Cursor, *, filters: LandFilters, sort: str = DEFAULT_SORT,
                    descending: bool = False, limit: int | None = TABLE_ROW_LIMIT,
                    geometry: bool = False) -> pd.DataFrame:
    """The selected parcels in the given order (at most limit, None for all), as stored.

    With geometry, a `wkb` column (WGS 84) is added, for GIS exports.
    """
    where, params = filters.where()
    if limit is not None and limit < 0:
        raise ValueError("limit must be positive")
    geom = ", ST_AsWKB(pa.geometry) AS wkb" if geometry else ""
    tail = " LIMIT $limit" if limit is not None else ""
    if limit is not None:
        params = {**params, "limit": int(limit)}
    df = cur.execute(
        f"SELECT {_SELECT_COLUMNS}{geom} {_FROM} WHERE {where} ORDER BY {_order_by(sort, descending)}{tail}",
        params,
    ).df()
    df["released_on"] = pd.to_datetime(df["released_on"])
    return df


def released_by_month(cur: Cursor, *, filters: LandFilters, as_of: dt.date) -> pd.DataFrame:
    """Area and parcels of the selection released each month from January 2020 (or the first
    release, if earlier) to as_of's month, months with none included, with the running total."""
    where, params = filters.where()
    return cur.execute(
        f"""
        WITH sel AS (SELECT pa.area_m2, pa.released_on FROM parcels pa
                     WHERE {where} AND pa.released_on <= $as_of),
        months AS (
            SELECT unnest(generate_series(
                least(date_trunc('month', $start::DATE),
                      coalesce(date_trunc('month', (SELECT min(released_on) FROM sel)), $start::DATE)),
                date_trunc('month', $as_of::DATE), INTERVAL 1 MONTH))::DATE AS month
        ), rel AS (
            SELECT date_trunc('month', released_on)::DATE AS month, sum(area_m2) AS released_m2,
                   count(*) AS parcels
            FROM sel GROUP BY 1
        )
        SELECT month, coalesce(released_m2, 0) AS released_m2, coalesce(parcels, 0) AS parcels,
               sum(coalesce(released_m2, 0)) OVER (ORDER BY month) AS cumulative_m2
        FROM months LEFT JOIN rel USING (month)
        ORDER BY month
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "as_of": as_of, "start": HISTORY_START},
    ).df()


def by_village(cur: Cursor, *, filters: LandFilters, view_date: dt.date) -> pd.DataFrame:
    """The selection per village: parcels, area, and area released by view_date."""
    where, params = filters.where()
    return cur.execute(
        f"""
        SELECT pa.village_code, any_value(v.name_zh) AS village_zh, any_value(v.name_en) AS village_en,
               count(*) AS parcels, sum(pa.area_m2) AS area_m2,
               coalesce(sum(pa.area_m2) FILTER (WHERE pa.released_on <= $view), 0) AS released_m2
        FROM parcels pa LEFT JOIN villages v ON v.code = pa.village_code
        WHERE {where}
        GROUP BY pa.village_code ORDER BY released_m2 DESC, area_m2 DESC, pa.village_code
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "view": view_date},
    ).df()


def by_planned_use(cur: Cursor, *, filters: LandFilters, view_date: dt.date) -> pd.DataFrame:
    """The selection per planned use, in the schema's order: parcels, area, area released by view_date."""
    where, params = filters.where()
    df = cur.execute(
        f"""
        SELECT pa.planned_use, count(*) AS parcels, sum(pa.area_m2) AS area_m2,
               coalesce(sum(pa.area_m2) FILTER (WHERE pa.released_on <= $view), 0) AS released_m2
        FROM parcels pa WHERE {where}
        GROUP BY pa.planned_use
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "view": view_date},
    ).df()
    order = {code: i for i, code in enumerate(S.LAND_USE.codes)}
    return df.sort_values("planned_use", key=lambda s: s.map(order)).reset_index(drop=True)


def selection_extent(cur: Cursor, *, filters: LandFilters) -> tuple[float, float, float, float] | None:
    """The selection's bounding box (lon/lat), or None when nothing is selected."""
    where, params = filters.where()
    row = cur.execute(
        f"""SELECT min(ST_XMin(pa.geometry)), min(ST_YMin(pa.geometry)), max(ST_XMax(pa.geometry)),
                   max(ST_YMax(pa.geometry)) FROM parcels pa WHERE {where}""",  # noqa: S608
        params,
    ).fetchone()
    return None if row[0] is None else tuple(float(x) for x in row)


def street_extent(cur: Cursor) -> tuple[float, float, float, float]:
    """The bounding box of every village (lon/lat): the map's view with no filter."""
    row = cur.execute(
        "SELECT min(ST_XMin(geometry)), min(ST_YMin(geometry)), max(ST_XMax(geometry)), "
        "max(ST_YMax(geometry)) FROM villages"
    ).fetchone()
    return tuple(float(x) for x in row)


def fit_view(extent: tuple[float, float, float, float], *, width_px: int = 760, height_px: int = 600,
             max_zoom: float = 17.0, min_zoom: float = 3.0) -> dict[str, float]:
    """The web-mercator view (centre, zoom) that shows extent in a map of the given pixel size."""
    x0, y0, x1, y1 = extent
    lon, lat = (x0 + x1) / 2, (y0 + y1) / 2

    def merc_y(phi: float) -> float:
        phi = max(min(phi, 85.0), -85.0)
        return math.log(math.tan(math.pi / 4 + math.radians(phi) / 2))

    # at zoom z the world is 512 * 2**z pixels wide (deck.gl's tile size), 2*pi radians of mercator
    span_x = max(x1 - x0, 1e-7) / 360.0
    span_y = max(merc_y(y1) - merc_y(y0), 1e-7) / (2 * math.pi)
    zoom = min(math.log2(width_px * 0.8 / (512 * span_x)), math.log2(height_px * 0.8 / (512 * span_y)))
    zoom = max(min_zoom, min(max_zoom, zoom))
    return {"longitude": round(lon, 6), "latitude": round(lat, 6), "zoom": round(zoom, 2)}


# ---- what the map draws -------------------------------------------------------------------------

@dataclass(frozen=True)
class MapData:
    """The rows a map of the selection draws: parcels, parks or grid cells (`level`)."""

    level: str  # "parcel", "park" or "cell"
    frame: pd.DataFrame
    parcels: int  # parcels selected, whatever the level
    cell_m: int | None = None

    @property
    def aggregated(self) -> bool:
        return self.level != "parcel"


def status_at(stored: pd.Series, released_on: pd.Series, *, view_date: dt.date, as_of: dt.date) -> np.ndarray:
    """Each parcel's status as the map shows it on view_date.

    On the data date it is the stored status. Before it, the data holds no history of later steps
    (transferred, built...), so land released by then shows as released, and land released later
    as still being vacated.
    """
    status = stored.astype(object).to_numpy()
    if view_date >= as_of:
        return status
    rel = pd.to_datetime(released_on)
    released = (rel <= pd.Timestamp(view_date)).to_numpy()
    later = np.isin(status, S.RELEASED_STATUSES) & ~released
    return np.where(released, "released", np.where(later, "vacating", status))


def map_data(cur: Cursor, *, filters: LandFilters, view_date: dt.date, as_of: dt.date,
             polygon_budget: int = POLYGON_BUDGET, park_budget: int = PARK_BUDGET,
             cell_budget: int = CELL_BUDGET) -> MapData:
    """The selection as the map should draw it on view_date, within its budget."""
    if min(polygon_budget, park_budget, cell_budget) < 1:
        raise ValueError("map budgets must be at least 1")
    where, params = filters.where()
    n, n_parks, no_park = cur.execute(
        f"""SELECT count(*), count(DISTINCT pa.park_id), count(*) FILTER (WHERE pa.park_id IS NULL)
            FROM parcels pa WHERE {where}""",  # noqa: S608
        params,
    ).fetchone()
    if n <= polygon_budget:
        df = cur.execute(
            f"SELECT {_SELECT_COLUMNS}, ST_AsWKB(pa.geometry) AS wkb {_FROM} WHERE {where} ORDER BY pa.parcel_id",
            params,
        ).df()
        df["status_shown"] = status_at(df["release_status"], df["released_on"], view_date=view_date, as_of=as_of)
        return MapData("parcel", df, int(n))
    if n_parks <= park_budget and not no_park:
        df = cur.execute(
            f"""
            WITH agg AS (
                SELECT pa.park_id, count(*) AS parcels, sum(pa.area_m2) AS area_m2,
                       coalesce(sum(pa.area_m2) FILTER (WHERE pa.released_on <= $view), 0) AS released_m2
                FROM parcels pa WHERE {where} GROUP BY pa.park_id
            )
            SELECT agg.park_id AS id, pk.name AS label, coalesce(pk.name_en, pk.name) AS label_en,
                   v.name_zh AS village_zh, v.name_en AS village_en,
                   agg.parcels, agg.area_m2, agg.released_m2, ST_AsWKB(pk.geometry) AS wkb
            FROM agg JOIN parks pk ON pk.park_id = agg.park_id
            LEFT JOIN villages v ON v.code = pk.village_code
            ORDER BY id
            """,  # noqa: S608 - the condition is built from constants; values are bound
            {**params, "view": view_date},
        ).df()
        return MapData("park", _with_share(df), int(n))
    df, cell = _cells(cur, where, params, view_date=view_date, budget=cell_budget)
    return MapData("cell", df, int(n), cell)


_with_share = cells.with_share


def _cells(cur: Cursor, where: str, params: dict, *, view_date: dt.date, budget: int) -> tuple[pd.DataFrame, int]:
    """The selection summed on the smallest square cell (of CELL_SIZES_M) that gives at most budget cells."""
    frame, cell = cells.square_cells(
        cur, source=f"SELECT pa.geometry, pa.area_m2, pa.released_on FROM parcels pa WHERE {where}",  # noqa: S608
        params=params, budget=budget, sizes=CELL_SIZES_M, released_by=view_date)
    return frame, cell


def park_outlines(cur: Cursor, *, filters: LandFilters, limit: int = 2_000) -> pd.DataFrame:
    """Outlines and label points of the parks holding selected parcels (none beyond limit parks)."""
    where, params = filters.where()
    df = cur.execute(
        f"""
        WITH ids AS (SELECT DISTINCT pa.park_id FROM parcels pa WHERE {where} AND pa.park_id IS NOT NULL)
        SELECT pk.park_id AS id, pk.name AS label_zh, coalesce(pk.name_en, pk.name) AS label_en,
               ST_X(ST_PointOnSurface(pk.geometry)) AS lon, ST_Y(ST_PointOnSurface(pk.geometry)) AS lat,
               ST_AsWKB(pk.geometry) AS wkb
        FROM parks pk JOIN ids USING (park_id)
        ORDER BY pk.park_id LIMIT $limit
        """,  # noqa: S608 - the condition is built from constants; values are bound
        {**params, "limit": int(limit) + 1},
    ).df()
    return df.iloc[:0] if len(df) > limit else df


# ---- the story of one parcel --------------------------------------------------------------------

def parcel_story(cur: Cursor, *, parcel_id: str, as_of: dt.date, role: str) -> dict | None:
    """Everything about one parcel: its attributes, its park's remediation project with the stage
    history up to as_of, and the firms registered on it (with the columns role may see).
    None when there is no such parcel."""
    access.require_table("parcels", role)
    parcel = cur.execute(
        f"""
        SELECT {_SELECT_COLUMNS}, pk.area_m2 AS park_area_m2,
               ST_X(ST_PointOnSurface(pa.geometry)) AS lon, ST_Y(ST_PointOnSurface(pa.geometry)) AS lat
        {_FROM} WHERE pa.parcel_id = $id
        """,
        {"id": str(parcel_id)},
    ).df()
    if parcel.empty:
        return None
    row = parcel.iloc[0].to_dict()
    row["released_on"] = None if pd.isna(row["released_on"]) else pd.Timestamp(row["released_on"]).date()
    project = events = None
    if row["park_id"] is not None and access.visible_columns("remediation_projects", role):
        stages = list(S.stage_catalogue().codes)
        proj = cur.execute(
            """
            SELECT * FROM project_state($as_of::DATE, $stages) WHERE park_id = $park ORDER BY project_id LIMIT 1
            """,
            {"as_of": as_of, "stages": stages, "park": row["park_id"]},
        ).df()
        if not proj.empty:
            project = proj.iloc[0].to_dict()
            done = S.stage_catalogue().completed
            for key in ("started_on", "planned_finish", "finished_on", "last_change"):
                value = project.get(key)
                project[key] = None if value is None or pd.isna(value) else pd.Timestamp(value).date()
            project["is_overdue"] = bool(project["planned_finish"] and project["planned_finish"] < as_of
                                         and project["stage"] != done)
            events = cur.execute(
                """
                SELECT stage, entered_on FROM remediation_events
                WHERE project_id = $pid AND entered_on <= $as_of
                ORDER BY entered_on, list_position($stages, stage)
                """,
                {"pid": project["project_id"], "as_of": as_of, "stages": stages},
            ).df()
            events["entered_on"] = pd.to_datetime(events["entered_on"]).dt.date
    cols = access.visible_columns("firms", role)
    firms = None
    if cols:
        wanted = [c for c in ("firm_id", "name", "uscc", "industry", "risk_level", "list_status", "listed_on")
                  if c in cols]
        firms = cur.execute(
            f'SELECT {", ".join(f"f.{c}" for c in wanted)} FROM firms f WHERE f.parcel_id = $id '  # noqa: S608
            "ORDER BY CASE f.risk_level WHEN 'blacklisted' THEN 0 WHEN 'high_risk' THEN 1 ELSE 2 END, f.firm_id",
            {"id": str(parcel_id)},
        ).df()
    return {"parcel": row, "project": project, "events": events, "firms": firms}


def risky_firms_near(cur: Cursor, *, parcel_id: str, distance_m: float, role: str,
                     levels: tuple[str, ...] = RISKY_LEVELS) -> pd.DataFrame:
    """Firms of the given risk levels within distance_m metres of the parcel (0 m: on it), nearest
    first. Distances are measured in CGCS2000 / GK CM 114E (EPSG:4547), not in degrees; a bounding
    box in degrees, a little wider than distance_m, narrows the firms first."""
    if not 0 < float(distance_m) <= MAX_DISTANCE_M:
        raise ValueError(f"distance must be between 0 and {MAX_DISTANCE_M} m, not {distance_m!r}")
    _codes(levels, S.RISK_LEVEL, "risk level")
    cols = access.require_table("firms", role)
    wanted = [c for c in ("firm_id", "name", "uscc", "industry", "risk_level", "list_status", "listed_on",
                          "list_reason", "parcel_id", "park_id") if c in cols]
    select = ", ".join(f"near.{c}" for c in wanted)
    return cur.execute(
        f"""
        WITH target AS (
            SELECT geometry AS g, {_metric("geometry")} AS gm,
                   -- degrees of longitude per metre grow with latitude: widen by the poleward edge
                   $d / ({M_PER_DEG_LON_EQUATOR} * cos(radians(greatest(abs(ST_YMin(geometry)),
                                                                       abs(ST_YMax(geometry)))))) * 1.05 AS pad
            FROM parcels WHERE parcel_id = $id
        ), near AS (
            SELECT f.*, ST_Distance(t.gm, {_metric("f.geometry")}) AS distance_m
            FROM firms f, target t
            WHERE list_contains($levels, f.risk_level)
              AND ST_Intersects(f.geometry, ST_Expand(t.g, t.pad))
              AND ST_DWithin(t.gm, {_metric("f.geometry")}, $d)
        )
        SELECT {select}, round(near.distance_m, 1) AS distance_m,
               pk.name AS park_name, ST_X(near.geometry) AS lon, ST_Y(near.geometry) AS lat
        FROM near LEFT JOIN parks pk ON pk.park_id = near.park_id
        ORDER BY near.distance_m, near.firm_id
        """,  # noqa: S608 - columns from the schema via access; values are bound
        {"id": str(parcel_id), "d": float(distance_m), "levels": list(levels)},
    ).df()


def story_shapes(cur: Cursor, *, parcel_id: str, distance_m: float) -> dict[str, bytes] | None:
    """The parcel's outline and the ring distance_m around it (a buffer in EPSG:4547), as WKB."""
    if not 0 < float(distance_m) <= MAX_DISTANCE_M:
        raise ValueError(f"distance must be between 0 and {MAX_DISTANCE_M} m, not {distance_m!r}")
    row = cur.execute(
        f"""
        SELECT ST_AsWKB(geometry), ST_AsWKB({_TO_STORAGE.format(g=f"ST_Buffer({_metric('geometry')}, $d, 16)")})
        FROM parcels WHERE parcel_id = $id
        """,  # noqa: S608 - constant SQL
        {"id": str(parcel_id), "d": float(distance_m)},
    ).fetchone()
    return None if row is None else {"parcel": bytes(row[0]), "buffer": bytes(row[1])}
