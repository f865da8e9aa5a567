"""Hostile names stay literal text on every page.

The same strings (an HTML tag, a markdown link, bare URLs, LaTeX, a right-to-left override) are
given as the names of villages, parks, parcels, firms and remediation responsible units; every page
runs for every role that may open it, and no markdown-rendered element (titles, captions, markdown,
metrics, tabs, expanders, radios, alerts, help texts) nor any map tooltip may carry them in a form
that Streamlit's markdown or the deck's HTML tooltip would act on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dayuan_geo.text import md_text
from tests.hostile.names import FIRM_SUFFIX, HOSTILE, write_hostile_dataset

APP = str(Path(__file__).resolve().parents[2] / "app.py")

PAGES = {  # page file -> the roles that may open it (dayuan_geo.access.PAGE_ROLES)
    "pages/overview.py": ("leader", "planner", "inspector", "viewer"),
    "pages/land.py": ("leader", "planner", "inspector", "viewer"),
    "pages/remediation.py": ("leader", "planner", "inspector"),
    "pages/firms.py": ("leader", "planner", "inspector"),
    "pages/import.py": ("planner",),
    "pages/audit.py": ("leader",),
}
WORD_JOINER = "\u2060"


def unescape(markdown: str) -> str:
    """What a reader sees of markdown text whose every special character is backslash-escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


def problems_in(text: str) -> list[str]:
    """The ways text would let a hostile name act, as markdown or as HTML."""
    found = []
    if "<img src=x" in text:
        found.append("raw HTML tag")
    if "](javascript" in text:
        found.append("markdown link")
    if "frac{" in text:
        found.append("LaTeX")
    if "\u202e" in text:
        found.append("right-to-left override")
    seen = unescape(text).lower()
    if "http://evil" in seen or "www.evil" in seen:
        found.append("bare URL a markdown renderer turns into a link")
    return found


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("hostile") / "data"
    return path, write_hostile_dataset(path)


def test_md_text_neutralises_each_hostile_string():
    for name in HOSTILE:
        out = md_text(name)
        assert problems_in(out) == [], (name, out)
        # a reader sees the name itself (bidirectional overrides dropped, the invisible joiner aside)
        assert unescape(out).replace(WORD_JOINER, "") == name.replace("\u202e", "")
    assert md_text("") == "" and md_text(None, empty="—") == "—"
    assert md_text("mailto:a@b.example").count(WORD_JOINER) == 1  # e-mail autolinks too


def _texts(at: AppTest) -> list[str]:
    """Every string of the run that Streamlit renders as markdown (st.table's cells too), plus the maps' JSON."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
                 "success", "exception"):
        out += [str(e.value) for e in getattr(at, kind)]
    for m in at.metric:
        out += [m.label, str(m.value), str(m.proto.delta), str(m.help or "")]
    for table in at.table:  # st.table reads its cells as Markdown
        out += [str(v) for v in table.value.to_numpy().ravel()]
    for e in at.expander:
        out.append(e.label)
    for tab in at.tabs:
        out.append(tab.label)
    for r in at.radio:
        out += [r.label, *map(str, r.options), str(r.help or "")]
    for c in [*at.checkbox, *at.toggle]:
        out += [c.label, str(c.help or "")]
    for w in [*at.selectbox, *at.multiselect, *at.slider, *at.number_input, *at.text_input]:
        out += [w.label, str(w.help or "")]
    return out


def _tooltips(at: AppTest) -> tuple[list[str], list[str]]:
    """The maps' tooltip templates, and the values put in place of their {field} placeholders.

    Streamlit's deck component HTML-escapes the values it puts into an `html` template and a `text`
    template is shown as text, so values may hold anything; a template itself is never escaped.
    """
    templates: list[str] = []
    values: list[str] = []
    for deck in at.get("deck_gl_json_chart"):
        spec = json.loads(deck.proto.json)
        tooltip = json.loads(deck.proto.tooltip) if deck.proto.tooltip else {}
        template = str(tooltip.get("html") or tooltip.get("text") or "")
        templates.append(template)
        fields = set(re.findall(r"{(\w+)}", template))
        for layer in spec.get("layers", []):
            data = layer.get("data")
            for row in data if isinstance(data, list) else []:
                if isinstance(row, dict):
                    values += [str(v) for k, v in row.items() if k in fields]
    return templates, values


def _run(page: str, role: str, *, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.session_state["role"] = role  # local mode previews a role
    at.switch_page(page)
    return at.run()


@pytest.mark.parametrize(("page", "role"), [(p, r) for p, roles in PAGES.items() for r in roles])
def test_hostile_names_stay_literal_on_every_page(hostile, monkeypatch, tmp_path, page, role):
    data_dir, ids = hostile
    monkeypatch.setenv("DAYUAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DAYUAN_AUDIT_FILE", str(tmp_path / "audit.jsonl"))
    params = {"firm": ids["firm"], "parcel": ids["parcel"]}
    at = _run(page, role, params=params)
    assert not at.exception, at.exception
    if page == "pages/remediation.py":  # open the story of a park with a hostile name
        at.selectbox(key="rem_story_park").set_value(ids["park"]).run()
        assert not at.exception
    texts = _texts(at)
    bad = [(problems_in(text), text[:160]) for text in texts if problems_in(text)]
    assert not bad, bad
    templates, values = _tooltips(at)
    assert not [t for t in templates if problems_in(t)]
    if page in ("pages/firms.py", "pages/land.py"):  # the names reach the maps, as tooltip values
        assert any(HOSTILE[0] in v for v in values)
    if page == "pages/firms.py":  # the story title shows the name, literally
        title = next(s.value for s in at.subheader if FIRM_SUFFIX in s.value)
        assert unescape(title).replace(WORD_JOINER, "").endswith(f"{HOSTILE[0]}{FIRM_SUFFIX}")
