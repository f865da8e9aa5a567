"""Fixtures of the page tests: the demo dataset at scale M, for what the pages send a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from dayuan_geo.demo import build as demo


@pytest.fixture(scope="session")
def scale_m(tmp_path_factory) -> Path:
    """The demo dataset at scale M (100,000 parcels, 19,945 parks and projects), built once per test
    session (about 8 s) for the remediation and firms pages' tests."""
    path = tmp_path_factory.mktemp("scale-m") / "data"
    demo.write(path, scale="M")
    return path
