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


PHONE_MAP_PX = 358  # a map on a 390 px phone: the screen less Streamlit's padding on either side


def is_phone() -> bool:
    """Whether the browser says it is a phone: a user agent with "Mobi" in it (MDN's advice for
    telling phones from tablets and desktops). The server cannot measure a screen; this lets a map
    open on a view fitted to a phone's column instead of cutting the street's edges off."""
    return "Mobi" in (st.context.headers.get("User-Agent") or "")


def map_width(desktop_px: int) -> int:
    """The width a map's opening view is fitted to: a phone's column, or the desktop's desktop_px."""
    return min(PHONE_MAP_PX, desktop_px) if is_phone() else desktop_px
