"""Rate limits per reporter key: a token bucket for the status API and for starting uploads.

Each key (by its hash: the key itself is never kept) has a bucket of `burst` tokens, refilled at
`per_minute`; a request takes one, and one that finds the bucket empty is answered 429 with how
many seconds to wait. A phone polling its reports every few seconds and sending a report now and
then never meets the limit; a lost phone in the wrong hands, or a broken app in a loop, does.
The bytes of an upload (tus PATCH) are not counted: `[uploads]` bounds them.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fieldreports.intake.identity import bearer

_MAX_BUCKETS = 10_000  # full buckets are forgotten past this many keys


class TokenBuckets:
    """`take(key)`: 0.0 when the request may go ahead, else the seconds to wait.

    >>> clock = iter([0.0, 0.0, 0.0, 30.0]).__next__
    >>> buckets = TokenBuckets(per_minute=2, burst=2, clock=clock)
    >>> buckets.take("k"), buckets.take("k"), buckets.take("k"), buckets.take("k")
    (0.0, 0.0, 30.0, 0.0)
    """

    def __init__(
        self, *, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate_per_s = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        with self._lock:
            at = self._clock()
            tokens, then = self._buckets.get(key, (self.burst, at))
            tokens = min(self.burst, tokens + (at - then) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, at)
                self._forget_full(at)
                return 0.0
            self._buckets[key] = (tokens, at)
            return (1.0 - tokens) / self.rate_per_s

    def _forget_full(self, at: float) -> None:
        # Past the cap, full buckets go; if that is not enough (many addresses at once), the
        # least recently used half goes too, so the next sweep is _MAX_BUCKETS / 2 keys away.
        if len(self._buckets) <= _MAX_BUCKETS:
            return
        for key, (tokens, then) in list(self._buckets.items()):
            if tokens + (at - then) * self.rate_per_s >= self.burst:
                del self._buckets[key]
        if len(self._buckets) > _MAX_BUCKETS // 2:
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for key in by_age[: len(by_age) - _MAX_BUCKETS // 2]:
                del self._buckets[key]


def bucket_key(credential: str, client: tuple[str, int] | None, *, known: bool) -> str:
    """Whose bucket a request takes from: a known key's (by its hash), else its address; an
    unknown key counts as none, or a new made-up key each time would escape every limit."""
    if credential and known:
        return "key:" + hashlib.sha256(credential.encode()).hexdigest()
    return f"addr:{client[0] if client else '?'}"


class RateLimit:
    """ASGI middleware: the API and the creation of uploads (`POST /files/`) take a token."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: TokenBuckets,
        is_key: Callable[[str], bool],
        upload_prefix: str = "/files",
        api_prefix: str = "/api/",
        exempt: tuple[str, ...] = ("/api/health",),
        allowed_origins: tuple[str, ...] = ("*",),
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.is_key = is_key  # a catalog lookup: run in a thread
        self.exempt = exempt
        self.upload_prefix = upload_prefix
        self.api_prefix = api_prefix
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._counted(scope):
            headers = Headers(scope=scope)
            credential = bearer(headers)
            known = bool(credential) and await anyio.to_thread.run_sync(self.is_key, credential)
            wait_s = self.buckets.take(bucket_key(credential, scope.get("client"), known=known))
            if wait_s > 0:
                await self._refuse(scope, headers, wait_s)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _counted(self, scope: Scope) -> bool:
        path, method = scope["path"], scope["method"]
        if method == "OPTIONS" or path in self.exempt:
            return False
        if path.startswith(self.api_prefix):
            return True
        override = Headers(scope=scope).get("x-http-method-override", "").upper()
        creating = method == "POST" and override not in ("PATCH", "DELETE")
        return creating and path.rstrip("/") == self.upload_prefix

    def _refuse(self, scope: Scope, headers: Headers, wait_s: float) -> Response:
        seconds = max(1, math.ceil(wait_s))
        message = (
            f"too many requests with this key: wait {seconds} s and try again "
            "([station] requests_per_minute)"
        )
        extra = {"Retry-After": str(seconds)}
        origin = headers.get("origin", "")
        if origin and ("*" in self.allowed_origins or origin in self.allowed_origins):
            extra |= {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Expose-Headers": "Retry-After",
                "Vary": "Origin",
            }
        if scope["path"].startswith(self.api_prefix):
            return JSONResponse({"error": message}, status_code=429, headers=extra)
        # A plain sentence, as the upload server answers; the body of the POST is not read, so
        # the connection closes (it must never be read as a next request).
        extra["Connection"] = "close"
        return PlainTextResponse(message + "\n", status_code=429, headers=extra)
