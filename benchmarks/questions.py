"""The benchmark's four questions answered three ways: naively (geopandas reads the files on every
rerun, pandas filters, every parcel to pydeck as GeoJSON), by the product, and in bare DuckDB SQL."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries

NEAR_DISTANCE_M = 500.0
RISKY = ("blacklisted", "high_risk")
NEAR_STATUSES = ("vacating", "released")
MAP_STATUSES = ("vacating", "released")  # the filtered map: land being vacated or released


def _read(directory: Path, name: str):
    import geopandas as gpd

    path = dataset.table_path(directory, name)
    return gpd.read_parquet(path) if S.table(name).has_geometry else pd.read_parquet(path)


def _days(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series)


def naive_kpis(directory: Path, *, as_of: dt.date, stalled_days: int = queries.DEFAULT_STALLED_DAYS) -> dict:
    """The headline numbers the way a first script computes them: read everything, filter in pandas."""
    day = pd.Timestamp(as_of)
    y0 = pd.Timestamp(as_of.year, 1, 1)
    month_ago = pd.Timestamp(queries._month_before(as_of))
    parcels = _read(directory, "parcels")
    rel_on = _days(parcels["released_on"])
    firms = _read(directory, "firms")
    listed = _days(firms["listed_on"])
    firms = firms[listed.isna() | (listed <= day)]
    insp = _read(directory, "inspections")
    when = _days(insp["inspected_on"])
    insp = insp[(when >= y0) & (when <= day)]
    targets = _read(directory, "targets")
    target = targets[(targets["year"] == as_of.year) & (targets["metric"] == "released_area_m2")]["value"]
    projects = _read(directory, "remediation_projects")
    events = _read(directory, "remediation_events")
    stages = list(S.stage_catalogue().codes)
    done = S.stage_catalogue().completed
    ev = events[_days(events["entered_on"]) <= day].copy()
    ev["rank"] = ev["stage"].map({s: i for i, s in enumerate(stages)})
    ev = ev.sort_values(["project_id", "entered_on", "rank"])
    last = ev.groupby("project_id").agg(stage_at=("stage", "last"), last_change=("entered_on", "max"))
    pr = projects[_days(projects["started_on"]) <= day].merge(last, on="project_id", how="left")
    stage = pr["stage_at"].fillna(pr["stage"])
    last_change = _days(pr["last_change"].fillna(pr["started_on"]))
    not_done = stage != done
    return {
        "as_of": as_of.isoformat(),
        "released_area_m2": round(float(parcels.loc[rel_on <= day, "area_m2"].sum()), 1),
        "released_parcels": int((rel_on <= day).sum()),
        "parcels_total": len(parcels),
        "parcels_area_m2": round(float(parcels["area_m2"].sum()), 1),
        "released_area_month_ago_m2": round(float(parcels.loc[rel_on <= month_ago, "area_m2"].sum()), 1),
        "released_area_ytd_m2": round(float(parcels.loc[(rel_on >= y0) & (rel_on <= day), "area_m2"].sum()), 1),
        "released_area_target_m2": float(target.iloc[0]) if len(target) else None,
        "remediation_projects_total": len(pr),
        "remediation_projects_by_stage": {s: int((stage == s).sum()) for s in stages},
        "projects_completed": int((~not_done).sum()),
        "projects_overdue": int(((_days(pr["planned_finish"]) < day) & not_done).sum()),
        "projects_stalled": int((not_done & ((day - last_change).dt.days > stalled_days)).sum()),
        "blacklisted_firms": int((firms["risk_level"] == "blacklisted").sum()),
        "high_risk_firms": int((firms["risk_level"] == "high_risk").sum()),
        "inspections_ytd": len(insp),
        "rectification_orders_ytd": int(insp.loc[insp["outcome"] == "rectification_ordered", "firm_id"].nunique()),
    }


def _naive_status(parcels, as_of: dt.date) -> pd.Series:
    rel_on = _days(parcels["released_on"])
    return parcels["release_status"].where(~(rel_on > pd.Timestamp(as_of)), "vacating")


def naive_map(directory: Path, *, as_of: dt.date, statuses: tuple[str, ...] | None = None):
    """Every matching parcel as GeoJSON in a pydeck deck (what `st.pydeck_chart` would send)."""
    import pydeck as pdk

    parcels = _read(directory, "parcels")
    parcels["release_status"] = _naive_status(parcels, as_of)
    if statuses is not None:
        parcels = parcels[parcels["release_status"].isin(statuses)]
    parks = _read(directory, "parks")[["park_id", "name"]].rename(columns={"name": "park_name"})
    parcels = parcels.merge(parks, on="park_id", how="left")
    parcels["released_on"] = parcels["released_on"].astype(str)
    parcels["fill"] = [maps.STATUS_COLORS.get(s, [0, 0, 0, 120]) for s in parcels["release_status"]]
    keep = ["parcel_id", "name", "park_name", "area_m2", "release_status", "released_on", "fill", "geometry"]
    layer = pdk.Layer("GeoJsonLayer", data=parcels[keep], id="parcels", get_fill_color="properties.fill",
                      pickable=True, stroked=True)
    deck = pdk.Deck(layers=[layer], map_provider=None,
                    initial_view_state=pdk.ViewState(longitude=113.35, latitude=23.26, zoom=12))
    return deck, parcels


def naive_released_by_month(directory: Path, *, as_of: dt.date) -> pd.DataFrame:
    parcels = _read(directory, "parcels")
    rel_on = _days(parcels["released_on"])
    rel = parcels[rel_on <= pd.Timestamp(as_of)].assign(month=rel_on.dt.to_period("M"))
    out = rel.groupby("month").agg(released_m2=("area_m2", "sum"), parcels=("parcel_id", "count"))
    out = out.reindex(pd.period_range(out.index.min(), pd.Period(as_of, "M"), freq="M"), fill_value=0)
    out["cumulative_m2"] = out["released_m2"].cumsum()
    return out.reset_index(names="month")


def naive_firms_near(directory: Path, *, as_of: dt.date, distance_m: float = NEAR_DISTANCE_M) -> pd.DataFrame:
    """(parcel, firm) pairs within distance_m, with geopandas in the metric CRS."""
    import geopandas as gpd

    day = pd.Timestamp(as_of)
    firms = _read(directory, "firms")
    listed = _days(firms["listed_on"])
    firms = firms[firms["risk_level"].isin(RISKY) & (listed.isna() | (listed <= day))]
    parcels = _read(directory, "parcels")
    parcels = parcels[_naive_status(parcels, as_of).isin(NEAR_STATUSES)]
    pairs = gpd.sjoin(firms[["firm_id", "geometry"]].to_crs(S.METRIC_CRS),
                      parcels[["parcel_id", "geometry"]].to_crs(S.METRIC_CRS),
                      predicate="dwithin", distance=distance_m)
    return pairs[["parcel_id", "firm_id"]].reset_index(drop=True)


# ---- the product ---------------------------------------------------------------------------------

def product_firms_near(cur, *, as_of: dt.date, distance_m: float = NEAR_DISTANCE_M) -> pd.DataFrame:
    """The product's spatial join (safety.near_released_land, the firms page's query)."""
    from dayuan_geo.safety import queries as safety

    return safety.near_released_land(cur, role=S_ROLE, as_of=as_of, distance_m=distance_m,
                                     risk_levels=RISKY, parcel_statuses=NEAR_STATUSES)


S_ROLE = "planner"


def bare_firms_near(cur, *, as_of: dt.date, distance_m: float = NEAR_DISTANCE_M) -> list:
    """The spatial join alone, counted in the engine: the floor under product_firms_near."""
    from dayuan_geo.safety import queries as safety

    sql = f"""
    WITH pa AS (
        SELECT parcel_id, CASE WHEN released_on > $as_of THEN 'vacating' ELSE release_status END AS status,
               {safety._metric("geometry")} AS g
        FROM parcels
    ), f AS (
        SELECT firm_id, {safety._metric("geometry")} AS g FROM firms
        WHERE list_contains($levels, risk_level) AND (listed_on IS NULL OR listed_on <= $as_of)
    )
    SELECT count(*), count(DISTINCT f.firm_id) FROM pa JOIN f ON ST_DWithin(f.g, pa.g, $d)
    WHERE list_contains($statuses, pa.status)
    """  # noqa: S608 - the transform is a constant of safety
    params = {"as_of": as_of, "levels": list(RISKY), "statuses": list(NEAR_STATUSES), "d": distance_m}
    return cur.execute(sql, params).fetchall()


class _ExplainingCursor:
    """A cursor that records the EXPLAIN plan of every statement a query function runs."""

    def __init__(self, cur):
        self._cur = cur
        self.plans: list[str] = []

    def execute(self, sql, params=None):
        rows = self._cur.execute("EXPLAIN " + sql, params).fetchall()
        self.plans.append("\n".join(str(r[-1]) for r in rows))
        return self._cur.execute(sql, params)


def join_operators(plan: str) -> list[str]:
    """Join operators named in an EXPLAIN plan, e.g. SPATIAL_JOIN, HASH_JOIN, NESTED_LOOP_JOIN."""
    return sorted(set(re.findall(r"\b([A-Z_]*JOIN)\b", plan)))


_BARE_KPIS_SQL = (
    ("SELECT coalesce(sum(area_m2) FILTER (WHERE released_on <= $as_of), 0), count(*) FILTER "
     "(WHERE released_on <= $as_of), count(*), coalesce(sum(area_m2) FILTER (WHERE released_on <= "
     "$month_ago), 0), coalesce(sum(area_m2) FILTER (WHERE released_on BETWEEN $y0 AND $as_of), 0), "
     "coalesce(sum(area_m2), 0) FROM parcels", ("as_of", "month_ago", "y0")),
    ("SELECT count(*) FILTER (WHERE risk_level = 'blacklisted'), count(*) FILTER (WHERE risk_level = "
     "'high_risk') FROM firms WHERE listed_on IS NULL OR listed_on <= $as_of", ("as_of",)),
    ("SELECT count(*), count(DISTINCT firm_id) FILTER (WHERE outcome = 'rectification_ordered') "
     "FROM inspections WHERE inspected_on BETWEEN $y0 AND $as_of", ("y0", "as_of")),
    ("SELECT value FROM targets WHERE year = $year AND metric = 'released_area_m2'", ("year",)),
    ("SELECT stage, count(*), count(*) FILTER (WHERE planned_finish < $as_of AND stage <> $done), "
     "count(*) FILTER (WHERE stage <> $done AND datediff('day', last_change, $as_of) > 90) "
     "FROM project_state($as_of::DATE, $stages) GROUP BY stage", ("as_of", "done", "stages")),
)


def bare_kpis(cur, *, as_of: dt.date) -> list:
    """The KPI SQL alone, fetched as tuples: the engine's floor under queries.kpis."""
    values = {"as_of": as_of, "month_ago": queries._month_before(as_of), "y0": dt.date(as_of.year, 1, 1),
              "year": as_of.year, "done": S.stage_catalogue().completed,
              "stages": list(S.stage_catalogue().codes)}
    return [cur.execute(sql, {k: values[k] for k in names}).fetchall() for sql, names in _BARE_KPIS_SQL]


# ---- pages in AppTest ----------------------------------------------------------------------------
