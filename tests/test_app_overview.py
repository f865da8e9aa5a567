"""AppTest runs of the app shell and the overview page."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def run_app(lang: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if lang:
        at.query_params["lang"] = lang
    return at.run()


def test_overview_kpis_charts_and_map(app_env):
    at = run_app()
    assert not at.exception
    labels = [m.label for m in at.metric]
    values = {m.label: m.value for m in at.metric}
    assert len(labels) == 8
    assert values["已释放土地"] == "201.58 万㎡"
    assert values["黑榜企业"] == "12"
    assert values["本年巡查次数"] == "6,805"
    assert len(at.get("plotly_chart")) == 2
    decks = at.get("deck_gl_json_chart")
    assert len(decks) == 1
    spec = decks[0].proto.json
    assert '"PolygonLayer"' in spec and '"ScatterplotLayer"' in spec and '"TextLayer"' in spec
    assert "basemaps.cartocdn" not in spec  # no external base map by default
    sidebar = " ".join(w.value for w in at.sidebar.warning)
    assert "演示数据" in sidebar
    assert "2026-11-20" in " ".join(c.value for c in at.sidebar.caption)


def test_overview_in_english(app_env):
    at = run_app("en")
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Land released"] == "2,015,800 m²"
    assert values["Blacklisted firms"] == "12"
    assert at.title[0].value.startswith("Dayuan Street")


def test_language_switch_in_sidebar(app_env):
    at = run_app()
    at.sidebar.radio[0].set_value("en").run()
    assert not at.exception
    assert at.title[0].value.startswith("Dayuan Street")
