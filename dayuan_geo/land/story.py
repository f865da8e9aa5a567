"""The story of one parcel: its attributes, its park's remediation project and stage history, the
firms on it, the risky firms near it, and the shapes the map draws around it.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from dayuan_geo import access
from dayuan_geo import schema as S
from dayuan_geo.land.filters import _codes
from dayuan_geo.land.queries import _FROM, _SELECT_COLUMNS
from dayuan_geo.land.url import MAX_DISTANCE_M
from dayuan_geo.maps import cells

Cursor = duckdb.DuckDBPyConnection

RISKY_LEVELS = ("blacklisted", "high_risk")
M_PER_DEG_LON_EQUATOR = cells.M_PER_DEG_LON_EQUATOR
_TO_METRIC = f"ST_Transform({{g}}, '{S.STORAGE_CRS}', '{S.METRIC_CRS}', always_xy := true)"
_TO_STORAGE = f"ST_Transform({{g}}, '{S.METRIC_CRS}', '{S.STORAGE_CRS}', always_xy := true)"


def _metric(expr: str) -> str:
    return _TO_METRIC.format(g=expr)


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


def parks_within(cur: Cursor, *, extent: tuple[float, float, float, float], limit: int) -> pd.DataFrame:
    """Outlines and label points of the parks meeting extent (min lon, min lat, max lon, max lat), as
    land.queries.park_outlines returns them; none when more than limit parks do (too many to name)."""
    df = cur.execute(
        """
        SELECT park_id AS id, name AS label_zh, coalesce(name_en, name) AS label_en,
               ST_X(ST_PointOnSurface(geometry)) AS lon, ST_Y(ST_PointOnSurface(geometry)) AS lat,
               ST_AsWKB(geometry) AS wkb
        FROM parks WHERE ST_Intersects(geometry, ST_MakeEnvelope($x0, $y0, $x1, $y1))
        ORDER BY park_id LIMIT $limit
        """,
        {"x0": float(extent[0]), "y0": float(extent[1]), "x1": float(extent[2]), "y1": float(extent[3]),
         "limit": int(limit) + 1},
    ).df()
    return df.iloc[:0] if len(df) > limit else df
