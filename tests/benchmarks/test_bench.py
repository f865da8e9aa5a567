"""The benchmark runs at scale S and the naive approach and the product give the same answers.

Timings vary with the machine, so only keys and values are asserted, never how fast anything is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json

import geopandas as gpd
import pandas as pd
import pytest

from benchmarks import apptest, bench
from dayuan_geo import schema as S
from dayuan_geo.cli import main as cli

AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
def result(demo_dir) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["--data-dir", str(demo_dir), "bench", "--repeat", "1", "--json"])
    assert code == 0
    return json.loads(out.getvalue())


def test_report_has_every_measurement(result):
    assert result["scale"] == "S" and result["repeat"] == 1
    assert {"nproc", "memory_gb", "cpu"} <= result["machine"].keys()
    assert {"store_open_s", "first_query_s", "duckdb_memory_mb", "views_open_s", "views_kpis_s"} <= (
        result["cold_start"].keys())
    assert set(result["questions"]) == {"kpis", "parcel_map", "released_by_month", "firms_near_released"}
    for name, q in result["questions"].items():
        assert {"naive_s", "product_s", "bare_sql_s", "agree", "speedup"} <= q.keys(), name
    assert result["questions"]["parcel_map"]["naive_bytes"] > 0
    assert result["questions"]["parcel_map"]["product_bytes"] > 0
    assert result["peak_rss_mb"] > 0 and result["product_peak_rss_mb"] > 0
    pages = result["pages"]
    assert [p for p, _ in apptest.app_pages()] and "overview" in pages and "naive" in pages
    assert "error" not in pages["overview"] and pages["overview"]["warm_s"] > 0
    assert len(pages["overview"]["deck_bytes"]) == 1 and pages["naive"]["deck_bytes"][0] > 0


def test_naive_and_product_agree(result):
    assert all(q["agree"] for q in result["questions"].values()), {
        k: q["agree"] for k, q in result["questions"].items()}


def test_values_match_the_files(result, demo_dir):
    k = result["questions"]["kpis"]["values"]
    assert k["released_area_m2"] == pytest.approx(2_015_800, rel=0.001)
    assert (k["blacklisted_firms"], k["high_risk_firms"], k["inspections_ytd"]) == (12, 31, 6_805)
    parcels = gpd.read_parquet(demo_dir / "parcels.parquet")
    released_on = pd.to_datetime(parcels["released_on"])
    status = parcels["release_status"].where(~(released_on > pd.Timestamp(AS_OF)), "vacating")
    pm = result["questions"]["parcel_map"]
    assert pm["parcels"] == pm["naive_parcels"] == pm["parcels_drawn"] == int(
        status.isin(["vacating", "released"]).sum())
    # firms near released land, straight from the files with geopandas
    firms = gpd.read_parquet(demo_dir / "firms.parquet")
    listed = pd.to_datetime(firms["listed_on"])
    listed_by_then = listed.isna() | (listed <= pd.Timestamp(AS_OF))
    firms = firms[firms["risk_level"].isin(["blacklisted", "high_risk"]) & listed_by_then]
    near = parcels[status.isin(["vacating", "released"])].to_crs(S.METRIC_CRS)
    buffered = near.assign(geometry=near.buffer(500))[["parcel_id", "geometry"]]
    pairs = gpd.sjoin(firms.to_crs(S.METRIC_CRS)[["firm_id", "geometry"]], buffered, predicate="intersects")
    fn = result["questions"]["firms_near_released"]
    assert fn["pairs"] == fn["naive_pairs"] == pytest.approx(len(pairs), abs=2)  # buffer is a 32-gon
    assert fn["firms"] == pytest.approx(pairs["firm_id"].nunique(), abs=1)


def test_spatial_join_is_not_a_nested_loop(result):
    near = result["questions"]["firms_near_released"]
    assert near["spatial_join"] is True and near["nested_loop"] is False
    assert "SPATIAL_JOIN" in near["join_operators"]


def test_markdown_report(result):
    text = bench.report(result)
    assert text.startswith("### Scale S")
    assert "| kpis |" in text and "| overview |" in text and "SPATIAL_JOIN" in text


def test_page_list_follows_app_py(tmp_path):
    app = tmp_path / "app.py"
    app.write_text('pages = [\n    st.Page("pages/overview.py", title=t("a"), url_path="overview",\n'
                   '            default=True),\n    st.Page("pages/land.py", title=t("b"), icon="x"),\n]\n',
                   encoding="utf-8")
    assert apptest.app_pages(app) == [("pages/overview.py", "overview"), ("pages/land.py", "land")]


def test_bad_repeat_is_refused(demo_dir, capsys):
    assert cli.main(["--data-dir", str(demo_dir), "bench", "--repeat", "0"]) == 2
    assert "--repeat" in capsys.readouterr().err


def test_lazy_store_gives_the_same_answers(demo_dir, store, monkeypatch):
    from dayuan_geo.overview import queries
    from dayuan_geo.store import Store

    views = Store(demo_dir, lazy=True)
    try:
        assert views.lazy and not store.lazy
        assert queries.kpis(views.cursor(), as_of=AS_OF) == queries.kpis(store.cursor(), as_of=AS_OF)
    finally:
        views.close()
    monkeypatch.setenv("DAYUAN_STORE_LAZY", "1")
    from_env = Store(demo_dir)
    assert from_env.lazy
    from_env.close()


# ---- the browser benchmark's counting and reporting (the browser runs in tests/browser) -----------

def test_script_runs_are_counted_from_the_messages_streamlit_sends():
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from benchmarks import wire as recorder

    done = ForwardMsg()
    done.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    started = ForwardMsg()
    started.new_session.SetInParent()
    rerun = BackMsg()
    rerun.rerun_script.query_string = "village=1"
    wire = recorder.Wire()
    for msg in (started, done, started, done):
        payload = msg.SerializeToString()
        wire.received.append((recorder.message_kind(payload, sent=False), len(payload)))
    assert recorder.message_kind(rerun.SerializeToString(), sent=True) == "rerun_script"
    assert recorder.message_kind("not protobuf", sent=False) is None
    assert (wire.started(0), wire.runs(0), wire.runs(2)) == (2, 2, 1)


def test_click_offsets_follow_web_mercator():
    from pyproj import Transformer

    from benchmarks import browser

    view = {"longitude": 113.3, "latitude": 23.25, "zoom": 14.0}
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    cx, cy = to_merc.transform(113.3, 23.25)
    px, py = to_merc.transform(113.31, 23.24)
    metres_per_px = 2 * 6378137 * 3.141592653589793 / (512 * 2**14)
    dx, dy = browser.pixel_offset(view, 113.31, 23.24)
    assert dx == pytest.approx((px - cx) / metres_per_px, rel=1e-6)
    assert dy == pytest.approx(-(py - cy) / metres_per_px, rel=1e-6)


def test_browser_report_puts_the_product_beside_the_naive_page():
    from benchmarks import browser

    m = {"seconds": 0.8, "runs": [1], "bytes": 250_000, "last_message_s": 0.55, "settled_s": 0.6,
         "all_seconds": [0.8]}
    n = {"seconds": 3.4, "runs": [1], "bytes": 9_000_000, "last_message_s": 2.0, "settled_s": 2.1,
         "all_seconds": [3.4]}
    again = {"seconds": 0.5, "runs": [1], "bytes": 250_000, "last_message_s": 0.35, "settled_s": 0.4,
             "all_seconds": [0.5]}
    result = {"gl": "software (SwiftShader)", "pinned": True, "repeat": 3, "measured_at": "2026-11-30T13:00:00+00:00",
              "land": {"first load": m, "filter change": m}, "naive": {"first load": n, "filter change": n},
              "first_loads": {"overview": m}, "revisits": {"overview": again, "land": again},
              "naive_revisit": {**again, "seconds": 1.2}, "floor": {**m, "seconds": 2.9},
              "floor_revisit": {**again, "seconds": 0.9}}
    text = browser.report(result, scale="M")
    assert "| filter change | 0.80 s | 1 | 0.25 MB | 3.40 s | 1 | 9.00 MB |" in text
    assert "| overview | 0.80 s | 0.60 s | 1 | 0.25 MB | 0.50 s | 0.40 s | 1 |" in text
    assert "| land | 0.80 s | 0.60 s | 1 | 0.25 MB | 0.50 s | 0.40 s | 1 |" in text
    assert "| naive page | 3.40 s | 2.10 s | 1 | 9.00 MB | 1.20 s | 0.40 s | 1 |" in text
    assert "| floor: a map, a chart, a table, no data | 2.90 s | 0.60 s | 1 | 0.25 MB | 0.90 s | 0.40 s | 1 |" in text
