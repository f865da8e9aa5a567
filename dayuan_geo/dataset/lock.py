"""One writer at a time per data dir: an fcntl lock on `.writer.lock`, re-entrant within a thread."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".writer.lock"
LOCK_TIMEOUT_S = 60.0
_held: dict[str, int] = {}  # (data dir, thread) -> depth of writer_lock held
_held_lock = threading.Lock()


class WriterBusy(RuntimeError):
    """Another process is writing the dataset."""


@contextlib.contextmanager
def writer_lock(directory: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the data dir's writer lock (re-entrant within this process); WriterBusy after timeout."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = f"{directory.resolve()}|{threading.get_ident()}"  # re-entrant per thread, exclusive across threads
    with _held_lock:
        if _held.get(key):
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_lock:
                _held[key] -= 1
        return
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + (LOCK_TIMEOUT_S if timeout is None else timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriterBusy(f"another import or restore is writing {directory}; try again shortly") from None
                time.sleep(0.1)
        with _held_lock:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_lock:
                _held.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
