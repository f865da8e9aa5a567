"""Untrusted files are parsed in a child process with a memory and a time limit.

A workbook whose cells reach column XFD, a GeoPackage whose layer is a recursive SQL view, or a
file built to exhaust a parser must not hang or starve the server: `read_isolated` runs
`read.read_file` in a fresh interpreter (`python -m dayuan_geo.ingest.child`, not multiprocessing,
which would re-run the Streamlit script as the child's __main__), caps its address space with
RLIMIT_AS once the readers are imported, and kills it when `Limits.max_seconds` pass. The report
then says which limit was hit.
"""

from __future__ import annotations

import os
import pickle
import resource
import subprocess
import sys
from pathlib import Path

from dayuan_geo import schema as S
from dayuan_geo.ingest.guard import Limits, Raw, Refused, short


def _vm_size() -> int:
    """Bytes of address space this process already maps (the cap is set on top of it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def read_isolated(path: Path, work: Path, *, limits: Limits, **options) -> Raw:
    """`read_file(path, work, limits=limits, **options)` in a child within limits.max_memory bytes
    (on top of what the child maps after its imports) and limits.max_seconds; Refused otherwise."""
    job = pickle.dumps((str(path), str(work), {"limits": limits, **options}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(S.PROJECT_DIR),
                                                                       os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([sys.executable, "-m", "dayuan_geo.ingest.child"], input=job, capture_output=True,
                              timeout=limits.max_seconds, env=env, cwd=str(S.PROJECT_DIR), check=False)
    except subprocess.TimeoutExpired:  # subprocess.run kills the child before raising
        raise Refused.say("imp_m_time_limit", seconds=f"{limits.max_seconds:g}") from None
    try:
        kind, payload = pickle.loads(done.stdout)  # noqa: S301 (our own child, which never runs the file)
    except Exception:  # no answer: the child died, which with the cap in place means it ran out of memory
        if done.returncode and b"MemoryError" not in done.stderr and done.returncode > 0:
            raise Refused.say("imp_m_unreadable", reason=done.stderr.decode(errors="replace")[-200:]) from None
        raise Refused.say("imp_m_memory_limit", mb=int(limits.max_memory) >> 20) from None
    if kind == "ok":
        return payload
    if kind == "refused":
        message, key, values = payload
        raise Refused(message, key=key, values=values)
    if kind == "memory":
        raise Refused.say("imp_m_memory_limit", mb=int(limits.max_memory) >> 20)
    raise Refused.say("imp_m_unreadable", reason=payload)


def _main() -> None:
    """The child: read the job from stdin, answer (kind, payload) on stdout, nothing else."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a library's print must not corrupt the answer
    path, work, options = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 (from the parent)
    from dayuan_geo.ingest.read import read_file  # imported before the cap: the readers are not the file's

    memory = int(options["limits"].max_memory)
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _vm_size() + memory
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
        answer = ("ok", read_file(Path(path), Path(work), **options))
    except Refused as exc:
        answer = ("refused", (str(exc), exc.key, exc.values))
    except MemoryError:
        answer = ("memory", None)
    except Exception as exc:  # the parent turns this into one line of the report
        answer = ("error", f"{type(exc).__name__}: {short(exc)}")
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("memory", None))
    out.write(data)
    out.flush()


if __name__ == "__main__":
    _main()
