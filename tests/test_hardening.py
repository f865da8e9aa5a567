"""Hardening: DuckDB locked to the data dir, formula-safe exports, the audit log, Streamlit settings,
pinned dependencies, and the store under concurrent sessions."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dayuan_geo import audit, export
from dayuan_geo.dataset import versions
from dayuan_geo.overview import queries
from dayuan_geo.safety import queries as safety
from dayuan_geo.store import Store

from .conftest import AS_OF

PROJECT = Path(__file__).resolve().parents[1]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---- DuckDB: no way out of the data dir --------------------------------------------------------

@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A folder beside the data dir with files a query must not read."""
    path = tmp_path_factory.mktemp("outside")
    pd.DataFrame({"secret": ["s3cret"]}).to_parquet(path / "secret.parquet")
    (path / "secret.csv").write_text("secret\ns3cret\n")
    (path / "secret.json").write_text('{"secret": "s3cret"}')
    return path


ESCAPES = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('{outside}/secret.parquet')",
    "SELECT * FROM '{outside}/secret.csv'",
    "SELECT * FROM read_json_auto('{outside}/secret.json')",
    "SELECT * FROM read_parquet('{data}/../{outside_name}/secret.parquet')",
    "SELECT * FROM read_parquet('{data}/**/../../{outside_name}/secret.parquet')",
    "COPY (SELECT 1) TO '{outside}/written.csv'",
    "COPY firms TO '{data}/../stolen.csv'",
    "ATTACH '{outside}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SELECT * FROM read_csv('https://example.com/x.csv')",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SET lock_configuration = false",
    "RESET lock_configuration",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM ST_Read('/etc/passwd')",
]


@pytest.mark.parametrize("sql", ESCAPES)
def test_duckdb_refuses_to_leave_the_data_dir(store, outside, sql):
    data = store.directory.resolve()
    text = sql.format(outside=outside, outside_name=os.path.relpath(outside, data.parent), data=data)
    cur = store.cursor()
    with pytest.raises(duckdb.Error) as err:
        cur.execute(text).fetchall()
    assert "s3cret" not in str(err.value)
    assert not (outside / "written.csv").exists() and not (data.parent / "stolen.csv").exists()


def test_locked_settings_hold(store):
    cur = store.cursor()
    settings_now = dict(cur.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN "
        "('enable_external_access', 'lock_configuration', 'allowed_directories')").fetchall())
    assert settings_now["enable_external_access"] == "false"
    assert settings_now["lock_configuration"] == "true"
    assert str(store.directory.resolve()) in settings_now["allowed_directories"]


def test_data_dir_itself_still_readable(store):
    """The lock-down leaves what the store needs: the dataset's own files."""
    path = store.directory.resolve() / "villages.parquet"
    assert store.cursor().execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0] == 6


def test_hostile_text_is_bound_not_run(store):
    """A value that looks like SQL is matched as text and breaks nothing."""
    story = safety.firm_story(store.cursor(), role="planner", firm_id="x' OR '1'='1", as_of=AS_OF)
    assert story is None
    assert store.cursor().execute("SELECT count(*) FROM firms").fetchone()[0] == 1600
    with pytest.raises(ValueError, match="unknown risk level"):
        queries.firm_points(store.cursor(), role="planner", risk_levels=("blacklisted') OR 1=1 --",))
    with pytest.raises(ValueError, match="no outlines"):
        queries.outlines(store.cursor(), table_name='villages" ; DROP TABLE firms; --')


# ---- 20 concurrent sessions x 50 queries -------------------------------------------------------

def test_twenty_sessions_fifty_queries_each(store):
    expected = queries.kpis(store.cursor(), as_of=AS_OF)
    expected_blacklist = len(queries.firm_points(store.cursor(), role="viewer"))
    roles = ("leader", "planner", "inspector", "viewer")
    errors: list[BaseException] = []
    counts = []

    def session(n: int) -> int:
        cur = store.cursor()  # each session its own cursor, as each Streamlit script run has
        done = 0
        for i in range(50):
            kind = (n + i) % 5
            if kind == 0:
                assert queries.kpis(cur, as_of=AS_OF)["released_area_m2"] == expected["released_area_m2"]
            elif kind == 1:
                role = roles[(n + i) % 4]
                df = queries.firm_points(cur, role=role)
                assert len(df) == expected_blacklist
                assert ("name" in df.columns) == (role != "viewer")
            elif kind == 2:
                assert len(queries.released_by_month(cur, as_of=AS_OF)) > 0
            elif kind == 3:
                assert len(queries.stage_funnel(cur, as_of=AS_OF)) > 0
            else:
                assert cur.execute("SELECT count(*) FROM parcels WHERE area_m2 > ?", [0]).fetchone()[0] > 0
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(session, n) for n in range(20)]
        for f in futures:
            try:
                counts.append(f.result())
            except BaseException as exc:
                errors.append(exc)
    elapsed = time.perf_counter() - started
    assert not errors, errors[:3]
    assert sum(counts) == 1000
    print(f"1000 queries in 20 threads: {elapsed:.1f} s")


def test_refresh_while_sessions_query(data_copy):
    """Publishing a new version while sessions query: every query answers from one version or the other."""

    s = Store(data_copy)
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader():
        cur = s.cursor()
        while not stop.is_set():
            try:
                n = cur.execute("SELECT count(*) FROM targets").fetchone()[0]
                assert n > 0
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    targets = pd.read_parquet(data_copy / "targets.parquet")
    versions.publish(data_copy, {"targets": targets}, source="demo", as_of=AS_OF)
    assert s.refresh()
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


# ---- exports: nothing a spreadsheet would run ---------------------------------------------------

# Text a firm name or reason could hold: anything, often starting like a formula.
_printable = st.characters(blacklist_categories=("Cs", "Cc"))
cell_text = st.one_of(
    st.text(alphabet=st.one_of(_printable, st.sampled_from("\t\r\n=+-@")), max_size=30),
    st.tuples(st.sampled_from(FORMULA_START), st.text(alphabet=_printable, max_size=20)).map("".join),
)


def _frame(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "firm_id": [f"F{i:05d}" for i in range(len(names))],
        "name": names,
        "list_reason": list(reversed(names)),
        "risk_level": ["blacklisted"] * len(names),
        "listed_on": [dt.date(2026, 1, 2)] * len(names),
    })


def _expected(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(cell_text, min_size=1, max_size=8))
def test_csv_export_neutralises_formulas(names):
    raw = export.to_csv(_frame(names), table="firms", lang="en")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header == ["Firm ID", "Firm name", "Reason listed", "Risk level", "Listed on"]
    assert [r[1] for r in body] == [_expected(v) for v in names]
    assert [r[2] for r in body] == [_expected(v) for v in reversed(names)]
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULA_START), row


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(cell_text, min_size=1, max_size=6))
def test_xlsx_export_neutralises_formulas(names):
    book = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(_frame(names), table="firms", lang="en")))
    sheet = book.active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in cells)  # no formula cells at all
    names_out = [sheet.cell(row=i + 2, column=2).value or "" for i in range(len(names))]
    # a reader may turn CR and CRLF into LF (XML) or keep them (openpyxl writes _x000D_); the apostrophe is
    # what matters
    def same(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n")

    assert [same(v) for v in names_out] == [same(_expected(v)) for v in names]
    for c in cells:
        if isinstance(c.value, str):
            assert not c.value.startswith(FORMULA_START)


def test_numbers_and_dates_stay_numbers():
    df = pd.DataFrame({"parcel_id": ["P1"], "area_m2": [-12.5], "released_on": [dt.date(2026, 3, 1)]})
    rows = list(csv.reader(io.StringIO(export.to_csv(df, table="parcels", lang="en").decode("utf-8-sig"))))
    assert rows[1] == ["P1", "-12.5", "2026-03-01"]


# ---- the audit log -----------------------------------------------------------------------------

def test_audit_log_appends_and_reads_newest_first(tmp_path):
    path = tmp_path / "logs" / "audit.jsonl"
    audit.record(user="wang", role="leader", action="export", what="firms", rows=12,
                 filters={"risk_levels": ["blacklisted"], "village": "大源村"}, detail={"format": "csv"}, path=path)
    audit.record(user="li", role="planner", action="import", what="parcels.gpkg", rows=350, path=path)
    entries = audit.read(path)
    assert [e["user"] for e in entries] == ["li", "wang"]
    first = entries[1]
    assert first["action"] == "export" and first["what"] == "firms" and first["rows"] == 12
    assert first["filters"] == {"risk_levels": ["blacklisted"], "village": "大源村"}
    assert dt.datetime.fromisoformat(first["at"]).tzinfo is not None
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert audit.verify(path) == []
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(user="x", role="leader", action="delete", what="firms", rows=1, path=path)


def test_audit_log_detects_edits_and_removals(tmp_path):
    path = tmp_path / "audit.jsonl"
    for n in range(4):
        audit.record(user=f"u{n}", role="leader", action="export", what="firms", rows=n, path=path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2], lines[3]]) + "\n")  # one entry removed
    assert audit.verify(path) == ["line 2: does not follow line 1 (edited or removed lines)",
                                  "the log has 3 lines but 4 were written (lines cut off at the end)"]
    edited = json.loads(lines[1])
    edited["rows"] = 999
    path.write_text("\n".join([lines[0], json.dumps(edited), lines[2], lines[3]]) + "\n")
    assert [p.split(":")[0] for p in audit.verify(path)] == ["line 2", "line 3"]  # signature, then chain


def _entries(path: Path, n: int) -> list[str]:
    for k in range(n):
        audit.record(user=f"u{k}", role="leader", action="export", what="firms", rows=k, path=path)
    return path.read_text().splitlines()


def _rechain(lines: list[str]) -> list[str]:
    """The chain recomputed from scratch, as someone without the key would."""
    out, prev = [], audit.GENESIS
    for line in lines:
        entry = json.loads(line)
        entry["prev"] = prev
        out.append(json.dumps(entry, ensure_ascii=False, sort_keys=True))
        prev = hashlib.sha256(out[-1].encode()).hexdigest()
    return out


def test_audit_log_sees_its_own_end_edited_cut_off_or_rechained(tmp_path):
    path = tmp_path / "logs" / "audit.jsonl"
    lines = _entries(path, 4)
    assert audit.verify(path) == [] and (tmp_path / "config" / "audit.key").stat().st_mode & 0o777 == 0o600

    last = json.loads(lines[-1])
    last["rows"] = 999  # the last line edited: no line after it to break the chain
    path.write_text("\n".join([*lines[:-1], json.dumps(last, ensure_ascii=False, sort_keys=True)]) + "\n")
    assert any(p.startswith("line 4") for p in audit.verify(path))

    path.write_text("\n".join(lines[:-2]) + "\n")  # the tail cut off
    assert audit.verify(path) == ["the log has 2 lines but 4 were written (lines cut off at the end)"]

    forged = [json.loads(x) for x in lines]
    forged[1]["user"] = "nobody"
    path.write_text("\n".join(_rechain([json.dumps(e, sort_keys=True) for e in forged])) + "\n")
    problems = audit.verify(path)
    assert "line 2: signature does not match (edited, or written without the key)" in problems
    assert not any("does not follow" in p for p in problems)  # the chain itself holds

    path.write_text("\n".join(lines) + "\n")
    audit._anchor_path(path).unlink()  # the anchor removed
    assert audit.verify(path) == ["audit.jsonl.anchor is missing: the end of the log cannot be checked"]


def test_audit_log_concurrent_writers_keep_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"

    def write(n: int) -> None:
        for i in range(25):
            audit.record(user=f"user{n}", role="planner", action="export", what="parcels", rows=i, path=path)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(8)))
    assert len(audit.read(path)) == 200
    assert audit.verify(path) == []


def test_audit_log_keeps_hostile_text_as_data(tmp_path):
    path = tmp_path / "audit.jsonl"
    nasty = '<img src=x onerror=alert(1)>\n{"action": "forged"}'
    audit.record(user=nasty, role="viewer", action="export", what=nasty, rows=1, filters={"q": nasty}, path=path)
    assert len(path.read_text().splitlines()) == 1
    assert audit.read(path)[0]["what"] == nasty and audit.verify(path) == []


# ---- Streamlit settings and dependencies --------------------------------------------------------

def test_streamlit_config_hardened():
    config = tomllib.loads((PROJECT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"].get("enableCORS", True) is True
    assert 0 < config["server"]["maxUploadSize"] <= 200  # MB
    assert config["client"]["showErrorDetails"] in ("none", False)
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["fileWatcherType"] == "none" and config["server"]["runOnSave"] is False
    makefile = (PROJECT / "Makefile").read_text()
    assert "streamlit run server.py" in makefile  # the routes and HTTP rules of edge/http.py
    assert not (PROJECT / ".streamlit" / "secrets.toml").exists() or "secrets.toml" in (
        PROJECT / ".gitignore").read_text()


# Lowest versions free of the published advisories we know of (pip-audit's PyPI/OSV advisories cannot
# be reached from every machine that runs the tests, so the floor is checked here offline).
ADVISORY_FLOORS = {
    "streamlit": "1.37.0",  # CVE-2024-42474 path traversal in static file serving
    "jinja2": "3.1.6",  # CVE-2025-27516 sandbox escape
    "requests": "2.32.4",  # CVE-2024-47081 .netrc credential leak
    "urllib3": "2.5.0",  # CVE-2025-50181, CVE-2025-50182 redirect handling
    "starlette": "0.47.2",  # CVE-2025-54121 multipart DoS
    "h11": "0.16.0",  # CVE-2025-43859 request smuggling
    "python-multipart": "0.0.18",  # CVE-2024-53981 DoS
    "pillow": "11.3.0",  # CVE-2025-48379 DDS buffer overflow
    "protobuf": "5.29.5",  # CVE-2025-4565 recursion DoS
    "pyarrow": "14.0.1",  # CVE-2023-47248 deserialisation
    "certifi": "2024.7.4",  # removed GLOBALTRUST roots
    "idna": "3.7",  # CVE-2024-3651 DoS
    "pygments": "2.15.0",  # CVE-2022-40896 ReDoS
    "tornado": "6.5.0",  # CVE-2025-47287 multipart log flood (when present)
    "authlib": "1.6.5",  # CVE-2025-59420, CVE-2025-61920 JWS/JWT parsing
    "cryptography": "44.0.1",  # CVE-2024-12797 (bundled OpenSSL)
    "setuptools": "78.1.1",  # CVE-2025-47273 path traversal (when present)
    "jupyter-core": "5.8.1",  # CVE-2025-30167 (when present)
}


def _version(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.+-]", re.sub(r"(rc|post|a|b)\d*", "", text)))


def _pins(*files: str) -> dict[str, str]:
    pins = {}
    for line in "\n".join((PROJECT / f).read_text() for f in files or ("requirements.txt", "requirements-dev.txt")
                           ).splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-r "):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([A-Za-z0-9_.+\-]+)", line)
        assert m, f"requirements.txt: {line!r} is not pinned with =="
        pins[re.sub(r"[-_.]+", "-", m.group(1).split("[")[0]).lower()] = m.group(2)
    return pins


TEST_ONLY = {"pytest", "hypothesis", "ruff", "playwright", "pluggy", "iniconfig", "greenlet", "sortedcontainers",
             "pygments", "pypdf"}


def test_test_only_packages_stay_out_of_the_runtime_requirements():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert not TEST_ONLY & set(runtime), sorted(TEST_ONLY & set(runtime))
    assert set(dev) >= TEST_ONLY
    assert "-r requirements.txt" in (PROJECT / "requirements-dev.txt").read_text().splitlines()
    makefile = (PROJECT / "Makefile").read_text()
    assert re.search(r"^test: \$\(VENV\)/\.installed-dev", makefile, re.M)
    assert "pip install --quiet -r requirements-dev.txt" in makefile


def test_dependencies_pinned_installed_and_above_advisory_floors():
    pins = _pins()
    for name, floor in ADVISORY_FLOORS.items():
        if name in pins:
            assert _version(pins[name]) >= _version(floor), f"{name}=={pins[name]} is below {floor}"
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name}=={version} is pinned but not installed: pip install -r requirements.txt")
        assert installed == version, f"{name}: requirements.txt pins {version}, {installed} is installed"
        floor = ADVISORY_FLOORS.get(name)
        if floor:
            assert _version(installed) >= _version(floor)


# ---- markdown from the data --------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "<img src=x onerror=alert(1)>", "[点我](javascript:alert(1))", "**粗体** _斜体_", "$x^2$",
    ":red[红色] :smile:", "# 标题\n- 列表", "a|b|c", "`code`", "&lt;escaped&gt;",
])
def test_markdown_text_is_inert(name):
    from dayuan_geo.text import md_text

    out = md_text(name)
    assert "\n" not in out
    unescaped = re.sub(r"\\(.)", "", out)  # what is left when every escaped character is removed
    assert not set(unescaped) & set("<>[]()*_$:#|`&")
    assert re.sub(r"\\(.)", r"\1", out) == name.replace("\n", " ")


def test_markdown_text_leaves_plain_names_alone():
    from dayuan_geo.text import md_text

    assert md_text("广州市金泰快递服务第4分公司") == "广州市金泰快递服务第4分公司"
    assert md_text(None) == ""


def test_symlink_in_the_data_dir_leads_nowhere(data_copy, outside):
    (data_copy / "link.parquet").symlink_to(outside / "secret.parquet")
    s = Store(data_copy)
    with pytest.raises(duckdb.Error):
        s.cursor().execute("SELECT * FROM read_parquet(?)", [str(data_copy / "link.parquet")]).fetchall()


def test_an_export_is_delivered_only_when_allowed_and_audited(tmp_path):
    log = tmp_path / "audit.jsonl"
    built: list[str] = []

    def build() -> tuple[bytes, int]:
        built.append("built")
        return b"firm_id\nF1\n", 1

    assert audit.deliver(build, user="chen", role="inspector", table="firms", detail={"format": "csv"},
                         path=log) == b"firm_id\nF1\n"
    (entry,) = audit.read(log)
    assert (entry["user"], entry["role"], entry["action"], entry["what"], entry["rows"]) == (
        "chen", "inspector", "export", "firms", 1)
    with pytest.raises(PermissionError):  # downgraded to viewer before the click: no file, no entry
        audit.deliver(build, user="chen", role="viewer", table="firms", path=log)
    assert built == ["built"] and len(audit.read(log)) == 1
    log.unlink()
    log.mkdir()
    with pytest.raises(OSError):  # the entry cannot be written: the bytes are not handed over
        audit.deliver(build, user="chen", role="inspector", table="firms", path=log)
