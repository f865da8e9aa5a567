"""Layout for a phone (390 px): Streamlit stacks columns one per row below 640 px, which turns a
row of four headline cards into a screen of cards; inside `two_per_row` they stay two by two."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

_CSS = """<style>@media (max-width: 640px) {{
.st-key-{key} [data-testid="stHorizontalBlock"] {{flex-direction: row !important; flex-wrap: wrap !important;
  gap: 0.5rem !important}}
.st-key-{key} [data-testid="stColumn"] {{flex: 1 1 calc(50% - 0.25rem) !important;
  width: calc(50% - 0.25rem) !important; min-width: calc(50% - 0.25rem) !important}}
.st-key-{key} [data-testid="stMetricValue"] {{font-size: 1.6rem !important}}
.st-key-{key} [data-testid="stMetricLabel"] * {{white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important}}
}}</style>"""


@contextmanager
def two_per_row(key: str) -> Iterator[None]:
    """A container whose columns keep two per row on a phone (key: a name unique on the page)."""
    with st.container(key=key):
        st.html(_CSS.format(key=key))
        yield
