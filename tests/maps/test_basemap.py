"""Base maps: config and style building, the GCJ-02 display shift, and the app under each setting."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from dayuan_geo import chinacrs
from dayuan_geo.maps import basemap as B
from dayuan_geo.maps import layers as maps
from dayuan_geo.overview import queries

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TEMPLATE = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
# AMap's coordinate-convert service: WGS 84 -> GCJ-02 (see test_chinacrs.py)
AMAP_PAIR = ((116.481499, 39.990475), (116.487585177952, 39.991754014757))


def decode(url: str) -> dict:
    head, _, body = url.partition(",")
    assert head == "data:application/json;charset=utf-8"
    return json.loads(urllib.parse.unquote(body))


def deck_spec(d: pdk.Deck) -> dict:
    return json.loads(d.to_json())


# ---- config ------------------------------------------------------------------------------------

def test_shipped_config_offers_none_public_and_amap_with_none_by_default():
    s = B.load(environ={})
    assert list(s.sources) == ["none", "public", "amap"]
    assert s.default == "none"
    assert s.sources["amap"].crs == "gcj02"
    assert s.sources["public"].crs == "wgs84"
    assert s.unavailable == {"tianditu": "environment variable not set: TIANDITU_KEY"}
    assert s.problems == ()


def test_keys_come_from_the_environment():
    s = B.load(environ={"TIANDITU_KEY": "k123"})
    tdt = s.sources["tianditu"]
    assert len(tdt.layers) == 2 and all(len(urls) == 8 for urls in tdt.layers)  # roads + labels, t0..t7
    assert tdt.layers[0][3].startswith("https://t3.tianditu.gov.cn/vec_w/wmts?")
    assert tdt.layers[1][0].endswith("&tk=k123") and "cva_w" in tdt.layers[1][0]
    assert "${" not in json.dumps(B.style(tdt))


def test_env_names_a_source_or_gives_a_template():
    assert B.load(environ={"DAYUAN_BASEMAP": "public"}).default == "public"
    assert B.load(environ={"DAYUAN_BASEMAP": "none"}).default == "none"
    s = B.load(environ={"DAYUAN_BASEMAP": TEMPLATE, "DAYUAN_BASEMAP_CRS": "gcj02",
                        "DAYUAN_BASEMAP_ATTRIBUTION": "内网底图"})
    assert s.default == "custom"
    custom = s.get(None)
    assert custom.layers == ((TEMPLATE,),) and custom.crs == "gcj02" and custom.attribution == "内网底图"
    # a keyed source asked for without its key: the offline map, and the reason
    s = B.load(environ={"DAYUAN_BASEMAP": "tianditu"})
    assert s.default == "none" and "TIANDITU_KEY" in s.problems[0]


@pytest.mark.parametrize(("env", "message"), [
    ({"DAYUAN_BASEMAP": "osm"}, "DAYUAN_BASEMAP"),
    ({"DAYUAN_BASEMAP": "http://x/{z}/{x}.png"}, "lacks {y}"),
    ({"DAYUAN_BASEMAP": TEMPLATE, "DAYUAN_BASEMAP_CRS": "bd09"}, "DAYUAN_BASEMAP_CRS.*wgs84, gcj02"),
    ({"DAYUAN_BASEMAP": "javascript://{z}{x}{y}"}, "http://, https:// or /"),
])
def test_bad_environment_is_refused_with_the_reason(env, message):
    with pytest.raises(ValueError, match=message):
        B.load(environ=env)


@pytest.mark.parametrize(("text", "message"), [
    ('[basemap]\ndefault = "google"', "basemap.default"),
    ('[basemap]\ncolour = "x"', "unknown key 'colour'"),
    ('[basemap.sources.a]\nurl = "https://x/{z}/{x}/{y}.png"\ncrs = "wgs-84"', r"basemap.sources.a.crs"),
    ('[basemap.sources.a]\nurl = "https://{s}.x/{z}/{x}/{y}.png"', r"basemap.sources.a.subdomains"),
    ('[basemap.sources.a]\nurl = "https://x/{z}/{x}/{y}.png"\nmaxzoom = 3', "unknown key 'maxzoom'"),
    ('[basemap.sources.a]\nlabel_zh = "甲"', r"basemap.sources.a.url"),
    ('[basemap]\noffer = ["b"]', "basemap.offer"),
    ("[basemap\n", "not valid TOML"),
])
def test_bad_config_names_the_offending_key(tmp_path, text, message):
    path = tmp_path / "dayuan.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        B.load(path, environ={})


def test_config_file_from_environment(tmp_path):
    path = tmp_path / "street.toml"
    path.write_text('[basemap]\ndefault = "intranet"\n[basemap.sources.intranet]\n'
                    'url = "/tiles/{z}/{x}/{y}.png"\nlabel_zh = "内网"\nattribution = "大源街道"\n', encoding="utf-8")
    s = B.load(environ={"DAYUAN_CONFIG": str(path)})
    assert list(s.sources) == ["none", "intranet", "public"] and s.default == "intranet"
    assert s.get("intranet").label("en") == "内网"
    with pytest.raises(ValueError, match="does not exist"):
        B.load(environ={"DAYUAN_CONFIG": str(tmp_path / "missing.toml")})


# ---- style -------------------------------------------------------------------------------------

def test_none_has_no_style_and_the_deck_no_base_map():
    assert B.style(B.NONE_MAP) is None and B.style_url(B.NONE_MAP) is None
    spec = deck_spec(maps.deck([], center=(113.3, 23.25), basemap=B.NONE_MAP))
    assert spec.get("mapStyle") in (None, "__MAP_STYLE__") and "mapProvider" not in spec
    assert "http" not in json.dumps(spec)


def test_raster_style_from_a_template():
    bm = B.from_env_template(TEMPLATE, environ={"DAYUAN_BASEMAP_ATTRIBUTION": "Tiles <i>&</i> data"})
    style = B.style(bm)
    assert style["version"] == 8
    assert style["sources"] == {"custom-0": {"type": "raster", "tiles": [TEMPLATE], "tileSize": 256,
                                             "minzoom": 0, "maxzoom": 18,
                                             "attribution": "Tiles &lt;i&gt;&amp;&lt;/i&gt; data"}}
    assert style["layers"] == [{"id": "custom-0", "type": "raster", "source": "custom-0"}]
    assert decode(B.style_url(bm)) == style
    spec = deck_spec(maps.deck([], center=(113.3, 23.25), basemap=bm))
    assert decode(spec["mapStyle"]) == style


def test_public_style_is_keyless_osm_raster():
    style = B.style(B.load(environ={}).get("public"))
    (source,) = style["sources"].values()
    assert [u.split("/")[2] for u in source["tiles"]] == [f"{c}.basemaps.cartocdn.com" for c in "abcd"]
    assert "OpenStreetMap" in source["attribution"] and "key" not in json.dumps(style).lower()


def test_active_basemap_is_what_deck_uses_by_default(monkeypatch):
    monkeypatch.delenv("DAYUAN_CONFIG", raising=False)
    monkeypatch.setenv("DAYUAN_BASEMAP", "none")
    bm = B.load(environ={}).get("public")
    try:
        B.activate(bm)
        assert "cartocdn" in deck_spec(maps.deck([], center=(113.3, 23.25)))["mapStyle"]
        B.activate(B.NONE_MAP)
        assert "cartocdn" not in json.dumps(deck_spec(maps.deck([], center=(113.3, 23.25))))
        # nothing activated in this thread: the deployment's default
        B.activate(None)
        assert B.active() is not None and B.active().name == "none"
        monkeypatch.setenv("DAYUAN_BASEMAP", "public")
        assert "cartocdn" in deck_spec(maps.deck([], center=(113.3, 23.25)))["mapStyle"]
        monkeypatch.setenv("DAYUAN_BASEMAP", "wrong")
        assert B.active() == B.NONE_MAP
    finally:
        B.activate(None)


# ---- GCJ-02 display shift ----------------------------------------------------------------------

AMAP = B.load(environ={}).get("amap")


def test_shift_every_kind_of_position_to_published_gcj02():
    (wlon, wlat), (glon, glat) = AMAP_PAIR
    ring = [[wlon, wlat], [wlon + 0.001, wlat], [wlon, wlat + 0.001], [wlon, wlat]]
    points = pdk.Layer("ScatterplotLayer", pd.DataFrame({"firm_id": ["F1"], "position": [[wlon, wlat]]}),
                       id="pts", get_position="position", pickable=True)
    polys = pdk.Layer("PolygonLayer", pd.DataFrame({"parcel_id": ["P1"], "polygon": [ring]}),
                      id="polys", get_polygon="polygon")
    holes = pdk.Layer("PolygonLayer", [{"id": "H", "polygon": [ring, [*ring[:3], ring[0], ring[1]]]}],
                      id="holes", get_polygon="polygon")
    paths = pdk.Layer("PathLayer", pd.DataFrame({"path": [ring]}), id="paths", get_path="path")
    lonlat = pdk.Layer("ScatterplotLayer", pd.DataFrame({"id": [7], "lon": [wlon], "lat": [wlat]}),
                       id="lonlat", get_position=["lon", "lat"])
    geojson = pdk.Layer("GeoJsonLayer", {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "G"}, "geometry": {"type": "Point", "coordinates": [wlon, wlat]}}]},
        id="gj")
    out = B.display_layers([points, polys, holes, paths, lonlat, geojson], AMAP)
    assert out[0].data == [{"firm_id": "F1", "position": pytest.approx([glon, glat], abs=1e-6)}]
    assert out[1].data[0]["parcel_id"] == "P1"
    assert out[1].data[0]["polygon"][0] == pytest.approx([glon, glat], abs=1e-6)
    assert len(out[1].data[0]["polygon"]) == 4
    assert out[2].data[0]["polygon"][1][4] == pytest.approx([float(v) for v in B.to_display(*ring[1], AMAP)],
                                                            abs=1e-6)
    assert out[3].data[0]["path"][0] == pytest.approx([glon, glat], abs=1e-6)
    assert out[4].data[0] == {"id": 7, "lon": pytest.approx(glon, abs=1e-6), "lat": pytest.approx(glat, abs=1e-6)}
    feature = out[5].data["features"][0]
    assert feature["geometry"]["coordinates"] == pytest.approx([glon, glat], abs=1e-6)
    assert feature["properties"] == {"id": "G"}
    # the layers given are left as they were (WGS 84), and a WGS 84 base map shifts nothing
    assert points.data[0]["position"] == [wlon, wlat]
    public = B.load(environ={}).get("public")
    assert B.display_layers([points], public)[0] is points


def test_deck_on_gcj02_shifts_the_demo_layers_and_keeps_ids(store, demo_dir):
    cur = store.cursor()
    parcels = queries.parcels_for_map(cur, as_of=store.as_of)
    villages = queries.outlines(cur, table_name="villages")
    layers = [maps.parcels_layer(parcels), maps.outline_layer(villages, layer_id="v"),
              maps.label_layer(villages, layer_id="labels")]
    center = queries.view_center(cur)
    spec = deck_spec(maps.deck(layers, center=center, basemap=AMAP))
    by_id = {layer["id"]: layer for layer in spec["layers"]}
    # parcels: every vertex of the file's WGS 84 outline, moved by the GCJ-02 formula
    on_disk = gpd.read_parquet(demo_dir / "parcels.parquet").set_index("parcel_id")
    shown = {row["parcel_id"]: row for row in by_id["parcels"]["data"]}
    assert set(shown) == set(on_disk.index.astype(str))
    for pid in sorted(shown)[:: max(1, len(shown) // 25)]:
        geom = on_disk.loc[pid, "geometry"]
        if geom.geom_type == "MultiPolygon":
            geom = max(geom.geoms, key=lambda g: g.area)
        xy = shapely.get_coordinates(geom.exterior)
        glon, glat = chinacrs.wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        assert np.allclose(np.array(shown[pid]["polygon"]), np.c_[glon, glat], atol=2e-6)
        assert shown[pid]["tooltip"].count(pid) >= 1  # the record the click returns is the true one
    labels = by_id["labels"]["data"]
    glon, glat = chinacrs.wgs84_to_gcj02(villages["lon"].to_numpy(), villages["lat"].to_numpy())
    assert np.allclose([p["position"] for p in labels], np.c_[glon, glat], atol=2e-6)
    vs = spec["initialViewState"]
    assert (vs["longitude"], vs["latitude"]) == pytest.approx(tuple(float(v) for v in B.to_display(*center, AMAP)),
                                                                abs=1e-9)


# ---- the app under each setting ----------------------------------------------------------------

def run_app(monkeypatch, env: str | None = None, query: dict | None = None, page: str | None = None,
            **extra: str) -> AppTest:
    monkeypatch.delenv("DAYUAN_BASEMAP", raising=False)
    monkeypatch.delenv("DAYUAN_CONFIG", raising=False)
    if env is not None:
        monkeypatch.setenv("DAYUAN_BASEMAP", env)
    for k, v in extra.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if page:
        # opened as a link to the page would (switching after a first run, AppTest reruns the page alone)
        at.switch_page(page)
    return at.run()


def app_deck(at: AppTest) -> dict:
    assert not at.exception, at.exception
    decks = at.get("deck_gl_json_chart")
    assert decks
    return json.loads(decks[0].proto.json)


def test_app_with_none(app_env, monkeypatch):
    at = run_app(monkeypatch, "none")
    spec = app_deck(at)
    assert spec.get("mapStyle") in (None, "__MAP_STYLE__")
    assert "http" not in json.dumps(spec["layers"]) and "http" not in str(spec.get("mapStyle"))
    box = at.selectbox(key="basemap")
    assert box.value == "none" and box.options == ["无底图（离线）", "公共底图（OpenStreetMap）", "高德地图"]


def test_app_with_public(app_env, monkeypatch):
    at = run_app(monkeypatch, "public")
    style = decode(app_deck(at)["mapStyle"])
    assert "cartocdn" in json.dumps(style) and "OpenStreetMap" in json.dumps(style)
    assert at.selectbox(key="basemap").value == "public"


def _sidebar_and_a_map():
    import streamlit as st

    import edge
    from dayuan_geo.maps import layers as maps

    edge.sidebar()
    st.pydeck_chart(maps.deck([], center=(113.3, 23.25)), key="m")


def test_sidebar_choice_switches_the_maps(app_env, monkeypatch):
    # (a script of its own: AppTest reruns a page of app.py without app.py, hence without the sidebar)
    monkeypatch.delenv("DAYUAN_CONFIG", raising=False)
    monkeypatch.setenv("DAYUAN_BASEMAP", "public")
    at = AppTest.from_function(_sidebar_and_a_map, default_timeout=60).run()
    assert "cartocdn" in app_deck(at)["mapStyle"]
    at.selectbox(key="basemap").set_value("none").run()
    assert app_deck(at).get("mapStyle") in (None, "__MAP_STYLE__")
    assert at.query_params["basemap"] == "none"  # the link keeps the choice
    at.selectbox(key="basemap").set_value("amap").run()
    assert "autonavi.com" in json.dumps(decode(app_deck(at)["mapStyle"]))
    assert "GCJ-02" in " ".join(c.value for c in at.sidebar.caption)


def test_app_with_gcj02_template_shifts_layers(app_env, monkeypatch, store):
    at = run_app(monkeypatch, TEMPLATE, DAYUAN_BASEMAP_CRS="gcj02", DAYUAN_BASEMAP_ATTRIBUTION="内网底图")
    spec = app_deck(at)
    style = decode(spec["mapStyle"])
    assert style["sources"]["custom-0"]["tiles"] == [TEMPLATE]
    assert style["sources"]["custom-0"]["attribution"] == "内网底图"
    labels = next(layer for layer in spec["layers"] if layer["@@type"] == "TextLayer")
    # the same names on a WGS 84 map (placed inside their villages, clear of the firms), shifted here
    plain = next(layer for layer in app_deck(run_app(monkeypatch, "none"))["layers"]
                 if layer["@@type"] == "TextLayer")
    wgs = {row["text"]: row["position"] for row in plain["data"]}
    assert set(wgs) == set(queries.outlines(store.cursor(), table_name="villages")["label_zh"])
    glon, glat = chinacrs.wgs84_to_gcj02(np.array([wgs[r["text"]][0] for r in labels["data"]]),
                                         np.array([wgs[r["text"]][1] for r in labels["data"]]))
    assert np.allclose([p["position"] for p in labels["data"]], np.c_[glon, glat], atol=2e-6)
    assert "GCJ-02" in " ".join(c.value for c in at.sidebar.caption)


def test_sidebar_choice_from_link_only_among_offered(app_env, monkeypatch):
    at = run_app(monkeypatch, query={"basemap": "amap"})
    assert "autonavi.com" in json.dumps(decode(app_deck(at)["mapStyle"]))
    at = run_app(monkeypatch, query={"basemap": "http://evil.example/{z}/{x}/{y}.png"})
    assert app_deck(at).get("mapStyle") in (None, "__MAP_STYLE__")
    assert at.selectbox(key="basemap").value == "none"


def test_app_with_a_wrong_setting_shows_why_and_runs_offline(app_env, monkeypatch):
    at = run_app(monkeypatch, "osm")
    assert app_deck(at).get("mapStyle") in (None, "__MAP_STYLE__")
    assert any("DAYUAN_BASEMAP" in e.value for e in at.sidebar.error)


# ---- local tile packages -----------------------------------------------------------------------

def make_mbtiles(path: Path, tiles: dict[tuple[int, int, int], tuple[int, int, int]], *,
                 fmt: str = "png", attribution: str = "© 测试底图") -> Path:
    """A raster MBTiles package: XYZ (z, x, y) -> solid colour; rows stored TMS-style as the spec says."""
    import io
    import sqlite3

    from PIL import Image

    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    con.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    con.executemany("INSERT INTO metadata VALUES (?, ?)",
                    [("name", "街道底图"), ("format", fmt), ("attribution", attribution)])
    for (z, x, y), rgb in tiles.items():
        buf = io.BytesIO()
        Image.new("RGB", (256, 256), rgb).save(buf, "PNG")
        con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, buf.getvalue()))
    con.commit()
    con.close()
    return path


def test_unpack_mbtiles_flips_rows_and_gives_a_source(tmp_path):
    from PIL import Image

    from dayuan_geo.maps import tilepack

    pkg = make_mbtiles(tmp_path / "street.mbtiles", {(12, 3337, 1775): (255, 0, 0), (13, 6675, 3551): (0, 0, 255)})
    info = tilepack.unpack_mbtiles(pkg, name="street", static_dir=tmp_path / "static")
    assert info["tiles"] == 2 and (info["min_zoom"], info["max_zoom"]) == (12, 13)
    tile = tmp_path / "static" / "tiles" / "street" / "13" / "6675" / "3551.png"
    assert Image.open(tile).getpixel((5, 5)) == (0, 0, 255)
    assert info["url"] == "/app/static/tiles/street/{z}/{x}/{y}.png"
    # the printed snippet is a valid source of the config file
    import tomllib

    snippet = tilepack.config_snippet(info, crs="wgs84")
    s = B.settings_from_mapping({"basemap": {"default": "street", **tomllib.loads(snippet)["basemap"]}}, environ={})
    bm = s.get(None)
    assert bm.name == "street" and bm.layers == (("/app/static/tiles/street/{z}/{x}/{y}.png",),)
    assert bm.attribution == "© 测试底图" and bm.label("zh") == "街道底图" and bm.max_zoom == 13
    # unpacking again replaces the old tiles whole
    pkg2 = make_mbtiles(tmp_path / "v2.mbtiles", {(12, 3337, 1776): (0, 255, 0)})
    tilepack.unpack_mbtiles(pkg2, name="street", static_dir=tmp_path / "static")
    assert not tile.exists() and (tmp_path / "static/tiles/street/12/3337/1776.png").exists()


def test_unpack_refuses_vector_or_broken_packages(tmp_path):
    from dayuan_geo.maps import tilepack

    with pytest.raises(ValueError, match="raster package"):
        tilepack.unpack_mbtiles(make_mbtiles(tmp_path / "v.mbtiles", {(1, 0, 0): (0, 0, 0)}, fmt="pbf"),
                                name="v", static_dir=tmp_path)
    (tmp_path / "junk.mbtiles").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ValueError, match="not an MBTiles package"):
        tilepack.unpack_mbtiles(tmp_path / "junk.mbtiles", name="j", static_dir=tmp_path)
    with pytest.raises(ValueError, match="--name"):
        tilepack.unpack_mbtiles(tmp_path / "v.mbtiles", name="../x", static_dir=tmp_path)


def test_cli_lists_and_unpacks(tmp_path, capsys, monkeypatch):
    from dayuan_geo.cli import main as cli

    monkeypatch.delenv("DAYUAN_BASEMAP", raising=False)
    monkeypatch.delenv("DAYUAN_CONFIG", raising=False)
    assert cli.main(["basemap", "list", "--lang", "en"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("* none") and any(line.split()[0] == "amap" and "gcj02" in line for line in out)
    pkg = make_mbtiles(tmp_path / "p.mbtiles", {(12, 3337, 1775): (1, 2, 3)})
    assert cli.main(["basemap", "unpack", str(pkg), "--name", "street", "--crs", "gcj02",
                     "--static-dir", str(tmp_path / "static")]) == 0
    out = capsys.readouterr().out
    assert "[basemap.sources.street]" in out and 'crs = "gcj02"' in out
    monkeypatch.setenv("DAYUAN_BASEMAP", "nonsense")
    assert cli.main(["basemap", "list"]) == 2
    assert "DAYUAN_BASEMAP" in capsys.readouterr().err


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/land.py", "pages/remediation.py", "pages/firms.py"])
def test_every_map_page_runs_on_a_gcj02_base_map(app_env, monkeypatch, page):
    if not (Path(APP).parent / page).exists():
        pytest.skip(f"{page} is not in this build")
    at = run_app(monkeypatch, "amap", page=page)
    assert not at.exception, at.exception
    decks = [json.loads(d.proto.json) for d in at.get("deck_gl_json_chart")]
    assert decks, f"{page} draws no map"
    for spec in decks:
        assert "autonavi.com" in json.dumps(decode(spec["mapStyle"]))
        # the view opens on the street as AMap draws it (GCJ-02 moves Dayuan about 0.0054 deg east)
        assert 113.2 < spec["initialViewState"]["longitude"] < 113.5
