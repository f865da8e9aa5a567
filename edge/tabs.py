"""Tabs of which only the open one is built, and the widgets drawn in closed tabs kept.

A browser without a GPU draws every table, chart and map it is sent, even in a tab nobody opened:
st.tabs(on_change=...) tells the script which tab is open, so a page builds that one alone and a
switch costs one script run. Streamlit forgets the value of a widget on a run that does not draw
it, unless the script set that value: `keep` sets it again at the start of each run.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def keep(*keys: str) -> None:
    """Keep the values of widgets that only an open tab draws: Streamlit forgets a widget's value on a
    run that does not draw it, unless the value was set by the script."""
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def open_tabs(labels: dict[str, str], *, key: str, state: str) -> dict[str, DeltaGenerator | None]:
    """st.tabs of labels (code -> label), the open one kept as a code in session_state[state] (what
    the URL keeps: a label changes with the language or a count in it). Returns code -> the tab's
    container for the open tab, None for the others, so a page writes `if tab["list"]:`."""
    ss, shown = st.session_state, f"_{key}_shown"
    codes = {label: code for code, label in labels.items()}
    if ss.get(key) in codes and ss.get(key) != ss.get(shown):  # a tab picked since the last run
        ss[state] = codes[ss[key]]
    code = ss.get(state) if ss.get(state) in labels else next(iter(labels))
    ss[state] = code
    ss[key] = ss[shown] = labels[code]  # set before the widget: new labels (a count, the language) keep the tab
    containers = st.tabs(list(labels.values()), key=key, on_change="rerun")
    return {c: tab if tab.open else None for c, tab in zip(labels, containers, strict=True)}
