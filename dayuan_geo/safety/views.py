"""How the firms-and-safety page shows what `safety` answers: display tables with labels in the
UI language, the firm's story as facts and a dated history, plotly figures of inspections and
pydeck layers (hexagon density, near-land rings, inspections per grid); and, at the end, the views
the page takes built (a query and its layers or figures), which the app builds once per dataset
version and shares between reruns.

Every value from the data that reaches HTML (map tooltips, plotly labels) is escaped here.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk

from dayuan_geo import chartstyle, uscc
from dayuan_geo import schema as S
from dayuan_geo.maps import budget as mapdata
from dayuan_geo.maps import cells
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries
from dayuan_geo.safety import inspections
from dayuan_geo.safety import queries as safety
from dayuan_geo.text import EMPTY, fmt_dates, is_empty, t

OUTCOME_COLORS = {"passed": "#1a9850", "fixed_on_site": "#91cf60", "rectification_ordered": "#fc8d59",
                  "penalised": "#d73027"}


def listing_history(story: dict, *, lang: str = "zh") -> pd.DataFrame:
    """The firm's listing as dated events: listed (with the reason), every inspection that found a
    problem, and where it stands now."""
    firm = story["firm"]
    rows: list[tuple[object, str, str]] = []
    if firm.get("listed_on") is not None:
        rows.append((firm["listed_on"], t("fs_ev_listed", lang, level=S.RISK_LEVEL.label(firm["risk_level"], lang)),
                     firm.get("list_reason") or ""))
    insp = story.get("inspections")
    if insp is not None and not insp.empty:
        for r in insp[insp["outcome"] != "passed"].itertuples():
            rows.append((r.inspected_on, S.INSPECTION_OUTCOME.label(r.outcome, lang),
                         S.INSPECTION_CATEGORY.label(r.category, lang)))
    rows = [(pd.Timestamp(d).date(), e, x) for d, e, x in rows]
    rows.sort(key=lambda r: r[0], reverse=True)  # newest first, under where it stands now
    if firm.get("list_status"):
        rows.insert(0, (story["as_of"], t("fs_ev_now", lang), S.LIST_STATUS.label(firm["list_status"], lang)))
    return pd.DataFrame(rows, columns=[t("fs_col_date", lang), t("fs_col_event", lang), t("fs_col_detail", lang)])


_STORY_FACTS = (
    ("firm_id", None), ("uscc", None), ("risk_level", S.RISK_LEVEL), ("list_status", S.LIST_STATUS),
    ("listed_on", None), ("list_reason", None), ("industry", S.INDUSTRY),
)


def story_facts(firm: dict, *, lang: str = "zh") -> pd.DataFrame:
    """The firm's key facts as (label, value) rows, with the role's hidden fields left out."""
    rows = []
    for col, enum in _STORY_FACTS:
        if col in firm:
            value = firm[col]
            if enum is not None:
                value = enum.label(value, lang)
            elif col == "listed_on":
                value = maps._date_text(value)
            rows.append((S.column_label("firms", col, lang), value or "—"))
    village = firm.get("village_zh" if lang == "zh" else "village_en")
    rows += [
        (t("tt_park", lang), f"{firm.get('park_id') or ''} {firm.get('park_name') or ''}".strip() or "—"),
        (t("tt_parcel", lang), f"{firm.get('parcel_id') or ''} {firm.get('parcel_name') or ''}".strip() or "—"),
        (t("fs_col_parcel_status", lang), S.RELEASE_STATUS.label(firm.get("parcel_status"), lang) or "—"),
        (t("tt_village", lang), village or "—"),
        (t("fs_col_grid", lang), f"{firm.get('grid_id') or ''} {firm.get('grid_name') or ''}".strip()),
    ]
    return pd.DataFrame(rows, columns=[t("fs_col_field", lang), t("fs_col_value", lang)]).astype(str)


_EXTRA_LABELS = {
    "park_name": "tt_park", "village_zh": "tt_village", "village_en": "tt_village",
    "last_inspected_on": "fs_col_last_inspection", "inspections": "fs_col_inspections",
    "uscc_problem": "fs_col_uscc_problem", "parcel_name": "tt_parcel", "distance_m": "fs_col_distance",
    "orders": "fs_col_orders", "last_order_on": "fs_col_last_order", "passed_since": "fs_col_passed_since",
    "problems": "fs_col_problems", "rectification_orders": "fs_col_orders", "penalties": "fs_col_penalties",
    "release_status": "tt_status", "area_m2": "tt_area",
    "nearest_parcel_id": "fs_col_nearest_parcel", "nearest_parcel_name": "fs_col_nearest_parcel_name",
    "nearest_parcel_status": "fs_col_nearest_parcel_status", "parcels_near": "fs_col_parcels_near",
}
_STATUS_COLUMNS = ("release_status", "nearest_parcel_status")
_DROP_FOR_DISPLAY = ("lon", "lat", "wkb", "village_code", "village_zh", "village_en")


def grid_text(grid_id: object, name: object) -> str:
    """A safety grid as the filter and the list show it: 201-001-001 石湖第97网格 (the code alone
    when it has no name)."""
    return EMPTY if is_empty(grid_id) else f"{grid_id} {'' if is_empty(name) else name}".strip()


def for_display(df: pd.DataFrame, *, table: str, lang: str = "zh", keep_village: bool = False) -> pd.DataFrame:
    """Codes as labels and headers in lang, drawing-only columns dropped, a grid with its name, for
    st.dataframe."""
    drop = [c for c in _DROP_FOR_DISPLAY if c in df.columns
            and not (keep_village and c == ("village_zh" if lang == "zh" else "village_en"))]
    out = df.drop(columns=drop).copy()
    if "grid_name" in out.columns and "grid_id" in out.columns:
        out["grid_id"] = [grid_text(g, n) for g, n in zip(out["grid_id"], out.pop("grid_name"), strict=True)]
    for col in out.columns:
        enum = S.enum_for(table, col) or (S.RELEASE_STATUS if col in _STATUS_COLUMNS else None)
        if enum is not None:  # mapped column-wise: a per-value loop costs 20 ms per 5,000 rows
            labels = out[col].map({c: enum.label(c, lang) for c in enum.codes})
            out[col] = labels.astype(object).where(labels.notna(), out[col].astype(object))
        elif pd.api.types.is_datetime64_any_dtype(out[col]):  # one type: Arrow takes no dates mixed with EMPTY
            out[col] = fmt_dates(out[col])
        elif out[col].dtype == object:
            out[col] = [EMPTY if is_empty(v) else v for v in out[col]]
    if "uscc_problem" in out.columns and "uscc" in out.columns:  # what is wrong, in lang ("" when nothing)
        out["uscc_problem"] = [uscc_label(u, lang=lang) if p not in ("", EMPTY) else "" for u, p in
                               zip(out["uscc"], out["uscc_problem"], strict=True)]
    labels = {}
    for col in out.columns:
        if col in _EXTRA_LABELS:
            labels[col] = t(_EXTRA_LABELS[col], lang)
        else:
            labels[col] = S.column_label(table, col, lang)
    return out.rename(columns=labels)


def for_export(df: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """A firm list as export.export writes it for people: the columns the schema does not name
    (inspections, last inspection, credit-code problem, distances, parcel statuses) get their labels
    and their values in lang; the schema's columns keep their codes for the writer to label."""
    out = df.copy()
    for col in _STATUS_COLUMNS:
        if col in out.columns:
            out[col] = [S.RELEASE_STATUS.label(v, lang) if isinstance(v, str) else v for v in out[col]]
    if "uscc_problem" in out.columns and "uscc" in out.columns:
        out["uscc_problem"] = [uscc_label(u, lang=lang) if p else "" for u, p in
                               zip(out["uscc"], out["uscc_problem"], strict=True)]
    names = {c: t(_EXTRA_LABELS[c], lang) for c in out.columns
             if c in _EXTRA_LABELS and S.column_label("firms", c, lang) == c}
    return out.rename(columns=names)


def uscc_label(code: object, *, lang: str = "zh") -> str:
    """What is wrong with a credit code (GB 32100), said in lang; "" when it is valid."""
    if uscc.uscc_problem(code) is None:
        return ""
    if not isinstance(code, str) or not code:
        return t("fs_uscc_missing", lang)
    if len(code) != 18:
        return t("fs_uscc_length", lang, n=len(code))
    bad = sorted({ch for ch in code if ch not in uscc.USCC_ALPHABET})
    if bad:
        return t("fs_uscc_chars", lang, chars="".join(bad))
    return t("fs_uscc_digit", lang, expected=uscc.uscc_check_char(code[:17]))


def _text(value: object) -> str:
    return html.escape("" if value is None else str(value))


def trend_figure(df: pd.DataFrame, *, lang: str = "zh") -> go.Figure:
    """Stacked bars of inspections per month by outcome."""
    fig = go.Figure()
    for code in S.INSPECTION_OUTCOME.codes:
        part = df[df["outcome"] == code]
        name = _text(S.INSPECTION_OUTCOME.label(code, lang))
        fig.add_bar(x=part["month"], y=part["inspections"], name=name, marker_color=OUTCOME_COLORS[code],
                    hovertemplate=f"{name}: %{{y:,}}<extra></extra>")
    fig.update_layout(barmode="stack", xaxis={"title": t("chart_month", lang), "tickformat": "%Y-%m"},
                      yaxis={"title": t("fs_col_inspections", lang)})
    return chartstyle.style(fig, title=t("fs_chart_insp_trend", lang), height=340)


def category_figure(df: pd.DataFrame, *, lang: str = "zh") -> go.Figure:
    """Horizontal stacked bars: inspections per category split by outcome."""
    fig = go.Figure()
    cats = [_text(S.INSPECTION_CATEGORY.label(c, lang)) for c in S.INSPECTION_CATEGORY.codes]
    for code in S.INSPECTION_OUTCOME.codes:
        part = df[df["outcome"] == code].set_index("category").reindex(S.INSPECTION_CATEGORY.codes)
        name = _text(S.INSPECTION_OUTCOME.label(code, lang))
        fig.add_bar(y=cats, x=part["inspections"].fillna(0), name=name, orientation="h",
                    marker_color=OUTCOME_COLORS[code], hovertemplate=f"%{{y}} · {name}: %{{x:,}}<extra></extra>")
    fig.update_layout(barmode="stack", yaxis={"autorange": "reversed"})
    return chartstyle.style(fig, title=t("fs_chart_insp_category", lang), height=340, hovermode="closest")


def outcome_figure(df: pd.DataFrame, *, lang: str = "zh") -> go.Figure:
    """A donut of the period's inspections by outcome."""
    totals = df.groupby("outcome")["inspections"].sum().reindex(S.INSPECTION_OUTCOME.codes, fill_value=0)
    fig = go.Figure(go.Pie(
        labels=[_text(S.INSPECTION_OUTCOME.label(c, lang)) for c in totals.index], values=totals.values,
        hole=0.5, sort=False, marker={"colors": [OUTCOME_COLORS[c] for c in totals.index]},
        hovertemplate="%{label}: %{value:,} (%{percent})<extra></extra>",
    ))
    return chartstyle.style(fig, title=t("fs_chart_insp_outcome", lang), height=340, hovermode="closest")


def density_layer(df: pd.DataFrame, *, layer_id: str = "firm-density", radius_m: float = 120) -> pdk.Layer:
    """Firms counted per cell (`ordinary_firm_density`) as a flat hexagon density surface, each
    hexagon coloured by the firms it holds; not pickable: it names nobody."""
    data = pd.DataFrame({"position": [[round(x, 6), round(y, 6)]
                                      for x, y in zip(df["lon"], df["lat"], strict=True)],
                         "firms": df["firms"].astype(int)})
    return pdk.Layer(
        "HexagonLayer", data=data, id=layer_id, get_position="position", radius=radius_m,
        get_color_weight="firms", color_aggregation=maps._quoted("SUM"),
        extruded=False, coverage=0.92, opacity=0.45, pickable=False,
        color_range=[[237, 248, 251], [191, 211, 230], [158, 188, 218], [140, 150, 198],
                     [136, 86, 167], [129, 15, 124]],
    )


def ring_layer(df: pd.DataFrame, *, layer_id: str = "near-land-firms", radius_px: float = 13) -> pdk.Layer:
    """Hollow rings around firms to highlight them (the near-land check), drawn under the points."""
    data = pd.DataFrame({"position": np.round(df[["lon", "lat"]].to_numpy(dtype=float), 6).tolist()})
    return pdk.Layer(
        "ScatterplotLayer", data=data, id=layer_id, get_position="position", filled=False,
        stroked=True, get_line_color=[123, 50, 148, 255], line_width_min_pixels=3,
        radius_min_pixels=radius_px, radius_max_pixels=radius_px, get_radius=1, pickable=False,
    )


def grid_counts_layer(df: pd.DataFrame, *, lang: str = "zh", layer_id: str = "grid-inspections") -> pdk.Layer:
    """Grids filled by how many inspections they had, with an escaped tooltip each."""
    top = max(float(df["inspections"].max() or 0), 1.0)
    ramp = np.array([[255, 255, 204], [161, 218, 180], [65, 182, 196], [44, 127, 184], [37, 52, 148]])
    idx = np.minimum((df["inspections"].to_numpy(dtype=float) / top * (len(ramp) - 1)).round(), len(ramp) - 1)
    village = df["village_zh"] if lang == "zh" else df["village_en"]
    data = pd.DataFrame({
        "polygon": maps.rings(df["wkb"]),
        "color": [[*ramp[int(i)].tolist(), 190] for i in idx],
        "tooltip": [
            maps.tooltip_rows([(t("fs_col_grid", lang), f"{gid} {name}"), (t("tt_village", lang), vil),
                               (t("fs_col_inspections", lang), f"{n:,}"), (t("fs_col_problems", lang), f"{p:,}")])
            for gid, name, vil, n, p in zip(df["grid_id"], df["name"], village, df["inspections"],
                                            df["problems"], strict=True)
        ],
    })
    return maps.filled_polygons(data, layer_id=layer_id)


def grid_legend(df: pd.DataFrame, *, lang: str = "zh") -> list[tuple[str, list[int]]]:
    top = int(df["inspections"].max() or 0)
    return [(f"{t('fs_col_inspections', lang)} 0", [255, 255, 204]), (f"{top:,}", [37, 52, 148])]


# ---- built once per dataset version, filter and language ----------------------------------------
# Each function below takes a cursor, so the app caches its result with edge.query and a rerun only
# unpickles the layers instead of rebuilding tens of thousands of tooltips and outlines.

FIRM_TOOLTIP_BUDGET = 10_000  # firm points drawn with full tooltips; beyond, brief ones


@dataclass(frozen=True)
class RiskyFirms:
    """The risky firms the filters select: the list (`frame`, safety.risky_firms) and its map layer,
    one marker a firm within the point budget, else one bubble per square (`cell_m`, `cells`)."""

    frame: pd.DataFrame
    layer: pdk.Layer
    brief: bool  # tooltips cut to name, level and status: more firms than the tooltip budget
    cell_m: int | None = None  # the squares' side when the firms are summed on squares
    cells: int = 0
    budget: int = mapdata.DEFAULT_POINT_BUDGET  # the firms the map would have drawn one by one

    @property
    def clustered(self) -> bool:
        return self.cell_m is not None

    def caption(self, lang: str = "zh") -> str | None:
        """What the map shows instead of each firm, and how to see them one by one; None when it
        draws every firm."""
        if not self.clustered:
            return None
        return t("fs_clusters_caption", lang, n=f"{len(self.frame):,}", budget=f"{self.budget:,}",
                 cells=f"{self.cells:,}", size=f"{self.cell_m:,}")

    def legend_points(self, lang: str = "zh") -> list[tuple[str, list[int]]]:
        if not self.clustered:
            return []
        return [(t("fs_legend_cluster", lang), maps.RISK_COLORS["blacklisted"]),
                (t("fs_legend_cluster_high", lang), maps.RISK_COLORS["high_risk"])]


CLUSTER_LAYER = "risky-firm-squares"


def cluster_layer(df: pd.DataFrame, *, budget: int, lang: str = "zh",
                  layer_id: str = CLUSTER_LAYER) -> tuple[pdk.Layer, int, int]:
    """The firms of df summed on the smallest square (mapdata.CELL_SIZES_M) giving at most budget
    squares: one bubble each at its firms' mean position, its area growing with their number, red
    when the square holds a blacklisted firm; the layer, the squares and their side in metres."""
    ix, iy, cell = cells.point_cells(df["lon"], df["lat"], budget=budget, sizes=mapdata.CELL_SIZES_M)
    grouped = pd.DataFrame({"ix": ix, "iy": iy, "lon": df["lon"].to_numpy(dtype=float),
                            "lat": df["lat"].to_numpy(dtype=float),
                            "black": (df["risk_level"] == "blacklisted").to_numpy(),
                            "high": (df["risk_level"] == "high_risk").to_numpy()})
    sq = grouped.groupby(["ix", "iy"], sort=True).agg(lon=("lon", "mean"), lat=("lat", "mean"),
                                                      firms=("lon", "size"), black=("black", "sum"),
                                                      high=("high", "sum")).reset_index()
    head = (t("tt_cell", lang), t("cell_size", lang, size=f"{cell:,}"))
    data = pd.DataFrame({
        "position": [[round(x, 6), round(y, 6)] for x, y in zip(sq["lon"], sq["lat"], strict=True)],
        "radius": np.round(np.minimum(4 + 1.6 * np.sqrt(sq["firms"].to_numpy(dtype=float)), 22), 1),
        "color": [maps.RISK_COLORS["blacklisted" if b else "high_risk"] for b in sq["black"]],
        "tooltip": [maps.tooltip_rows([head, (t("fs_tt_risky_here", lang), f"{n:,}"),
                                       (t("kpi_blacklisted", lang), f"{b:,}"), (t("kpi_high_risk", lang), f"{h:,}")])
                    + "\n" + t("fs_tt_cluster_hint", lang)
                    for n, b, h in zip(sq["firms"], sq["black"], sq["high"], strict=True)],
    })
    layer = pdk.Layer("ScatterplotLayer", data=data, id=layer_id, get_position="position", get_radius="radius",
                      radius_units=maps._quoted("pixels"), get_fill_color="color", opacity=0.75, stroked=True,
                      get_line_color=[255, 255, 255, 255], line_width_min_pixels=1, pickable=True)
    return layer, len(data), cell


def risky_firms_view(
    cur: queries.Cursor, *, role: str, as_of: dt.date, lang: str = "zh",
    risk_levels: tuple[str, ...] = safety.RISKY_LEVELS, statuses: tuple[str, ...] = (),
    villages: tuple[str, ...] = (), grids: tuple[str, ...] = (), industries: tuple[str, ...] = (),
    layer_id: str = "risky-firms", tooltip_budget: int = FIRM_TOOLTIP_BUDGET,
    point_budget: int = mapdata.DEFAULT_POINT_BUDGET,
) -> RiskyFirms:
    """safety.risky_firms with its map layer: a marker a firm up to point_budget firms (above
    tooltip_budget with brief tooltips; the story on click has everything), else a bubble per
    square (27,000 markers take 6 s to draw in software WebGL; no square is drawn at scale M)."""
    df = safety.risky_firms(cur, role=role, as_of=as_of, risk_levels=risk_levels, statuses=statuses,
                            villages=villages, grids=grids, industries=industries)
    if len(df) > point_budget:
        layer, n_cells, cell = cluster_layer(df, budget=point_budget, lang=lang)
        return RiskyFirms(df, layer, False, cell, n_cells, point_budget)
    brief = len(df) > tooltip_budget
    return RiskyFirms(df, maps.firms_layer(df, lang=lang, layer_id=layer_id, brief=brief), brief,
                      budget=point_budget)


@dataclass(frozen=True)
class NearLandView:
    """The near-land check summed per firm (safety.NearLand) and a ring around each of its firms."""

    near: safety.NearLand
    rings: pdk.Layer


def near_land_view(
    cur: queries.Cursor, *, role: str, as_of: dt.date, distance_m: float = safety.DEFAULT_DISTANCE_M,
    risk_levels: tuple[str, ...] = safety.RISKY_LEVELS,
    parcel_statuses: tuple[str, ...] = safety.NEAR_LAND_STATUSES,
) -> NearLandView:
    """safety.near_land_by_firm with its ring layer (26,872 rings at scale L: built once)."""
    near = safety.near_land_by_firm(cur, role=role, as_of=as_of, distance_m=distance_m, risk_levels=risk_levels,
                                    parcel_statuses=parcel_statuses)
    return NearLandView(near, ring_layer(near.firms))


GRID_LINE = [150, 150, 150, 160]


@dataclass(frozen=True)
class MapContext:
    """What the firm map draws under the firms: grid and park outlines (each only within the
    polygon budget) and village outlines with their names."""

    layers: list[pdk.Layer]
    grids: int
    parks: int
    budget: int

    @property
    def grids_drawn(self) -> bool:
        return self.grids <= self.budget

    @property
    def parks_drawn(self) -> bool:
        return self.parks <= self.budget

    def legend_items(self, lang: str = "zh") -> list[tuple[str, list[int]]]:
        return ([(t("fs_legend_grid", lang), GRID_LINE[:3])] if self.grids_drawn else []) + (
            [(t("fs_legend_park", lang), maps.PARK_LINE)] if self.parks_drawn else [])

    def caption(self, lang: str = "zh") -> str | None:
        """Which outlines the map leaves out and why; None when it draws them all."""
        notes = [t(key, lang, n=f"{n:,}", budget=f"{self.budget:,}")
                 for key, n, drawn in (("fs_grids_over_budget", self.grids, self.grids_drawn),
                                       ("fs_parks_over_budget", self.parks, self.parks_drawn)) if not drawn]
        return " ".join(notes) or None


def map_context(cur: queries.Cursor, *, lang: str = "zh",
                budget: int = mapdata.DEFAULT_POLYGON_BUDGET) -> MapContext:
    """The firm map's context layers, outlines beyond budget polygons left out (200,300 park
    outlines are 25 MB of map at scale L)."""
    n_grids, n_parks = cur.execute("SELECT (SELECT count(*) FROM grids), (SELECT count(*) FROM parks)").fetchone()
    context = MapContext([], int(n_grids), int(n_parks), budget)
    if context.grids_drawn:
        context.layers.append(maps.outline_layer(queries.outlines(cur, table_name="grids"),
                                                 layer_id="grid-outlines", color=GRID_LINE, width_px=0.7))
    if context.parks_drawn:
        context.layers.append(maps.outline_layer(queries.outlines(cur, table_name="parks"),
                                                 layer_id="park-outlines", color=maps.PARK_LINE, width_px=1.5))
    context.layers.extend(village_layers(cur, lang=lang))
    return context


def village_layers(cur: queries.Cursor, *, lang: str = "zh", outline_id: str = "village-outlines",
                   label_id: str = "village-labels") -> list[pdk.Layer]:
    """Village outlines and their names, the context every map of the page draws."""
    villages = queries.outlines(cur, table_name="villages")
    return [maps.outline_layer(villages, layer_id=outline_id), maps.label_layer(villages, lang=lang, layer_id=label_id)]


@dataclass(frozen=True)
class GridCounts:
    """Inspections per grid as map layers (the grids filled by count, their edges) and its legend."""

    layers: list[pdk.Layer]
    legend: list[tuple[str, list[int]]]


def grid_counts_view(cur: queries.Cursor, *, start: dt.date, end: dt.date, lang: str = "zh") -> GridCounts:
    """inspections.inspections_per_grid from start to end, drawn (grid_counts_layer) with its legend."""
    df = inspections.inspections_per_grid(cur, start=start, end=end)
    edges = maps.outline_layer(df, layer_id="grid-inspections-edges", color=GRID_LINE, width_px=0.7)
    return GridCounts([grid_counts_layer(df, lang=lang), edges], grid_legend(df, lang=lang))


@dataclass(frozen=True)
class InspectionFigures:
    trend: go.Figure
    category: go.Figure
    outcome: go.Figure


def inspection_figures(cur: queries.Cursor, *, as_of: dt.date, start: dt.date, end: dt.date,
                       lang: str = "zh") -> InspectionFigures:
    """The inspections tab's three charts: the monthly trend up to as_of, and the period's
    inspections by category and by outcome."""
    breakdown = inspections.inspections_breakdown(cur, start=start, end=end)
    return InspectionFigures(trend_figure(inspections.inspections_by_month(cur, as_of=as_of), lang=lang),
                             category_figure(breakdown, lang=lang), outcome_figure(breakdown, lang=lang))
