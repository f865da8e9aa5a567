"""python -m dayuan_geo remediation late|stuck|projects|history."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from duckdb import DuckDBPyConnection as Cursor

from dayuan_geo import export
from dayuan_geo.cli.common import _data_dir, _date
from dayuan_geo.remediation import queries as R
from dayuan_geo.store import Store

# ---- command line: python -m dayuan_geo remediation late|stuck|projects|history ---------------

LISTS = ("late", "stuck", "projects", "history")


def cli_table(cur: Cursor, *, which: str, as_of: dt.date, stalled_days: int, lang: str) -> tuple[pd.DataFrame, str]:
    """The list asked for, as people read it, and the schema table it exports as."""
    if which not in LISTS:
        raise ValueError(f"unknown list {which!r}; choose one of {', '.join(LISTS)}")
    villages = dict(cur.execute(
        f"SELECT code, {'name_zh' if lang == 'zh' else 'name_en'} FROM villages"  # noqa: S608 - allow-list
    ).fetchall())
    if which == "history":
        return (R.labelled(R.stage_history(cur, as_of=as_of), R.HISTORY_COLUMNS, lang=lang, villages=villages,
                         table="remediation_events"), "remediation_events")
    projects = R.project_list(cur, as_of=as_of, stalled_days=stalled_days)
    rows, columns = {
        "late": (R.late_projects(projects), R.LATE_COLUMNS),
        "stuck": (R.stuck_projects(projects), R.STUCK_COLUMNS),
        "projects": (projects, R.PROJECT_COLUMNS),
    }[which]
    return R.labelled(rows, columns, lang=lang, villages=villages), "remediation_projects"


def _json_value(value: object) -> object:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else str(value)


def _cmd(args) -> int:
    store = Store(_data_dir(args))
    as_of = args.as_of or dt.date.fromisoformat(store.as_of)
    table, schema_table = cli_table(store.cursor(), which=args.list, as_of=as_of,
                                    stalled_days=args.stalled_days, lang=args.lang)
    if args.out:
        fmt = args.out.suffix.lower().lstrip(".")
        if fmt not in ("csv", "xlsx"):
            raise ValueError(f"--out must end in .csv or .xlsx, not {args.out.name!r}")
        args.out.write_bytes(export.export(table, fmt=fmt, table=schema_table, lang=args.lang))
        print(f"{len(table)} rows written to {args.out}")
    elif args.json:
        records = table.astype(object).where(table.notna(), None).to_dict("records")
        print(json.dumps(records, ensure_ascii=False, default=_json_value))
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200):
            print(table.to_string(index=False) if len(table) else "(none)")
    return 0


def register(sub) -> None:
    """Adds `remediation`: the late, stuck, project or stage-history list, printed or exported."""
    p = sub.add_parser("remediation", help="late and stuck projects, the project list, stage history")
    p.add_argument("list", choices=LISTS)
    p.add_argument("--as-of", type=_date, help="day to compute them for (default: the data date)")
    p.add_argument("--stalled-days", type=int, default=R.DEFAULT_STALLED_DAYS,
                   help="stuck after this many days with no stage change (default 90)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--out", type=Path, help="write CSV (UTF-8 with BOM) or XLSX, by the file's suffix")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd)
