from __future__ import annotations

import numpy as np
import pytest

from dayuan_geo import schema as S
from dayuan_geo import uscc
from dayuan_geo.demo import build as demo


def test_published_credit_code_passes_and_mutations_fail():
    code = "91350100M000100Y43"  # the example printed in GB 32100-2015
    assert uscc.uscc_problem(code) is None
    assert "check digit" in uscc.uscc_problem(code[:17] + "2")
    assert "18" in uscc.uscc_problem(code[:-1])
    assert "not allowed" in uscc.uscc_problem(code.replace("M", "I"))
    assert uscc.uscc_problem(None) == "credit code missing"


def test_generated_credit_codes_are_valid_and_unique():
    codes = demo.uscc_codes(np.random.default_rng(1), 2000)
    assert all(uscc.uscc_problem(c) is None for c in codes)
    assert len(set(codes)) == len(codes)
    assert all(c.startswith("91440111") for c in codes)


def test_enums_parse_codes_and_both_labels():
    assert S.RELEASE_STATUS.parse("已释放") == "released"
    assert S.RELEASE_STATUS.parse("Released") == "released"
    assert S.RISK_LEVEL.parse("黑榜") == "blacklisted"
    assert S.RISK_LEVEL.parse("nonsense") is None
    assert S.RELEASE_STATUS.label("vacating", "zh") == "腾退中"
    assert S.REMEDIATION_MODE.label("shutdown", "zh") == "淘汰关停"


def test_stage_catalogue_is_ordered_and_complete():
    cat = S.stage_catalogue()
    assert cat.codes[0] == "surveyed" and cat.codes[-1] == "completed"
    assert cat.order("land_released") == 5
    assert cat.label("leases_terminated", "zh") == "清租腾退"


def test_stage_catalogue_errors_name_the_problem(tmp_path):
    bad = tmp_path / "stages.toml"
    bad.write_text('land_released_stage = "x"\n[[stage]]\ncode="a"\nzh="甲"\nen="A"\n'
                   '[[stage]]\ncode="b"\nzh="乙"\nen="B"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="land_released_stage"):
        S.load_stage_catalogue(bad)


def test_every_enum_column_has_zh_and_en_labels():
    for tbl in S.TABLES.values():
        for col in tbl.columns:
            assert col.zh and col.en
            enum = S.enum_for(tbl.name, col.name)
            if enum is not None:
                for code in enum.codes:
                    assert enum.label(code, "zh") and enum.label(code, "en")


def test_unknown_table_is_a_value_error():
    with pytest.raises(ValueError, match="unknown table"):
        S.table("../etc/passwd")
