"""What the app answers over plain HTTP beside Streamlit's own routes (server.py mounts these):

- /_dayuan/session?t=TICKET answers a signed-in browser with its signed, HttpOnly session cookie
  (dayuan_geo.sessions); /_dayuan/signout takes the cookie away;
- every response says the app may be framed only by itself (X-Frame-Options, CSP frame-ancestors);
- /_stcore/metrics answers only this machine;
- a request whose Host header the app does not answer to is refused (DNS rebinding): loopback names
  in local mode, $DAYUAN_ALLOWED_HOSTS with accounts;
- the overview's other addresses (/overview, /home) are sent on to the root, its own address, so the
  navigation marks it as the page shown and Streamlit's English "page not found" never shows; a
  page address of several segments goes to its first (page_redirect).
"""

from __future__ import annotations

import base64
import logging

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from dayuan_geo import access, auth, sessions, settings

_LOG = logging.getLogger("dayuan.http")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1×1 transparent GIF
# the overview answers at the root; its url_path (Streamlit reserves it) and its hidden twin's don't
ROOT_ALIASES = frozenset({access.HOME, access.PAGE_ALIASES[access.HOME]})
STREAMLIT_PATHS = frozenset({"_stcore", "static", "media", "component", "app", "_dayuan"})  # first segments
FRAME_HEADERS = [(b"x-frame-options", b"SAMEORIGIN"), (b"content-security-policy", b"frame-ancestors 'self'"),
                 (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]


def _pixel() -> Response:
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


async def session_cookie(request: Request) -> Response:
    value = sessions.redeem(auth.auth_file(), request.query_params.get("t", ""))
    response = _pixel()
    if value is not None:
        response.set_cookie(sessions.COOKIE, value, max_age=sessions.SESSION_HOURS * 3600, path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
    return response


async def sign_out(request: Request) -> Response:
    del request
    response = _pixel()
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
    return response


def refuse_clear_cache() -> None:
    """Ignore Streamlit's `clear_cache` websocket message. Any client may send it, signed in or not,
    and it empties every cache of the process for every session (a developer's menu item); the
    Store and its views are kept elsewhere already, and this keeps the query results too."""
    from streamlit.runtime.app_session import AppSession

    def refused(self) -> None:
        _LOG.warning("refused a clear_cache message from session %s", self.id)

    if not hasattr(AppSession, "_handle_clear_cache_request"):
        raise RuntimeError("this Streamlit handles clear_cache elsewhere: check edge/http.py against it")
    AppSession._handle_clear_cache_request = refused


def page_redirect(path: str, query: bytes, *, document: bool) -> str | None:
    """Where a browser asking for a page at path is sent instead, else None:

    - the overview's other addresses (its url_path, which Streamlit reserves, and its hidden twin's)
      go to the root, where the navigation marks it as the page shown;
    - a page address of more than one segment (Streamlit's pages take one) goes to its first, where
      a page or the page saying there is none answers: Streamlit would serve its page there with
      every script's address wrong, a blank screen. Only a document (a page the browser opens) is
      sent on; Streamlit's own paths are left alone.
    """
    parts = [p for p in path.split("/") if p]
    suffix = f"?{query.decode('latin-1')}" if query else ""
    if len(parts) == 1 and parts[0] in ROOT_ALIASES:
        return "/" + suffix
    if document and len(parts) > 1 and parts[0] not in STREAMLIT_PATHS:
        return f"/{parts[0]}{suffix}"
    return None


def router_from_the_start() -> None:
    """Run every session through app.py's st.navigation from the server's start. Until a script has
    called st.navigation once in the process, Streamlit treats the pages/ folder as its old multipage
    app: the first session after a start would open a page file directly (edge.session.through_router
    reroutes it) and meet an address no page has with its own English "page not found" dialog."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


class Guard:
    """Host check, metrics for this machine only, and framing headers on every response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = (scope.get("client") or (None,))[0]
        try:
            local = not auth.load().users
        except ValueError:  # a damaged accounts file: the app itself refuses everyone
            local = False
        refused = not auth.host_allowed(headers.get("host"), local=local,
                                        allowed=settings.get("DAYUAN_ALLOWED_HOSTS"))
        if not refused and scope["path"].endswith("/_stcore/metrics"):
            refused = not auth.is_loopback_client(client)
        if refused:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await PlainTextResponse("refused", status_code=403)(scope, receive, send)

        document = headers.get("sec-fetch-dest") == "document" or headers.get("accept", "").startswith("text/html")
        to = (page_redirect(scope["path"], scope.get("query_string", b""), document=document)
              if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") else None)
        if to is not None:
            return await RedirectResponse(to, status_code=307)(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *FRAME_HEADERS]}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


ROUTES = [Route(sessions.TICKET_ROUTE, session_cookie), Route(sessions.SIGN_OUT_ROUTE, sign_out)]
MIDDLEWARE = [Middleware(Guard)]
