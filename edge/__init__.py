"""The Streamlit edge: the one place where dayuan_geo meets Streamlit.

session.py: language, identity, role, sign-in (and the guard for Streamlit's legacy pages/ runs);
cache.py: the Store of the version pinned for this run, query results and shared views by version;
widgets.py: the sidebar, the base-map selector and the export buttons. Pages import these names
from here; dayuan_geo never imports Streamlit.
"""

from __future__ import annotations

from .cache import as_of, pin, query, shared, store
from .session import (
    LANG_KEY,
    LANG_NAMES,
    LOGIN_PATH,
    USER_KEY,
    Identity,
    allowed_pages,
    audit,
    client_ip,
    identity,
    lang,
    oidc_enabled,
    page_address,
    page_key,
    role,
    sign_in,
    sign_out,
    t,
    user_name,
)
from .widgets import BASEMAP_KEY, basemap, export_buttons, phone_stamp, sidebar

__all__ = [
    "BASEMAP_KEY", "LANG_KEY", "LANG_NAMES", "LOGIN_PATH", "USER_KEY", "Identity", "allowed_pages", "as_of",
    "audit", "basemap", "client_ip", "export_buttons", "identity", "lang", "oidc_enabled", "page_address",
    "page_key", "phone_stamp", "pin", "query", "role", "shared", "sidebar", "sign_in", "sign_out", "store", "t",
    "user_name",
]
