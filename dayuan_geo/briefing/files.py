"""One briefing file, built and recorded in the audit log: the operation the overview's button and
`python -m dayuan_geo briefing` both call, so the page and the command line cannot disagree."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dayuan_geo import audit, text
from dayuan_geo.briefing import content, pdf, word
from dayuan_geo.overview.queries import Cursor
from dayuan_geo.text import t

FORMATS = ("pdf", "docx")
ROLES = frozenset({"leader", "planner"})  # who the briefing button is for (the command line is the operator's)
MIME = {"pdf": "application/pdf",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def months(data_date: dt.date, *, count: int = 24) -> list[str]:
    """The months a briefing can be asked for, the data date's first (YYYY-MM)."""
    out, y, m = [], data_date.year, data_date.month
    for _ in range(count):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def file_name(month: str, fmt: str, lang: str) -> str:
    """大源街道工作汇报_2026-11.pdf: the export names' form (text.file_name), in the briefing's language."""
    return f"{text.file_name(t('brief_file', lang), month, lang=lang)}.{fmt}"


def build(cur: Cursor, *, manifest: dict, fmt: str, month: str | None, lang: str, role: str, user: str,
          audit_path: Path | None = None) -> tuple[bytes, str]:
    """The briefing file's bytes and name; the export is in the audit log before the bytes are returned."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    doc = content.build(cur, manifest=manifest, month=month, lang=lang, role=role)
    data = pdf.render(doc) if fmt == "pdf" else word.render(doc)
    name = file_name(doc.month, fmt, lang)
    audit.record(user=user, role=role, action="export", what="briefing", rows=None,
                 filters={"month": doc.month, "as_of": doc.as_of.isoformat()},
                 detail={"format": fmt, "file": name, "lang": lang}, path=audit_path)
    return data, name
