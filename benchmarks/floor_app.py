"""The floor the browser benchmark measures pages against: the least a Streamlit page of the
product's shape costs a browser, with almost no data.

One map of ten squares, one chart of two bars, one table of two rows: Streamlit fetches and runs
the code of its map, chart and table elements the first time a page uses them (about 11 MB of
scripts, most of the wait in a fresh browser with no GPU), whatever the data. A product page can
only be slower than this by what its own data costs to send and draw. Run it with
`streamlit run benchmarks/floor_app.py`; the browser benchmark opens it as it opens the pages.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
import streamlit as st

st.set_page_config(page_title="floor", layout="wide")
st.title("floor")
squares = [{"polygon": [[113.25 + i * 0.01, 23.2], [113.255 + i * 0.01, 23.2], [113.255 + i * 0.01, 23.205],
                        [113.25 + i * 0.01, 23.205]]} for i in range(10)]
st.pydeck_chart(pdk.Deck(layers=[pdk.Layer("PolygonLayer", squares, get_polygon="polygon",
                                           get_fill_color=[26, 152, 80, 200])],
                         map_provider=None, initial_view_state=pdk.ViewState(longitude=113.3, latitude=23.2, zoom=11)),
                height=400)
left, right = st.columns(2)
left.plotly_chart(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])), key="floor_chart")
right.dataframe(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), key="floor_table")
