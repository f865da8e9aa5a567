"""The naive land page the browser benchmark measures the product against: one file, geopandas.

What a planner writes first: read the GeoParquet files on every run, filter with pandas, send
every selected parcel to pydeck as GeoJSON, a month slider and two tabs. Run it with
`streamlit run benchmarks/naive_app.py` and $DAYUAN_DATA_DIR set; the browser benchmark
(benchmarks/browser.py) applies the same interactions to it as to the product's land page.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pydeck as pdk
import streamlit as st

directory = Path(os.environ["DAYUAN_DATA_DIR"])
parcels = gpd.read_parquet(directory / "parcels.parquet")
villages = pd.read_parquet(directory / "villages.parquet", columns=["code", "name_zh"])
parks = gpd.read_parquet(directory / "parks.parquet")[["park_id", "name"]].rename(columns={"name": "park_name"})

st.set_page_config(page_title="naive land page", layout="wide")
chosen = st.sidebar.multiselect("村", villages["code"].tolist(),
                                format_func=dict(zip(villages["code"], villages["name_zh"], strict=True)).get)
released = pd.to_datetime(parcels["released_on"])
months = sorted({d.strftime("%Y-%m") for d in released.dropna()}) or ["2020-01"]
month = st.select_slider("月份", options=months, value=months[-1])
sel = parcels[parcels["village_code"].isin(chosen)] if chosen else parcels
sel = sel.merge(parks, on="park_id", how="left")
st.metric("地块", f"{len(sel):,}")
shown_released = pd.to_datetime(sel["released_on"]) <= pd.Timestamp(month + "-28")
sel["fill"] = [[26, 152, 80, 215] if r else [189, 189, 189, 170] for r in shown_released]
sel["released_on"] = sel["released_on"].astype(str)
keep = ["parcel_id", "name", "park_name", "area_m2", "release_status", "released_on", "fill", "geometry"]
x0, y0, x1, y1 = sel.total_bounds if len(sel) else parcels.total_bounds
deck = pdk.Deck(
    layers=[pdk.Layer("GeoJsonLayer", data=sel[keep], id="parcels", get_fill_color="properties.fill",
                      pickable=True, stroked=True)],
    map_provider=None,
    initial_view_state=pdk.ViewState(longitude=(x0 + x1) / 2, latitude=(y0 + y1) / 2, zoom=12),
    tooltip={"text": "{parcel_id} {name}"},
)
event = st.pydeck_chart(deck, height=600, on_select="rerun", selection_mode="single-object", key="map")
picked = (event.selection.get("objects") or {}).get("parcels") or []
attributes, charts = st.tabs(["地块", "图表"])
with attributes:
    st.write(pd.DataFrame(picked[:1]).drop(columns=["geometry"], errors="ignore") if picked else "点击地图上的地块")
with charts:
    by_month = released[released.notna()].dt.strftime("%Y-%m").value_counts().sort_index()
    st.bar_chart(by_month)
