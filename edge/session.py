"""Who is using this session and in which language: identity, role, sign-in and sign-out.

The identity is read again on every run from the accounts file (or the provider); the session holds
only the name signed in. One small guard (`through_router`) holds page runs that Streamlit's legacy
pages/ discovery starts without app.py to the same rule as every other run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from dayuan_geo import access, auth, sessions, settings
from dayuan_geo import audit as audit_log
from dayuan_geo.text import DEFAULT_LANG, LANGS
from dayuan_geo.text import t as _t

LANG_KEY = "lang"
LANG_NAMES = {"zh": "中文", "en": "English"}
USER_KEY = "_dayuan_signed_in"  # set only by sign_in() after a password check; no widget uses it
BROWSER_KEY = "_dayuan_browser_request"  # a one-time address for the browser (session cookie in or out)
LOGIN_PATH = "login"
ROUTED = "_routed"  # set by the router (allowed_pages): this session has had its navigation
MISSING_KEY = "_dayuan_missing"  # addresses of this session that no page answers at
MISSING_KEPT = 5


def lang() -> str:
    """The UI language: the sidebar switch, first set from ?lang= so a shared link keeps it."""
    through_router()
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
    through_router()
    who = identity()
    if who is None or not access.is_role(who.role):
        st.stop()
    return who.role


def through_router() -> None:
    """Hold a page run that skipped app.py to the same rule: signed in, and the role may open it.

    Until app.py has called st.navigation once in the process, Streamlit treats the pages/ folder as
    its old multipage app and runs a page file named in the URL directly, without the router: the
    first request after a start could open /firms unsigned, and whoever opened it would keep the
    pages folder's own navigation (its file names: "app", "not allowed"). A session's first run, and
    any run of a page this person may not open, is cut short here and rerun through app.py, which
    marks the session (ROUTED). (AppTest starts every run that way.)
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
    if not st.session_state.get(ROUTED):
        st.rerun()  # this session's first run: through app.py, for its titled navigation too
    url_path = info.get("url_pathname") or Path(str(script)).stem
    if url_path == LOGIN_PATH:
        return
    who = identity()
    if who is None or not access.may_open(str(url_path), who.role):
        st.rerun()  # through app.py this time: sign-in, or the role's default page


# ---- who is signed in: local accounts, an OpenID Connect provider, or local mode ---------------

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
        account = _signed_in_account(config)
        if account is None:  # never signed in, signed out, or the account removed or changed meanwhile
            st.session_state.pop(USER_KEY, None)
            return None
        return Identity(account.name, account.role, "account")
    preview = st.session_state.get("role")
    return Identity("local", preview if access.is_role(preview) else access.LOCAL_ROLE, "local")


def _handshake() -> str | None:
    """This connection's websocket handshake key: new for every connection, so a reconnect with a
    stolen session id is another connection (None in AppTest, which has no connection)."""
    return st.context.headers.get("Sec-Websocket-Key")


def _signed_in_account(config: auth.AuthConfig) -> auth.Account | None:
    """The account this browser signed in as: from its signed session cookie, or (before the cookie
    reaches a connection) from the sign-in made on this very connection. Either way the account must
    still exist with the role and password it had at sign-in."""
    cookie = sessions.read(auth.auth_file(), st.context.cookies.get(sessions.COOKIE))
    if cookie is not None:
        name, fp, _ = cookie
        account = config.users.get(name)
        if account is not None and sessions.fingerprint(account.role, account.hash) == fp:
            return account
    held = st.session_state.get(USER_KEY)
    if isinstance(held, tuple) and len(held) == 3:
        name, fp, connection = held
        account = config.users.get(name)
        if account is not None and sessions.fingerprint(account.role, account.hash) == fp \
                and connection == _handshake():
            return account
    return None


def pending_browser_request() -> str | None:
    """The address the browser should fetch once (an invisible image), set by sign-in or sign-out:
    it gives the browser its HttpOnly session cookie, or takes it away."""
    url = st.session_state.pop(BROWSER_KEY, None)
    return url if isinstance(url, str) else None


def current_account(name: str) -> Identity | None:
    """The account `name` as the accounts file has it NOW (for callbacks served outside a run, such
    as a download click): None when it was removed meanwhile. Local mode answers for "local"."""
    config = auth.load()
    if not config.users:
        return Identity("local", access.LOCAL_ROLE, "local") if name == "local" else None
    account = config.users.get(name)
    return Identity(account.name, account.role, "account") if account else None


def user_name() -> str:
    """The signed-in person's name for logs ("local" in local mode)."""
    who = identity()
    return who.name if who else ""


def sign_in(name: str, password: str) -> auth.Verdict:
    """Check a local account's password (slow, throttled per name); remember the name on success."""
    verdict = auth.verify(name, password)
    if verdict.ok:
        acc = verdict.account
        st.session_state[USER_KEY] = (acc.name, sessions.fingerprint(acc.role, acc.hash), _handshake())
        token = sessions.ticket(auth.auth_file(), name=acc.name, role=acc.role, password_hash=acc.hash)
        st.session_state[BROWSER_KEY] = f"{sessions.TICKET_ROUTE}?t={token}"
    return verdict


def sign_out() -> None:
    if oidc_enabled():
        st.logout()
    cookie = sessions.read(auth.auth_file(), st.context.cookies.get(sessions.COOKIE))
    if cookie is not None:
        sessions.revoke(auth.auth_file(), cookie[2])  # every copy of this browser's cookie is void from now on
    st.session_state.pop(USER_KEY, None)
    st.session_state[BROWSER_KEY] = sessions.SIGN_OUT_ROUTE


def client_ip() -> str | None:
    """The client's address from its connection; None for this machine (and in AppTest, which has none)."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) else None


def allowed_pages(pages: list) -> list:
    """The pages of the list (and their alias twins) this person may open (access.PAGE_ROLES by
    url_path), else sign-in.

    Local mode refuses clients that are not on this machine before anything else runs.
    """
    local = not oidc_enabled() and not _accounts().users
    if local and not auth.is_loopback_client(client_ip()):
        st.error(t("local_only_refused"))
        st.stop()
    if not auth.host_allowed(st.context.headers.get("Host"), local=local,
                             allowed=settings.get("DAYUAN_ALLOWED_HOSTS")):
        st.error(t("host_refused"))
        st.stop()
    st.session_state[ROUTED] = True
    pages = with_aliases(pages)
    missing = unknown_addresses(pages)
    who = identity()
    if who is None:
        # every page's address opens the sign-in form, so a shared link still works after signing in
        login = [st.Page("pages/login.py", title=t("page_login"), icon=":material/login:", url_path=LOGIN_PATH,
                         default=True)]
        return login + [st.Page("pages/login.py", title=t("page_login"), url_path=key, visibility="hidden")
                        for key in [*(page_key(p) for p in pages), *missing] if key != LOGIN_PATH]
    if not access.is_role(who.role):
        st.error(t("no_role", name=who.name))
        if st.button(t("sign_out")):
            sign_out()
        st.stop()
    allowed = [p for p in pages if access.may_open(page_key(p), who.role)]
    if not allowed:
        st.error(t("no_role", name=who.name))
        st.stop()
    # a page the role may not open answers at its own address with a page that says so, instead of
    # Streamlit's "page not found" and a silent jump to the overview
    denied = [st.Page("pages/not_allowed.py", title=t("not_allowed_title"), url_path=page_key(p), visibility="hidden")
              for p in pages if p not in allowed]
    # an address no page has (a mistyped or outdated link) says so in the user's language, where
    # Streamlit would show its own English "page not found" dialog over the default page; the sign-in
    # address, signed in (or in local mode), opens the first page
    unknown = [st.Page("pages/not_found.py", title=t("not_found_title"), url_path=key, visibility="hidden")
               if key != LOGIN_PATH else
               st.Page(allowed[0]._page, title=allowed[0].title, url_path=key, visibility="hidden")
               for key in missing]
    return allowed + denied + unknown


def _pages_manager() -> Any:
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    except ImportError:
        return None
    return getattr(get_script_run_ctx(), "pages_manager", None)


def unknown_addresses(pages: list) -> list[str]:
    """The addresses of this session no page of the app answers at (a mistyped or outdated link),
    kept for the session so the page saying so still answers there on the runs that follow (a
    language switch, the browser's back button send that page's hash, not its address). Streamlit
    takes one path segment as a page's address; others find no page anyway."""
    asked = str(getattr(_pages_manager(), "intended_page_name", "") or "").strip().strip("/")
    known = {page_key(p) for p in pages} | {access.HOME}
    seen = list(st.session_state.get(MISSING_KEY, ()))
    if asked and "/" not in asked and asked not in known and asked not in seen:
        seen = [*seen, asked][-MISSING_KEPT:]
        st.session_state[MISSING_KEY] = seen
    return [a for a in seen if a not in known]


def page_address() -> str:
    """The address of the page this run shows, as the browser's bar has it (without the leading /)."""
    manager = _pages_manager()
    if manager is None:
        return ""
    info = manager.get_pages().get(manager.current_page_script_hash) or {}
    return str(info.get("url_pathname") or "")


def with_aliases(pages: list) -> list:
    """The pages, then a hidden twin of each page whose url_path is an alias (access.PAGE_ALIASES) at
    the address it stands for: the overview is the default page "home", served at the root, and its
    twin answers at /overview. Same script, same title; access.may_open gives both the same rule."""
    twins = [st.Page(p._page, title=p.title, icon=p.icon or None, url_path=access.PAGE_ALIASES[page_key(p)],
                     visibility="hidden")
             for p in pages if page_key(p) in access.PAGE_ALIASES]
    return list(pages) + twins


def page_key(page: Any) -> str:
    """A page's url_path as declared (the default page reports "" as its url_path)."""
    return str(getattr(page, "_url_path", None) or page.url_path)


def audit(action: str, *, what: str, rows: int | None, filters: dict | None = None,
          detail: dict | None = None) -> None:
    """Record an import in the audit log, as the signed-in person (exports audit themselves)."""
    who = identity()
    audit_log.record(user=who.name if who else "", role=who.role if who else "", action=action, what=what,
                     rows=rows, filters=filters, detail=detail)
