"""settings: every DAYUAN_* variable read and validated in one place, errors naming the variable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dayuan_geo import settings
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import versions

ROOT = Path(__file__).resolve().parents[1]


def test_every_variable_the_code_names_is_declared():
    named = set()
    for folder in ("dayuan_geo", "edge", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            named |= set(re.findall(r"DAYUAN_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    named -= {"DAYUAN_IMPORT"}  # read.py builds three names from the prefix DAYUAN_IMPORT_
    assert named <= set(settings.VARIABLES), sorted(named - set(settings.VARIABLES))


@pytest.mark.parametrize(("name", "raw", "words"), [
    ("DAYUAN_KEEP_VERSIONS", "1", "at least 2"),
    ("DAYUAN_KEEP_VERSIONS", "ten", "whole number"),
    ("DAYUAN_STORE_LAZY", "yes", "1 (on) or 0 (off)"),
    ("DAYUAN_MAP_POLYGON_BUDGET", "0", "at least 1"),
    ("DAYUAN_BASEMAP_CRS", "bd09", "wgs84, gcj02"),
    ("DAYUAN_BENCH_AS_OF", "2026-13-01", "YYYY-MM-DD"),
    ("DAYUAN_ALLOWED_HOSTS", "gis.dayuan.gov.cn, evil/path", "host names"),
])
def test_a_malformed_value_is_refused_naming_the_variable(name, raw, words):
    with pytest.raises(ValueError, match=rf"^{name}=") as caught:
        settings.get(name, environ={name: raw})
    assert words in str(caught.value)
    assert any(p.startswith(f"{name}=") for p in settings.check(environ={name: raw}))


def test_values_and_defaults(tmp_path):
    env = {"DAYUAN_DATA_DIR": str(tmp_path / "d"), "DAYUAN_KEEP_VERSIONS": "4", "DAYUAN_STORE_LAZY": "1",
           "DAYUAN_ALLOWED_HOSTS": "gis.dayuan.gov.cn, *.dayuan.gov.cn"}
    assert settings.get("DAYUAN_DATA_DIR", environ=env) == (tmp_path / "d").resolve()
    assert settings.get("DAYUAN_KEEP_VERSIONS", environ=env) == 4
    assert settings.get("DAYUAN_STORE_LAZY", environ=env) is True
    assert settings.get("DAYUAN_ALLOWED_HOSTS", environ=env) == ("gis.dayuan.gov.cn", "*.dayuan.gov.cn")
    assert settings.get("DAYUAN_KEEP_VERSIONS", environ={}) == 10 and settings.check(environ=env) == []
    assert settings.check(environ={"DAYUAN_DATADIR": "x"}) == [
        "DAYUAN_DATADIR is set but no part of the product reads it (a typo?)"]


def test_modules_ask_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(tmp_path))
    assert dataset.data_dir() == tmp_path.resolve()
    monkeypatch.setenv("DAYUAN_KEEP_VERSIONS", "one")  # was silently replaced by the default
    with pytest.raises(ValueError, match="DAYUAN_KEEP_VERSIONS='one'"):
        versions.keep_count()


def test_settings_command_lists_and_refuses(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DAYUAN_KEEP_VERSIONS": "5"}
    done = subprocess.run([sys.executable, "-m", "dayuan_geo", "settings"], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.search(r"DAYUAN_KEEP_VERSIONS\s+5\s", done.stdout)
    env["DAYUAN_STORE_LAZY"] = "maybe"
    done = subprocess.run([sys.executable, "-m", "dayuan_geo", "settings"], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)
    assert done.returncode == 2 and "DAYUAN_STORE_LAZY='maybe' is not valid" in done.stderr
