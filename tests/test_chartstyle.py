"""Every chart of the overview, remediation and firms pages keeps its legend off its title on a
390 px phone: the title in lines a phone holds, above the plot; the legend in a row below it."""

from __future__ import annotations

import html
import tomllib
import unicodedata
from pathlib import Path

import pytest

from dayuan_geo import chartstyle
from dayuan_geo.overview import charts, leadership, queries
from dayuan_geo.remediation import views as remediation
from dayuan_geo.safety import views as safety

from .conftest import AS_OF

LABELS = Path(__file__).resolve().parents[1] / "dayuan_geo" / "labels"
PHONE_CHART_PX = 390 - 2 * 16  # the page's padding on a phone
TITLE_PX = 16


def labels() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for path in LABELS.glob("*.toml"):
        out.update(tomllib.loads(path.read_text(encoding="utf-8")))
    return out


def line_px(line: str) -> float:
    """A generous width of a title line: CJK characters a full em, anything else 0.55 em."""
    return sum(TITLE_PX if unicodedata.east_asian_width(c) in "WF" else 0.55 * TITLE_PX for c in html.unescape(line))


@pytest.fixture(scope="module")
def figures(store) -> dict[str, dict]:
    cur = store.cursor()
    out = {}
    for lang in ("zh", "en"):
        pace = leadership.pace(cur, as_of=AS_OF)
        out[f"released-{lang}"] = charts.released_area_over_time(
            queries.released_by_month(cur, as_of=AS_OF), lang=lang, plan=leadership.plan_line(pace)).to_dict()
        out[f"funnel-{lang}"] = charts.stage_funnel(queries.stage_funnel(cur, as_of=AS_OF), lang=lang).to_dict()
        tr = remediation.tracker(cur, as_of=AS_OF, lang=lang)
        out[f"pipeline-{lang}"] = next(iter(tr.pipelines.values()))
        out[f"gantt-{lang}"], out[f"progress-{lang}"] = tr.gantt, tr.progress
        out[f"durations-{lang}"] = tr.durations[True][0]
        insp = safety.inspection_figures(cur, as_of=AS_OF, start=AS_OF.replace(month=1, day=1), end=AS_OF, lang=lang)
        for name in ("trend", "category", "outcome"):
            out[f"{name}-{lang}"] = getattr(insp, name).to_dict()
    return out


def test_every_title_fits_a_phone_line_by_line(figures):
    texts = {v[lang] for v in labels().values() for lang in ("zh", "en")}
    for name, fig in figures.items():
        title = fig["layout"]["title"]
        lines = title["text"].split("<br>")
        assert all(line_px(line) <= PHONE_CHART_PX for line in lines), (name, lines)
        # broken only between words or characters: the lines put together are the label itself
        whole = html.unescape("".join(lines))
        spaced = html.unescape(" ".join(lines))
        assert whole in texts or spaced in texts, (name, lines)
        assert title["yanchor"] == "bottom" and title["automargin"] is True  # the top margin grows to hold it


def test_legends_sit_below_the_plot(figures):
    for name, fig in figures.items():
        legend = fig["layout"]["legend"]
        assert legend["orientation"] == "h", name
        # anchored to the figure's bottom edge (not the plot's top, where it covered the title)
        assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 0, "bottom"), name
        assert (legend["xref"], legend["x"], legend["xanchor"]) == ("container", 0, "left"), name  # full width


def test_every_chart_keeps_only_the_picture_button(figures):
    """On a phone plotly shows its buttons without a hover, in a row over the title: only the
    picture download is left (the land page's charts are styled by the same function)."""
    buttons = {"zoom", "pan", "select", "lasso", "zoomIn", "zoomOut", "autoScale", "resetScale"}
    for name, fig in figures.items():
        removed = set(fig["layout"]["modebar"]["remove"])
        assert buttons <= removed, (name, buttons - removed)
        assert "toImage" not in removed, name


def test_a_long_title_wraps_between_words_and_keeps_its_brackets():
    lines = chartstyle.wrap("已释放面积与园区面积（释放最多的前30个园区）")
    assert "".join(lines) == "已释放面积与园区面积（释放最多的前30个园区）"
    assert len(lines) == 2 and not lines[1].startswith("）")
    assert "30" in lines[0] or "30" in lines[1]  # a number is never cut
    en = chartstyle.wrap("Released area against park area (top 30 parks by land released)")
    assert " ".join(en) == "Released area against park area (top 30 parks by land released)"
    assert all(not w.startswith(" ") and not w.endswith(" ") for w in en)
    assert chartstyle.wrap("By category") == ["By category"]


def test_a_title_from_the_data_is_escaped():
    assert chartstyle.title_text("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
