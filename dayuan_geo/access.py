"""Roles and what each may see and do, enforced where data is read, not only in the UI.

Roles (the README has the full table): a leader opens every page, exports and reads the audit
log but does not import; a planner opens every page but the audit log, imports and exports; an
inspector opens the overview, land, remediation and firms pages and exports only firms and
inspections; a viewer opens only the overview and the land map and sees no firm names, credit
codes or inspectors' names, and exports nothing.

Pages are keyed by their `url_path` (PAGE_ROLES); an alias (PAGE_ALIASES) follows the rule of the
page it stands for. A page missing from PAGE_ROLES opens only for the
roles that see every page, so a new page stays closed to inspectors and viewers until someone
decides otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from dayuan_geo import schema as S


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
    all_pages: bool  # opens pages that PAGE_ROLES does not list

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


_ALL = frozenset(S.TABLE_NAMES)
_LAND = frozenset({"villages", "grids", "parks", "parcels", "remediation_projects",
                   "remediation_events", "targets"})
_SAFETY = frozenset({"firms", "inspections"})

ROLES: dict[str, Role] = {
    r.code: r
    for r in (
        Role("leader", "领导", "Leader", True, _ALL, _ALL, False, True, True),
        Role("planner", "规划人员", "Planner", True, _ALL, _ALL, True, False, True),
        Role("inspector", "巡查人员", "Inspector", True, _ALL, _SAFETY, False, False, False),
        # firms without names or credit codes: the overview map shows where blacklisted firms are
        Role("viewer", "访客", "Viewer", False, _LAND | frozenset({"firms"}), frozenset(), False, False, False),
    )
}

# The role local mode (no accounts, no identity provider, this machine only) runs as.
LOCAL_ROLE = "planner"

# Which roles may open each page, by the page's url_path.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "overview": frozenset({"leader", "planner", "inspector", "viewer"}),
    "land": frozenset({"leader", "planner", "inspector", "viewer"}),
    "remediation": frozenset({"leader", "planner", "inspector"}),
    "firms": frozenset({"leader", "planner", "inspector"}),
    "import": frozenset({r.code for r in ROLES.values() if r.may_import}),
    "audit": frozenset({r.code for r in ROLES.values() if r.sees_audit}),
}


# The overview answers at the app's root and at /overview. Streamlit serves its default page at the
# root yet reserves that page's url_path (no other page may take it, and the path itself finds no
# page), so the default page is "home" and a hidden twin of it answers at "overview".
HOME = "home"
PAGE_ALIASES: dict[str, str] = {HOME: "overview"}


def page_rule(url_path: str) -> str:
    """The PAGE_ROLES key that decides who opens url_path: the page an alias stands for, else itself."""
    return PAGE_ALIASES.get(url_path, url_path)


def role(code: str) -> Role:
    """The role called code; ValueError for anything else, so a forged value shows nothing."""
    try:
        return ROLES[code]
    except (KeyError, TypeError):
        raise ValueError(f"unknown role {code!r}; roles: {', '.join(ROLES)}") from None


def is_role(code: object) -> bool:
    return isinstance(code, str) and code in ROLES


def visible_columns(table_name: str, role_code: str) -> tuple[str, ...]:
    """The columns of table_name that role_code may select; empty if it may not list the table."""
    r = role(role_code)
    tbl = S.table(table_name)
    if table_name not in r.tables:
        return ()
    return tuple(c.name for c in tbl.columns if r.sees_sensitive or not c.sensitive)


def hidden_columns(table_name: str, role_code: str) -> tuple[str, ...]:
    """The columns of table_name that role_code may not see (all of them if it may not list it)."""
    shown = set(visible_columns(table_name, role_code))
    return tuple(c for c in S.table(table_name).column_names if c not in shown)


def require_table(table_name: str, role_code: str) -> tuple[str, ...]:
    cols = visible_columns(table_name, role_code)
    if not cols:
        raise PermissionError(f"role {role_code!r} may not read {table_name}")
    return cols


def may_export(table_name: str, role_code: str) -> bool:
    return table_name in role(role_code).exports


def may_import(role_code: str) -> bool:
    return role(role_code).may_import


def may_open(url_path: str, role_code: str) -> bool:
    """Whether role_code may open the page at url_path; unknown roles open nothing."""
    if not is_role(role_code):
        return False
    allowed = PAGE_ROLES.get(page_rule(url_path))
    if allowed is None:
        return role(role_code).all_pages
    return role_code in allowed
