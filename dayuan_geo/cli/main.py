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

import duckdb

from dayuan_geo import settings
from dayuan_geo.cli import briefing as briefing_cli
from dayuan_geo.cli import export as export_cli
from dayuan_geo.cli import ingest as ingest_cli
from dayuan_geo.cli import remediation as remediation_cli
from dayuan_geo.cli import users as users_cli
from dayuan_geo.cli.common import EXIT_OK, EXIT_REFUSED, _data_dir, _date, _progress_bar
from dayuan_geo.dataset import files as dataset
from dayuan_geo.dataset import versions
from dayuan_geo.maps import tilepack


def cmd_demo(args: argparse.Namespace) -> int:
    from dayuan_geo.demo import build as demo

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
    from dayuan_geo.overview import queries
    from dayuan_geo.store import Store

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
    broken = versions.manifest_problem(target)
    problems = [broken] if broken else dataset.validate(target)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {target}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"dataset in {target} is valid")
    return EXIT_OK


def cmd_settings(args: argparse.Namespace) -> int:
    del args
    for name, value, text in settings.describe():
        print(f"{name:28} {value:24} {text}")
    problems = settings.check()
    for line in problems:
        print(line, file=sys.stderr)
    return EXIT_REFUSED if problems else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from dayuan_geo.demo import build as demo

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

    p = sub.add_parser("settings", help="the DAYUAN_* environment variables in force, and any problem with them")
    p.set_defaults(handler=cmd_settings)

    for register in _REGISTRARS:
        register(sub)
    return parser


def _register_bench(sub: argparse._SubParsersAction) -> None:
    # The benchmark lives outside the product package (benchmarks/); loaded only when asked for.
    from benchmarks import bench

    bench.register(sub)


_REGISTRARS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    users_cli.register,  # users add|list|remove|set-role
    ingest_cli.register,  # import, history, restore
    _register_bench,  # bench: the naive approach against the product
    remediation_cli.register,  # remediation late|stuck|projects|history
    export_cli.register,  # export TABLE --format ... [--filter ...] -o FILE
    tilepack.register,  # basemap list | basemap unpack FILE.mbtiles --name NAME
    briefing_cli.register,  # briefing [--month YYYY-MM] [--format pdf|docx] [--lang zh|en] -o FILE
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (ValueError, PermissionError, FileNotFoundError, OSError, RuntimeError, duckdb.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
