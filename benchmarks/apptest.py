"""Every registered page in AppTest: its first run and warm reruns, and the maps it sends; the naive
page the same way. Run in a child process (`python -m benchmarks.apptest`) so its peak memory is an
app server's alone."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.measure import peak_rss_mb, timed
from dayuan_geo import schema as S

APP = S.PROJECT_DIR / "app.py"


def app_pages(app: Path = APP) -> list[tuple[str, str]]:
    """(page file, url_path) of the pages registered in app.py now (other features add theirs)."""
    text = app.read_text(encoding="utf-8")
    out = []
    for call in text.split("st.Page(")[1:]:  # each call's text runs up to the next st.Page
        file_m = re.match(r"\s*\"(pages/[A-Za-z0-9_]+\.py)\"", call)
        if file_m is None:
            continue
        path_m = re.search(r"url_path=\"([A-Za-z0-9_-]+)\"", call)
        out.append((file_m.group(1), path_m.group(1) if path_m else Path(file_m.group(1)).stem))
    return out


def _role_for(url_path: str) -> str:
    """The local-mode role (planner) when it may open the page, else the first role that may."""
    from dayuan_geo import access

    allowed = access.PAGE_ROLES.get(url_path)
    if allowed is None or access.LOCAL_ROLE in allowed:
        return access.LOCAL_ROLE
    return sorted(allowed)[0]


def _deck_bytes(at) -> list[int]:
    return [len(d.proto.json.encode("utf-8")) for d in at.get("deck_gl_json_chart")]


def _naive_page() -> None:  # run by AppTest as a script: imports inside
    import datetime as dt
    import os
    from pathlib import Path

    import streamlit as st

    from benchmarks import questions

    directory = Path(os.environ["DAYUAN_DATA_DIR"])
    as_of = dt.date.fromisoformat(os.environ["DAYUAN_BENCH_AS_OF"])
    k = questions.naive_kpis(directory, as_of=as_of)
    for key in ("released_area_m2", "released_parcels", "blacklisted_firms", "inspections_ytd"):
        st.metric(key, k[key])
    st.line_chart(questions.naive_released_by_month(directory, as_of=as_of).set_index("month")["cumulative_m2"]
                  .rename(index=str))
    deck, _ = questions.naive_map(directory, as_of=as_of)
    st.pydeck_chart(deck)


def pages_bench(directory: Path, *, as_of: dt.date, repeat: int, naive: bool = False,
                only: tuple[str, ...] = (), progress: Callable[[str], None] = lambda _step: None) -> dict:
    """First run and warm reruns of every registered page (or of the naive page) in AppTest."""
    import logging

    from streamlit.testing.v1 import AppTest

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    os.environ["DAYUAN_DATA_DIR"] = str(directory)
    os.environ["DAYUAN_BENCH_AS_OF"] = as_of.isoformat()
    out: dict[str, dict] = {}
    if naive:
        progress("naive page")
        at = AppTest.from_function(_naive_page, default_timeout=3600)
        warm, runs, _ = timed(at.run, repeat)
        out["naive"] = {"warm_s": round(warm, 4), "warm_runs_s": runs, "deck_bytes": _deck_bytes(at),
                        "exception": bool(at.exception)}
        return out
    for page, url_path in app_pages():
        name = Path(page).stem
        if only and name not in only:
            continue
        progress(f"page {name}")
        at = AppTest.from_file(str(APP), default_timeout=600)
        at.session_state["role"] = role = _role_for(url_path)  # local mode may preview a role
        t0 = time.perf_counter()
        try:
            at.run()
            at.switch_page(page)
            at.run()
        except Exception as exc:  # a page that cannot open here is reported, not fatal
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:300], "role": role}
            continue
        first = time.perf_counter() - t0
        if at.exception:
            out[name] = {"error": str(at.exception[0].message)[:300], "role": role}
            continue
        warm, runs, _ = timed(at.run, repeat)
        out[name] = {"first_s": round(first, 3), "warm_s": round(warm, 4), "warm_runs_s": runs,
                     "deck_bytes": _deck_bytes(at), "role": role,
                     "exception": str(at.exception[0].message)[:300] if at.exception else None}
    return out


def pages_in_child(directory: Path, *, as_of: dt.date, repeat: int, naive: bool, only: tuple[str, ...] = (),
                    progress: Callable[[str], None]) -> dict:
    """pages_bench in a fresh process, so its peak memory is that of an app server alone."""
    progress("naive page (child process)" if naive else "pages (child process)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pages.json"
        cmd = [sys.executable, "-m", "benchmarks.apptest", str(directory), as_of.isoformat(), str(repeat),
               "naive" if naive else "product", str(out), ",".join(only)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=S.PROJECT_DIR, check=False)
        if proc.returncode != 0 or not out.exists():
            return {"error": (proc.stderr or proc.stdout)[-800:]}
        return json.loads(out.read_text(encoding="utf-8"))


def _child(argv: list[str]) -> None:
    directory, as_of, repeat, kind, out, only = argv
    pages = pages_bench(Path(directory), as_of=dt.date.fromisoformat(as_of), repeat=int(repeat),
                        naive=kind == "naive", only=tuple(p for p in only.split(",") if p))
    Path(out).write_text(json.dumps({"pages": pages, "peak_rss_mb": round(peak_rss_mb(), 1)}), encoding="utf-8")


# ---- the run -------------------------------------------------------------------------------------


if __name__ == "__main__":  # the child process of pages_in_child
    _child(sys.argv[1:])
