"""Who may read the dashboard, and the headers every answer carries.

With a token, a request must carry it (`Authorization: Bearer TOKEN` or `?token=TOKEN`), or the
cookie a page opened with it was given: an HMAC of the token, never the token itself, so the
page's own scripts, styles and event stream need no token in their addresses. Every comparison
is in constant time, of digests of equal length. Without a token (loopback only), a request must
be addressed to a loopback name: a web page elsewhere cannot read the account through a DNS name
it points at 127.0.0.1. Anything else is a bare 401, the same for every path.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from assistant.dashboard.config import is_loopback

COOKIE = "assistant_dashboard"
SET_COOKIE = web.RequestKey("set_cookie", bool)  # it proved the token: give its page the cookie
# No inline script or style, nothing from elsewhere; uPlot sets sizes through the CSSOM only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Server": "assistant",  # not the server software and its version
}


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


def _same(given: str, expected: bytes) -> bool:
    return hmac.compare_digest(_digest(given), expected)


class Gate:
    def __init__(self, token: str) -> None:
        self.token = token
        self._token = _digest(token)
        self.cookie = hmac.new(token.encode(), b"assistant dashboard page", "sha256").hexdigest()
        self._cookie = _digest(self.cookie)

    def allows(self, request: web.Request) -> bool:
        if not self.token:
            return is_loopback(request.url.host or "")
        header = request.headers.get("Authorization", "")
        given = request.query.get("token")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":  # the scheme is case-insensitive (RFC 7235)
            given = credentials.strip()
        if given is not None:
            if _same(given, self._token):
                request[SET_COOKIE] = True
                return True
            return False
        cookie = request.cookies.get(COOKIE)
        return cookie is not None and _same(cookie, self._cookie)

    def middleware(self) -> Middleware:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not self.allows(request):
                return web.Response(status=401)
            return await handler(request)

        return guard

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every answer, streams and errors included, carries the same safe headers."""
        response.headers.update(HEADERS)
        if self.token and request.get(SET_COOKIE) and request.path == "/":
            # As a header: by the time this signal fires, `set_cookie` would be too late.
            response.headers.add(
                "Set-Cookie", f"{COOKIE}={self.cookie}; HttpOnly; Path=/; SameSite=Strict"
            )
