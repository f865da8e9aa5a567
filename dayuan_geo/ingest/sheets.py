"""CSV and Excel ledgers as they come: a title row, blank rows, then the header (the usual 台账).

The header is the row, among the first `HEADER_SEARCH_ROWS`, whose cells best match the table's
known column names (`score`, from `ingest.columns`); `header_row` overrides the guess. Rows keep the
numbers Excel shows, so a report's "row 7" is the row the planner sees as 7.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable

import pandas as pd

from dayuan_geo.ingest.guard import Limits, Raw, Refused, check_zip, short, unique_names

HEADER_SEARCH_ROWS = 20
ScoreFn = Callable[[list[str]], int]


def _is_blank(values: Iterable[object]) -> bool:
    return all(v is None or str(v).strip() == "" for v in values)


def _frame(numbered: list[tuple[int, list]], *, fmt: str, score: ScoreFn | None, header_row: int | None,
           limits: Limits, sheet: str = "") -> Raw:
    """Header found (or given), data rows below it with their own numbers, blank rows dropped."""
    rows = [(n, list(v)) for n, v in numbered if not _is_blank(v)]
    if not rows:
        raise Refused.say("imp_m_sheet_empty", sheet=sheet or fmt)
    if header_row is not None:
        at = [i for i, (n, _) in enumerate(rows) if n == header_row]
        if not at:
            raise Refused.say("imp_m_header_row_blank", row=header_row)
        pick = at[0]
    else:
        head = rows[:HEADER_SEARCH_ROWS]
        scores = [score([str(v).strip() for v in vals if v is not None]) if score else 0 for _, vals in head]
        pick = max(range(len(head)), key=lambda i: (scores[i], -i))
    number, header_cells = rows[pick]
    while header_cells and (header_cells[-1] is None or str(header_cells[-1]).strip() == ""):
        header_cells.pop()
    header = [str(v).strip() if v is not None else "" for v in header_cells]
    if len(header) > limits.max_columns:
        raise Refused.say("imp_m_too_many_columns", n=len(header), limit=limits.max_columns)
    body = rows[pick + 1:]
    data = [(vals + [None] * (len(header) - len(vals)))[: len(header)] for _, vals in body]
    frame = pd.DataFrame(data, columns=unique_names(header), dtype=object)
    return Raw(frame, None, None, fmt, rows=[n for n, _ in body], sheet=sheet, first_row=number + 1)


_EXCEL_TEXT = re.compile(r'^="(\d+)"$')


def _excel_text(value: str) -> str:
    """A code an export wrote as ="440111021202" (so Excel keeps it text) read back as the code."""
    match = _EXCEL_TEXT.match(value)
    return match.group(1) if match else value


def read_csv(path, limits: Limits, *, score: ScoreFn | None = None, header_row: int | None = None) -> Raw:
    data = path.read_bytes()
    text, name = "", ""
    for enc, label in (("utf-8-sig", "UTF-8"), ("gb18030", "GBK")):
        try:
            text, name = data.decode(enc), label
            break
        except UnicodeDecodeError:
            continue
    if not name:
        raise Refused.say("imp_m_csv_encoding")
    if text.count("\n") > limits.max_features + HEADER_SEARCH_ROWS:
        raise Refused.say("imp_m_too_many_rows", limit=limits.max_features)
    try:
        numbered = list(enumerate(csv.reader(io.StringIO(text, newline="")), start=1))
    except csv.Error as exc:
        raise Refused.say("imp_m_not_readable", fmt="CSV", reason=short(exc)) from None
    if any(len(vals) > limits.max_columns for _, vals in numbered[:HEADER_SEARCH_ROWS]):
        raise Refused.say("imp_m_too_many_columns", n=max(len(v) for _, v in numbered), limit=limits.max_columns)
    raw = _frame([(n, [_excel_text(v.strip()) for v in vals]) for n, vals in numbered], fmt="CSV", score=score,
                 header_row=header_row, limits=limits)
    raw.frame = raw.frame.fillna("")
    raw.encoding = name
    return raw


def read_xlsx(path, limits: Limits, *, score: ScoreFn | None = None, header_row: int | None = None,
              sheet: str | None = None) -> Raw:
    """The chosen sheet (by name or 1-based number; else the one whose header matches best)."""
    import openpyxl
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:  # openpyxl parses with defusedxml when it is installed; never without it
        raise Refused.say("imp_m_xlsx_needs_defusedxml")
    names = {i.filename for i in check_zip(path, limits)}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise Refused.say("imp_m_xlsx_no_workbook")
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            sheets = wb.worksheets
            if sheet:
                chosen = [ws for i, ws in enumerate(sheets, 1) if ws.title == sheet or str(i) == str(sheet).strip()]
                if not chosen:
                    raise Refused.say("imp_m_no_sheet", sheet=sheet, sheets=", ".join(ws.title for ws in sheets[:20]))
                ws = chosen[0]
            elif len(sheets) == 1 or score is None:
                ws = sheets[0]
            else:  # a cover sheet (说明) before the ledger: take the sheet whose header matches best
                ws = max(sheets, key=lambda w: (max((score([str(v) for v in r if v is not None])
                                                     for _, r in _rows(w, limits, HEADER_SEARCH_ROWS)), default=0),
                                                -sheets.index(w)))
            numbered = _rows(ws, limits, None)
            title = ws.title
        finally:
            wb.close()
    except Refused:
        raise
    except Exception as exc:
        raise Refused.say("imp_m_xlsx_broken", reason=short(exc)) from None
    return _frame(numbered, fmt="XLSX", score=score, header_row=header_row, limits=limits, sheet=title)


def _rows(ws, limits: Limits, most: int | None) -> list[tuple[int, list]]:
    """(Excel row number, cell values) streamed with the width capped, so a sheet whose cells reach
    column XFD cannot make every row 16,384 cells wide; its declared size is checked first."""
    width, height = ws.max_column, ws.max_row  # from the sheet's <dimension>, when it has one
    if width is not None and width > limits.max_columns:
        raise Refused.say("imp_m_sheet_too_wide", sheet=ws.title, n=width, limit=limits.max_columns)
    if height is not None and height > limits.max_features + HEADER_SEARCH_ROWS:
        raise Refused.say("imp_m_too_many_rows", limit=limits.max_features)
    out: list[tuple[int, list]] = []
    for number, values in enumerate(ws.iter_rows(values_only=True, max_col=limits.max_columns + 1), start=1):
        if most is not None and number > most:
            break
        if len(values) > limits.max_columns and values[limits.max_columns] is not None:
            raise Refused.say("imp_m_sheet_too_wide", sheet=ws.title, n=len(values), limit=limits.max_columns)
        if len(out) > limits.max_features + HEADER_SEARCH_ROWS:
            raise Refused.say("imp_m_too_many_rows", limit=limits.max_features)
        if not _is_blank(values):
            out.append((number, list(values[: limits.max_columns])))
    return out
