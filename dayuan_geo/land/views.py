"""Builders of the land release explorer: its map (within the map budget), charts, legend and
table, from what `land` selects. Data in, pydeck / plotly objects and DataFrames out.

Tooltips: Streamlit fills a deck's tooltip template with each hovered row's values and escapes
them as HTML. So the template holds only our constant labels (escaped here) and `{field}`
placeholders, and rows carry plain text: a parcel named `<img onerror=...>` shows as text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
import shapely
from pydeck.bindings.json_tools import default_serialize

from dayuan_geo import schema as S
from dayuan_geo.land import filters as F
from dayuan_geo.land import queries as land
from dayuan_geo.land.filters import FilterChoices, LandFilters
from dayuan_geo.land.story import parks_within, risky_firms_near, story_shapes
from dayuan_geo.maps import basemap as B
from dayuan_geo.maps import budget
from dayuan_geo.maps import layers as maps
from dayuan_geo.maps.basemap import BaseMap
from dayuan_geo.maps.view import fit_view, shown_extent
from dayuan_geo.overview import charts, queries
from dayuan_geo.text import EMPTY, fmt_area, t

NOT_RELEASED_GREY = "#bdbdbd"
HIGHLIGHT = [20, 20, 20, 255]
BUFFER_LINE = [33, 102, 172, 230]
PARCEL_EDGE = [255, 255, 255, 200]  # the thin line between neighbouring parcels
PARK_LABEL_LIMIT = 25  # park names drawn only when this few parks are in view, so labels stay legible
# The map's size on screen at 1440 px (its column beside the story, measured in Chromium): the
# selection's view and an open parcel's ring are fitted, and names placed, for what is really shown
# (fitted to fit_view's default 760 px, a village's edge parcels fell outside a 580 px map).
MAP_WIDTH_PX, MAP_HEIGHT_PX = 410, 600
VILLAGE_LABEL_PX, PARK_LABEL_PX = 14, 11


def filter_choices(cur, *, as_of: dt.date, lang: str) -> FilterChoices:
    opts = land.filter_options(cur)
    v, p = opts["villages"], opts["parks"]
    lo = opts["released_min"] or F.HISTORY_START
    parks_of: dict[str, list[str]] = {}
    for park_id, code in zip(p["park_id"].tolist(), p["village_code"].tolist(), strict=True):
        parks_of.setdefault(code, []).append(park_id)
    return FilterChoices(
        months=F.months_between(min(F.HISTORY_START, lo), as_of),
        villages=dict(zip(v["code"], v["name_zh" if lang == "zh" else "name_en"], strict=True)),
        village_codes={**dict(zip(v["name_zh"], v["code"], strict=True)),
                       **dict(zip(v["name_en"], v["code"], strict=True))},
        parks=dict(zip(p["park_id"].tolist(), p["name" if lang == "zh" else "name_en"].tolist(), strict=True)),
        parks_of=parks_of, date_lo=lo, date_hi=as_of, area_lo=float(opts["area_min"]),
        area_hi=float(max(opts["area_max"], opts["area_min"] + 1)), parcels_total=int(opts["parcels_total"]))


def layer_json(layer: pdk.Layer, basemap: BaseMap) -> str:
    """One layer as compact JSON (no indentation, Chinese kept as UTF-8), where basemap draws it.

    pydeck indents its JSON and escapes every Chinese character to six bytes, more than doubling
    what the browser is sent; this JSON is also what the map budget is measured on.
    """
    shown = B.display_layer(layer, basemap)
    return json.dumps(shown, sort_keys=True, default=default_serialize, separators=(",", ":"), ensure_ascii=False)


class PrebuiltDeck(pdk.Deck):
    """A deck whose JSON was assembled beforehand from cached layer JSON (see LandMap.deck)."""

    def __init__(self, spec: str, tooltip: dict):
        super().__init__(layers=[], map_provider=None, tooltip=tooltip)
        self._spec = spec

    def to_json(self) -> str:
        return self._spec


@dataclass(frozen=True)
class LandMap:
    """The land map's layers as JSON, ready to draw, and what they stand for.

    The layers of the selection (`base`, below) and the names on top (`top`, placed for the
    selection's view) are built once per selection and cached; the village outlines under them once
    per version (`village_outlines`); the open parcel's layers, its view and the names placed for it
    are built apart (`story_layers`) and put in by `deck`, so opening a story does not rebuild a map
    of 20,000 parcels.
    """

    shell: str  # the deck's JSON with an empty layer list: view, base map
    view: dict  # fit_view's answer for the selection
    base: tuple[str, ...]
    top: tuple[str, ...]
    tooltip: dict
    level: str  # "parcel", "park" or "cell"
    parcels: int  # parcels selected
    shown: int  # features drawn in the main layer
    cell_m: int | None
    layer_id: str  # the pickable layer; selections from any other id are stale
    budget: int  # the polygon budget it was drawn within

    @property
    def aggregated(self) -> bool:
        return self.level != "parcel"

    def spec(self, story: StoryOverlay | None = None, *, context: tuple[str, ...] = ()) -> str:
        """The deck's JSON: context (village outlines, built once per version) under the selection,
        the story's layers above it, names on top; with a story, its view and its names."""
        shell, top = (story.shell, story.labels) if story else (self.shell, self.top)
        layers = ",".join((*context, *self.base, *(story.layers if story else ()), *top))
        return shell.replace('"layers":[]', f'"layers":[{layers}]', 1)

    def deck(self, story: StoryOverlay | None = None, *, context: tuple[str, ...] = ()) -> PrebuiltDeck:
        return PrebuiltDeck(self.spec(story, context=context), self.tooltip)

    @property
    def bytes(self) -> int:
        """Size of the JSON the browser is sent (without the village outlines or a story's few layers)."""
        return len(self.spec().encode("utf-8"))


@dataclass(frozen=True)
class StoryOverlay:
    """The open parcel on the land map: its layers, a view that fits its ring, and the names placed
    for that view (clear of the risky firms' points)."""

    layers: tuple[str, ...]
    shell: str
    view: dict
    labels: tuple[str, ...]


def _label(text: str) -> str:
    return html.escape(text)


def tooltip(level: str, lang: str) -> dict:
    """The deck's tooltip for the main layer's level: escaped labels, {field} placeholders."""
    rows = {
        "parcel": [("<b>{i}</b> {n}", None), (t("tt_park", lang), "{k}"), (t("tt_village", lang), "{v}"),
                   (t("tt_area", lang), "{a}"), (t("tt_status", lang), "{s}"),
                   (t("tt_released_on", lang), "{d}")],
        "park": [("<b>{n}</b> {i}", None), (t("tt_village", lang), "{v}"), (t("land_tt_parcels", lang), "{c}"),
                 (t("tt_area", lang), "{a}"), (t("land_tt_released", lang), "{r}"),
                 (_label(t("land_tt_click_park", lang)), None)],
        "cell": [("<b>{n}</b>", None), (t("land_tt_parcels", lang), "{c}"), (t("tt_area", lang), "{a}"),
                 (t("land_tt_released", lang), "{r}")],
    }[level]
    parts = [head if value is None else f"<b>{_label(head)}</b>: {value}" for head, value in rows]
    return {"html": "<br/>".join(parts), "style": maps.TOOLTIP_STYLE}


def _ring(coords: list[list[float]]) -> list[list[float]]:
    """A ring without its closing vertex (deck.gl closes polygons itself): fewer bytes."""
    return coords[:-1] if len(coords) > 3 and coords[0] == coords[-1] else coords


def _text(value: object) -> str:
    return "—" if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA else str(value)


def parcel_layer(df: pd.DataFrame, *, lang: str, layer_id: str,
                 rings: list[list[list[float]]] | None = None) -> pdk.Layer:
    """Parcels filled by the status they show on the map's day, with their tooltip fields (rings:
    maps.rings of df's geometry when the caller has them already, for the parcels' edges)."""
    labels = {code: S.RELEASE_STATUS.label(code, lang) for code in S.RELEASE_STATUS.codes}
    released = pd.to_datetime(df["released_on"])
    dates = released.dt.strftime("%Y-%m-%d").where(released.notna(), "—").tolist()
    rows = [
        {"i": pid, "n": _text(name), "k": _text(park), "v": _text(vil), "a": fmt_area(area, lang),
         "s": labels.get(status, str(status)), "d": day, "polygon": _ring(ring),
         "color": maps.STATUS_COLORS.get(status, [0, 0, 0, 120])}
        for pid, name, park, vil, area, status, day, ring in zip(
            df["parcel_id"].astype(str).tolist(), df["name"].tolist(), df["park_name"].tolist(),
            df["village_zh" if lang == "zh" else "village_en"].tolist(), df["area_m2"].astype(float).tolist(),
            df["release_status"].tolist(), dates, maps.rings(df["wkb"]) if rings is None else rings, strict=True)
    ]
    return maps.filled_polygons(rows, layer_id=layer_id)


def aggregate_layer(md: budget.MapData, *, lang: str, layer_id: str) -> pdk.Layer:
    """Parks or grid cells filled by the share of their selected area released."""
    df = md.frame
    n = len(df)
    polygons = maps.rings(df["wkb"]) if "wkb" in df else df["polygon"].tolist()
    if md.level == "park":
        ids = df["id"].astype(str).tolist()
        names = [_text(x) for x in df["label" if lang == "zh" else "label_en"].tolist()]
        villages = [_text(x) for x in df["village_zh" if lang == "zh" else "village_en"].tolist()]
    else:
        ids, villages = [""] * n, [""] * n
        names = [t("land_cell_name", lang, size=f"{md.cell_m:,}")] * n
    colors = budget.share_color(df["share"].to_numpy()).tolist()
    rows = [
        {"i": i, "n": name, "v": vil, "c": f"{int(c):,}", "a": fmt_area(float(a), lang),
         "r": f"{fmt_area(float(r), lang)} ({s:.0%})", "polygon": _ring(p), "color": col}
        for i, name, vil, c, a, r, s, p, col in zip(
            ids, names, villages, df["parcels"].tolist(), df["area_m2"].tolist(), df["released_m2"].tolist(),
            df["share"].tolist(), polygons, colors, strict=True)
    ]
    return maps.filled_polygons(rows, layer_id=layer_id)


def _points_layer(df: pd.DataFrame, *, layer_id: str) -> pdk.Layer:
    rows = [{"position": [round(float(x), 6), round(float(y), 6)],
             "color": maps.RISK_COLORS.get(r, maps.RISK_COLORS["normal"])}
            for x, y, r in zip(df["lon"], df["lat"], df["risk_level"], strict=True)]
    return pdk.Layer("ScatterplotLayer", data=rows, id=layer_id, get_position="position", get_fill_color="color",
                     get_line_color=[255, 255, 255, 255], stroked=True, line_width_min_pixels=1,
                     radius_min_pixels=5, radius_max_pixels=12, get_radius=15, pickable=False)


def layer_id_for(filters: LandFilters, level: str, generation: int) -> str:
    """An id that changes whenever the rows of the pickable layer may change, so a click recorded
    against older rows is never read against new ones (and Streamlit's selection styling resets)."""
    digest = hashlib.sha1(repr((filters, level, generation)).encode(), usedforsecurity=False).hexdigest()[:10]
    return f"land-{level}-{digest}"


def _shell(view: dict, bm: BaseMap) -> str:
    shell_deck = maps.deck([], center=(view["longitude"], view["latitude"]), zoom=view["zoom"], basemap=bm)
    return json.dumps(shell_deck, sort_keys=True, default=default_serialize, separators=(",", ":"),
                      ensure_ascii=False)


def name_layers(cur, *, view: dict, lang: str, bm: BaseMap, parks: pd.DataFrame | None = None,
                points: pd.DataFrame | None = None, width_px: int = MAP_WIDTH_PX) -> tuple[str, ...]:
    """Village names (and park names, when given) placed for view by maps.place_labels, as layer JSON
    with stable ids (deck.gl updates their data instead of building new layers)."""
    groups = [(queries.outlines(cur, table_name="villages"), VILLAGE_LABEL_PX)]
    if parks is not None and 0 < len(parks) <= PARK_LABEL_LIMIT:
        groups.append((parks, PARK_LABEL_PX))
    placed = maps.place_labels(groups, view=view, lang=lang, width_px=min(width_px, MAP_WIDTH_PX),
                               height_px=MAP_HEIGHT_PX, points=points)
    ids = ("village-labels", "park-labels")
    return tuple(layer_json(maps.label_layer(df, lang=lang, layer_id=ids[g], size_px=groups[g][1]), bm)
                 for g, df in enumerate(placed) if len(df))


def village_outlines(cur, *, basemap: BaseMap | None = None) -> tuple[str, ...]:
    """The village outlines under every land map (the same whatever the filter: built once per version)."""
    bm = basemap if basemap is not None else B.active()
    villages = queries.outlines(cur, table_name="villages")
    return (layer_json(maps.outline_layer(villages, layer_id="village-outlines", width_px=1), bm),)


def opening_view(extent: tuple[float, float, float, float], *, width_px: int = MAP_WIDTH_PX) -> dict[str, float]:
    """The view the land map opens on for a selection's extent (fit_view for the map's real size)."""
    return fit_view(extent, width_px=width_px, height_px=MAP_HEIGHT_PX)


def land_map(cur, *, filters: LandFilters, view_date: dt.date, as_of: dt.date, lang: str,
             basemap: BaseMap | None = None, generation: int = 0,
             polygon_budget: int = budget.DEFAULT_POLYGON_BUDGET, width_px: int = MAP_WIDTH_PX) -> LandMap:
    """The map of the selection on view_date within the one map budget (maps.budget), with park
    outlines and the names of the villages and parks on screen (village outlines come apart, from
    village_outlines), opening on the selection as a map width_px wide shows it (a phone's column is
    narrower than a desktop's)."""
    bm = basemap if basemap is not None else B.active()
    extent = None if filters.is_empty else land.selection_extent(cur, filters=filters)
    view = opening_view(extent or queries.view_bounds(cur), width_px=width_px)
    md = land.map_data(cur, filters=filters, view_date=view_date, as_of=as_of, budget_polygons=polygon_budget)
    layer_id = layer_id_for(filters, md.level, generation)
    parks_df = None
    if md.level == "parcel":
        # parcels are told apart by a thin white edge, drawn as lines (maps.line_layer says why)
        rings = maps.rings(md.frame["wkb"])
        base = [layer_json(parcel_layer(md.frame, lang=lang, layer_id=layer_id, rings=rings), bm),
                layer_json(maps.line_layer(rings, layer_id="parcel-edges", color=PARCEL_EDGE, width_px=0.5), bm)]
        parks_df = land.park_outlines(cur, filters=filters)
        if len(parks_df):
            base.append(layer_json(maps.outline_layer(parks_df, layer_id="park-outlines", color=maps.PARK_LINE,
                                                      width_px=1), bm))
    else:
        base = [layer_json(aggregate_layer(md, lang=lang, layer_id=layer_id), bm)]
    top = name_layers(cur, view=view, lang=lang, bm=bm, parks=parks_df, width_px=width_px)
    return LandMap(_shell(view, bm), view, tuple(base), top, tooltip(md.level, lang), md.level, md.parcels,
                   md.shown, md.cell_m, layer_id, md.budget)


def story_layers(cur, *, parcel_id: str, distance_m: int, role: str, lang: str = "zh",
                 basemap: BaseMap | None = None, width_px: int = MAP_WIDTH_PX) -> StoryOverlay | None:
    """The open parcel's outline, the ring distance_m around it and the blacklisted or high-risk
    firms inside that ring, for LandMap.deck: a view that fits the ring (and so the parcel), and the
    names of the villages and parks there placed clear of the firms (None for an unknown parcel)."""
    bm = basemap if basemap is not None else B.active()
    shapes = story_shapes(cur, parcel_id=parcel_id, distance_m=distance_m)
    if shapes is None:
        return None
    near = risky_firms_near(cur, parcel_id=parcel_id, distance_m=distance_m, role=role)
    view = fit_view(tuple(shapely.bounds(shapely.from_wkb(shapes["buffer"])).tolist()), width_px=width_px,
                    height_px=MAP_HEIGHT_PX)
    layers = (
        layer_json(maps.line_layer(maps.rings([shapes["buffer"]]), layer_id="story-ring", color=BUFFER_LINE,
                                   width_px=1.5), bm),
        layer_json(maps.line_layer(maps.rings([shapes["parcel"]]), layer_id="story-parcel", color=HIGHLIGHT,
                                   width_px=3), bm),
        layer_json(_points_layer(near, layer_id="story-risky-firms"), bm),
    )
    parks = parks_within(cur, extent=shown_extent(view, width_px=width_px, height_px=MAP_HEIGHT_PX),
                         limit=PARK_LABEL_LIMIT)
    labels = name_layers(cur, view=view, lang=lang, bm=bm, parks=parks, points=near, width_px=width_px)
    return StoryOverlay(layers, _shell(view, bm), view, labels)


def story_legend(distance_m: int, *, lang: str) -> list[tuple[str, list[int]]]:
    """What the open parcel adds to the legend: the parcel's outline and its ring."""
    return [(t("land_legend_parcel", lang), HIGHLIGHT), (t("land_legend_ring", lang, d=f"{distance_m:,}"),
                                                         BUFFER_LINE)]


# ---- charts -------------------------------------------------------------------------------------

def by_month_figure(df: pd.DataFrame, *, lang: str, month: str | None = None) -> go.Figure:
    """Released area per month with the running total, and a line at the month on the slider."""
    fig = charts.released_area_over_time(df, lang=lang)
    fig.update_layout(title={"text": html.escape(t("land_chart_month_title", lang))})
    if month:
        x = pd.Timestamp(f"{month}-01")
        fig.add_vline(x=x, line={"color": "#444", "width": 1, "dash": "dot"})
        fig.add_annotation(x=x, y=1, yref="paper", text=html.escape(month), showarrow=False,
                           yanchor="bottom", font={"size": 11})
    return fig


def _split_bars(labels: list[str], released: np.ndarray, total: np.ndarray, *, lang: str, title: str) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(y=labels, x=released, orientation="h", name=t("land_chart_released", lang),
                marker_color=charts.RELEASED_GREEN, hovertemplate="%{y}: %{x:,.0f} m²<extra></extra>")
    fig.add_bar(y=labels, x=np.maximum(total - released, 0), orientation="h", name=t("land_chart_not_released", lang),
                marker_color=NOT_RELEASED_GREY, hovertemplate="%{y}: %{x:,.0f} m²<extra></extra>")
    fig.update_layout(barmode="stack", xaxis={"title": t("land_chart_area", lang), "tickformat": ",.0f"},
                      yaxis={"autorange": "reversed"})
    fig = charts._layout(fig, title)
    fig.update_layout(hovermode="closest", height=max(280, 120 + 34 * len(labels)))  # legend: chartstyle's
    return fig


def by_village_figure(df: pd.DataFrame, *, lang: str) -> go.Figure:
    """Area of the selection per village, released (by the slider's month) and not."""
    names = df["village_zh"] if lang == "zh" else df["village_en"]
    labels = [html.escape(str(n if isinstance(n, str) else c)) for n, c in zip(names, df["village_code"], strict=True)]
    return _split_bars(labels, df["released_m2"].to_numpy(float), df["area_m2"].to_numpy(float), lang=lang,
                       title=t("land_chart_village_title", lang))


def by_use_figure(df: pd.DataFrame, *, lang: str) -> go.Figure:
    """Area of the selection per planned use, released (by the slider's month) and not."""
    labels = [html.escape(S.LAND_USE.label(c, lang)) for c in df["planned_use"]]
    return _split_bars(labels, df["released_m2"].to_numpy(float), df["area_m2"].to_numpy(float), lang=lang,
                       title=t("land_chart_use_title", lang))


# ---- the table ----------------------------------------------------------------------------------

def table_frame(df: pd.DataFrame, *, lang: str) -> pd.DataFrame:
    """The selection as the on-screen table shows it: labels for codes, headers in lang (the same
    headers as the CSV and XLSX exports)."""
    village = "village_zh" if lang == "zh" else "village_en"
    out = pd.DataFrame({
        "parcel_id": df["parcel_id"],
        "name": df["name"],
        "park_name": df["park_name"],
        village: df[village],
        "area_m2": df["area_m2"].round(1),
        "current_use": [S.LAND_USE.label(c, lang) for c in df["current_use"]],
        "planned_use": [S.LAND_USE.label(c, lang) for c in df["planned_use"]],
        "ownership": [S.OWNERSHIP.label(c, lang) for c in df["ownership"]],
        "release_status": [S.RELEASE_STATUS.label(c, lang) for c in df["release_status"]],
        # ISO dates sort as dates; a parcel not yet released shows — (never None or NaT)
        "released_on": [d.date().isoformat() if pd.notna(d) else EMPTY for d in pd.to_datetime(df["released_on"])],
    })
    out.columns = [S.column_label("parcels", c, lang) for c in out.columns]
    return out


def story_attributes(parcel: dict, *, lang: str) -> pd.DataFrame:
    """The parcel's attributes as label / value rows."""
    rows = [
        (S.column_label("parcels", "parcel_id", lang), parcel["parcel_id"]),
        (S.column_label("parcels", "name", lang), parcel["name"]),
        (S.column_label("parcels", "park_name", lang), f"{_text(parcel['park_name'])} ({_text(parcel['park_id'])})"),
        (t("tt_village", lang), _text(parcel["village_zh" if lang == "zh" else "village_en"])),
        (t("tt_area", lang), fmt_area(float(parcel["area_m2"]), lang)),  # the unit is in the value
        (S.column_label("parcels", "current_use", lang), S.LAND_USE.label(parcel["current_use"], lang)),
        (S.column_label("parcels", "planned_use", lang), S.LAND_USE.label(parcel["planned_use"], lang)),
        (S.column_label("parcels", "ownership", lang), S.OWNERSHIP.label(parcel["ownership"], lang)),
        (S.column_label("parcels", "release_status", lang), S.RELEASE_STATUS.label(parcel["release_status"], lang)),
        (S.column_label("parcels", "released_on", lang), maps._date_text(parcel["released_on"])),
    ]
    return pd.DataFrame(rows, columns=[t("land_story_field", lang), t("land_story_value", lang)])


def stage_history(events: pd.DataFrame, *, lang: str) -> pd.DataFrame:
    cat = S.stage_catalogue()
    return pd.DataFrame({
        S.column_label("remediation_events", "stage", lang): [cat.label(s, lang) for s in events["stage"]],
        S.column_label("remediation_events", "entered_on", lang): [maps._date_text(d) for d in events["entered_on"]],
    })


FIRM_COLUMNS_FIRST = ("name", "risk_level", "distance_m", "list_status")


def firms_frame(df: pd.DataFrame, *, lang: str) -> pd.DataFrame:
    """Firms (on or near the parcel) with labels for codes and headers in lang; only the columns
    the role's query returned, what a person reads first first (a phone shows three columns)."""
    out = pd.DataFrame(index=df.index)
    for col in [*[c for c in FIRM_COLUMNS_FIRST if c in df.columns],
                *[c for c in df.columns if c not in FIRM_COLUMNS_FIRST]]:
        if col in ("lon", "lat", "park_id", "geometry"):
            continue
        values = df[col]
        enum = S.enum_for("firms", col)
        if enum is not None:
            values = [enum.label(v, lang) if isinstance(v, str) else "—" for v in values]
        elif col == "listed_on":
            values = [maps._date_text(v) for v in values]
        header = (t("land_distance_col", lang) if col == "distance_m" else
                  S.column_label("firms", col, lang))
        out[header] = values
    return out.reset_index(drop=True)
