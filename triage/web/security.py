"""What keeps the web front end safe by default: security headers, a request body limit, CSRF.

* Every response carries a Content-Security-Policy with no inline script or style and no other
  origin (``default-src 'self'``; ``frame-ancestors 'none'``), ``X-Content-Type-Options: nosniff``,
  a ``Referrer-Policy`` and a ``Permissions-Policy``; pages are never cached by shared caches.
* A request body larger than the limit is refused with 413 (FastAPI's ``max_body_size``).
* CSRF: every form carries the value of the ``triage_csrf`` cookie (random, HttpOnly,
  SameSite=Lax) in a hidden field; a POST without a matching pair, or from another origin, is
  refused (double-submit cookie plus an Origin check, OWASP's recommendations). Forms of a later
  part of the app use the same ``csrf_token(request)`` and ``check_csrf(request, form)``.
"""
from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "triage_csrf"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; font-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
}


class CsrfRefused(Exception):
    """A form post that did not come from our own page."""


def is_https(request: Request) -> bool:
    """Whether the person reached us over HTTPS (directly, or through a trusted TLS proxy whose
    X-Forwarded-Proto uvicorn has applied)."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, *,
               max_age: int | None = None) -> None:
    """A cookie as every cookie of ours is: HttpOnly, SameSite=Lax, Secure behind HTTPS."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=is_https(request))


def csrf_token(request: Request) -> str:
    """The CSRF token of this visitor (made on first use; the middleware sets its cookie)."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or ""
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
            request.state.new_csrf_token = token
        request.state.csrf_token = token
    return token


def check_csrf(request: Request, form) -> None:
    """Refuse (CsrfRefused) a form post whose token does not match the visitor's cookie, or that
    another site's page sent."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    field = form.get(CSRF_FIELD) or ""
    # compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500)
    if not cookie or not isinstance(field, str) or not hmac.compare_digest(
            cookie.encode("utf-8", "replace"), field.encode("utf-8", "replace")):
        raise CsrfRefused("the form's security token does not match")
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin != _own_origin(request):
        raise CsrfRefused("the form came from another site")


def _own_origin(request: Request) -> str:
    url = request.url
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port and url.port != default else ""
    return f"{url.scheme}://{url.hostname}{port}"


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, and the CSRF cookie when a page
    made a new token."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
                if not path.startswith("/static/"):
                    headers.setdefault("cache-control", "no-store")
                state = scope.get("state") or {}
                token = state.get("new_csrf_token")
                if token:
                    secure = "; Secure" if scope.get("scheme") == "https" else ""
                    headers.append("set-cookie", f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; "
                                                 f"SameSite=Lax{secure}")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --------------------------------------------------------------------------- unstorable input

_FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")


def _has_nul(data: bytes, *, percent: bool) -> bool:
    return b"\x00" in data or (percent and b"%00" in data)


class RefuseUnstorable:
    """ASGI middleware: a request whose path, query or form holds a NUL character is refused at
    once with 400. PostgreSQL cannot store that character in text and raised an error deep in a
    handler (a 500, issue 22); no person types it, so it is refused before any handler runs, on
    SQLite too, so both databases behave alike. Form bodies are read (they are small: the body
    limit) and handed on unchanged; JSON bodies are the API's, which stores nothing."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = 256 * 1024):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or _has_nul(scope.get("query_string", b""),
                                                         percent=True):
            await self._refuse(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").lower()
        if scope.get("method") != "POST" or not content_type.startswith(_FORM_TYPES):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body") or size > self.max_body_bytes:
                break  # over the limit: the application answers 413
        body = b"".join(m.get("body", b"") for m in received if m["type"] == "http.request")
        scope["triage.form_body"] = body  # what the outage page shows back (app.py)
        if _has_nul(body, percent=content_type.startswith(_FORM_TYPES[0])):
            await self._refuse(scope, receive, send)
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        from fastapi.responses import JSONResponse

        if scope.get("path", "").startswith("/api/"):
            response = JSONResponse({"detail": "the request holds a NUL character, which is "
                                               "never part of an answer", "field": None},
                                    status_code=400)
        else:
            from .pages import render

            response = render(Request(scope, receive), "web/bad_request.html.j2",
                              status_code=400)
        await response(scope, receive, send)
