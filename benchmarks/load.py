"""Load test: 20 sessions × 20 interactions at once, with and without a clear-cache sender.

Each session is an AppTest of app.py in its own thread (local mode, the demo dataset): it opens
the overview, then moves through the pages and reruns them. A sender thread does, every 3 s, what
Streamlit's `clear_cache` websocket message does (st.cache_data.clear() and
st.cache_resource.clear()), which any client could send. The run prints p50/p95 of the reruns and
the process's memory, and with --markdown appends a section to docs/benchmarks.md.

    python -m benchmarks.load [--sessions 20] [--interactions 20] [--data-dir DIR] [--markdown]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("pages/overview.py", "pages/land.py", "pages/remediation.py", "pages/firms.py", "pages/overview.py")
CLEAR_EVERY_S = 3.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _session(n: int, interactions: int, times: list[float], errors: list[str]) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    for k in range(interactions):
        page = PAGES[(n + k) % len(PAGES)]
        start = time.perf_counter()
        at.switch_page(page).run()
        times.append(time.perf_counter() - start)
        if at.exception:
            errors.append(f"session {n}, {page}: {at.exception[0].message}")


def _clear_sender(stop: threading.Event, sent: list[float]) -> None:
    import streamlit as st

    while not stop.wait(CLEAR_EVERY_S):
        st.cache_data.clear()
        st.cache_resource.clear()
        sent.append(time.time())


def run(*, sessions: int, interactions: int, clear: bool) -> dict:
    times: list[float] = []
    errors: list[str] = []
    sent: list[float] = []
    stop = threading.Event()
    sender = threading.Thread(target=_clear_sender, args=(stop, sent), daemon=True) if clear else None
    before = _rss_mb()
    started = time.perf_counter()
    if sender:
        sender.start()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        list(pool.map(lambda n: _session(n, interactions, times, errors), range(sessions)))
    stop.set()
    ordered = sorted(times)
    return {
        "clear": clear, "runs": len(times), "errors": errors, "clears_sent": len(sent),
        "p50": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "wall": time.perf_counter() - started, "rss_before": before, "rss_after": _rss_mb(),
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _prepare(data_dir: str | None) -> None:
    from streamlit.runtime.pages_manager import PagesManager

    from dayuan_geo.demo import build as demo

    work = Path(tempfile.mkdtemp(prefix="dayuan-load-"))
    target = Path(data_dir) if data_dir else work / "data"
    demo.ensure(target)
    os.environ["DAYUAN_DATA_DIR"] = str(target)
    os.environ["DAYUAN_AUTH_FILE"] = str(work / "config" / "auth.toml")  # local mode: no accounts
    os.environ["DAYUAN_AUDIT_FILE"] = str(work / "logs" / "audit.jsonl")
    os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    init = PagesManager.__init__

    def v2_init(self, *args, **kwargs):  # every run through app.py, as a server does after its first request
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = v2_init


def markdown(results: list[dict], *, sessions: int, interactions: int) -> str:
    lines = [
        "", f"## Load: {sessions} sessions × {interactions} interactions, with a clear-cache sender", "",
        f"Measured {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} on {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), load average {os.getloadavg()[0]:.2f}; "
        "`python -m benchmarks.load --markdown` (AppTest sessions in threads of one process, local mode, "
        "demo dataset at scale S; the sender does what Streamlit's `clear_cache` message does every "
        f"{CLEAR_EVERY_S:.0f} s).", "",
        "| clear-cache sender | reruns | p50 | p95 | wall | RSS before → after | peak RSS | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(f"| {'every 3 s (' + str(r['clears_sent']) + ' sent)' if r['clear'] else 'none'} | {r['runs']} "
                     f"| {r['p50']:.3f} s | {r['p95']:.3f} s | {r['wall']:.0f} s | {r['rss_before']:,.0f} → "
                     f"{r['rss_after']:,.0f} MB | {r['peak']:,.0f} MB | {len(r['errors'])} |")
    lines += ["", "The Store (one DuckDB database per dataset version) and the views built on it live in a "
              "module-level registry (edge/cache.py), outside what `clear_cache` empties; only query results "
              "cached with st.cache_data are dropped and recomputed from the precomputed tables.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--interactions", type=int, default=20)
    parser.add_argument("--data-dir")
    parser.add_argument("--markdown", action="store_true", help="append the results to docs/benchmarks.md")
    args = parser.parse_args(argv)
    _prepare(args.data_dir)
    results = []
    for clear in (False, True):
        r = run(sessions=args.sessions, interactions=args.interactions, clear=clear)
        results.append(r)
        print(f"clear-cache sender {'on ' if clear else 'off'}: {r['runs']} reruns, p50 {r['p50']:.3f} s, "
              f"p95 {r['p95']:.3f} s, RSS {r['rss_before']:.0f} -> {r['rss_after']:.0f} MB, "
              f"{r['clears_sent']} clears, {len(r['errors'])} errors")
        for line in r["errors"][:5]:
            print("  " + line)
    if args.markdown:
        with open(ROOT / "docs" / "benchmarks.md", "a", encoding="utf-8") as fh:
            fh.write(markdown(results, sessions=args.sessions, interactions=args.interactions))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
