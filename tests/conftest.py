"""Shared fixtures: one demo dataset per test session, built into a temporary data dir."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from dayuan_geo.demo import build as demo
from dayuan_geo.store import Store

AS_OF = demo.DEFAULT_AS_OF


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The default demo dataset (scale S, default seed); tests must not modify it."""
    path = tmp_path_factory.mktemp("demo") / "data"
    demo.write(path)
    return path


@pytest.fixture()
def data_copy(demo_dir, tmp_path) -> Path:
    """A private copy of the demo dataset that a test may change."""
    dst = tmp_path / "data"
    shutil.copytree(demo_dir, dst)
    return dst


@pytest.fixture(scope="session")
def store(demo_dir) -> Store:
    return Store(demo_dir)


@pytest.fixture(scope="module")
def cur(store):
    """A cursor on the demo dataset's Store, one per test module."""
    return store.cursor()


@pytest.fixture()
def router_runs_every_time(monkeypatch):
    """AppTest starts every run in Streamlit's pages-folder mode, where a rerun runs the page file
    without app.py (a server does so only for its first request); run as a server does after that."""
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def v2_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", v2_init)
    yield
    PagesManager.uses_pages_directory = None


@pytest.fixture()
def app_env(demo_dir, monkeypatch):
    """Point the app at the demo dataset for AppTest runs."""
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(demo_dir))
    yield demo_dir


def as_of() -> dt.date:
    return AS_OF


os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
