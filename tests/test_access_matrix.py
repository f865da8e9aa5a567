"""Role x page x column: each role opens exactly the pages it may and sees no column it may not.

The pages are read from app.py at test time (every st.Page(...) in it), so a page added later is in
the matrix too. Sensitive values (firm names, credit codes, inspectors' names) are read straight from
the dataset's files with pandas and searched for in everything the app sent for a page.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import pkgutil
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from dayuan_geo import access, auth

from .conftest import AS_OF

PROJECT = Path(__file__).resolve().parents[1]
APP = str(PROJECT / "app.py")
PASSWORD = "matrix-pass-1"
ROLES = ("leader", "planner", "inspector", "viewer")
SENSITIVE = {("firms", "name"), ("firms", "uscc"), ("inspections", "inspector")}
_ORIGINAL_INIT = PagesManager.__init__


def registered_pages() -> list[tuple[str, str]]:
    """(file, url_path) of every st.Page in app.py, in order."""
    tree = ast.parse((PROJECT / "app.py").read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page" and node.args:
            file = node.args[0].value
            url = next((k.value.value for k in node.keywords if k.arg == "url_path"), Path(file).stem)
            out.append((file, url))
    return out


@cache
def secrets_of(data_dir: str) -> dict[str, list[str]]:
    firms = pd.read_parquet(Path(data_dir) / "firms.parquet")
    inspections = pd.read_parquet(Path(data_dir) / "inspections.parquet")
    return {
        "blacklisted names": firms.loc[firms["risk_level"] == "blacklisted", "name"].tolist(),
        "risky names": firms.loc[firms["risk_level"] != "normal", "name"].tolist(),
        "credit codes": firms.loc[firms["risk_level"] != "normal", "uscc"].tolist(),
        "inspectors": sorted(set(inspections["inspector"].dropna())),
    }


def rendered(at: AppTest) -> bytes:
    """Every byte the app sent for the page: elements, tables (Arrow), charts, maps and the sidebar."""
    chunks: list[bytes] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            chunks.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"\n".join(chunks)


def leaks(blob: bytes, values: list[str]) -> list[str]:
    found = []
    for v in values:
        forms = {v.encode("utf-8"), json.dumps(v)[1:-1].encode("ascii")}
        if any(f in blob for f in forms):
            found.append(v)
    return found


@pytest.fixture(autouse=True)
def _router_runs_every_time(router_runs_every_time):
    """Every run goes through app.py, as on a server after its first request (conftest)."""


@pytest.fixture()
def accounts(tmp_path, monkeypatch, app_env) -> Path:
    path = tmp_path / "auth.toml"
    for r in ROLES:
        auth.add_user(f"u-{r}", r, PASSWORD, path=path, rounds=4)
    monkeypatch.setenv(auth.AUTH_FILE_ENV, str(path))
    monkeypatch.setenv("DAYUAN_AUDIT_FILE", str(tmp_path / "audit.jsonl"))
    monkeypatch.setattr(auth, "THROTTLE", auth.Throttle(sleep=lambda s: None))
    return path


def signed_in(role: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.text_input[0].input(f"u-{role}")
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception
    assert f"u-{role}" in " ".join(c.value for c in at.sidebar.caption)
    return at


# ---- the policy itself ---------------------------------------------------------------------------

def test_every_registered_page_has_a_rule():
    pages = registered_pages()
    assert ("pages/overview.py", "home") in pages and ("pages/audit.py", "audit") in pages
    unknown = [url for _, url in pages if access.page_rule(url) not in access.PAGE_ROLES]
    assert not unknown, f"pages without a rule in access.PAGE_ROLES (open to leader/planner only): {unknown}"


@pytest.mark.parametrize("role", ROLES)
def test_column_rules(role):
    r = access.role(role)
    for table, column in SENSITIVE:
        assert (column in access.visible_columns(table, role)) is (role != "viewer"), (role, table, column)
    assert access.visible_columns("inspections", "viewer") == ()
    assert access.hidden_columns("firms", "viewer") == ("uscc", "name")
    assert access.may_export("firms", role) is (role in ("leader", "planner", "inspector"))
    assert access.may_export("parcels", role) is (role in ("leader", "planner"))
    assert r.may_import is (role == "planner")
    assert r.sees_audit is (role == "leader")


def test_forged_roles_open_nothing():
    for forged in ("admin", "", None, "Leader", "leader "):
        assert not access.may_open("overview", forged)
        with pytest.raises(ValueError):
            access.visible_columns("firms", forged)


# ---- the data layer: every query that takes a role ------------------------------------------------

def _modules():
    """Every module of dayuan_geo: query functions added later are checked too."""
    import dayuan_geo

    for info in pkgutil.walk_packages(dayuan_geo.__path__, prefix="dayuan_geo."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        yield importlib.import_module(info.name)  # a module that fails to import fails this test


def _query_functions():
    for module in _modules():
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            params = list(inspect.signature(fn).parameters.values())
            if (fn.__module__ == module.__name__ and not name.startswith("_") and params
                    and params[0].name in ("cur", "cursor") and "role" in inspect.signature(fn).parameters
                    and inspect.signature(fn).parameters["role"].kind is inspect.Parameter.KEYWORD_ONLY):
                yield f"{module.__name__.split('.')[-1]}.{name}", fn


KNOWN_ARGS = {"as_of": AS_OF, "view_date": AS_OF, "start": AS_OF.replace(month=1, day=1), "end": AS_OF,
              "year": AS_OF.year, "distance_m": 500, "lang": "zh"}


def _filters():
    from dayuan_geo.land import queries as land

    return land.LandFilters()


def _call(fn, cur, role: str, firm_id: str, park_id: str, parcel_id: str):
    args = {"role": role}
    for name, p in inspect.signature(fn).parameters.items():
        if name in ("role", "cur", "cursor") or p.kind is not p.KEYWORD_ONLY:
            continue
        if name in KNOWN_ARGS:
            args[name] = KNOWN_ARGS[name]
        elif name == "firm_id":
            args[name] = firm_id
        elif name == "park_id":
            args[name] = park_id
        elif name == "parcel_id":
            args[name] = parcel_id
        elif name == "filters":
            args[name] = _filters()
        elif p.default is p.empty:
            pytest.skip(f"{fn.__qualname__}: no test value for required argument {name}")
    return fn(cur, **args)


def _frames(result):
    if isinstance(result, pd.DataFrame):
        yield result
    elif isinstance(result, dict):
        for v in result.values():
            yield from _frames(v)
    elif isinstance(result, list | tuple):
        for v in result:
            yield from _frames(v)
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        for f in dataclasses.fields(result):
            yield from _frames(getattr(result, f.name))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "fn"), list(_query_functions()), ids=lambda x: x if isinstance(x, str) else "")
def test_queries_select_only_visible_columns(store, demo_dir, role, name, fn):
    firms = pd.read_parquet(demo_dir / "firms.parquet")
    listed = firms[(firms["risk_level"] == "blacklisted") & firms["parcel_id"].notna()]
    firm_id, parcel_id = listed["firm_id"].iloc[0], listed["parcel_id"].iloc[0]
    park_id = pd.read_parquet(demo_dir / "parks.parquet")["park_id"].iloc[0]
    try:
        result = _call(fn, store.cursor(), role, firm_id, park_id, parcel_id)
    except PermissionError:
        assert role == "viewer"  # only a viewer is refused whole tables
        return
    hidden = {c for t, c in SENSITIVE if c not in access.visible_columns(t, role)}
    text = repr(result) if not isinstance(result, pd.DataFrame) else ""
    for frame in _frames(result):
        cols = set(frame.columns)
        if "firm_id" not in cols:  # "name" is a firm's name only beside a firm_id (else a park's, a project's)
            cols.discard("name")
        assert not hidden & cols, (name, role, hidden & cols)
        text += frame.to_csv()
    if role == "viewer":
        secrets = secrets_of(str(demo_dir))
        assert not leaks(text.encode("utf-8"), secrets["risky names"] + secrets["credit codes"]), name
        assert not leaks(text.encode("utf-8"), secrets["inspectors"]), name


# ---- the app: role x page ------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_role_page_matrix(accounts, demo_dir, role):
    secrets = secrets_of(str(demo_dir))
    at = signed_in(role)
    seen_names = False
    for file, url in registered_pages():
        may = access.may_open(url, role)
        if may:
            at.switch_page(file).run()
            assert not at.exception, (role, url, [e.value for e in at.exception])
        else:
            # not in this role's navigation ...
            with pytest.raises(ValueError, match="navigation page"):
                at.switch_page(file)
            # ... and a hand-typed URL for it opens the default page instead
            at._page_hash = calc_hash(url)
            at.run()
            assert not at.exception
            if url == "audit":
                assert not [t for t in at.title if "审计" in t.value]
        blob = rendered(at)
        if role == "viewer":
            for kind in ("risky names", "credit codes", "inspectors"):
                assert not leaks(blob, secrets[kind]), (role, url, kind, leaks(blob, secrets[kind])[:3])
            for column in ("企业名称", "统一社会信用代码", "巡查人员"):
                for df in at.dataframe:
                    assert column not in df.value.columns, (url, column)
        elif url == "firms":
            seen_names = bool(leaks(blob, secrets["blacklisted names"]))
    if role in ("leader", "planner", "inspector") and any(u == "firms" for _, u in registered_pages()):
        assert seen_names, f"{role} should see blacklisted firms' names on the firms page"


def test_forged_session_state_role_shows_viewer_nothing_more(accounts, demo_dir):
    at = signed_in("viewer")
    at.session_state["role"] = "leader"  # a forged role in the session changes nothing
    at.run()
    assert not at.exception
    assert not leaks(rendered(at), secrets_of(str(demo_dir))["risky names"])
    with pytest.raises(ValueError):
        at.switch_page("pages/audit.py")


def test_first_request_after_start_cannot_skip_the_router(accounts, demo_dir, monkeypatch):
    """Streamlit runs a page file named in the URL directly on a fresh start; sign-in still holds."""
    monkeypatch.setattr(PagesManager, "__init__", _ORIGINAL_INIT)  # the pages-folder mode of a fresh start
    for file, url in registered_pages():
        at = AppTest.from_file(APP, default_timeout=180)
        at._page_hash = calc_hash(url)  # /firms, /audit, ... opened before anyone signed in
        at.run()
        assert not at.exception
        blob = rendered(at)
        secrets = secrets_of(str(demo_dir))
        assert not leaks(blob, secrets["risky names"] + secrets["inspectors"]), (file, url)
        assert len(at.metric) == 0, (file, url)
