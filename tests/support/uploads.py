"""A tus upload server on a free port of this machine, in a thread, for the length of a test."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from fieldreports.config import UploadSettings
from fieldreports.serving import listen, server_config

TOKEN = "s3cret"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningServer:
    url: str  # the tus endpoint, ending in /files/
    host: str
    port: int
    inbox: Path


@contextmanager
def running(app: Any, *, inbox: Path, settings: UploadSettings) -> Iterator[RunningServer]:
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, settings=settings))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the upload server did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(
            url=f"http://127.0.0.1:{port}/files/", host="127.0.0.1", port=port, inbox=inbox
        )
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def encode_metadata(values: Mapping[str, str]) -> str:
    """tus Upload-Metadata for `values`."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())
