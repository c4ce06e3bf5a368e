"""A tus upload server on a free port of this machine, in a thread, for the length of a test."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from fieldreports.config import UploadSettings
from fieldreports.intake.serving import listen, server_config
from tests.support import ROOT, unavailable

TOKEN = "s3cret"
TUS_JS = ROOT / "tests" / "fieldreports" / "intake" / "clients" / "tus_js_upload.js"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningServer:
    url: str  # the tus endpoint, ending in /files/
    host: str
    port: int
    inbox: Path


@contextmanager
def serving(app: Any, sock: socket.socket, *, settings: UploadSettings) -> Iterator[None]:
    """`app` on uvicorn as `fieldreports receive` and `station` run it, in a thread, on `sock`."""
    server = uvicorn.Server(server_config(app, settings=settings))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def running(app: Any, *, inbox: Path, settings: UploadSettings) -> Iterator[RunningServer]:
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    with serving(app, sock, settings=settings):
        yield RunningServer(
            url=f"http://127.0.0.1:{port}/files/", host="127.0.0.1", port=port, inbox=inbox
        )


def encode_metadata(values: Mapping[str, str]) -> str:
    """tus Upload-Metadata for `values`."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def recording(folder: Path, name: str = "harbour.flac", size: int = 2_000_000) -> Path:
    """Bytes that start like FLAC and never repeat, so no chunk looks like another."""
    blocks = (hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1))
    path = folder / name
    path.write_bytes((b"fLaC" + b"".join(blocks))[:size])
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def inbox_files(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.iterdir() if p.is_file())


def tus_js(endpoint: str, file: Path, token: str = TOKEN, **options: Any) -> dict[str, Any]:
    """Send `file` with tus-js-client under node (`tus_js_upload.js`; `options` are the
    client's); its last line of output, or {"killed": True} when it killed itself on purpose."""
    if shutil.which("node") is None or not (ROOT / "node_modules" / "tus-js-client").is_dir():
        unavailable("needs node and tus-js-client (make install runs npm ci)")
    args = {"file": str(file), "endpoint": endpoint, "token": token, **options}
    args.setdefault("metadata", {"filename": file.name, "filetype": "audio/flac"})
    done = subprocess.run(
        ["node", str(TUS_JS), json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode == -9:
        return {"killed": True}
    assert done.stdout, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def post_whole(
    files_url: str, key: str, name: str, data: bytes, **metadata: str
) -> tuple[int, str]:
    """One tus creation-with-upload POST carrying all of `data`: (status, body)."""
    parts = urllib.parse.urlsplit(files_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        connection.request("POST", parts.path, body=data, headers={
            "Authorization": f"Bearer {key}",
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": encode_metadata({"filename": name, **metadata}),
            "Content-Type": "application/offset+octet-stream",
        })  # fmt: skip
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()
