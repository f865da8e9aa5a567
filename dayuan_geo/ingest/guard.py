"""What an import file may be: limits, what its bytes are, safe archives; `Refused` says why not.

Every function here refuses a file with `Refused` and a message a planner can act on; nothing is
unpacked before the archive's members, sizes and ratios are checked.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyproj

from dayuan_geo import settings
from dayuan_geo.ingest.report import say


@dataclass(frozen=True)
class Limits:
    """What a single import may hold; anything larger is refused before it is parsed in bulk."""

    max_bytes: int = 200 * 2**20
    max_unzipped_bytes: int = 1024 * 2**20
    max_ratio: float = 200.0  # uncompressed / compressed size of one zip member
    max_members: int = 5_000
    max_features: int = 1_000_000
    max_vertices: int = 20_000_000
    max_feature_vertices: int = 250_000
    max_columns: int = 500
    max_memory: int = 2 * 2**30  # bytes the child reading a file may map on top of its start
    max_seconds: float = 120.0  # for reading one file, in the child
    extent_margin_m: float = 2_000.0  # features farther than this outside the street are row errors
    max_area_share: float = 0.25  # a parcel or park larger than this share of the street is a row error

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, with any of $DAYUAN_IMPORT_MAX_BYTES, _MAX_FEATURES, _MAX_VERTICES, _MAX_MEMORY,
        _MAX_SECONDS, _EXTENT_MARGIN_M or _MAX_AREA_SHARE raised or lowered."""
        values: dict[str, float] = {}
        for field_name, kind in (("max_bytes", int), ("max_features", int), ("max_vertices", int),
                                 ("max_memory", int), ("max_seconds", float), ("extent_margin_m", float),
                                 ("max_area_share", float)):
            value = settings.get(f"DAYUAN_IMPORT_{field_name.upper()}")  # validated there
            if value is not None:
                values[field_name] = kind(value)
        return cls(**values)


class Refused(Exception):
    """The file as a whole cannot be taken; the message says why and what to do.

    `Refused.say(key, **values)` gives the message in both languages (keys in dayuan_geo.text)."""

    def __init__(self, message: str, *, key: str = "", values: dict | None = None) -> None:
        super().__init__(message)
        self.key, self.values = key, dict(values or {})

    @classmethod
    def say(cls, key: str, **values: object) -> Refused:
        return cls(say(key, "en", values), key=key, values=values)


# ---- sniffing and archives ----------------------------------------------------------------------

def sniff(path: Path) -> str:
    """What the bytes of path are, whatever its name says: zip, sqlite, parquet, json, text or binary."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
        fh.seek(0, 2)
        size = fh.tell()
        tail = b""
        if size >= 8:
            fh.seek(-4, 2)
            tail = fh.read(4)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PAR1") and tail == b"PAR1":
        return "parquet"
    if b"\x00" in head:
        return "binary"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        return "json"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
            try:
                head.decode("gb18030")
            except UnicodeDecodeError:
                return "binary"
    return "text" if head.strip() else "empty"


_EXPECTED = {
    ".geojson": "json", ".json": "json", ".gpkg": "sqlite", ".zip": "zip", ".xlsx": "zip",
    ".csv": "text", ".txt": "text", ".parquet": "parquet", ".geoparquet": "parquet",
}
_KIND_NAMES = {"zip": ("ZIP 压缩包", "a ZIP archive"), "sqlite": ("SQLite 数据库（GeoPackage）",
                                                                  "an SQLite database (GeoPackage)"),
               "parquet": ("Parquet 文件", "a Parquet file"), "json": ("JSON 文本", "JSON text"),
               "text": ("纯文本", "plain text"), "binary": ("二进制数据", "binary data"), "empty": ("空内容", "empty")}


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """The text key of what makes this archive member unsafe, or None."""
    name = info.filename
    if "\\" in name:
        name = name.replace("\\", "/")
    pure = PurePosixPath(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "imp_m_zip_absolute"
    if ".." in pure.parts:
        return "imp_m_zip_dotdot"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "imp_m_zip_symlink"
    if info.flag_bits & 0x1:
        return "imp_m_zip_encrypted"
    return None


def check_zip(path: Path, limits: Limits) -> list[zipfile.ZipInfo]:
    """The members of a zip archive, after refusing traversal, links, encryption and bombs."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Refused.say("imp_m_zip_broken", reason=str(exc)) from None
    if len(infos) > limits.max_members:
        raise Refused.say("imp_m_zip_members", n=len(infos), limit=limits.max_members)
    total = 0
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise Refused.say(problem, member=info.filename)
        total += info.file_size
        if info.file_size > 1_000_000 and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
            raise Refused.say("imp_m_zip_bomb", member=info.filename,
                              ratio=info.file_size / max(info.compress_size, 1), limit=limits.max_ratio)
    if total > limits.max_unzipped_bytes:
        raise Refused.say("imp_m_zip_too_big", n=total, limit=limits.max_unzipped_bytes)
    return infos


def extract_zip(path: Path, dest: Path, limits: Limits) -> list[Path]:
    """Extract a checked archive, counting real bytes (headers can lie); returns the files written."""
    infos = check_zip(path, limits)
    written = []
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in infos:
            if info.is_dir():
                continue
            rel = PurePosixPath(info.filename.replace("\\", "/"))
            target = dest.joinpath(*rel.parts)
            if dest.resolve() not in target.resolve().parents:
                raise Refused.say("imp_m_zip_dotdot", member=info.filename)
            target.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        size += len(chunk)
                        total += len(chunk)
                        if size > info.file_size or total > limits.max_unzipped_bytes:
                            raise Refused.say("imp_m_zip_member_lies", member=info.filename)
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise Refused.say("imp_m_zip_member_broken", member=info.filename, reason=str(exc)) from None
            written.append(target)
    return written


@dataclass
class Raw:
    """What a reader found: attribute columns as text/values, and geometry when the format has it."""

    frame: pd.DataFrame
    geometry: np.ndarray | None  # shapely geometries in the file's coordinates
    crs: pyproj.CRS | None
    fmt: str
    first_row: int = 1  # the row number users see for the first data row
    rows: list[int] | None = None  # each data row's number as the user sees it (Excel's), when not consecutive
    encoding: str = ""  # of the text, as detected or as the file says
    sheet: str = ""  # of a workbook
    map_app: str = ""  # what says the file came from a Chinese map app (DataV/AMap properties, 经度/纬度)

    def row_number(self, i: int) -> int:
        return self.rows[i] if self.rows is not None else i + self.first_row



def short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, n in enumerate(names):
        n = n or f"column_{i + 1}"
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
        out.append(n)
    return out

