"""The UI text tables: one file per feature under dayuan_geo/labels, each key once, in zh and en."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from dayuan_geo import text

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "dayuan_geo" / "labels"


def test_labels_load_from_the_feature_files():
    labels = text.load_labels()
    assert text.t("kpi_released") == "已释放土地" and text.t("kpi_released", "en") == "Land released"
    counted = 0
    for path in LABELS.glob("*.toml"):
        counted += len(tomllib.loads(path.read_text(encoding="utf-8")))
    assert counted == len(labels)  # no key lost or added on the way
    for name, prefixes in {"ingest.toml": ("imp_",), "overview.toml": ("kpi_", "overview_"),
                           "land.toml": ("land_",), "safety.toml": ("fs_",), "remediation.toml": ("rem_",)}.items():
        keys = tomllib.loads((LABELS / name).read_text(encoding="utf-8"))
        assert keys and all(k.startswith(prefixes) or name == "overview.toml" for k in keys)
        assert not [k for k in labels if k.startswith(prefixes) and k not in keys], name


def test_a_key_in_two_files_is_refused(tmp_path):
    (tmp_path / "a.toml").write_text('[hello]\nzh = "你好"\nen = "Hello"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('[hello]\nzh = "您好"\nen = "Hi"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"'hello' is defined in both a.toml and b.toml"):
        text.load_labels(tmp_path)


def test_a_key_twice_in_one_file_or_half_translated_is_refused(tmp_path):
    (tmp_path / "a.toml").write_text('[x]\nzh = "一"\nen = "one"\n[x]\nzh = "二"\nen = "two"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"a\.toml"):
        text.load_labels(tmp_path)
    (tmp_path / "a.toml").write_text('[x]\nzh = "一"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="'x' must have exactly a zh and an en string"):
        text.load_labels(tmp_path)


def test_every_key_the_code_asks_for_exists_with_the_same_placeholders():
    labels = text.load_labels()
    asked = set()
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("edge/*.py"), *ROOT.glob("dayuan_geo/**/*.py"), ROOT / "app.py"]:
        asked |= set(re.findall(r"\bt\(\s*\"([a-z0-9_]+)\"", path.read_text(encoding="utf-8")))
    assert not sorted(asked - set(labels))
    for key, (zh, en) in labels.items():
        assert set(re.findall(r"{(\w+)", zh)) == set(re.findall(r"{(\w+)", en)), key


def test_dates_of_a_column_are_one_type_of_text():
    import pandas as pd

    from dayuan_geo.text import EMPTY, fmt_dates

    days = pd.to_datetime(pd.Series(["2026-11-20", None, "2020-01-05 13:45"]), format="mixed")
    assert fmt_dates(days).tolist() == ["2026-11-20", EMPTY, "2020-01-05"]
    assert {type(v) for v in fmt_dates(days)} == {str}
