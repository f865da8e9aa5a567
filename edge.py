"""The Streamlit edge: the one place where dayuan_geo meets Streamlit.

It holds the process-wide Store (st.cache_resource), result caches keyed by dataset version
(st.cache_data), and the session's language and role. Pages import from here and from dayuan_geo;
dayuan_geo never imports Streamlit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import streamlit as st

from dayuan_geo import dataset, demo, queries
from dayuan_geo.i18n import DEFAULT_LANG, LANGS
from dayuan_geo.i18n import t as _t
from dayuan_geo.store import Store

LANG_KEY = "lang"
LANG_NAMES = {"zh": "中文", "en": "English"}


@st.cache_resource(show_spinner=False)
def _store(directory: str) -> Store:
    demo.ensure(Path(directory))  # the demo dataset is built on first run when none exists
    return Store(Path(directory))


def store() -> Store:
    """The dataset's store; picks up a newly published version on the next script run."""
    s = _store(str(dataset.data_dir()))
    s.refresh()
    return s


def lang() -> str:
    """The UI language: the sidebar switch, first set from ?lang= so a shared link keeps it."""
    if LANG_KEY not in st.session_state:
        asked = st.query_params.get(LANG_KEY, DEFAULT_LANG)
        st.session_state[LANG_KEY] = asked if asked in LANGS else DEFAULT_LANG
    value = st.session_state[LANG_KEY]
    return value if value in LANGS else DEFAULT_LANG


def t(key: str, **values: object) -> str:
    return _t(key, lang(), **values)


def role() -> str:
    """The signed-in user's role. With no accounts configured this is local mode (planner)."""
    return st.session_state.get("role", "planner")


def as_of() -> dt.date:
    return dt.date.fromisoformat(store().as_of)


# ---- cached results: the dataset version is part of every key ----------------------------------

@st.cache_data(show_spinner=False, max_entries=64)
def _kpis(version: str, day: dt.date, stalled_days: int) -> dict:
    del version
    return queries.kpis(store().cursor(), as_of=day, stalled_days=stalled_days)


def kpis(stalled_days: int = queries.DEFAULT_STALLED_DAYS) -> dict:
    return _kpis(store().version, as_of(), stalled_days)


@st.cache_data(show_spinner=False, max_entries=64)
def _released_by_month(version: str, day: dt.date) -> pd.DataFrame:
    del version
    return queries.released_by_month(store().cursor(), as_of=day)


def released_by_month() -> pd.DataFrame:
    return _released_by_month(store().version, as_of())


@st.cache_data(show_spinner=False, max_entries=64)
def _stage_funnel(version: str, day: dt.date) -> pd.DataFrame:
    del version
    return queries.stage_funnel(store().cursor(), as_of=day)


def stage_funnel() -> pd.DataFrame:
    return _stage_funnel(store().version, as_of())


@st.cache_data(show_spinner=False, max_entries=16)
def _parcels_for_map(version: str, day: dt.date) -> pd.DataFrame:
    del version
    return queries.parcels_for_map(store().cursor(), as_of=day)


def parcels_for_map() -> pd.DataFrame:
    return _parcels_for_map(store().version, as_of())


@st.cache_data(show_spinner=False, max_entries=16)
def _outlines(version: str, table_name: str) -> pd.DataFrame:
    del version
    return queries.outlines(store().cursor(), table_name=table_name)


def outlines(table_name: str) -> pd.DataFrame:
    return _outlines(store().version, table_name)


@st.cache_data(show_spinner=False, max_entries=32)
def _firm_points(version: str, role_code: str, levels: tuple[str, ...]) -> pd.DataFrame:
    del version
    return queries.firm_points(store().cursor(), role=role_code, risk_levels=levels)


def firm_points(levels: tuple[str, ...] = ("blacklisted",)) -> pd.DataFrame:
    return _firm_points(store().version, role(), levels)


@st.cache_data(show_spinner=False)
def _view_center(version: str) -> tuple[float, float]:
    del version
    return queries.view_center(store().cursor())


def view_center() -> tuple[float, float]:
    return _view_center(store().version)


def sidebar() -> None:
    """Language switch, data stamp and mode; shared by every page (called from app.py)."""
    with st.sidebar:
        current = lang()
        st.radio(_t("language", current), list(LANGS), format_func=LANG_NAMES.get, horizontal=True,
                 key=LANG_KEY)
        st.query_params[LANG_KEY] = current
        manifest = store().manifest
        if manifest.get("source") == "demo":
            st.warning(t("demo_badge"))
        else:
            st.info(t("imported_badge"))
        st.caption(f"{t('data_as_of')}: **{manifest.get('as_of')}** · "
                   f"{t('dataset_version')} v{manifest.get('dataset_version')}")
        st.caption(t("local_mode"))
