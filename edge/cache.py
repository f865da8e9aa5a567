"""The dataset for this script run: one version pinned per run, and results cached by version.

Every version of the dataset gets its own Store (a DuckDB database loaded from that version's
files, checked against the manifest's sha256 first), held in a module-level registry keyed by data
dir, so nothing a browser can ask Streamlit to clear (its `clear_cache` message empties
st.cache_resource and st.cache_data) drops the Store or the views built on it. A run pins one Store
the first time it asks for data; every query of the run reads that version even if another is
published meanwhile. A version that does not load (a file changed or missing) is not served: the
previous one stays, and `problem()` says why for the sidebar.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
import streamlit as st

from dayuan_geo.dataset import files as dataset
from dayuan_geo.demo import build as demo
from dayuan_geo.store import Store
from dayuan_geo.text import t as _t

from .session import lang, through_router

_PIN_ATTR = "_dayuan_pinned_store"
VIEWS_PER_VERSION = 32  # the largest view (risky firms at L) holds about 15 MB

_lock = threading.Lock()
_current: dict[str, Store] = {}  # data dir -> the newest version that loaded
_refused: dict[str, tuple[tuple, str]] = {}  # data dir -> (version on disk, why it is not served)
_views: weakref.WeakKeyDictionary[Store, dict] = weakref.WeakKeyDictionary()
_views_lock = threading.Lock()


def _stamp(manifest: dict) -> tuple:
    return manifest.get("dataset_version"), manifest.get("created_at")


def load(directory: Path) -> Store:
    """The newest good version of the dataset in directory (building the demo dataset on first use).

    Raises ValueError only when no version of it has loaded in this process yet.
    """
    key = str(Path(directory).resolve())
    try:
        on_disk = _stamp(dataset.read_manifest(Path(key)))
        unreadable = None
    except ValueError as exc:
        on_disk, unreadable = None, str(exc)
    with _lock:
        current = _current.get(key)
        if current is not None and on_disk == _stamp(current.manifest):
            return current
        if current is not None and unreadable:
            _refused[key] = ((None, None), unreadable)
            return current
        if current is not None and key in _refused and _refused[key][0] == on_disk:
            return current  # this version was refused before: not checked again on every run
        if current is None:
            demo.ensure(Path(key))  # the demo dataset is built on first run when none exists
        try:
            fresh = Store(Path(key))
        except (ValueError, OSError, duckdb.Error) as exc:
            if current is None:
                raise ValueError(str(exc).splitlines()[0]) from exc
            _refused[key] = (on_disk, str(exc).splitlines()[0])
            return current
        _current[key] = fresh
        _refused.pop(key, None)
        return fresh


def problem(directory: Path | None = None) -> str | None:
    """Why the dataset on disk is not the one served (a damaged newer version), or None."""
    entry = _refused.get(str(Path(directory or dataset.data_dir()).resolve()))
    return entry[1] if entry else None


def store() -> Store:
    """This run's Store: pinned at the run's first call, the same object for the rest of the run."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
        ctx = get_script_run_ctx()
    except ImportError:
        ctx = None
    if ctx is not None:
        held = getattr(ctx, _PIN_ATTR, None)
        if held is not None and held[0] is ctx.cursors:  # ctx.cursors is a new dict for every run
            return held[1]
    pinned = load(dataset.data_dir())
    if ctx is not None:
        setattr(ctx, _PIN_ATTR, (ctx.cursors, pinned))
    return pinned


def pin() -> Store:
    """Pin this run's version (app.py, first thing); with no loadable version at all, say so and stop."""
    try:
        return store()
    except ValueError as exc:
        st.error(_t("dataset_unavailable", lang(), problem=str(exc)))
        st.stop()
        raise


def as_of() -> dt.date:
    return dt.date.fromisoformat(store().as_of)


def _call(s: Store, module: str, name: str, kwargs: dict) -> Any:
    fn = getattr(importlib.import_module(module), name)
    return fn(s.cursor(), **kwargs)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_query(version: str, module: str, name: str, kwargs: dict, _store: Store) -> Any:
    del version  # part of the key only: the result belongs to this version of this data dir
    return _call(_store, module, name, kwargs)


def _check(fn: Callable[..., Any]) -> None:
    if not fn.__module__.startswith("dayuan_geo."):
        raise ValueError(f"{fn.__qualname__} is not a dayuan_geo query")


def query(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """fn(cursor, **kwargs) for a query function of dayuan_geo, on this run's version, cached per version.

    Arguments (role included) are part of the cache key, so one role never gets another's rows.
    """
    _check(fn)
    through_router()
    s = store()
    return _cached_query(f"{s.directory}|{s.version}", fn.__module__, fn.__qualname__, kwargs, s)


def _is_figure_dict(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("data"), list) and "layout" in value


def _walk(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """value rebuilt with leaf() applied to every plotly Figure or figure dict in it (also inside a
    dataclass, dict, list or tuple); everything else is the same object."""
    if isinstance(value, go.Figure) or _is_figure_dict(value):
        return leaf(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: _walk(getattr(value, f.name), leaf) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changed)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_walk(v, leaf) for v in value)
    if isinstance(value, list):
        return [_walk(v, leaf) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, leaf) for k, v in value.items()}
    return value


def _plain_figures(value: Any) -> Any:
    """value with every plotly Figure in it as its plain dict (st.plotly_chart takes either)."""
    return _walk(value, lambda fig: fig.to_dict() if isinstance(fig, go.Figure) else fig)


def _per_run(value: Any) -> Any:
    """A copy of the shared value's figure dicts for one run: st.plotly_chart (plotly) pops each trace's
    "type" from the dict it is given and puts it back, so two sessions drawing one dict at once saw
    traces without a type (raised under load). Each run gets new trace dicts; the rest stays shared."""
    return _walk(value, lambda fig: {**fig, "data": [dict(trace) for trace in fig["data"]]})


def shared(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Like `query`, but every rerun and session gets the one object built, never a copy: for built
    views a page only reads (map layers, frames). Held beside the version's Store, out of reach of
    Streamlit's cache clearing, and dropped with it.

    query's st.cache_data unpickles its value on each rerun: 40 ms for 27,000 firm points with
    their tooltips at scale L, and the objects it allocates set off garbage collections. Never change
    what this returns.
    """
    _check(fn)
    through_router()
    s = store()
    key = (fn.__module__, fn.__qualname__, repr(sorted(kwargs.items())))
    with _views_lock:
        views = _views.setdefault(s, {})
        held = views.get(key)
    if held is None:
        value = _plain_figures(_call(s, fn.__module__, fn.__qualname__, kwargs))
        found: list[bool] = []
        _walk(value, lambda fig: found.append(True) or fig)
        has_figures = bool(found)
        with _views_lock:
            if len(views) >= VIEWS_PER_VERSION:
                views.pop(next(iter(views)))
            held = views.setdefault(key, (value, has_figures))
    value, has_figures = held
    return _per_run(value) if has_figures else value
