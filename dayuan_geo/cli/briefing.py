"""python -m dayuan_geo briefing: the monthly briefing (汇报材料) as PDF or Word.

    python -m dayuan_geo briefing -o briefing.pdf                      # the data date's month, Chinese
    python -m dayuan_geo briefing --month 2026-10 --format docx --lang en -o october.docx

Figures are those of `kpis --json --as-of` the month's last day (the data date for its own month).
The file is recorded in the audit log under the login name, like any export.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from dayuan_geo import audit
from dayuan_geo.briefing import files
from dayuan_geo.cli.common import EXIT_OK, _data_dir
from dayuan_geo.store import Store
from dayuan_geo.text import LANGS

_SUFFIX = {".pdf": "pdf", ".docx": "docx"}


def cmd_briefing(args: argparse.Namespace) -> int:
    path = Path(args.output)
    fmt = args.format or _SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"say --format (pdf or docx); {path.name!r} does not tell")
    directory = _data_dir(args)
    store = Store(directory)
    try:
        # the shell is the machine's operator, who holds the files: the briefing names firms (as a leader's)
        data, _ = files.build(store.cursor(), manifest=store.manifest, fmt=fmt, month=args.month, lang=args.lang,
                              role="leader", user=getpass.getuser(), audit_path=audit.audit_file(directory))
    finally:
        store.close()
    path.write_bytes(data)
    print(f"briefing for {args.month or 'the data date'} written to {path} ({fmt}, {len(data):,} bytes)")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `briefing` to the CLI."""
    p = sub.add_parser("briefing", help="the monthly briefing as PDF or Word", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--month", metavar="YYYY-MM", help="default: the data date's month")
    p.add_argument("--format", choices=files.FORMATS, help="default: from the output file's suffix")
    p.add_argument("--lang", choices=LANGS, default="zh")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.set_defaults(handler=cmd_briefing)
