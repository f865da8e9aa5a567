"""UI text in Chinese (the default) and English, number/area formatting, and the one escaper.

The labels live in `labels/*.toml`, one file per feature, each key a table with `zh` and `en`; they
are read once, on first use, and a key found in two files is refused. Column and status labels live
in schema.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import tomllib
from pathlib import Path

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LABELS_DIR = Path(__file__).resolve().parent / "labels"


def load_labels(directory: Path = LABELS_DIR) -> dict[str, tuple[str, str]]:
    """Every label of the TOML files in directory, key -> (zh, en).

    Raises ValueError naming the key and the files when a key is defined twice, or when an entry
    is not exactly a zh and an en string.
    """
    labels: dict[str, tuple[str, str]] = {}
    where: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as fh:
            try:
                table = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:  # a key twice in one file lands here
                raise ValueError(f"{path.name}: {exc}") from exc
        for key, entry in table.items():
            if key in labels:
                raise ValueError(f"label {key!r} is defined in both {where[key]} and {path.name}")
            if not isinstance(entry, dict) or set(entry) != set(LANGS) or \
                    not all(isinstance(entry[lang], str) for lang in LANGS):
                raise ValueError(f"{path.name}: label {key!r} must have exactly a zh and an en string")
            labels[key] = (entry["zh"], entry["en"])
            where[key] = path.name
    return labels


@functools.cache
def _labels() -> dict[str, tuple[str, str]]:
    return load_labels()


def t(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """The text for key in lang, with {placeholders} filled from values."""
    zh, en = _labels()[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


EMPTY = "—"  # what an empty value shows, in either language
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))


def is_empty(value: object) -> bool:
    """None, NaN, NaT, pandas' NA and blank text: the values a table shows as EMPTY."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    try:
        return bool(value != value)  # NaN, NaT and pd.NA are not equal to themselves
    except (TypeError, ValueError):  # pd.NA's comparison cannot be a bool
        return True


def fmt_area(m2: float | None, lang: str = DEFAULT_LANG) -> str:
    """An area the way people on the street say it: 万平方米 in Chinese, m² with separators in English."""
    if m2 is None or (isinstance(m2, float) and math.isnan(m2)):
        return EMPTY
    if lang == "zh":
        return f"{m2 / 10_000:,.2f} 万㎡"
    return f"{m2:,.0f} m²"


def area_axis(lang: str = DEFAULT_LANG) -> tuple[float, str]:
    """How a chart's area axis counts, as fmt_area does: (divide m² by this, plotly tickformat).

    Chinese charts count 万㎡ (no `50k` SI ticks), English ones whole m² with separators."""
    return (10_000.0, ",.4~f") if lang == "zh" else (1.0, ",.0f")


def _parsed(value: object) -> object:
    """An ISO date or time given as text, as a datetime; anything else (or text that is neither) as is."""
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def fmt_date(value: object) -> str:
    """A date (or the date of a timestamp) as YYYY-MM-DD; EMPTY for none."""
    if is_empty(value):
        return EMPTY
    value = _parsed(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def fmt_dates(days):
    """A column of dates (pandas datetime64) as YYYY-MM-DD text, EMPTY for none: one type, so a table
    on screen never mixes dates and text (Arrow refuses the mix); exports keep the dates."""
    return days.dt.strftime("%Y-%m-%d").astype(object).where(days.notna(), EMPTY)


def fmt_time(value: object, lang: str = DEFAULT_LANG) -> str:
    """A moment in China time with the zone named (`2026-11-30 20:31 北京时间`); a time without a
    zone is taken as UTC, the way the logs and manifests write them. EMPTY for none."""
    if is_empty(value):
        return EMPTY
    value = _parsed(value)
    if not isinstance(value, dt.datetime):
        return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return f"{value.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} {t('tz_china', lang)}"


_FILE_NAME_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\u202a-\u202e\u2066-\u2069]+')


def file_name(*parts: object, day: dt.date | str | None = None, lang: str = DEFAULT_LANG, limit: int = 3) -> str:
    """An export's file name (without its suffix) from the table's label, the filter's gist and the
    data date: `地块_石湖村委会_已释放_2026-11-20`. Empty parts are skipped, a part of several values
    keeps its first `limit` and says how many more (`石湖村委会等3个`), and characters no file system
    takes are dropped."""
    words: list[str] = []
    for part in parts:
        values = [str(v) for v in part if not is_empty(v)] if isinstance(part, list | tuple) else (
            [] if is_empty(part) else [str(part)])
        if not values:
            continue
        text = ("、" if lang == "zh" else ",").join(values[:limit])
        if len(values) > limit:
            text += t("file_name_more", lang, n=len(values))
        words.append(text)
    if day is not None:
        words.append(day.isoformat() if isinstance(day, dt.date) else str(day))
    name = "_".join(_FILE_NAME_UNSAFE.sub("", w).strip() for w in words)
    return name[:150] or "export"


_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~$:&=\"'")
# Bidirectional controls (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM, RLM, ALM): a name holding
# them could show its characters in another order than they are stored, so they are dropped.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))
# GitHub-flavoured markdown turns bare `http://…`, `https://…`, `www.…` and `name@host.tld` into links
# after the escapes are resolved, so a backslash cannot stop it: a word joiner (U+2060, invisible, no
# width) placed inside the pattern does.
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?=@)")
WORD_JOINER = "\u2060"
_BIDI_SET = frozenset(chr(c) for c in _BIDI_CONTROLS)


def md_text(value: object, *, empty: str = "") -> str:
    """Text from the data, safe inside Streamlit markdown (titles, captions, st.markdown, and the
    labels of expanders, tabs, radios, checkboxes and metrics, and help=): every character markdown,
    LaTeX, colour/emoji directives or HTML could act on is escaped, bare URLs and e-mail addresses
    are kept from becoming links, bidirectional overrides are dropped and line breaks become spaces,
    so a firm named `<img src=x onerror=...>`, `[x](javascript:...)` or `www.evil.example` shows as
    exactly that text. None and "" give `empty` (pass "—" where an empty cell must show)."""
    text = "" if value is None else str(value).translate(_BIDI_CONTROLS)
    if not text:
        return empty
    text = _AUTOLINK.sub(WORD_JOINER, text)
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else (" " if ch in "\r\n\t" else ch) for ch in text)


def terminal_text(value: object) -> str:
    """Text from the data made inert for a terminal (the command line's history, reports): control
    characters (escape sequences that move the cursor, clear the screen or rewrite the title) and
    bidirectional overrides show as \\xNN / \\uNNNN instead of acting."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() and ch not in _BIDI_SET else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)
