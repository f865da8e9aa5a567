"""The briefing's pictures, drawn offline with matplotlib in the Noto CJK font: the cumulative
release with the year's plan, and a map of the street (no base map: the product's own outlines).

matplotlib renders Chinese with a font file it is given and needs no browser, so a briefing builds
the same on a server with no Chromium and no network; figures are PNG bytes, drawn without pyplot's
global state.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import shapely
from matplotlib import font_manager
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import StrMethodFormatter

from dayuan_geo import schema as S
from dayuan_geo.overview import leadership, queries
from dayuan_geo.overview.charts import CUMULATIVE_BLUE, PLAN_GREY, RELEASED_GREEN
from dayuan_geo.text import t

# Noto Sans CJK from Debian's fonts-noto-cjk (the test command installs it); face 2 of the
# collection is Simplified Chinese.
CJK_FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc"),
)
CJK_SC_FACE = 2
CJK_FAMILY = "Noto Sans CJK SC"
BLACKLIST_RED = "#d7301f"
EARLIER_GREEN = "#a6d96a"
NOT_RELEASED_GREY = "#d9d9d9"
DPI = 160


def cjk_font() -> Path:
    """The Noto Sans CJK collection; RuntimeError naming the package when it is not installed."""
    for path in CJK_FONT_FILES:
        if path.is_file():
            return path
    raise RuntimeError("no CJK font for the briefing: install Debian's fonts-noto-cjk "
                       "(apt-get install fonts-noto-cjk, as `make test` does)")


def cjk_bold_font() -> Path:
    bold = cjk_font().with_name("NotoSansCJK-Bold.ttc")
    return bold if bold.is_file() else cjk_font()


@cache
def _register_font() -> None:
    font_manager.fontManager.addfont(str(cjk_font()))


def _style() -> dict:
    _register_font()
    return {"font.family": "sans-serif", "font.sans-serif": [CJK_FAMILY, "DejaVu Sans"],
            "axes.unicode_minus": False, "font.size": 9}


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def release_chart(by_month: pd.DataFrame, pace: dict, *, lang: str = "zh") -> bytes:
    """Area released per month (bars) and the running total (line, 万㎡ / m²) with the year's plan:
    the total on 1 January rising evenly to it plus the target on 31 December."""
    scale, unit = (10_000, "万㎡") if lang == "zh" else (1, "m²")
    with matplotlib.rc_context(_style()):
        fig = Figure(figsize=(7.2, 3.4), layout="constrained")
        ax = fig.subplots()
        months = pd.to_datetime(by_month["month"])
        ax.bar(months, by_month["released_m2"] / scale, width=20, color=RELEASED_GREEN,
               label=t("chart_released_month", lang).split("(")[0])
        ax.set_ylabel(f"{t('chart_released_month', lang).split('(')[0]} ({unit})")
        ax2 = ax.twinx()
        ax2.plot(months, by_month["cumulative_m2"] / scale, color=CUMULATIVE_BLUE, linewidth=2,
                 label=t("chart_cumulative", lang).split("(")[0])
        if (plan := leadership.plan_line(pace)) is not None:
            (x0, y0), (x1, y1) = plan
            ax2.plot([pd.Timestamp(x0), pd.Timestamp(x1)], [y0 / scale, y1 / scale], color=PLAN_GREY,
                     linestyle="--", linewidth=1.5, label=t("chart_plan", lang))
        ax2.set_ylabel(f"{t('chart_cumulative', lang).split('(')[0]} ({unit})")
        ax2.set_ylim(bottom=0)
        ax.set_ylim(bottom=0)
        for axis in (ax, ax2):  # 1,500,000 m², never "1e6"
            axis.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}" if scale == 1 else "{x:,.1f}"))
        ax2.spines["top"].set_visible(False)
        ax.spines["top"].set_visible(False)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, loc="upper left", frameon=False, fontsize=8)
        ax.set_title(t("chart_released_title", lang), loc="left", fontsize=10)
        return _png(fig)


def _frame(df: pd.DataFrame) -> gpd.GeoDataFrame:
    geom = shapely.from_wkb(df["wkb"].map(bytes)) if len(df) else []
    return gpd.GeoDataFrame(df.drop(columns=["wkb"]), geometry=geom, crs=S.STORAGE_CRS).to_crs(S.METRIC_CRS)


def _rings(geoms: gpd.GeoSeries) -> list:
    """The outer rings of (multi)polygons as vertex arrays: one PolyCollection draws 100,000 parcels
    in a second, where a patch per parcel (GeoSeries.plot) takes half a minute."""
    parts = shapely.get_parts(geoms.to_numpy())
    coords, index = shapely.get_coordinates(shapely.get_exterior_ring(parts), return_index=True)
    if not len(coords):
        return []
    cuts = (index[1:] != index[:-1]).nonzero()[0] + 1
    return list(np.split(coords, cuts))


def street_map(cur: queries.Cursor, *, start: dt.date, as_of: dt.date, role: str, lang: str = "zh") -> bytes:
    """The street's villages, its parcels (released from start to as_of, released before, not
    released) and the blacklisted firms, in metres (EPSG:4547), with village names."""
    villages = _frame(queries.outlines(cur, table_name="villages"))
    parcels = _frame(queries.parcels_for_map(cur, as_of=as_of))
    released_on = pd.to_datetime(parcels["released_on"])
    this_month = released_on >= pd.Timestamp(start)
    before = released_on.notna() & ~this_month
    firms = queries.firm_points(cur, role=role, risk_levels=("blacklisted",))
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(firms["lon"], firms["lat"]), crs=S.STORAGE_CRS)
    points = points.to_crs(S.METRIC_CRS)
    with matplotlib.rc_context(_style()):
        fig = Figure(figsize=(6.4, 5.6), layout="constrained")
        ax = fig.subplots()
        for part, style in ((~this_month & ~before, {"facecolor": NOT_RELEASED_GREY, "linewidth": 0}),
                            (before, {"facecolor": EARLIER_GREEN, "linewidth": 0}),
                            (this_month, {"facecolor": RELEASED_GREEN, "edgecolor": "#00441b", "linewidth": 0.6})):
            ax.add_collection(PolyCollection(_rings(parcels.geometry[part.to_numpy()]), **style))
        ax.add_collection(PolyCollection(_rings(villages.geometry), facecolor="none", edgecolor="#444444",
                                         linewidth=0.8))
        ax.autoscale_view()
        if len(points):
            few = len(points) <= 200  # a city's hundreds of firms as dots that do not hide the land
            ax.scatter(points.geometry.x, points.geometry.y, s=34 if few else 5, color=BLACKLIST_RED,
                       edgecolors="white" if few else "none", linewidths=0.7, zorder=5)
        label = "label_zh" if lang == "zh" else "label_en"
        for geom, name in zip(villages.geometry, villages[label], strict=True):
            at = geom.representative_point()
            ax.annotate(str(name), (at.x, at.y), ha="center", va="center", fontsize=8, color="#222222", zorder=10,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75})
        fig.legend(handles=[
            Patch(color=RELEASED_GREEN, label=t("brief_map_month", lang)),
            Patch(color=EARLIER_GREEN, label=t("brief_map_before", lang)),
            Patch(color=NOT_RELEASED_GREY, label=t("brief_map_not_released", lang)),
            Line2D([], [], marker="o", linestyle="", color=BLACKLIST_RED, markeredgecolor="white",
                   markersize=7, label=t("legend_blacklisted", lang)),
        ], loc="outside lower center", ncols=4, frameon=False, fontsize=8)
        ax.set_axis_off()
        ax.set_aspect("equal")
        return _png(fig)
