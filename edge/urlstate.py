"""A page's filters and selection kept in the URL, so a link (or a reload) reproduces the view.

A page lists its parameters once; before drawing its widgets it calls `follow`, which seeds the
widgets' session state from the URL on the first run and whenever the URL changed since the page
last wrote it (a link opened, the browser's back button); after the widgets it calls `write`, which
puts their values back (codes, defaults left out). Values a link gets wrong are dropped and named.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import streamlit as st

from dayuan_geo import schema as S


@dataclass(frozen=True)
class Param:
    """One URL parameter bound to one widget's session-state key.

    `parse` turns one URL value (a code, or a label in either language) into the widget's value, or
    None when the link got it wrong; `show` turns the widget's value back into the URL's text.
    """

    name: str
    key: str
    parse: Callable[[str], object | None]
    multi: bool = False
    default: object = None
    show: Callable[[object], str] = field(default=str)


def choice(options: Iterable[str], *, labels: Callable[[str], str | None] | None = None
           ) -> Callable[[str], str | None]:
    """A parser accepting the codes in options, and (through `labels`, e.g. an Enum's parse) their labels."""
    allowed = set(options)

    def parse(text: str) -> str | None:
        code = text if text in allowed else (labels(text) if labels else None)
        return code if code in allowed else None

    return parse


def integer(*, low: int, high: int) -> Callable[[str], int | None]:
    def parse(text: str) -> int | None:
        try:
            value = int(text)
        except ValueError:
            return None
        return value if low <= value <= high else None

    return parse


def _state_key(page: str) -> str:
    return f"_url_written_{page}"


def _current(params: Iterable[Param]) -> dict[str, list[str]]:
    return {p.name: st.query_params.get_all(p.name) for p in params}


@dataclass(frozen=True)
class Followed:
    seeded: bool  # the widgets were set from the URL on this run (a link was opened)
    ignored: list[str]  # `name=value` for every value that was not understood


def follow(params: list[Param], *, page: str) -> Followed:
    """Seed the widgets from the URL unless it is what the page wrote last."""
    url = _current(params)
    if st.session_state.get(_state_key(page)) == url and all(p.key in st.session_state for p in params):
        return Followed(False, [])
    ignored: list[str] = []
    for p in params:
        values = url[p.name]
        parsed = []
        for text in values:
            value = p.parse(text)
            if value is None:
                ignored.append(f"{p.name}={text}")
            elif value not in parsed:
                parsed.append(value)
        if p.multi:
            st.session_state[p.key] = parsed or list(p.default or [])
        else:
            st.session_state[p.key] = parsed[0] if parsed else p.default
    st.session_state[_state_key(page)] = url
    return Followed(True, ignored)


def write(params: list[Param], *, page: str) -> None:
    """Put the widgets' values into the URL, leaving out the defaults."""
    for p in params:
        value = st.session_state.get(p.key, p.default)
        if p.multi:
            values = [] if list(value or []) == list(p.default or []) else [p.show(v) for v in (value or [])]
        else:
            values = [] if value is None or value == p.default else [p.show(value)]
        if values != st.query_params.get_all(p.name):
            if values:
                st.query_params[p.name] = values if len(values) > 1 else values[0]
            else:
                st.query_params.pop(p.name, None)
    st.session_state[_state_key(page)] = _current(params)


_PARK_ID = re.compile(r"P\d{3,9}")
REM_TAB = "rem_section"  # the open section of the remediation page, as a code (edge.tabs.open_tabs)
REM_SECTIONS = ("map", "late", "stuck", "timeline", "durations", "progress", "projects")


def remediation_params(*, villages: list[str], stalled_default: int) -> list[Param]:
    """/remediation?mode=…&village=…&stalled=…&park=… (the park whose story is open)&tab=stuck (the
    open section; the map, where a park's story is, when the link names none)."""
    return [
        Param("mode", "rem_modes", choice(S.REMEDIATION_MODE.codes, labels=S.REMEDIATION_MODE.parse), multi=True),
        Param("village", "rem_villages", choice(villages), multi=True),
        Param("stalled", "rem_threshold", integer(low=1, high=3650), default=stalled_default),
        Param("park", "rem_story_park", lambda text: text if _PARK_ID.fullmatch(text) else None),
        Param("tab", REM_TAB, choice(REM_SECTIONS), default="map"),
    ]
