"""Figures and map layers of the remediation tracker: data in, go.Figure / pdk.Layer out.

Colours for stages are derived from the catalogue in force (any number of stages), and every text
from the data is escaped before it reaches plotly hover labels or deck.gl tooltips.
"""

from __future__ import annotations

import datetime as dt
import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
from plotly.colors import sample_colorscale

from dayuan_geo import chartstyle
from dayuan_geo import schema as S
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview.charts import RELEASED_GREEN
from dayuan_geo.text import area_axis, fmt_area, t

PLANNED_GREY = "rgba(160,160,160,0.35)"
OVERDUE_RED = "#d7191c"
TODAY_COLOR = "#d7191c"
MODE_COLORS = {"shutdown": "#d95f02", "upgrade": "#1b9e77", "regularise": "#7570b3"}
LATE_COLORS: dict[str, list[int]] = {
    "completed": [84, 39, 143, 210],
    "on_time": [26, 152, 80, 200],
    "late_90": [254, 224, 139, 220],
    "late_365": [253, 141, 60, 225],
    "late_more": [215, 25, 28, 230],
    "not_started": [200, 200, 200, 150],
}
_MS_PER_DAY = 86_400_000


def stage_colors() -> dict[str, list[int]]:
    """An RGBA colour per stage of the catalogue in force, light (early) to dark (late)."""
    codes = S.stage_catalogue().codes
    points = np.linspace(0.15, 0.95, len(codes)) if len(codes) > 1 else [0.5]
    colors = sample_colorscale("Viridis", list(points), colortype="tuple")
    return {c: [round(255 * r), round(255 * g), round(255 * b), 215]
            for c, (r, g, b) in zip(codes, colors, strict=True)}


def _css(rgba: list[int]) -> str:
    return f"rgb({rgba[0]},{rgba[1]},{rgba[2]})"


def park_names(df: pd.DataFrame, lang: str) -> pd.Series:
    """Park names in lang: the English name where the data has one, else the Chinese name."""
    names = df["park_name"]
    if lang == "en" and "park_name_en" in df.columns:
        names = df["park_name_en"].fillna(names)
    return names.fillna("")


def pipeline_chart(pipeline: pd.DataFrame, *, measure: str, group_labels: dict[str, str],
                   lang: str = "zh") -> go.Figure:
    """Stacked bars of projects (or park area) at each stage, one colour per mode or village."""
    cat = S.stage_catalogue()
    stages = [html.escape(cat.label(c, lang)) for c in cat.codes]
    divisor, tickformat = area_axis(lang)
    fig = go.Figure()
    palette = sample_colorscale("Plotly3", list(np.linspace(0.1, 0.9, max(len(group_labels), 1))))
    for i, (group, label) in enumerate(group_labels.items()):
        rows = pipeline[pipeline["group"] == group].set_index("stage").reindex(list(cat.codes))
        values = rows[measure].fillna(0)
        fmt = (lambda v: fmt_area(v, lang)) if measure == "park_area_m2" else (lambda v: f"{int(v)}")
        text = [fmt(v) for v in values]
        fig.add_bar(
            x=stages, y=values / divisor if measure == "park_area_m2" else values, name=html.escape(label),
            marker_color=MODE_COLORS.get(group, palette[i % len(palette)]),
            customdata=text, hovertemplate="%{x} · " + html.escape(label) + ": %{customdata}<extra></extra>",
        )
    title = t("rem_pipeline_title_area" if measure == "park_area_m2" else "rem_pipeline_title", lang)
    fig.update_layout(barmode="stack", yaxis={"title": t("rem_axis_area" if measure == "park_area_m2"
                                                          else "chart_projects", lang),
                                              "tickformat": tickformat if measure == "park_area_m2" else ",d"})
    return chartstyle.style(fig, title=title, height=380, hovermode="closest")


def gantt(projects: pd.DataFrame, history: pd.DataFrame, *, as_of: dt.date,
          lang: str = "zh") -> go.Figure:
    """Planned span (grey) against the actual stage history (coloured by stage) of each project,
    the data date as today's line, and a red mark at the planned finish of each overdue project."""
    cat = S.stage_catalogue()
    colors = stage_colors()
    df = projects.sort_values(["started_on", "project_id"], ignore_index=True)
    label = {pid: f"{pid} {park}" for pid, park in zip(df["project_id"], park_names(df, lang),
                                                      strict=True)}
    order = [html.escape(label[p]) for p in df["project_id"]]
    fig = go.Figure()
    start = pd.to_datetime(df["started_on"])
    planned = pd.to_datetime(df["planned_finish"])
    fig.add_bar(
        y=order, base=start, x=(planned - start).dt.days * _MS_PER_DAY, orientation="h",
        width=0.8, marker_color=PLANNED_GREY, name=html.escape(t("rem_planned", lang)),
        customdata=np.column_stack([start.dt.date.astype(str), planned.dt.date.astype(str)]),
        hovertemplate="%{y}<br>" + html.escape(t("rem_planned", lang))
        + ": %{customdata[0]} → %{customdata[1]}<extra></extra>",
    )
    today = pd.Timestamp(as_of)
    hist = history[history["project_id"].isin(set(df["project_id"]))]
    for code in cat.codes:
        if code == cat.completed:
            continue
        rows = hist[hist["stage"] == code]
        if rows.empty:
            continue
        entered = pd.to_datetime(rows["entered_on"])
        left = pd.to_datetime(rows["left_on"]).fillna(today)
        name = html.escape(cat.label(code, lang))
        fig.add_bar(
            y=[html.escape(label[p]) for p in rows["project_id"]], base=entered,
            x=(left - entered).dt.days * _MS_PER_DAY, orientation="h", width=0.4,
            marker_color=_css(colors[code]), name=name, legendgroup=code,
            customdata=np.column_stack([entered.dt.date.astype(str), rows["days"].astype("Int64").astype(str)]),
            hovertemplate="%{y}<br>" + name + ": %{customdata[0]} · %{customdata[1]} "
            + html.escape(t("rem_days", lang)) + "<extra></extra>",
        )
    done = df[df["finished_on"].notna()]
    if len(done):
        fig.add_scatter(
            y=[html.escape(label[p]) for p in done["project_id"]], x=pd.to_datetime(done["finished_on"]),
            mode="markers", marker={"symbol": "diamond", "size": 8, "color": _css(colors[cat.completed])},
            name=html.escape(cat.label(cat.completed, lang)),
            hovertemplate="%{y}<br>" + html.escape(cat.label(cat.completed, lang)) + ": %{x|%Y-%m-%d}<extra></extra>",
        )
    late = df[df["is_overdue"].astype(bool)]
    if len(late):
        fig.add_scatter(
            y=[html.escape(label[p]) for p in late["project_id"]], x=pd.to_datetime(late["planned_finish"]),
            mode="markers", marker={"symbol": "x", "size": 10, "color": OVERDUE_RED},
            name=html.escape(t("rem_overdue_mark", lang)), customdata=late["days_late"].astype(str),
            hovertemplate="%{y}<br>" + html.escape(t("rem_overdue_mark", lang))
            + ": %{customdata} " + html.escape(t("rem_days", lang)) + "<extra></extra>",
        )
    fig.add_shape(type="line", x0=today, x1=today, xref="x", y0=0, y1=1, yref="paper",
                  line={"color": TODAY_COLOR, "width": 2, "dash": "dash"})
    fig.add_annotation(x=today, y=1, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=html.escape(f"{t('data_as_of', lang)} {as_of.isoformat()}"),
                       font={"color": TODAY_COLOR})
    fig.update_layout(
        barmode="overlay", xaxis={"type": "date"},
        yaxis={"categoryorder": "array", "categoryarray": order, "autorange": "reversed",
               "tickfont": {"size": 10}},
    )
    return chartstyle.style(fig, title=t("rem_gantt_title", lang), height=max(420, 17 * len(order) + 160),
                            hovermode="closest")


BOX_RAW_LIMIT = 5_000  # stays a box plot is drawn from one by one; beyond, from its statistics


def durations_chart(history: pd.DataFrame, *, lang: str = "zh", raw_limit: int = BOX_RAW_LIMIT) -> go.Figure:
    """Box plots of days spent in each stage, catalogue order.

    Up to raw_limit stays plotly draws each box from the days themselves (outliers as points);
    beyond, from the quartiles, minimum and maximum computed here (those of `stage_durations`),
    so the figure does not carry every stay to the browser (9 MB at scale L).
    """
    cat = S.stage_catalogue()
    colors = stage_colors()
    stays = history[history["days"].notna()]
    raw = len(stays) <= raw_limit
    fig = go.Figure()
    for code in cat.codes:
        days = stays.loc[stays["stage"] == code, "days"].astype("float64")
        if code == cat.completed or days.empty:
            continue
        name = html.escape(cat.label(code, lang))
        if raw:
            fig.add_box(y=days, name=name, marker_color=_css(colors[code]), boxmean=False, showlegend=False)
            continue
        q1, median, q3 = days.quantile([0.25, 0.5, 0.75])
        fig.add_box(x=[name], q1=[q1], median=[median], q3=[q3], lowerfence=[days.min()],
                    upperfence=[days.max()], name=name, marker_color=_css(colors[code]), showlegend=False)
    fig.update_layout(yaxis={"title": t("rem_days_in_stage", lang), "rangemode": "tozero"})
    return chartstyle.style(fig, title=t("rem_durations_title", lang), height=380, hovermode="closest")


def progress_chart(projects: pd.DataFrame, *, lang: str = "zh", top: int = 30) -> go.Figure:
    """Released area against park area, the parks that released most first (then the largest)."""
    df = projects.sort_values(["released_m2", "park_area_m2"], ascending=False).head(top).iloc[::-1]
    names = [html.escape(f"{p} {n}") for p, n in zip(df["park_id"], park_names(df, lang), strict=True)]
    divisor, tickformat = area_axis(lang)
    park_area = [fmt_area(v, lang) for v in df["park_area_m2"]]
    released = [f"{fmt_area(v, lang)} ({p:.0%})" for v, p in zip(df["released_m2"], df["progress"], strict=True)]
    fig = go.Figure()
    fig.add_bar(y=names, x=df["park_area_m2"] / divisor, orientation="h", name=html.escape(t("rem_park_area", lang)),
                marker_color="rgba(160,160,160,0.45)", customdata=park_area,
                hovertemplate="%{y}: %{customdata}<extra></extra>")
    fig.add_bar(y=names, x=df["released_m2"] / divisor, orientation="h", name=html.escape(t("rem_released", lang)),
                marker_color=RELEASED_GREEN, customdata=released, hovertemplate="%{y}: %{customdata}<extra></extra>")
    fig.update_layout(barmode="overlay", xaxis={"title": t("rem_axis_area", lang), "tickformat": tickformat})
    return chartstyle.style(fig, title=t("rem_progress_title", lang), height=max(380, 18 * len(df) + 140),
                            hovermode="closest")


# ---- map ------------------------------------------------------------------------------------------

def parks_layer(df: pd.DataFrame, *, color_by: str, lang: str = "zh",
                villages: dict[str, str] | None = None, layer_id: str = "parks") -> pdk.Layer:
    """Park outlines filled by their project's stage or by how late it is, with escaped tooltips."""
    if color_by not in ("stage", "late"):
        raise ValueError(f"cannot colour parks by {color_by!r}")
    cat = S.stage_catalogue()
    colors = stage_colors()
    none = LATE_COLORS["not_started"]
    if color_by == "stage":
        fill = [colors.get(s, none) if isinstance(s, str) else none for s in df["stage"]]
    else:
        fill = [LATE_COLORS.get(c, none) for c in df["late_class"]]
    villages = villages or {}

    def days(v: object) -> str:
        return "—" if v is None or pd.isna(v) else f"{int(v)}"

    df = df.assign(park_name=park_names(df, lang))
    tips = [
        maps.tooltip_rows([
            (t("tt_park", lang), f"{r['park_id']} {r['park_name']}"),
            (t("tt_village", lang), villages.get(r["village_code"], r["village_code"])),
            (S.column_label("remediation_projects", "mode", lang),
             S.REMEDIATION_MODE.label(r["mode"], lang) if isinstance(r["mode"], str) else "—"),
            (t("rem_stage", lang), cat.label(r["stage"], lang) if isinstance(r["stage"], str) else "—"),
            (S.column_label("remediation_projects", "responsible_unit", lang), r["responsible_unit"] or "—"),
            (t("rem_days_late", lang), days(r["days_late"])),
            (t("rem_days_idle", lang), days(r["days_idle"])),
            (t("rem_released", lang), fmt_area(r["released_m2"], lang) if pd.notna(r["released_m2"]) else "—"),
        ])
        for r in df[["park_id", "park_name", "village_code", "mode", "stage", "responsible_unit",
                     "days_late", "days_idle", "released_m2"]].to_dict("records")
    ]
    data = pd.DataFrame({
        "park_id": df["park_id"].astype(str),
        "polygon": maps.rings(df["wkb"]),
        "color": fill,
        "tooltip": tips,
    })
    return maps.filled_polygons(data, layer_id=layer_id)


def legend_items(color_by: str, *, lang: str = "zh") -> list[tuple[str, list[int]]]:
    """(label, rgba) pairs for the parks map's legend."""
    if color_by == "stage":
        cat = S.stage_catalogue()
        items = [(cat.label(c, lang), rgba) for c, rgba in stage_colors().items()]
    else:
        items = [(t(f"rem_late_{c}", lang), LATE_COLORS[c]) for c in LATE_COLORS if c != "not_started"]
    return [*items, (t("rem_late_not_started", lang), LATE_COLORS["not_started"])]
