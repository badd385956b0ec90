"""Hostile input is normal input: security headers, request body caps, CSRF tokens and rate limits of the web app.

- `SecurityHeaders`: CSP, `Referrer-Policy: no-referrer` (withdrawal and survey tokens are in URLs),
  `X-Content-Type-Options`, `X-Frame-Options` on every response, errors included. HSTS is left to the
  TLS-terminating proxy (README, "Production").
- `BodyLimit`: 413 when a request body is larger than the cap of its path prefix, whether announced by
  `Content-Length` or streamed in chunks.
- `Csrf`: a double-submit cookie bound by HMAC for the public forms (`/a`, `/w`, `/s`). The pages send
  `Referrer-Policy: no-referrer`, so browsers post their forms with `Origin: null`: the token decides; an
  `Origin` that names another site is refused as well.
- `RateLimits`: `limits`' moving window in this process's memory.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import secrets
import time
from urllib.parse import urlsplit

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# -- headers ---------------------------------------------------------------
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
# FastAPI's /docs (Swagger UI) and /redoc load their script and style from a CDN and start with an inline script.
# They show no user data; everything else keeps the strict policy.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
HEADERS = [(b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]


class SecurityHeaders:
    """Adds the headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (DOCS_CSP if scope.get("path", "") in DOCS_PATHS else CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in [(b"content-security-policy", csp), *HEADERS] if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# -- body caps -------------------------------------------------------------
class BodyTooLarge(HTTPException):
    """Raised by the capped `receive` once more bytes arrived than the cap (FastAPI passes HTTPExceptions on)."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"request body larger than {cap} bytes")
        self.cap = cap


def too_large(path: str, cap: int) -> Response:
    """The 413 answer: JSON under /api and /codec, a Swedish sentence elsewhere."""
    headers = {"Connection": "close"}
    if _under(path, "/api") or _under(path, "/codec"):
        return JSONResponse({"detail": f"request body larger than {cap} bytes"}, 413, headers=headers)
    return PlainTextResponse(f"Det du skickade är för stort: högst {_size(cap)} tas emot.", 413, headers=headers)


class BodyLimit:
    """Caps request bodies by path prefix (`caps`: prefix -> bytes, the longest matching prefix wins; `default`
    for every other path).

    A `Content-Length` above the cap is answered 413 before the app runs; a body without one (chunked) is counted
    as it streams and the app's read fails with `BodyTooLarge` (413) as soon as it passes the cap.
    """

    def __init__(self, app: ASGIApp, caps: dict[str, int], default: int) -> None:
        self.app = app
        self.caps = sorted(caps.items(), key=lambda kv: -len(kv[0]))
        self.default = default

    def cap_for(self, path: str) -> int:
        return next((cap for prefix, cap in self.caps if _under(path, prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        cap = self.cap_for(path)
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await too_large(path, cap)(scope, receive, send)
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await too_large(path, cap)(scope, receive, send)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} byte"


# -- CSRF ------------------------------------------------------------------
CSRF_COOKIE = "runflow_csrf"
CSRF_FIELD = "csrf_token"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_NEW_COOKIE = "runflow_csrf_new_cookie"


class Csrf:
    """Double-submit cookie bound by HMAC: the cookie is random, the form field is HMAC(secret, cookie).

    A page with a form calls `token(request)` (which reuses the request's cookie or makes a new one) and then
    `set_cookie(request, response)`; a POST passes `check(request, submitted)` or is refused.
    """

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"runflow csrf\0" + secret_key.encode()).digest()

    def _sign(self, cookie: str) -> str:
        return hmac.new(self._key, cookie.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _cookie(request: Request) -> str | None:
        value = request.cookies.get(CSRF_COOKIE)
        return value if value and _COOKIE_VALUE.match(value) else None

    def token(self, request: Request) -> str:
        cookie = self._cookie(request) or request.scope.get(_NEW_COOKIE)
        if cookie is None:
            cookie = request.scope[_NEW_COOKIE] = secrets.token_urlsafe(32)
        return self._sign(cookie)

    @staticmethod
    def set_cookie(request: Request, response: Response) -> None:
        """Sets the cookie that `token` made for this request, if it made one."""
        cookie = request.scope.get(_NEW_COOKIE)
        if cookie is not None:
            response.set_cookie(
                CSRF_COOKIE, cookie, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
            )

    def check(self, request: Request, submitted: object) -> bool:
        """True when the form's token matches the cookie and the request does not come from another site."""
        if foreign_origin(request):
            return False
        cookie = self._cookie(request)
        if cookie is None or not isinstance(submitted, str):
            return False
        return hmac.compare_digest(self._sign(cookie).encode(), submitted.encode())


def foreign_origin(request: Request) -> bool:
    """An `Origin` header that is neither `null` nor this app's own origin (the request's scheme and Host)."""
    origin = request.headers.get("origin")
    if origin is None or origin.strip() == "null":
        return False
    own = _origin(request.url.scheme, request.headers.get("host", ""))
    try:
        parts = urlsplit(origin.strip())
        theirs = _origin(parts.scheme, parts.netloc)
    except ValueError:
        return True
    return own is None or theirs != own


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    scheme = scheme.lower()
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return scheme, parts.hostname.lower(), port


# -- rate limits -----------------------------------------------------------
class RateLimits:
    """Named limits (`limits` notation, e.g. "60/hour"), counted per key in a moving window in this process."""

    def __init__(self, limits: dict[str, str]) -> None:
        self.items: dict[str, RateLimitItem] = {}
        for name, text in limits.items():
            try:
                self.items[name] = parse(text)
            except ValueError as exc:
                raise ValueError(f"rate limit {name}: {text!r} is not a limit like '60/hour' ({exc})") from None
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, name: str, *keys: str) -> int | None:
        """Counts one attempt; None when allowed, else the seconds until the next one is (for `Retry-After`)."""
        item = self.items[name]
        if self.limiter.hit(item, name, *keys):
            return None
        reset = self.limiter.get_window_stats(item, name, *keys)[0]
        return max(1, math.ceil(reset - time.time()))


def client_address(request: Request) -> str:
    """The client's address as rate limits count it (uvicorn has resolved `X-Forwarded-For` from trusted proxies).

    IPv6 clients are counted by their /64 network: one subscriber gets a whole /64 and could otherwise take a new
    address for every request."""
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
