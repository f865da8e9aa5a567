"""Hostile names in real Chromium: on the firms and land pages no name becomes a link or an element.

The dataset names a firm, a parcel, a park and a village `<img src=x onerror=...>`,
`[x](javascript:...)`, `http://evil.example`, `www.evil.example`, LaTeX and a right-to-left
override (tests/hostile/names.py); the pages open on the hostile firm's and parcel's stories.
"""

from __future__ import annotations

import pytest

from tests.hostile.names import FIRM_SUFFIX, HOSTILE, PARCEL_SUFFIX, write_hostile_dataset

from .conftest import SCREENSHOTS, AppServer

LINKS = "a[href^='javascript'], a[href*='evil.example'], a[href^='mailto']"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, browser):
    path = tmp_path_factory.mktemp("hostile-browser") / "data"
    ids = write_hostile_dataset(path)
    server = AppServer(path)
    yield server, ids
    server.stop()


def _wait_until_idle(page, timeout_ms: int = 120_000) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout_ms)


CASES = [("firms", "firm", 0, FIRM_SUFFIX), ("firms", "firm", 2, FIRM_SUFFIX), ("firms", "firm", 3, FIRM_SUFFIX),
         ("land", "parcel", 1, PARCEL_SUFFIX)]


@pytest.mark.parametrize(("path", "key", "which", "suffix"), CASES)
def test_hostile_names_are_text_not_links(hostile_server, page, path, key, which, suffix):
    server, ids = hostile_server
    ident = ids[f"firm{which}"] if key == "firm" else ids[key]
    page.goto(f"{server.url}/{path}?{key}={ident}", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stDeckGlJsonChart'] canvas", timeout=120_000)
    _wait_until_idle(page)
    page.screenshot(path=str(SCREENSHOTS / f"hostile-{path}-{which}.png"), full_page=False)
    main = page.locator("[data-testid='stMain']")
    assert page.locator(LINKS).count() == 0
    assert main.locator("img[src='x']").count() == 0
    assert main.locator(".katex").count() == 0  # no LaTeX typeset
    name = HOSTILE[which] + suffix
    text = main.inner_text().replace("\u2060", "")
    assert name in text  # the story shows the name literally
    markdown = " ".join(main.locator("[data-testid='stMarkdownContainer']").all_inner_texts())
    assert "\u202e" not in markdown  # overrides are dropped from text shown as markdown
    assert not [e for e in page.console_errors if "alert" in e]
