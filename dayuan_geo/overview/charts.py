"""plotly builders: data in, figures out. Category text from the data is escaped before plotly,
whose hover labels accept HTML."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from dayuan_geo import chartstyle
from dayuan_geo import schema as S
from dayuan_geo.text import t

RELEASED_GREEN = "#1a9850"
CUMULATIVE_BLUE = "#2c7fb8"
PLAN_GREY = "#555555"


def _layout(fig: go.Figure, title: str) -> go.Figure:  # (the land page's charts call it too)
    return chartstyle.style(fig, title=title, height=360)


def released_area_over_time(df: pd.DataFrame, *, lang: str = "zh", plan: tuple | None = None) -> go.Figure:
    """Bars of area released each month with the cumulative line on a second axis, and the year's
    plan (`leadership.plan_line`: two (day, m²) points) dashed on the cumulative axis."""
    fig = go.Figure()
    fig.add_bar(
        x=df["month"], y=df["released_m2"], name=t("chart_released_month", lang),
        marker_color=RELEASED_GREEN, hovertemplate="%{y:,.0f}<extra></extra>",
    )
    fig.add_scatter(
        x=df["month"], y=df["cumulative_m2"], name=t("chart_cumulative", lang), yaxis="y2",
        mode="lines", line={"color": CUMULATIVE_BLUE, "width": 3},
        hovertemplate="%{y:,.0f}<extra></extra>",
    )
    if plan is not None:
        fig.add_scatter(
            x=[plan[0][0], plan[1][0]], y=[plan[0][1], plan[1][1]], name=t("chart_plan", lang), yaxis="y2",
            mode="lines", line={"color": PLAN_GREY, "width": 2, "dash": "dash"},
            hovertemplate="%{y:,.0f}<extra></extra>",
        )
    fig.update_layout(
        xaxis={"title": t("chart_month", lang), "tickformat": "%Y-%m"},  # the same in both languages
        yaxis={"title": t("chart_released_month", lang), "rangemode": "tozero", "tickformat": ",.0f"},
        yaxis2={"title": t("chart_cumulative", lang), "overlaying": "y", "side": "right",
                "rangemode": "tozero", "showgrid": False, "tickformat": ",.0f",
                "tickmode": "auto", "nticks": 6},
    )
    return chartstyle.style(fig, title=t("chart_released_title", lang), height=360)


def stage_funnel(df: pd.DataFrame, *, lang: str = "zh") -> go.Figure:
    """Projects that reached each stage, in the catalogue's order."""
    cat = S.stage_catalogue()
    labels = [html.escape(cat.label(code, lang)) for code in df["stage"]]
    fig = go.Figure(
        go.Funnel(
            y=labels, x=df["reached"], texttemplate="%{value} · %{percentInitial:.0%}",
            textposition="auto", textfont={"size": 13}, insidetextfont={"color": "white"},
            marker={"color": CUMULATIVE_BLUE},
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    return chartstyle.style(fig, title=t("chart_funnel_title", lang), height=360, hovermode="closest")
