"""The Streamlit edge: the one place where dayuan_geo meets Streamlit.

It holds the process-wide Store (st.cache_resource), result caches keyed by dataset version
(st.cache_data), and the session's language and role. Pages import from here and from dayuan_geo;
dayuan_geo never imports Streamlit.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from dayuan_geo import access, auth, export
from dayuan_geo import audit as audit_log
from dayuan_geo import schema as S
from dayuan_geo.dataset import files as dataset
from dayuan_geo.demo import build as demo
from dayuan_geo.maps import basemap as basemaps
from dayuan_geo.store import Store
from dayuan_geo.text import DEFAULT_LANG, LANGS
from dayuan_geo.text import t as _t

LANG_KEY = "lang"
LANG_NAMES = {"zh": "中文", "en": "English"}


@st.cache_resource(show_spinner=False)
def _store(directory: str) -> Store:
    demo.ensure(Path(directory))  # the demo dataset is built on first run when none exists
    return Store(Path(directory))


def store() -> Store:
    """The dataset's store; picks up a newly published version on the next script run."""
    s = _store(str(dataset.data_dir()))
    s.refresh()
    return s


def lang() -> str:
    """The UI language: the sidebar switch, first set from ?lang= so a shared link keeps it."""
    _through_router()
    if LANG_KEY not in st.session_state:
        asked = st.query_params.get(LANG_KEY, DEFAULT_LANG)
        st.session_state[LANG_KEY] = asked if asked in LANGS else DEFAULT_LANG
    value = st.session_state[LANG_KEY]
    return value if value in LANGS else DEFAULT_LANG


def t(key: str, **values: object) -> str:
    return _t(key, lang(), **values)


def role() -> str:
    """The signed-in user's role, read again from the accounts file (or the provider) on every run.

    With no accounts and no provider this is local mode (planner; st.session_state["role"] may preview
    another role there, since the person at this machine holds the files anyway). With accounts, the
    session holds only the name signed in; anything else in session state is ignored. No one signed
    in: the script stops here, so a page reached some other way shows nothing.
    """
    _through_router()
    who = identity()
    if who is None or not access.is_role(who.role):
        st.stop()
    return who.role


def _through_router() -> None:
    """Hold a page run that skipped app.py to the same rule: signed in, and the role may open it.

    Until app.py has called st.navigation once in the process, Streamlit treats the pages/ folder as
    its old multipage app and runs a page file named in the URL directly, without the router: the
    first request after a start could open /firms unsigned. Unless this person may open that page,
    such a run is cut short here and rerun through app.py. (AppTest starts every run that way.)
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    except ImportError:  # a Streamlit without them has no pages-folder mode to escape
        return
    if not getattr(PagesManager, "uses_pages_directory", False):
        return
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    info = ctx.pages_manager.get_pages().get(ctx.page_script_hash) or {}
    script = info.get("script_path")
    if script is None or Path(str(script)).resolve() == Path(ctx.main_script_path).resolve():
        return  # the router itself: it calls st.navigation, which leaves the pages-folder mode
    PagesManager.uses_pages_directory = False
    url_path = info.get("url_pathname") or Path(str(script)).stem
    if url_path == LOGIN_PATH:
        return
    who = identity()
    if who is None or not access.may_open(str(url_path), who.role):
        st.rerun()  # through app.py this time: sign-in, or the role's default page


# ---- who is signed in: local accounts, an OpenID Connect provider, or local mode ---------------

USER_KEY = "_dayuan_signed_in"  # set only by sign_in() after a password check; no widget uses it
LOGIN_PATH = "login"


@dataclass(frozen=True)
class Identity:
    name: str
    role: str  # "" when the provider's identity has no role here
    mode: str  # "local", "account" or "oidc"


def oidc_enabled() -> bool:
    """Whether .streamlit/secrets.toml configures an identity provider ([auth]) for st.login."""
    try:
        if not st.secrets.load_if_toml_exists():
            return False
        return auth.oidc_configured(st.secrets)
    except Exception:  # no or broken secrets: no provider
        return False


def _accounts() -> auth.AuthConfig:
    try:
        return auth.load()
    except ValueError:
        st.error(t("auth_broken"))  # fail closed: a damaged accounts file lets no one in
        st.stop()
        raise


def identity() -> Identity | None:
    """The person using this session, or None when they must sign in first."""
    if oidc_enabled():
        if not st.user.is_logged_in:
            return None
        name, oidc_role = auth.oidc_identity(st.user.to_dict(), _accounts())
        return Identity(name, oidc_role or "", "oidc")
    config = _accounts()
    if config.users:
        name = st.session_state.get(USER_KEY)
        account = config.users.get(name) if isinstance(name, str) else None
        if account is None:  # never signed in, or the account was removed meanwhile
            st.session_state.pop(USER_KEY, None)
            return None
        return Identity(account.name, account.role, "account")
    preview = st.session_state.get("role")
    return Identity("local", preview if access.is_role(preview) else access.LOCAL_ROLE, "local")


def user_name() -> str:
    """The signed-in person's name for logs ("local" in local mode)."""
    who = identity()
    return who.name if who else ""


def sign_in(name: str, password: str) -> auth.Verdict:
    """Check a local account's password (slow, throttled per name); remember the name on success."""
    verdict = auth.verify(name, password)
    if verdict.ok:
        st.session_state[USER_KEY] = verdict.account.name
    return verdict


def sign_out() -> None:
    if oidc_enabled():
        st.logout()
    st.session_state.pop(USER_KEY, None)


def client_ip() -> str | None:
    """The client's address from its connection; None for this machine (and in AppTest, which has none)."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) else None


def allowed_pages(pages: list) -> list:
    """The pages of the list this person may open (access.PAGE_ROLES by url_path), else sign-in.

    Local mode refuses clients that are not on this machine before anything else runs.
    """
    if not oidc_enabled() and not _accounts().users and not auth.is_loopback_client(client_ip()):
        st.error(t("local_only_refused"))
        st.stop()
    who = identity()
    if who is None:
        # every page's address opens the sign-in form, so a shared link still works after signing in
        login = [st.Page("pages/login.py", title=t("page_login"), icon=":material/login:", url_path=LOGIN_PATH,
                         default=True)]
        return login + [st.Page("pages/login.py", title=t("page_login"), url_path=page_key(p), visibility="hidden")
                        for p in pages if page_key(p) != LOGIN_PATH]
    if not access.is_role(who.role):
        st.error(t("no_role", name=who.name))
        if st.button(t("sign_out")):
            sign_out()
        st.stop()
    allowed = [p for p in pages if access.may_open(page_key(p), who.role)]
    if not allowed:
        st.error(t("no_role", name=who.name))
        st.stop()
    return allowed


def page_key(page: Any) -> str:
    """A page's url_path as declared (the default page reports "" as its url_path)."""
    return str(getattr(page, "_url_path", None) or page.url_path)


def audit(action: str, *, what: str, rows: int | None, filters: dict | None = None,
          detail: dict | None = None) -> None:
    """Record an export or an import in the audit log, as the signed-in person."""
    who = identity()
    audit_log.record(user=who.name if who else "", role=who.role if who else "", action=action, what=what,
                     rows=rows, filters=filters, detail=detail)


def as_of() -> dt.date:
    return dt.date.fromisoformat(store().as_of)


# ---- cached results: the dataset version is part of every key ----------------------------------

@st.cache_data(show_spinner=False, max_entries=512)
def _cached_query(version: str, module: str, name: str, kwargs: dict) -> Any:
    del version
    fn = getattr(importlib.import_module(module), name)
    return fn(store().cursor(), **kwargs)


def query(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """fn(cursor, **kwargs) for a query function of dayuan_geo, cached per dataset version.

    Arguments (role included) are part of the cache key, so one role never gets another's rows.
    """
    if not fn.__module__.startswith("dayuan_geo."):
        raise ValueError(f"{fn.__qualname__} is not a dayuan_geo query")
    _through_router()
    return _cached_query(store().version, fn.__module__, fn.__qualname__, kwargs)


@st.cache_resource(show_spinner=False, max_entries=32)  # the largest (risky firms at L) pickle to 15 MB
def _shared_view(version: str, module: str, name: str, kwargs: dict) -> Any:
    del version
    fn = getattr(importlib.import_module(module), name)
    return fn(store().cursor(), **kwargs)


def shared(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Like `query`, but every rerun and session gets the one object built, never a copy: for built
    views a page only reads (map layers, figures and the frames beside them).

    query's st.cache_data unpickles its value on each rerun: 40 ms for 27,000 firm points with
    their tooltips at scale L, 7 ms per plotly figure (plotly validates it again), and the objects
    it allocates set off garbage collections. Never change what this returns.
    """
    if not fn.__module__.startswith("dayuan_geo."):
        raise ValueError(f"{fn.__qualname__} is not a dayuan_geo query")
    _through_router()
    return _shared_view(store().version, fn.__module__, fn.__qualname__, kwargs)


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
            frame = df() if callable(df) else df
            data = export.export(frame, fmt=fmt, table=table, lang=current)
            # built on click, outside the script run: who and what were taken when the button was drawn;
            # no audit entry, no file
            audit_log.record(user=who.name, role=who.role, action="export", what=table, rows=len(frame),
                             filters=filters, detail={"format": fmt, "file": f"{name}.{fmt}"})
            return data

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


def sidebar() -> None:
    """Language switch, data stamp and mode; shared by every page (called from app.py)."""
    with st.sidebar:
        current = lang()
        st.radio(_t("language", current), list(LANGS), format_func=LANG_NAMES.get, horizontal=True,
                 key=LANG_KEY)
        st.query_params[LANG_KEY] = current
        _basemap_selector()
        manifest = store().manifest
        if manifest.get("source") == "demo":
            st.warning(t("demo_badge"))
        elif manifest.get("demo_tables"):
            names = "、".join(S.table(n).label(lang()) for n in manifest["demo_tables"] if n in S.TABLES)
            st.warning(t("demo_mixed_badge", tables=names))
        else:
            st.info(t("imported_badge"))
        st.caption(f"{t('data_as_of')}: **{manifest.get('as_of')}** · "
                   f"{t('dataset_version')} v{manifest.get('dataset_version')}")
        _session_box()


def _session_box() -> None:
    """Local mode, or who is signed in with which role and a way to sign out."""
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
