"""pydeck builders: data in, layers and decks out.

Tooltips are plain text: each row carries its whole tooltip as text (`tooltip`) and the deck's
template is `{"text": "{tooltip}"}`, which the browser shows with innerText. Data never reaches a
tooltip as HTML, so a firm called `<img src=x onerror=...>` is shown as those characters.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pydeck as pdk
import shapely
from shapely.ops import polylabel

from dayuan_geo import schema as S
from dayuan_geo.maps import basemap as B
from dayuan_geo.maps import view as V
from dayuan_geo.text import fmt_area, t

STATUS_COLORS: dict[str, list[int]] = {
    "not_started": [189, 189, 189, 170],
    "vacating": [253, 174, 97, 200],
    "released": [26, 152, 80, 215],
    "transferred": [49, 130, 189, 210],
    "under_construction": [117, 107, 177, 210],
    "completed": [84, 39, 143, 215],
}
RISK_COLORS: dict[str, list[int]] = {
    "blacklisted": [215, 25, 28, 235],
    "high_risk": [253, 141, 60, 235],
    "normal": [120, 120, 120, 160],
}
VILLAGE_LINE = [60, 60, 60, 220]
PARK_LINE = [90, 90, 90, 160]
LABEL_FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
TOOLTIP_STYLE = {"backgroundColor": "#263238", "color": "white", "fontSize": "12px", "whiteSpace": "pre-line"}
# The deck-level tooltip every map uses: the row's text, set with innerText by the browser.
TOOLTIP = {"text": "{tooltip}", "style": TOOLTIP_STYLE}
COORD_DIGITS = 6  # ~0.1 m: enough for the eye, and keeps the message to the browser small


def rings(wkb: Iterable[bytes | None]) -> list[list[list[float]]]:
    """Outer ring of each (multi)polygon as [[lon, lat], ...] (the largest part of a multipolygon;
    [] for an empty or missing one), rounded to COORD_DIGITS. Plain polygons are cut from one array
    of every vertex (vectorised: 20,000 parcels in milliseconds)."""
    blobs = np.empty(len(wkb := list(wkb)), dtype=object)
    blobs[:] = [None if b is None else bytes(b) for b in wkb]
    geoms = shapely.from_wkb(blobs)
    if not len(geoms):
        return []
    if (shapely.get_type_id(geoms) == 3).all():  # plain polygons only
        coords, index = shapely.get_coordinates(shapely.get_exterior_ring(geoms), return_index=True)
        counts = np.bincount(index, minlength=len(geoms))
        parts = np.split(np.round(coords, COORD_DIGITS), np.cumsum(counts)[:-1])
        return [part.tolist() for part in parts]
    out = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            out.append([])
            continue
        if geom.geom_type == "MultiPolygon":
            geom = max(geom.geoms, key=lambda g: g.area)
        out.append(np.round(np.asarray(geom.exterior.coords)[:, :2], COORD_DIGITS).tolist())
    return out


def _quoted(text: str) -> str:
    """A constant string prop for pydeck, which otherwise reads strings as accessor expressions."""
    return '"' + text.replace('"', "") + '"'


def tooltip_rows(pairs: Iterable[tuple[str, object]]) -> str:
    """One tooltip as text lines `label: value` (shown as text, never parsed as HTML)."""
    return "\n".join(f"{k}: {'' if v is None else v}" for k, v in pairs)


def _date_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "—"
    try:
        return pd.Timestamp(value).date().isoformat()
    except (TypeError, ValueError):
        return str(value)


def parcels_layer(df: pd.DataFrame, *, lang: str = "zh", layer_id: str = "parcels") -> pdk.Layer:
    """Parcels filled by release status, with an escaped tooltip each."""
    data = pd.DataFrame(
        {
            "parcel_id": df["parcel_id"].astype(str),
            "polygon": rings(df["wkb"]),
            "color": [STATUS_COLORS.get(s, [0, 0, 0, 120]) for s in df["release_status"]],
        }
    )
    village = df["village_zh"] if lang == "zh" else df["village_en"]
    data["tooltip"] = [
        tooltip_rows(
            [
                (t("tt_parcel", lang), f"{pid} {name}"),
                (t("tt_park", lang), park),
                (t("tt_village", lang), vil),
                (t("tt_area", lang), fmt_area(area, lang)),
                (t("tt_status", lang), S.RELEASE_STATUS.label(status, lang)),
                (t("tt_released_on", lang), _date_text(rel)),
            ]
        )
        for pid, name, park, vil, area, status, rel in zip(
            df["parcel_id"], df["name"], df["park_name"], village, df["area_m2"],
            df["release_status"], df["released_on"], strict=True,
        )
    ]
    return filled_polygons(data, layer_id=layer_id)


def filled_polygons(data, *, layer_id: str) -> pdk.Layer:
    """Pickable polygons from rows with `polygon` rings and an rgba `color` (parcels, parks, cells),
    filled only: edges, where a map needs them, are a `line_layer` of their own (see there)."""
    return pdk.Layer(
        "PolygonLayer",
        data=data,
        id=layer_id,
        get_polygon="polygon",
        get_fill_color="color",
        stroked=False,
        filled=True,
        pickable=True,
        auto_highlight=True,
    )


def line_layer(rings: Iterable[list[list[float]]], *, layer_id: str, color: list[int] | None = None,
               width_px: float = 1.5) -> pdk.Layer:
    """Lines along rings (outlines of villages, grids, parks, parcels, a ring around a parcel) as
    straight segments, an edge two rings share drawn once.

    deck.gl draws a PathLayer (and the edges of a stroked PolygonLayer, which is one) with a shader
    that software WebGL (SwiftShader, on the street offices' desktops with no GPU) takes 0.4 s to
    build and about a second per 3,000 rings to draw, on every redraw; a LineLayer of the same
    segments takes about a tenth of that.
    """
    parts = [np.asarray(r, dtype=float)[:, :2] for r in rings if len(r) > 1]
    if not parts:
        parts = [np.empty((1, 2))]  # no segment
    segments = np.round(np.concatenate([np.hstack([p[:-1], p[1:]]) for p in parts]), COORD_DIGITS)
    # each edge from its smaller end, so the same edge walked either way is one row
    flip = (segments[:, 0] > segments[:, 2]) | ((segments[:, 0] == segments[:, 2]) & (segments[:, 1] > segments[:, 3]))
    segments[flip] = segments[flip][:, [2, 3, 0, 1]]
    segments = np.unique(segments, axis=0)
    data = [{"s": [x0, y0], "t": [x1, y1]} for x0, y0, x1, y1 in segments.tolist()]
    return pdk.Layer(
        "LineLayer",
        data=data,
        id=layer_id,
        get_source_position="s",
        get_target_position="t",
        get_color=color or VILLAGE_LINE,
        get_width=width_px,
        width_min_pixels=min(width_px, 1),
        pickable=False,
    )


def outline_layer(df: pd.DataFrame, *, layer_id: str, color: list[int] | None = None,
                  width_px: float = 1.5) -> pdk.Layer:
    """Unfilled outlines (villages, grids or parks) the product owns, so maps read with no base map."""
    return line_layer(rings(df["wkb"]), layer_id=layer_id, color=color, width_px=width_px)


# A name's white halo, so it reads over parcels and their edges with no base map. deck.gl measures
# it in its font atlas (glyphs drawn 64 px high): 8 there is 1.4–1.75 px around a name of 11–14 px
# (2 was a third of a pixel). Each glyph's cell needs as much blank around it, or the halo is cut.
ATLAS_FONT_PX = 64
HALO_ATLAS_PX = 8


def label_layer(df: pd.DataFrame, *, lang: str = "zh", layer_id: str = "labels",
                size_px: int = 14) -> pdk.Layer:
    """Names at label points; characters come from the data, drawn as text, never as HTML."""
    data = pd.DataFrame({
        "text": (df["label_zh"] if lang == "zh" else df["label_en"]).astype(str),
        "position": [[round(x, 6), round(y, 6)] for x, y in zip(df["lon"], df["lat"], strict=True)],
    })
    return pdk.Layer(
        "TextLayer", data=data, id=layer_id, get_position="position", get_text="text", get_size=size_px,
        get_color=[30, 30, 30, 230], font_family=_quoted(LABEL_FONT),
        # deck.gl builds its font atlas from exactly these characters (Chinese needs them listed)
        # (pydeck passes a string through as a constant only when it is quoted)
        character_set=_quoted("".join(sorted(set("".join(data["text"])) | set(" 0123456789-")))),
        outline_width=HALO_ATLAS_PX, outline_color=[255, 255, 255, 230],
        font_settings={"sdf": True, "fontSize": ATLAS_FONT_PX, "buffer": HALO_ATLAS_PX}, pickable=False,
    )


LABEL_LIMIT = 40  # names one map draws at most, so a map of many places stays legible
POINT_HALF_PX = 13  # half the side of the square a firm marker covers (radius_max_pixels 12, its rim 1)
LABEL_PAD_PX = 3  # the halo and a little air around a name
EDGE_PX = 4  # names keep this far inside the map's edges
# where to try a name when its first place is taken: below, above, left, right, then further (in boxes)
_SHIFTS = ((0, 0), (0, 1), (0, -1), (-0.6, 0), (0.6, 0), (0, 2), (0, -2))


def text_box(text: str, size_px: float) -> tuple[float, float]:
    """Width and height in pixels a name drawn at size_px takes: CJK glyphs are square, Latin ones
    about 0.6 wide."""
    width = sum(size_px if ord(ch) >= 0x2E80 else 0.6 * size_px for ch in text)
    return width + 2 * LABEL_PAD_PX, 1.2 * size_px + 2 * LABEL_PAD_PX


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(groups: list[tuple[pd.DataFrame, int]], *, view: dict[str, float], lang: str = "zh",
                 width_px: int = V.DEFAULT_WIDTH_PX, height_px: int = V.DEFAULT_HEIGHT_PX,
                 points: pd.DataFrame | None = None, limit: int = LABEL_LIMIT) -> list[pd.DataFrame]:
    """Where the names of outlined places go on a map opening on view (fit_view's answer).

    groups are (outlines, size_px) in order of priority, outlines as `maps.outlines` returns them
    (label_zh, label_en, lon, lat, wkb). A place the view shows is named inside the part of it on
    screen, so a map zoomed to a selection still names the villages around it; a name is moved, or
    left out, rather than drawn over a point (lon, lat) or another name at the view's zoom (a greedy
    pass in screen pixels, biggest place on screen first). Places off screen keep their own label
    point (met when panning). At most limit names in all. Returns each group's rows with the
    position their name takes.
    """
    zoom = view["zoom"]
    cx, cy = V.to_pixels(view["longitude"], view["latitude"], zoom)
    screen = (cx - width_px / 2, cy - height_px / 2, cx + width_px / 2, cy + height_px / 2)
    inner = (screen[0] + EDGE_PX, screen[1] + EDGE_PX, screen[2] - EDGE_PX, screen[3] - EDGE_PX)
    west, north = V.from_pixels(inner[0], inner[1], zoom)
    east, south = V.from_pixels(inner[2], inner[3], zoom)
    on_screen = shapely.box(west, south, east, north)
    taken: list[tuple[float, ...]] = []
    if points is not None and len(points):  # only the points on screen can be in a name's way
        xs, ys = V.to_pixels(points["lon"].to_numpy(float), points["lat"].to_numpy(float), zoom)
        near = ((xs > screen[0] - POINT_HALF_PX) & (xs < screen[2] + POINT_HALF_PX)
                & (ys > screen[1] - POINT_HALF_PX) & (ys < screen[3] + POINT_HALF_PX))
        taken = [(x - POINT_HALF_PX, y - POINT_HALF_PX, x + POINT_HALF_PX, y + POINT_HALF_PX)
                 for x, y in zip(xs[near].tolist(), ys[near].tolist(), strict=True)]
    placed: list[list[tuple[int, float, float]]] = [[] for _ in groups]
    off_screen: list[tuple[int, int, float, float]] = []
    count = 0
    for g, (df, size_px) in enumerate(groups):
        texts = (df["label_zh"] if lang == "zh" else df["label_en"]).astype(str).tolist()
        parts = shapely.intersection(shapely.from_wkb(np.array([bytes(b) for b in df["wkb"]], dtype=object)),
                                     on_screen) if len(df) else np.array([])
        order = np.argsort(-shapely.area(parts), kind="stable") if len(df) else []
        for i in order:
            part = parts[i]
            if part is None or part.is_empty or part.area == 0:
                off_screen.append((g, int(i), float(df["lon"].iloc[i]), float(df["lat"].iloc[i])))
                continue
            if count >= limit:
                continue
            if part.geom_type != "Polygon":
                part = max(getattr(part, "geoms", [part]), key=lambda p: p.area)
            w, h = text_box(texts[i], size_px)
            ax, ay = V.to_pixels(*shapely.get_coordinates(polylabel(part, 1e-6))[0], zoom)
            for sx, sy in _SHIFTS:
                x, y = ax + sx * w, ay + sy * h
                box = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
                if (box[0] < screen[0] or box[1] < screen[1] or box[2] > screen[2] or box[3] > screen[3]
                        or any(_overlaps(box, other) for other in taken)):
                    continue
                lon, lat = V.from_pixels(x, y, zoom)
                if (sx, sy) != (0, 0) and not part.contains(shapely.Point(lon, lat)):
                    continue
                taken.append(box)
                placed[g].append((int(i), lon, lat))
                count += 1
                break
    for g, i, lon, lat in off_screen:
        if count >= limit:
            break
        x, y = V.to_pixels(lon, lat, zoom)
        w, h = text_box(str(groups[g][0]["label_zh" if lang == "zh" else "label_en"].iloc[i]), groups[g][1])
        if not _overlaps((x - w / 2, y - h / 2, x + w / 2, y + h / 2), screen):
            placed[g].append((i, lon, lat))
            count += 1
    out = []
    for (df, _), rows in zip(groups, placed, strict=True):
        rows.sort()
        moved = df.iloc[[i for i, _, _ in rows]].drop(columns=["wkb"]).copy()
        moved["lon"] = [round(lon, COORD_DIGITS) for _, lon, _ in rows]
        moved["lat"] = [round(lat, COORD_DIGITS) for _, _, lat in rows]
        out.append(moved.reset_index(drop=True))
    return out


def firms_layer(df: pd.DataFrame, *, lang: str = "zh", layer_id: str = "firms",
                radius_px: float = 6, brief: bool = False) -> pdk.Layer:
    """Firms as points coloured by risk level; names only where the role's query returned them.

    brief tooltips carry only the name, risk level and list status (a third of the bytes): for maps
    with so many points that the full text would not fit a browser message.
    """
    hidden = t("hidden_for_role", lang)

    def tip(row) -> str:
        if brief:
            return tooltip_rows(
                [
                    (t("tt_firm", lang), row.get("name", hidden)),
                    (t("tt_risk", lang), S.RISK_LEVEL.label(row.get("risk_level"), lang)),
                    (t("tt_list_status", lang), S.LIST_STATUS.label(row.get("list_status"), lang) or "—"),
                ]
            )
        return tooltip_rows(
            [
                (t("tt_firm", lang), row.get("name", hidden)),
                (S.column_label("firms", "uscc", lang), row.get("uscc", hidden)),
                (t("tt_risk", lang), S.RISK_LEVEL.label(row.get("risk_level"), lang)),
                (t("tt_reason", lang), row.get("list_reason") or "—"),
                (t("tt_listed_on", lang), _date_text(row.get("listed_on"))),
                (t("tt_list_status", lang), S.LIST_STATUS.label(row.get("list_status"), lang) or "—"),
                (t("tt_park", lang), row.get("park_name") or "—"),
            ]
        )

    data = pd.DataFrame(
        {
            "firm_id": df["firm_id"].astype(str),
            "position": [[round(x, 6), round(y, 6)] for x, y in zip(df["lon"], df["lat"], strict=True)],
            "color": [RISK_COLORS.get(r, RISK_COLORS["normal"]) for r in df["risk_level"]],
            "tooltip": [tip(row) for row in df.to_dict("records")],
        }
    )
    return pdk.Layer(
        "ScatterplotLayer",
        data=data,
        id=layer_id,
        get_position="position",
        get_fill_color="color",
        get_line_color=[255, 255, 255, 255],
        stroked=True,
        line_width_min_pixels=1,
        radius_min_pixels=radius_px,
        radius_max_pixels=radius_px * 2,
        get_radius=20,
        pickable=True,
    )


def deck(layers: list[pdk.Layer], *, center: tuple[float, float], zoom: float = 12.3,
         basemap: B.BaseMap | None = None) -> pdk.Deck:
    """A deck over a base map: the one passed, else the session's (`basemap.active()`, set by the
    sidebar). With `none` no tiles are asked for and the layers carry all context; on a GCJ-02 base
    map every layer (and the view) is shifted for display, rows keeping their ids."""
    bm = basemap if basemap is not None else B.active()
    if bm.crs != "wgs84":
        layers = B.display_layers(layers, bm)
        lon, lat = B.to_display(center[0], center[1], bm)
        center = (float(lon), float(lat))
    style = B.style_url(bm)
    return pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(longitude=center[0], latitude=center[1], zoom=zoom),
        map_provider=None,
        tooltip=TOOLTIP,
        **({"map_style": style} if style else {}),
    )


EARTH_CIRCUMFERENCE_M = 40_075_016.686
TILE_PX = 512  # deck.gl's world is 512 pixels wide at zoom 0


def scale_bar(lat: float, zoom: float, *, max_px: int = 120) -> tuple[int, int]:
    """A round length (1, 2 or 5 x 10^n metres) and its width in pixels at lat and zoom, at most max_px."""
    m_per_px = EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat)) / (TILE_PX * 2**zoom)
    longest = m_per_px * max_px
    step = 10 ** math.floor(math.log10(longest))
    metres = max(m for m in (step, 2 * step, 5 * step) if m <= longest)
    return int(metres), round(metres / m_per_px)


def legend_html(items: list[tuple[str, list[int]]], *, points: list[tuple[str, list[int]]] = (),
                scale: tuple[float, float] | None = None, lang: str = "zh") -> str:
    """A compact legend as escaped HTML (labels are escaped; colours are numbers); with scale=(lat,
    zoom), a scale bar for the map's opening view (no base map draws one)."""
    def swatch(rgba: list[int], round_: bool) -> str:
        r, g, b = (int(x) for x in rgba[:3])
        radius = "50%" if round_ else "2px"
        return (f'<span style="display:inline-block;width:12px;height:12px;border-radius:{radius};'
                f'background:rgb({r},{g},{b});margin-right:4px;vertical-align:middle"></span>')

    parts = [f'<span style="margin-right:12px;white-space:nowrap">{swatch(c, False)}{html.escape(label)}</span>'
             for label, c in items]
    parts += [f'<span style="margin-right:12px;white-space:nowrap">{swatch(c, True)}{html.escape(label)}</span>'
              for label, c in points]
    if scale is not None:
        metres, px = scale_bar(*scale)
        length = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres} m"
        parts.append(f'<span style="white-space:nowrap" title="{html.escape(t("map_scale_help", lang))}">'
                     f'<span style="display:inline-block;width:{px}px;height:6px;border:2px solid #333;'
                     f'border-top:none;vertical-align:middle;margin-right:4px"></span>'
                     f'{html.escape(t("map_scale", lang, length=length))}</span>')
    return '<div style="line-height:1.9">' + "".join(parts) + "</div>"


# ---- import preview (issue 6) -------------------------------------------------------------------

CHANGE_COLORS: dict[str, list[int]] = {
    "added": [26, 152, 80, 200],
    "changed": [253, 174, 97, 210],
    "removed": [215, 25, 28, 200],
}


def placed_label_layer(places: pd.DataFrame, *, view: dict[str, float], lang: str = "zh",
                       width_px: int = V.DEFAULT_WIDTH_PX, height_px: int = V.DEFAULT_HEIGHT_PX,
                       points: pd.DataFrame | None = None, layer_id: str = "village-labels",
                       size_px: int = 14) -> pdk.Layer:
    """The names of one group of outlined places, placed for view by place_labels (inside what the
    map shows, clear of points and of each other), as a label layer."""
    placed = place_labels([(places, size_px)], view=view, lang=lang, width_px=width_px, height_px=height_px,
                          points=points)[0]
    return label_layer(placed, lang=lang, layer_id=layer_id, size_px=size_px)


def changes_layer(df: pd.DataFrame, *, labels: dict[str, str], key: str, name_col: str | None = None,
                  point: bool = False, layer_id: str = "import-changes") -> pdk.Layer:
    """Rows an import would add, change or remove (column `change`, shapely `geometry`), coloured
    by change; `labels` maps each change code to its shown label. Tooltips escaped."""
    rows = df[df["geometry"].notna()] if len(df) else df
    wkb = [shapely.to_wkb(g) for g in rows["geometry"]] if len(rows) else []
    tips = [
        tooltip_rows([(labels.get(c, c), f"{k} {n or ''}".strip())])
        for c, k, n in zip(rows["change"], rows[key], rows[name_col] if name_col else [None] * len(rows),
                           strict=True)
    ]
    colors = [CHANGE_COLORS.get(c, [0, 0, 0, 150]) for c in rows["change"]]
    if point:
        pts = [shapely.get_coordinates(g)[0] for g in rows["geometry"]]
        data = pd.DataFrame({"position": [[round(float(x), 6), round(float(y), 6)] for x, y in pts],
                             "color": colors, "tooltip": tips})
        return pdk.Layer("ScatterplotLayer", data=data, id=layer_id, get_position="position",
                         get_fill_color="color", radius_min_pixels=5, get_radius=15, pickable=True)
    data = pd.DataFrame({"polygon": rings(wkb), "color": colors, "tooltip": tips})
    return pdk.Layer("PolygonLayer", data=data, id=layer_id, get_polygon="polygon", get_fill_color="color",
                     get_line_color=[40, 40, 40, 220], line_width_min_pixels=1, stroked=True, filled=True,
                     pickable=True)
