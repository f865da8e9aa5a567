"""The one look of every plotly chart: font, a title that wraps to a phone's width, the legend in a
row of its own below the plot, margins that make room for both, one button (the picture) above it.

On a 390 px phone a chart is about 350 px wide. plotly neither wraps a title nor keeps a legend
placed in the top margin off it, so the title is broken into lines here (plotly's `<br>`) and the
legend sits under the plot, anchored to the figure's bottom left corner, where the margin grows with it.
"""

from __future__ import annotations

import html
import re
import unicodedata

import plotly.graph_objects as go

FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
TITLE_SIZE = 16
# plotly's buttons a chart keeps: the picture download. Its zoom, pan, select, +/−, autoscale and
# reset buttons are of no use on these bars and lines (a drag still zooms, a double click resets),
# and on a phone, where they show without a hover, their row covered the chart's title.
MODEBAR_REMOVED = ("zoom", "pan", "select", "lasso", "zoomIn", "zoomOut", "autoScale", "resetScale",
                   "toggleSpikelines", "hoverClosestCartesian", "hoverCompareCartesian")
# Full-width characters per title line: 19 x 16 px fit the ~350 px of a chart on a 390 px phone.
TITLE_WIDTH = 19
_TOKEN = re.compile(r"[(\[]?[A-Za-z0-9%.,:;/'’()\[\]\-]+ ?|\s|.", re.S)
_NO_LINE_START = set("）)，,。、：:；;·!！?？%」”")
_NO_LINE_END = set("（(「“")


def _width(text: str) -> float:
    """Display width in full-width characters: CJK (wide) 1, anything else half (Noto Sans's Latin
    letters average a little under half an em)."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.5 for ch in text)


def wrap(text: str, *, width: float = TITLE_WIDTH) -> list[str]:
    """text in lines no wider than width (full-width characters): breaks between CJK characters or
    at spaces, never inside a Latin word or number, never before closing or after opening punctuation."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        if line and _width((line + token).rstrip()) > width and token[0] not in _NO_LINE_START \
                and line.rstrip()[-1:] not in _NO_LINE_END:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def title_text(title: str) -> str:
    """The title escaped (plotly titles accept HTML) and broken into lines for a phone."""
    return "<br>".join(html.escape(line) for line in wrap(title))


def style(fig: go.Figure, *, title: str, height: int = 360, hovermode: str = "x unified") -> go.Figure:
    """fig in the product's look, titled `title` (plain text; escaped here). The height is the plot's
    share: each extra title line adds its own room on top."""
    extra = TITLE_SIZE * 1.3 * (max(1, len(wrap(title))) - 1)  # room for the title's further lines
    fig.update_layout(
        # above the plot, with the top margin grown to hold it (automargin), however many lines
        title={"text": title_text(title), "x": 0, "xanchor": "left", "xref": "container", "y": 1, "yref": "paper",
               "yanchor": "bottom", "automargin": True, "pad": {"b": 10, "l": 4}, "font": {"size": TITLE_SIZE}},
        font={"family": FONT},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        # the figure's full width from its left edge: a plot pushed right by long labels (the timeline)
        # would squeeze a legend anchored to the plot into a narrow column
        legend={"orientation": "h", "x": 0, "xref": "container", "xanchor": "left", "y": 0, "yref": "container",
                "yanchor": "bottom"},
        hovermode=hovermode,
        height=round(height + extra),
        modebar={"remove": list(MODEBAR_REMOVED)},
    )
    return fig
