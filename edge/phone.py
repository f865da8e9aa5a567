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


# A touch screen has no hover: Streamlit shows a table's toolbar (search, download, full screen) all
# the time, 44 px above the table, over whatever is there (the overview's attention tabs). There the
# table keeps that space for it.
TOUCH_TABLE_CSS = """<style>@media (hover: none) {
[data-testid="stElementContainer"]:has(> [data-testid="stFullScreenFrame"] > [data-testid="stDataFrame"]) {
  margin-top: 2rem}
}</style>"""


def touch_tables() -> None:
    """Every page: a table's toolbar on a touch screen in a space of its own (TOUCH_TABLE_CSS)."""
    st.html(TOUCH_TABLE_CSS)


PHONE_MAP_PX = 358  # a map on a 390 px phone: the screen less Streamlit's padding on either side


def is_phone() -> bool:
    """Whether the browser says it is a phone: a user agent with "Mobi" in it (MDN's advice for
    telling phones from tablets and desktops). The server cannot measure a screen; this lets a map
    open on a view fitted to a phone's column instead of cutting the street's edges off."""
    return "Mobi" in (st.context.headers.get("User-Agent") or "")


def map_width(desktop_px: int) -> int:
    """The width a map's opening view is fitted to: a phone's column, or the desktop's desktop_px."""
    return min(PHONE_MAP_PX, desktop_px) if is_phone() else desktop_px
