"""Untrusted files are parsed in a child process with a memory and a time limit.

A workbook whose cells reach column XFD, a GeoPackage whose layer is a recursive SQL view, or a
file built to exhaust a parser must not hang or starve the server: `read_isolated` runs
`read.read_file` in a child (forked from a clean fork server that has the readers imported), caps
its address space with RLIMIT_AS and kills it when `Limits.max_seconds` pass. The report then says
which limit was hit.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
from pathlib import Path

from dayuan_geo.ingest.guard import Limits, Raw, Refused, short

_PRELOAD = ["dayuan_geo.ingest.read"]


def _context() -> mp.context.BaseContext:
    # forkserver: children fork from a server started without the app's threads or open files;
    # spawn would re-import geopandas and GDAL for every file
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def _vm_size() -> int:
    """Bytes of address space this process already maps (the limit is set on top of it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _child(conn, path: str, work: str, options: dict, memory_bytes: int) -> None:
    try:
        if memory_bytes:
            _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = _vm_size() + memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
        from dayuan_geo.ingest.read import read_file

        conn.send(("ok", read_file(Path(path), Path(work), **options)))
    except Refused as exc:
        conn.send(("refused", (str(exc), exc.key, exc.values)))
    except MemoryError:
        conn.send(("memory", None))
    except Exception as exc:  # the parent turns this into one line of the report
        conn.send(("error", f"{type(exc).__name__}: {short(exc)}"))
    finally:
        conn.close()


def read_isolated(path: Path, work: Path, *, limits: Limits, **options) -> Raw:
    """`read_file(path, work, limits=limits, **options)` in a child within limits.max_memory bytes
    (on top of what the child starts with) and limits.max_seconds; Refused when it exceeds them."""
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, str(path), str(work), {"limits": limits, **options},
                                            int(limits.max_memory)), daemon=True)
    proc.start()
    send.close()
    try:
        if not receive.poll(limits.max_seconds):
            raise Refused.say("imp_m_time_limit", seconds=f"{limits.max_seconds:g}")
        try:
            kind, payload = receive.recv()
        except (EOFError, OSError):  # the child died without a word: killed when it hit the memory cap
            raise Refused.say("imp_m_memory_limit", mb=int(limits.max_memory) >> 20) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=10)
        receive.close()
    if kind == "ok":
        return payload
    if kind == "refused":
        message, key, values = payload
        raise Refused(message, key=key, values=values)
    if kind == "memory":
        raise Refused.say("imp_m_memory_limit", mb=int(limits.max_memory) >> 20)
    raise Refused.say("imp_m_unreadable", reason=payload)
