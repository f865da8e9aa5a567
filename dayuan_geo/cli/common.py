"""What every subcommand shares: exit codes, the data dir, dates and the progress bar."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from dayuan_geo.dataset import files as dataset

EXIT_OK = 0
EXIT_REFUSED = 2


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir).resolve() if args.data_dir else dataset.data_dir()


def _progress_bar(step: str, fraction: float) -> None:
    width = 30
    done = round(width * max(0.0, min(1.0, fraction)))
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {fraction:4.0%} {step:<24}")
    sys.stderr.flush()
    if fraction >= 1.0:
        sys.stderr.write("\n")
