"""Serve an ASGI app (the upload server, later the station) with uvicorn, bounded for the open net.

uvicorn alone gives keep-alive timeouts and `limit_concurrency`, but a connection that never
sends a whole request head has no timeout there: a few hundred idle sockets would hold every slot
of `limit_concurrency` for good, and everyone else would hear 503. `_HeadTimeoutProtocol` closes a
connection that has not sent a complete request head within `read_timeout_s` of opening, or of
its last answer. Every connection is a coroutine, not a thread: an idle one costs a few KiB.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from fieldreports.config import UploadSettings
from fieldreports.errors import SetupError

log = logging.getLogger(__name__)

KEEP_ALIVE_S = 20.0  # a phone between two chunks; longer than uvicorn's 5 s for slow links
_BACKLOG = 128


class _HeadTimeoutProtocol(H11Protocol):
    """h11 with a deadline for each request head (slow or silent clients are cut off)."""

    head_timeout_s = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:
            self._disarm()  # a whole request head arrived
        elif self._head_timer is None and (cycle is None or cycle.response_complete):
            self._arm()  # part of a next head: uvicorn just stopped its keep-alive timer

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expire(self) -> None:
        self._head_timer = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            log.debug("closing a connection that sent no request in time: %s", self.client)
            self.transport.close()


def server_config(app: Any, *, settings: UploadSettings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's settings for `app`: h11 with head timeouts, at most `max_connections`."""
    protocol = type(
        "HeadTimeoutProtocol", (_HeadTimeoutProtocol,), {"head_timeout_s": settings.read_timeout_s}
    )
    options: dict[str, Any] = {
        "http": protocol,
        "ws": "none",
        "lifespan": "off",
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": int(KEEP_ALIVE_S),
        "backlog": _BACKLOG,
        "log_config": None,  # our logging (rich in the CLI); uvicorn's own loggers propagate
        "access_log": False,
        "server_header": False,
        **overrides,
    }
    return uvicorn.Config(app, **options)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or a SetupError saying what to change (uvicorn would just exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=_BACKLOG)
    except OSError as exc:
        raise SetupError(
            f"cannot listen on {host}:{port} ({exc.strerror}); is another server using it? "
            "Try --port with another number."
        ) from exc


def serve(app: Any, sock: socket.socket, *, settings: UploadSettings) -> None:
    """Serve `app` on `sock` until Ctrl+C (uvicorn finishes the requests under way)."""
    server = uvicorn.Server(server_config(app, settings=settings))
    server.run(sockets=[sock])
