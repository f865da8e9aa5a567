"""The Streamlit edge: one dataset version per script run, a damaged version never served, and
nothing a browser can clear that the Store lives in."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dayuan_geo import auth
from dayuan_geo import schema as S
from dayuan_geo.dataset import integrity, versions
from dayuan_geo.overview import queries
from tests.conftest import AS_OF

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(autouse=True)
def _router_runs_every_time(monkeypatch, tmp_path, router_runs_every_time):
    """Local mode (no accounts), and every run through app.py as a server does after its first request."""
    monkeypatch.setenv(auth.AUTH_FILE_ENV, str(tmp_path / "none" / "auth.toml"))
    monkeypatch.setenv("DAYUAN_AUDIT_FILE", str(tmp_path / "logs" / "audit.jsonl"))


def _version_caption(at: AppTest) -> str:
    return next(c.value for c in at.sidebar.caption if "数据版本" in c.value)


def _publish_firms(directory: Path, *, keep: int) -> dict:
    """A new version whose firms table holds only its first `keep` rows."""
    manifest = json.loads((directory / "manifest.json").read_text())
    firms = gpd.read_parquet(directory / manifest["files"]["firms"]["file"])
    tables = {"firms": firms.head(keep)}
    integrity.cascade(tables, lambda name: (gpd if S.table(name).has_geometry else pd).read_parquet(
        directory / manifest["files"][name]["file"]))
    return versions.publish(directory, tables, source="import", as_of=AS_OF)


def test_a_run_reads_one_version_even_when_one_is_published_meanwhile(data_copy, monkeypatch):
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(data_copy))
    old_version = json.loads((data_copy / "manifest.json").read_text())["dataset_version"]
    firm_count = len(gpd.read_parquet(data_copy / "firms.parquet"))
    seen: list[int] = []
    real_kpis, real_funnel = queries.kpis, queries.stage_funnel

    def kpis_then_publish(cur, **kwargs):  # the first query of the run; a planner publishes meanwhile
        result = real_kpis(cur, **kwargs)
        if not seen:
            _publish_firms(data_copy, keep=5)
        return result

    def funnel_watching(cur, **kwargs):  # a later query of the same run
        seen.append(cur.execute("SELECT count(*) FROM firms").fetchone()[0])
        return real_funnel(cur, **kwargs)

    for fake, real in ((kpis_then_publish, real_kpis), (funnel_watching, real_funnel)):
        fake.__module__, fake.__qualname__ = real.__module__, real.__qualname__
    monkeypatch.setattr(queries, "kpis", kpis_then_publish)
    monkeypatch.setattr(queries, "stage_funnel", funnel_watching)

    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert _version_caption(at).endswith(f"v{old_version}")
    assert seen == [firm_count]  # the later query still read the version the run started with

    at.run()  # the next run takes the new version
    assert _version_caption(at).endswith(f"v{old_version + 1}")
    assert seen[-1] == 5


def test_a_damaged_new_version_is_not_served_and_the_sidebar_says_so(data_copy, monkeypatch):
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(data_copy))
    old_version = json.loads((data_copy / "manifest.json").read_text())["dataset_version"]
    at = AppTest.from_file(APP, default_timeout=120).run()
    metrics = [m.value for m in at.metric]
    manifest = _publish_firms(data_copy, keep=5)
    new_file = data_copy / manifest["files"]["firms"]["file"]
    new_file.write_bytes(new_file.read_bytes()[:-100] + b"\0" * 100)  # damaged in place after publishing

    at.run()
    assert not at.exception
    assert [m.value for m in at.metric] == metrics
    assert _version_caption(at).endswith(f"v{old_version}")
    refused = " ".join(e.value for e in at.sidebar.error)
    assert f"仍显示 v{old_version}" in refused and new_file.name in refused


def test_clearing_streamlits_caches_keeps_the_store_and_its_views(data_copy, monkeypatch):
    import streamlit as st

    monkeypatch.setenv("DAYUAN_DATA_DIR", str(data_copy))
    import edge
    from edge import cache

    before = cache.load(data_copy)
    view = cache._views.setdefault(before, {})
    view["probe"] = object()
    st.cache_resource.clear()  # what a client's `clear_cache` message does, with st.cache_data.clear()
    st.cache_data.clear()
    assert cache.load(data_copy) is before and cache._views[before]["probe"] is view["probe"]
    assert edge.store is cache.store


def test_shared_views_hand_out_plain_data_not_plotly_figures(store):
    from dayuan_geo.safety import views
    from edge import cache

    figures = views.inspection_figures(store.cursor(), as_of=AS_OF, start=AS_OF.replace(month=1, day=1), end=AS_OF)
    plain = cache._plain_figures(figures)
    assert type(plain) is type(figures)
    for name in ("trend", "category", "outcome"):
        assert isinstance(getattr(plain, name), dict)
        assert getattr(plain, name)["data"][0]["type"] == getattr(figures, name).data[0].type

    # st.plotly_chart (plotly) pops each trace's "type" and puts it back: one shared dict drawn by many
    # sessions at once lost it under load. Each run draws its own trace dicts; the shared ones are never
    # touched (a trace dict that refuses pop() proves it without relying on thread timing).
    import plotly.tools

    class Untouchable(dict):
        def pop(self, *args):
            raise AssertionError("a shared trace dict was changed")

    plain.trend["data"][:] = [Untouchable(t) for t in plain.trend["data"]]
    with pytest.raises(AssertionError, match="shared trace dict"):
        plotly.tools.return_figure_from_figure_or_data(plain.trend, validate_figure=True)
    for _ in range(3):
        drawn = plotly.tools.return_figure_from_figure_or_data(cache._per_run(plain).trend, validate_figure=True)
        assert drawn["data"][0]["type"] == figures.trend.data[0].type


def test_the_served_app_refuses_clear_cache_messages(monkeypatch):
    import streamlit as st
    from streamlit.runtime.app_session import AppSession

    from edge import http

    monkeypatch.setattr(AppSession, "_handle_clear_cache_request", AppSession._handle_clear_cache_request)
    calls: list[int] = []

    @st.cache_data
    def cached(x: int) -> int:
        calls.append(x)
        return x

    cached(1)
    http.refuse_clear_cache()

    class Session:
        id = "attacker"

    AppSession._handle_clear_cache_request(Session())  # what a client's clear_cache message runs
    cached(1)
    assert calls == [1]  # still cached
    assert "refuse_clear_cache()" in (Path(__file__).resolve().parents[2] / "server.py").read_text()
