"""python -m dayuan_geo COMMAND ...: the product from the shell.

Every command exits 0 on success and 2 with one clear line per problem otherwise; no traceback
reaches the user for bad input or a broken dataset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path

from . import dataset

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


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    target = _data_dir(args)
    if args.if_missing and (target / "manifest.json").exists():
        print(f"dataset present in {target}; nothing built")
        return EXIT_OK
    manifest = demo.write(target, seed=args.seed, scale=args.scale, as_of=args.as_of,
                          progress=_progress_bar)
    _progress_bar("done", 1.0)
    rows = {name: entry["rows"] for name, entry in manifest["files"].items()}
    print(f"demo dataset v{manifest['dataset_version']} (scale {args.scale}, seed {args.seed}, "
          f"as of {manifest['as_of']}) written to {target}")
    print(", ".join(f"{k}: {v:,}" for k, v in rows.items()))
    return EXIT_OK


def cmd_kpis(args: argparse.Namespace) -> int:
    from . import queries
    from .store import Store

    store = Store(_data_dir(args))
    as_of = args.as_of or dt.date.fromisoformat(store.as_of)
    result = queries.kpis(store.cursor(), as_of=as_of, stalled_days=args.stalled_days)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    target = _data_dir(args)
    problems = dataset.validate(target)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {target}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"dataset in {target} is valid")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from . import demo

    parser = argparse.ArgumentParser(prog="python -m dayuan_geo", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="dataset folder (default: $DAYUAN_DATA_DIR or data/)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="build the deterministic demo dataset")
    p.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
    p.add_argument("--scale", choices=sorted(demo.SCALES), default="S")
    p.add_argument("--as-of", type=_date, default=demo.DEFAULT_AS_OF)
    p.add_argument("--if-missing", action="store_true", help="do nothing when a dataset exists")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("kpis", help="the headline numbers")
    p.add_argument("--as-of", type=_date, help="day to compute them for (default: the data date)")
    p.add_argument("--stalled-days", type=int, default=90)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_kpis)

    p = sub.add_parser("validate", help="check every file against the schema and GeoParquet")
    p.set_defaults(handler=cmd_validate)

    for register in _REGISTRARS:
        register(sub)
    return parser


# Feature modules add their commands here: each callable receives the subparsers object.
_REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = []


def _register_users(sub: argparse._SubParsersAction) -> None:
    from . import auth

    auth.register(sub)


_REGISTRARS.append(_register_users)


def _register_ingest(sub: argparse._SubParsersAction) -> None:
    from . import ingest

    ingest.register(sub)  # import, history, restore


_REGISTRARS.append(_register_ingest)


def _register_bench(sub: argparse._SubParsersAction) -> None:
    from . import bench

    bench.register(sub)  # bench: the naive approach against the product


_REGISTRARS.append(_register_bench)


def _register_remediation(sub: argparse._SubParsersAction) -> None:
    from . import remediation

    remediation.register(sub)  # remediation late|stuck|projects|history


_REGISTRARS.append(_register_remediation)


def _register_export(sub: argparse._SubParsersAction) -> None:
    from . import export_cli

    export_cli.register(sub)  # export TABLE --format ... [--filter ...] -o FILE


_REGISTRARS.append(_register_export)


def _register_basemap(sub: argparse._SubParsersAction) -> None:
    from . import tilepack

    tilepack.register(sub)  # basemap list | basemap unpack FILE.mbtiles --name NAME


_REGISTRARS.append(_register_basemap)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (ValueError, PermissionError, FileNotFoundError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
