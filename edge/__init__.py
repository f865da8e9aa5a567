"""The Streamlit edge: the one place where dayuan_geo meets Streamlit.

It holds the process-wide Store (st.cache_resource), result caches keyed by dataset version
(st.cache_data), and the session's language and role. Pages import from here and from dayuan_geo;
dayuan_geo never imports Streamlit.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from dayuan_geo import access, dataset, demo, export
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

@st.cache_data(show_spinner=False, max_entries=512)
def _cached_query(version: str, module: str, name: str, kwargs: dict) -> Any:
    del version
    fn = getattr(importlib.import_module(module), name)
    return fn(store().cursor(), **kwargs)


def query(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """fn(cursor, **kwargs) for a query function of dayuan_geo, cached per dataset version.

    Arguments (role included) are part of the cache key, so one role never gets another's rows.
    """
    if not fn.__module__.startswith("dayuan_geo."):
        raise ValueError(f"{fn.__qualname__} is not a dayuan_geo query")
    return _cached_query(store().version, fn.__module__, fn.__qualname__, kwargs)


def export_buttons(df, *, table: str, name: str, filters: dict | None = None,
                   formats: tuple[str, ...] = ("csv", "xlsx", "geojson")) -> None:
    """Download buttons for exactly df, if the role may export table; files are built on click."""
    if not access.may_export(table, role()):
        st.caption(t("export_not_allowed"))
        return
    current = lang()
    has_geometry = "wkb" in df.columns or "geometry" in df.columns
    cols = st.columns(len(formats))
    for col, fmt in zip(cols, formats, strict=True):
        if fmt in ("geojson", "geoparquet") and not has_geometry:
            continue

        def build(fmt: str = fmt) -> bytes:
            return export.export(df, fmt=fmt, table=table, lang=current)

        col.download_button(
            t(f"export_{fmt}"), data=build, file_name=f"{name}.{fmt}", mime=export.MIME[fmt],
            key=f"export-{name}-{fmt}", on_click="ignore", icon=":material/download:",
        )


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
