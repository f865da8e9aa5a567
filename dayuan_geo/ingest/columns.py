"""Matching a file's columns to a table: names, zh/en labels, ledger headers, 10-character cuts."""

from __future__ import annotations

import re
from functools import cache

from dayuan_geo import schema as S
from dayuan_geo.export import FILE_LABELS
from dayuan_geo.ingest.guard import Refused

GEO_TARGETS = {"lon": ("经度", "lon", "lng", "long", "longitude", "x"),
               "lat": ("纬度", "lat", "latitude", "y"),
               "wkt": ("wkt", "geometry_wkt", "geom_wkt", "几何", "geometry", "geom", "the_geom", "坐标")}
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "parcels": {"release_status": ("状态", "腾退状态", "释放状态"), "area_m2": ("面积", "用地面积", "地块面积"),
                "name": ("地块名称", "名称"), "released_on": ("释放日期", "释放时间"),
                "park_id": ("园区编号", "所属园区"), "village_code": ("所属村居", "村居代码", "村社")},
    "firms": {"name": ("企业名称", "名称", "单位名称"), "uscc": ("统一社会信用代码", "信用代码", "社会信用代码"),
              "risk_level": ("风险等级", "等级"), "list_status": ("处置状态",), "industry": ("所属行业", "行业类别"),
              "listed_on": ("列入时间", "列入黑榜日期", "登记日期")},
    "villages": {"code": ("adcode", "村居代码", "代码"), "name_zh": ("name", "村居名称", "村名")},
    "inspections": {"inspected_on": ("巡查日期", "检查日期"), "outcome": ("巡查结果", "检查结果"),
                    "inspector": ("巡查人员", "检查人")},
    "parks": {"name": ("园区名称", "名称"), "area_m2": ("面积", "园区面积")},
    "remediation_projects": {"stage": ("阶段", "当前阶段"), "mode": ("整治模式", "模式")},
}
# Columns computed on import, never taken from the file.
DERIVED = {"area_m2"}
KEYS = {"remediation_events": ("project_id", "stage", "entered_on"), "targets": ("year", "metric")}


def key_columns(table: str) -> tuple[str, ...]:
    return KEYS.get(table, (S.table(table).key,))


def _norm(text: str) -> str:
    text = str(text).strip().lstrip("\ufeff").lower()
    text = re.sub(r"[（(].*?[)）]", "", text)
    return re.sub(r"[\s_\-·.]", "", text)


def match_columns(sources: list[str], table: str, explicit: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """target -> source column: --map first, then names, zh/en labels, ledger headers, 10-char cuts."""
    tbl = S.table(table)
    targets = [c.name for c in tbl.columns if c.dtype != "geometry"]
    if tbl.has_geometry:
        targets += list(GEO_TARGETS)
    mapping: dict[str, str] = {}
    for target, source in explicit.items():
        if target not in targets:
            raise Refused.say("imp_m_map_no_target", target=target, source=source, table=table,
                              columns=", ".join(targets))
        if source not in sources:
            raise Refused.say("imp_m_map_no_source", target=target, source=source,
                              columns=", ".join(map(str, sources[:30])))
        mapping[target] = source
    used = set(mapping.values())
    by_norm: dict[str, str] = {}
    for s in sources:
        by_norm.setdefault(_norm(s), s)
    for target in targets:
        if target in mapping:
            continue
        if target in GEO_TARGETS:
            names = GEO_TARGETS[target]
        else:
            col = tbl.column(target)
            names = (target, col.zh, col.en, *FILE_LABELS.get(target, ()), *ALIASES.get(table, {}).get(target, ()))
        for cand in names:
            src = by_norm.get(_norm(cand))
            if src is None and target not in GEO_TARGETS and len(target) > 10:
                src = by_norm.get(_norm(target[:10]))  # shapefile fields are cut to 10 characters
            if src is not None and src not in used:
                mapping[target] = src
                used.add(src)
                break
    ignored = [str(s) for s in sources if s not in used]
    return mapping, ignored


def _pairs(items: list[str] | None, example: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        if not item.strip():
            continue
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise ValueError(f"{item!r}: write {example}")
        out[target.strip()] = source.strip()
    return out


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """TARGET=SOURCE items (the CLI's --map, the import page's mapping lines) as {target: source}."""
    return _pairs(items, "TARGET=SOURCE, e.g. name=地块名称")


def parse_constants(items: list[str] | None) -> dict[str, str]:
    """COLUMN=VALUE items (the CLI's --set, the import page's constants) as {column: value}."""
    return _pairs(items, "COLUMN=VALUE, e.g. ownership=集体")


def descriptive(table: str) -> tuple[str, ...]:
    """Columns a file may leave out: they describe a row (use, ownership, industry) and may be unknown."""
    return tuple(c.name for c in S.table(table).columns
                 if (e := S.enum_for(table, c.name)) is not None and getattr(e, "unknown", False))


@cache
def known_names(table: str) -> frozenset[str]:
    """Every normalised header the table's columns are known by (for finding a ledger's header row)."""
    tbl = S.table(table)
    names = [n for c in tbl.columns if c.dtype != "geometry"
             for n in (c.name, c.zh, c.en, *FILE_LABELS.get(c.name, ()), *ALIASES.get(table, {}).get(c.name, ()))]
    if tbl.has_geometry:
        names += [n for ns in GEO_TARGETS.values() for n in ns]
    return frozenset(_norm(n) for n in names)


def header_score(cells: list[str], *, table: str) -> int:
    """How many of a row's cells are known column names of table."""
    known = known_names(table)
    return sum(1 for c in cells if c and _norm(c) in known)


SET_PREFIX = "="  # a constant from --set lives in a column named "=COLUMN", which no file header can be


def apply_constants(frame, mapping: dict[str, str], constants: dict[str, str], table: str) -> list[str]:
    """Give every row the --set values (a column per constant; they win over the file's column).
    Returns the columns whose file column was overridden. Identity and geometry cannot be set."""
    tbl = S.table(table)
    overridden = []
    for column, value in constants.items():
        if column not in tbl.column_names or tbl.column(column).dtype == "geometry":
            raise Refused.say("imp_m_set_unknown_column", column=column, table=table,
                              columns=", ".join(c for c in tbl.column_names if c != S.GEOMETRY_COLUMN))
        if column in key_columns(table) or column in DERIVED:
            raise Refused.say("imp_m_set_not_allowed", column=column)
        if column in mapping:
            overridden.append(column)
        frame[SET_PREFIX + column] = value
        mapping[column] = SET_PREFIX + column
    return overridden
