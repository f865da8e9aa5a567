"""Every UI label is used by some code, and every refusal of an import file reads in Chinese too."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
LABELS = PROJECT / "dayuan_geo" / "labels"
CODE = [*PROJECT.glob("dayuan_geo/**/*.py"), *PROJECT.glob("edge/*.py"), *PROJECT.glob("pages/*.py"),
        PROJECT / "app.py", PROJECT / "server.py", *PROJECT.glob("benchmarks/*.py")]
# Unused keys in label files another engineer edits at the same time; they go there, not here.
AWAITING_REMOVAL: set[str] = set()
CJK = re.compile(r"[\u4e00-\u9fff]")


def labels() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for path in sorted(LABELS.glob("*.toml")):
        out.update(tomllib.loads(path.read_text(encoding="utf-8")))
    return out


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in CODE if path.exists()]


def used_names() -> tuple[set[str], set[str]]:
    """Every string constant (and the words inside it) in the code, and the constant beginnings of
    keys built at run time (f"export_{fmt}", "rem_color_" + by)."""
    words: set[str] = set()
    prefixes: set[str] = set()
    for _, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words.add(node.value)
                words.update(re.findall(r"[a-z][a-z0-9_]+", node.value))
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                prefixes.add(str(node.values[0].value))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.left, ast.Constant) \
                    and isinstance(node.left.value, str):
                prefixes.add(node.left.value)
    return words, {p for p in prefixes if re.fullmatch(r"[a-z]+_[a-z0-9_]*", p)}


def test_no_label_is_unused():
    words, prefixes = used_names()
    unused = sorted(k for k in labels() if k not in words and not any(k.startswith(p) for p in prefixes)
                    and k not in AWAITING_REMOVAL)
    assert not unused, f"labels no code uses (delete them from dayuan_geo/labels/): {unused}"


def test_the_unused_key_check_sees_a_removed_use():
    words, prefixes = used_names()
    assert "ov_stamp" in words and "imp_m_zip_bomb" in words  # found where the code names them
    assert "export_" in prefixes  # t(f"export_{fmt}") keeps export_csv, export_xlsx, ... in use
    assert "land_map_by_park" not in words  # the kind of key the check exists to find


def test_every_refusal_of_an_import_has_a_chinese_text():
    """`Refused("...")` carries English only; `Refused.say(key, ...)` names a label in both languages."""
    texts = labels()
    bare, keys = [], []
    for path, tree in _trees():
        if "ingest" not in path.parts:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == "Refused" \
                    and not any(k.arg == "key" for k in node.keywords):
                bare.append(f"{path.name}:{node.lineno}")
            if isinstance(node.func, ast.Attribute) and node.func.attr == "say" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                keys.append(node.args[0].value)
    assert not bare, f"import refusals without a Chinese text: {bare}"
    assert len(keys) >= 40
    for key in keys:
        assert key in texts, key
        assert CJK.search(texts[key]["zh"]), (key, texts[key]["zh"])


def test_an_unsafe_archive_is_refused_in_chinese_and_english(data_copy, tmp_path):
    import zipfile

    from dayuan_geo.ingest import run as ingest

    path = tmp_path / "parcels.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../evil.shp", b"x")
    report = ingest.run_import(path, table="parcels", directory=data_copy, user="t", role="planner").report
    assert report.status == "refused"
    (issue,) = [i for i in report.issues if i.level == "error"]
    assert issue.text("zh") == "压缩包不安全：其中的“../../evil.shp”指向压缩包之外（'..'）"
    assert issue.text("en") == "unsafe archive: member '../../evil.shp' points outside the archive ('..')"
