"""What every page shares on screen: the sidebar (language, data stamp, base map, session), the
export buttons, a story's small static tables, and bringing a story opened out of sight into view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from dayuan_geo import access, export
from dayuan_geo import audit as audit_log
from dayuan_geo.maps import basemap as basemaps
from dayuan_geo.overview import views
from dayuan_geo.text import LANGS, md_text
from dayuan_geo.text import t as _t

from .cache import problem, store
from .session import (
    LANG_KEY,
    LANG_NAMES,
    current_account,
    identity,
    lang,
    page_key,
    pending_browser_request,
    role,
    sign_out,
    t,
)


def export_buttons(df, *, table: str, name: str, filters: dict | None = None,
                   formats: tuple[str, ...] = ("csv", "xlsx", "geojson"), geometry: bool | None = None) -> None:
    """Download buttons for exactly df, if the role may export table; files are built on click.

    df may also be a function of no arguments returning the DataFrame, called only on click (for
    selections too big to hold on every rerun); then say whether it has geometry with `geometry`.
    """
    if not access.may_export(table, role()):
        st.caption(t("export_not_allowed"))
        return
    current = lang()
    who = identity()
    has_geometry = geometry if geometry is not None else ("wkb" in df.columns or "geometry" in df.columns)
    cols = st.columns(len(formats))
    for col, fmt in zip(cols, formats, strict=True):
        if fmt in ("geojson", "geoparquet") and not has_geometry:
            continue

        def build(fmt: str = fmt) -> bytes:
            # served on click, outside any script run: the account is read again now, so a removed or
            # downgraded account gets no file, and the entry records the role held at the click
            now = current_account(who.name) if who.mode != "oidc" else who
            if now is None:
                raise PermissionError(f"account {who.name!r} no longer exists")

            def make() -> tuple[bytes, int]:
                frame = df() if callable(df) else df
                return export.export(frame, fmt=fmt, table=table, lang=current), len(frame)

            return audit_log.deliver(make, user=now.name, role=now.role, table=table, filters=filters,
                                     detail={"format": fmt, "file": f"{name}.{fmt}"})

        col.download_button(
            t(f"export_{fmt}"), data=build, file_name=f"{name}.{fmt}", mime=export.MIME[fmt],
            key=f"export-{name}-{fmt}", on_click="ignore", icon=":material/download:",
        )


BASEMAP_KEY = "basemap"
# The tiles' attribution stays written on the map: the map library folds it into an (i) button on
# maps narrower than 640 px, a button the deck.gl canvas above it would not even let one press.
ATTRIBUTION_CSS = """<style>
.mapboxgl-ctrl-attrib.mapboxgl-compact{min-height:0!important;padding:1px 6px!important;margin:0!important;
  border-radius:0!important;background:rgba(255,255,255,.7)!important}
.mapboxgl-ctrl-attrib.mapboxgl-compact .mapboxgl-ctrl-attrib-inner{display:block!important}
.mapboxgl-ctrl-attrib.mapboxgl-compact .mapboxgl-ctrl-attrib-button{display:none!important}
</style>"""


def _basemap_settings() -> tuple[basemaps.Settings, str | None]:
    """The configured base maps, or only `none` and the reason when the setting is wrong."""
    try:
        return basemaps.load(), None
    except ValueError as exc:
        return basemaps.Settings(sources={basemaps.NONE: basemaps.NONE_MAP}, default=basemaps.NONE), str(exc)


def basemap() -> basemaps.BaseMap:
    """The session's base map (the sidebar choice, first set from ?basemap=, else the configured
    default); it is also made the one every `maps.deck` of this script run draws on."""
    settings, _ = _basemap_settings()
    chosen = st.session_state.get(BASEMAP_KEY) or st.query_params.get(BASEMAP_KEY)
    if chosen not in settings.sources:  # only names on offer; a link cannot bring its own tile server
        chosen = settings.default
    if st.session_state.get(BASEMAP_KEY) != chosen:  # (never after the sidebar widget: it is valid then)
        st.session_state[BASEMAP_KEY] = chosen
    bm = settings.sources[chosen]
    basemaps.activate(bm)
    return bm


def _basemap_selector() -> None:
    settings, problem = _basemap_settings()
    bm = basemap()
    code = lang()
    st.selectbox(t("basemap"), list(settings.sources), format_func=lambda n: settings.sources[n].label(code),
                 key=BASEMAP_KEY, help=t("basemap_help"))
    if not bm.is_none:
        st.html(ATTRIBUTION_CSS)
    if bm.name == settings.default:
        st.query_params.pop(BASEMAP_KEY, None)
    else:
        st.query_params[BASEMAP_KEY] = bm.name
    for text in ([problem] if problem else []) + list(settings.problems):
        st.error(t("basemap_config_error", problem=text))
    if bm.crs == "gcj02":
        st.caption(t("basemap_gcj02"))


def _relabel_choices() -> None:
    """The language was switched: hand every multiselect (and the base map box) the value it holds
    again. Streamlit keeps drawing a keyed select widget's chosen options with the labels of the run
    that drew them until its value is set, so the land filter's chips stayed 石湖村委会 on an English
    page; a value set here is drawn again in the new language."""
    ss = st.session_state
    for key in list(ss.keys()):
        value = ss[key]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            ss[key] = list(value)
    if BASEMAP_KEY in ss:
        ss[BASEMAP_KEY] = ss[BASEMAP_KEY]


def sidebar() -> None:
    """Language switch, data stamp and mode; shared by every page (called from app.py)."""
    with st.sidebar:
        current = lang()
        st.radio(_t("language", current), list(LANGS), format_func=LANG_NAMES.get, horizontal=True,
                 key=LANG_KEY, on_change=_relabel_choices)
        st.query_params[LANG_KEY] = current
        _basemap_selector()
        manifest = store().manifest
        source, demo = views.source_label(manifest, current)
        (st.warning if demo else st.info)(source)
        st.caption(f"{t('data_as_of')}: **{manifest.get('as_of')}** · "
                   f"{t('dataset_version')} v{manifest.get('dataset_version')}")
        refused = problem()
        if refused:
            st.error(t("dataset_version_refused", version=manifest.get("dataset_version"), problem=refused))
        _session_box()


# Streamlit folds the sidebar away at 768 px and below; there the data line stands atop the page.
PHONE_STAMP_KEY = "dayuan_phone_stamp"
PHONE_STAMP_CSS = f"<style>@media (min-width: 769px) {{.st-key-{PHONE_STAMP_KEY} {{display: none}}}}</style>"


def phone_stamp(page) -> None:
    """The data date, version and source (the demo label when it is demo data) atop the main area of
    the page about to run, for screens where the sidebar is folded away. The overview shows the
    same line itself on every width, so it gets none."""
    if access.page_rule(page_key(page)) == "overview":
        return
    line, demo = views.stamp(store().manifest, lang())
    st.html(PHONE_STAMP_CSS)
    with st.container(key=PHONE_STAMP_KEY):
        st.caption(f"{':material/science:' if demo else ':material/event:'} {md_text(line)}")


def browser_request() -> None:
    """Have the browser fetch, once, the address sign-in or sign-out left (an invisible image): the
    answer sets or clears the HttpOnly session cookie. Needs the routes of server.py."""
    url = pending_browser_request()
    if url:
        st.markdown(f"![]({url})")


def _session_box() -> None:
    """Local mode, or who is signed in with which role and a way to sign out."""
    browser_request()
    who = identity()
    if who is None:
        return
    if who.mode == "local":
        st.caption(t("local_mode"))
        return
    role_label = access.role(who.role).label(lang()) if access.is_role(who.role) else ""
    st.caption(t("signed_in_as", name=who.name, role=role_label))
    if st.button(t("sign_out"), key="_dayuan_sign_out", icon=":material/logout:"):
        sign_out()
        st.rerun()


# ---- a story's small tables, and a story opened elsewhere on the page brought into view ----------

def small_table(frame, *, header: bool = True) -> None:
    """A few rows (a story's facts, its stages, its listing) as a static table: no data grid whose
    code the browser loads on first use (0.5 s on a first click with no GPU). st.table reads its
    cells as Markdown: each goes through md_text, the one escaper."""
    st.table(frame.map(md_text), hide_index=True, hide_header=not header, border="horizontal")


# ---- a story opened by a click elsewhere on the page, brought into view ----------------------------

# A constant script (the container's key is checked: nothing from the data), below the header bar.
_SCROLL_JS = """<script>
requestAnimationFrame(() => requestAnimationFrame(() => {
  const box = document.querySelector(".st-key-%s");
  if (box) { box.style.scrollMarginTop = "4.5rem"; box.scrollIntoView({block: "start", behavior: "smooth"}); }
}));
</script>"""


def _scroll_flag(key: str) -> str:
    if not re.fullmatch(r"[a-z_]+", key):
        raise ValueError(f"not a container key: {key!r}")
    return f"_scroll_to_{key}"


def scroll_next_run(key: str) -> None:
    """Ask (from a widget's callback) that the next run brings the container called key into view:
    a story opened by a pick in a list below it, or on a map above it."""
    st.session_state[_scroll_flag(key)] = True


@contextmanager
def scroll_box(key: str) -> Iterator[None]:
    """A container called key that the browser scrolls to on the run after scroll_next_run(key) only."""
    with st.container(key=key):
        yield
        if st.session_state.pop(_scroll_flag(key), False):
            st.html(_SCROLL_JS % key, unsafe_allow_javascript=True)
