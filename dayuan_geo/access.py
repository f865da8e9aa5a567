"""Roles and what each may see and do, enforced where data is read, not only in the UI."""

from __future__ import annotations

from dataclasses import dataclass

from . import schema as S


@dataclass(frozen=True)
class Role:
    code: str
    zh: str
    en: str
    sees_sensitive: bool  # firm names, credit codes, inspectors' names
    tables: frozenset[str]  # tables whose rows it may list
    exports: frozenset[str]  # tables it may export
    may_import: bool
    sees_audit: bool

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


_ALL = frozenset(S.TABLE_NAMES)
_LAND = frozenset({"villages", "grids", "parks", "parcels", "remediation_projects",
                   "remediation_events", "targets"})
_SAFETY = frozenset({"firms", "inspections"})

ROLES: dict[str, Role] = {
    r.code: r
    for r in (
        Role("leader", "领导", "Leader", True, _ALL, _ALL, False, True),
        Role("planner", "规划人员", "Planner", True, _ALL, _ALL, True, False),
        Role("inspector", "巡查人员", "Inspector", True, _ALL, _SAFETY, False, False),
        Role("viewer", "访客", "Viewer", False, _LAND | frozenset({"firms"}), frozenset(), False, False),
    )
}


def role(code: str) -> Role:
    """The role called code; ValueError for anything else, so a forged value shows nothing."""
    try:
        return ROLES[code]
    except KeyError:
        raise ValueError(f"unknown role {code!r}; roles: {', '.join(ROLES)}") from None


def visible_columns(table_name: str, role_code: str) -> tuple[str, ...]:
    """The columns of table_name that role_code may select; empty if it may not list the table."""
    r = role(role_code)
    tbl = S.table(table_name)
    if table_name not in r.tables:
        return ()
    return tuple(c.name for c in tbl.columns if r.sees_sensitive or not c.sensitive)


def require_table(table_name: str, role_code: str) -> tuple[str, ...]:
    cols = visible_columns(table_name, role_code)
    if not cols:
        raise PermissionError(f"role {role_code!r} may not read {table_name}")
    return cols


def may_export(table_name: str, role_code: str) -> bool:
    return table_name in role(role_code).exports
