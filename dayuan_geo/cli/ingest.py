"""python -m dayuan_geo import | history | restore."""

from __future__ import annotations

from pathlib import Path

from dayuan_geo import schema as S
from dayuan_geo.cli.common import _data_dir
from dayuan_geo.dataset import versions
from dayuan_geo.ingest import run as ingest
from dayuan_geo.text import terminal_text


def cmd_import(args) -> int:
    import getpass
    import sys

    path = Path(args.file)
    try:
        maps = ingest.parse_mapping(args.map)
        constants = ingest.parse_constants(args.set)
    except ValueError as exc:
        print(f"REFUSED {path.name}: {exc}")
        return 2
    if not path.is_file():
        print(f"REFUSED {path.name}: no such file")
        return 2
    if args.with_:  # a set of files, one per table, published together or not at all
        items = [(path, args.table)]
        for item in args.with_:
            file, sep, table = item.rpartition("=")
            if not sep or not Path(file).is_file() or table not in S.TABLE_NAMES:
                print(f"REFUSED {path.name}: --with {item!r}: write FILE=TABLE with an existing file and a table")
                return 2
            items.append((Path(file), table))
        results = ingest.run_import_set(items, directory=_data_dir(args), user=args.user or getpass.getuser(),
                                        role=args.role, crs=args.crs, skip_invalid=args.skip_invalid,
                                        dry_run=args.dry_run, mode=args.mode, cascade=args.cascade)
        print("\n".join(r.report.to_text() for r in results))
        return max(r.exit_code for r in results)
    result = ingest.run_import(
        path, table=args.table, directory=_data_dir(args), user=args.user or getpass.getuser(), role=args.role,
        crs=args.crs, mapping=maps, constants=constants, skip_invalid=args.skip_invalid, dry_run=args.dry_run,
        mode=args.mode, layer=args.layer, sheet=args.sheet, header_row=args.header_row, cascade=args.cascade,
        progress=lambda step, f: print(f"[{f:4.0%}] {step}", file=sys.stderr),
    )
    print(result.report.to_text())  # the operation wrote the audit entry (exit 3: version made, audit failed)
    return result.exit_code


def cmd_history(args) -> int:
    rows = versions.history(_data_dir(args))
    if not rows:
        print("no versions")
        return 0
    print(f"{'version':>7}  {'when (UTC)':20} {'who':12} {'table':14} {'mode':8} {'+':>6} {'~':>6} {'-':>6}  file")
    for h in rows:
        mark = "*" if h["current"] else " "
        nums = [("" if h[k] is None else str(h[k])) for k in ("added", "changed", "removed")]
        what = terminal_text(h["file"] or h["note"])  # an uploaded file's name may carry escape sequences
        user, table = terminal_text(h["user"]), terminal_text(h["table"])
        print(f"{mark}{h['version']:>6}  {str(h['created_at'])[:19]:20} {user[:12]:12} {table[:14]:14} "
              f"{(h['mode'] or h['source'] or '')[:8]:8} {nums[0]:>6} {nums[1]:>6} {nums[2]:>6}  {what}")
    return 0


def cmd_restore(args) -> int:
    import getpass

    manifest = versions.restore(_data_dir(args), args.version, user=args.user or getpass.getuser(), role=args.role)
    print(f"restored version {args.version} as version {manifest['dataset_version']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("import", help="import a file into a table (GeoJSON, GPKG, zipped SHP/GDB, CSV, XLSX, "
                                      "GeoParquet)")
    p.add_argument("file")
    p.add_argument("--table", required=True, choices=S.TABLE_NAMES)
    p.add_argument("--crs", help="coordinates when the file names none: EPSG:NNNN, gcj02 (AMap) or bd09 (Baidu)")
    p.add_argument("--map", action="append", metavar="TARGET=SOURCE", help="take column TARGET from SOURCE")
    p.add_argument("--set", action="append", metavar="COLUMN=VALUE",
                   help="give every row this value (e.g. --set ownership=集体); a column the file lacks")
    p.add_argument("--layer", help="layer of a GeoPackage or File Geodatabase")
    p.add_argument("--sheet", help="worksheet of an Excel file (name or number; default: the best match)")
    p.add_argument("--header-row", type=int, metavar="N",
                   help="row (as Excel numbers it) holding the column names, when the guess is wrong")
    p.add_argument("--with", dest="with_", action="append", metavar="FILE=TABLE",
                   help="another file of the same import, for another table (e.g. a replace of villages with their "
                        "grids.geojson=grids): all are checked together and published as one version")
    p.add_argument("--cascade", action="store_true",
                   help="with --mode replace: also remove rows of other tables that point at removed rows")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid rows, report the rest")
    p.add_argument("--dry-run", action="store_true", help="only report")
    p.add_argument("--mode", choices=ingest.MODES, default="append")
    p.add_argument("--user", help="who imports (default: the login name)")
    p.add_argument("--role", default="planner", help="role of the user (import needs planner)")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("history", help="versions of the dataset: when, who, what file, rows changed")
    p.set_defaults(handler=cmd_history)

    p = sub.add_parser("restore", help="bring back a kept version (as a new version)")
    p.add_argument("version", type=int)
    p.add_argument("--user")
    p.add_argument("--role", default="planner")
    p.set_defaults(handler=cmd_restore)
