"""The published folder as an ASGI app, served by the station the way `fieldreports serve` does.

The same rules as `episodes.site.serve`, whose helpers it uses: GET and HEAD; one byte range per
request (206, or 416 past the end; several ranges or a malformed header get the whole file, as RFC
9110 allows) with `If-Range`; no hidden file or folder, no symlink that leads out of the folder,
no folder listing; and with a signing secret, the broadcast masters only through signed,
unexpired links (`episodes.site.signing`). Files are read in a worker thread, a chunk at a time.
"""

from __future__ import annotations

import email.utils
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import anyio
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from episodes.site.files import content_type_for
from episodes.site.serve import RangeNotSatisfiable, parse_range
from episodes.site.signing import allowed

CHUNK_BYTES = 1 << 16


class PublishedSite:
    """Serve `root` (the show's published folder); `signing_secret` guards masters/."""

    def __init__(self, root: Path, *, signing_secret: bytes | None = None) -> None:
        self.root = root
        self.signing_secret = signing_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await anyio.to_thread.run_sync(self._answer, scope)
        await response(scope, receive, send)

    def _answer(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return PlainTextResponse(
                "only GET and HEAD here\n", status_code=405, headers={"Allow": "GET, HEAD"}
            )
        path = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        if self.signing_secret is not None and not allowed(f"{path}?{query}", self.signing_secret):
            return PlainTextResponse("This link is not signed or has expired\n", status_code=403)
        target = self._file(path)
        if target is None:
            return _not_found()
        if target.is_dir():
            if not path.endswith("/"):
                # One leading slash: "//map" would send the browser to a host named "map".
                location = "/" + path.lstrip("/") + "/" + (f"?{query}" if query else "")
                return RedirectResponse(location, status_code=301)
            target = target / "index.html"
            if not target.is_file():
                return _not_found()  # no folder listings
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        return _file_response(target, headers, head=scope["method"] == "HEAD")

    def _file(self, url_path: str) -> Path | None:
        """The file or folder for a URL path, or None for anything outside the published folder:
        a hidden file or folder (".git", ".env"), `..`, or a symlink that leads out of it."""
        parts = [p for p in unquote(url_path).split("/") if p]
        if any(p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
            return None
        root = os.path.realpath(self.root)
        real = os.path.realpath(os.path.join(root, *parts))
        if real != root and not real.startswith(root + os.sep):
            return None
        candidate = Path(real)
        return candidate if candidate.exists() else None


def _not_found() -> Response:
    return PlainTextResponse("File not found\n", status_code=404)


def _file_response(path: Path, headers: dict[str, str], *, head: bool) -> Response:
    try:
        stat = path.stat()
    except OSError:
        return _not_found()
    size = stat.st_size
    last_modified = email.utils.formatdate(int(stat.st_mtime), usegmt=True)
    wanted = headers.get("range")
    if_range = headers.get("if-range")
    if wanted and if_range and if_range.strip() != last_modified:
        wanted = None  # the file changed since the client's copy: send it all
    base = {
        "Content-Type": content_type_for(str(path)),
        "Accept-Ranges": "bytes",
        "Last-Modified": last_modified,
    }
    try:
        byte_range = parse_range(wanted, size) if wanted else None
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    if byte_range is None:
        first, last, status = 0, size - 1, 200
    else:
        first, last = byte_range
        status = 206
        base["Content-Range"] = f"bytes {first}-{last}/{size}"
    base["Content-Length"] = str(max(0, last - first + 1))
    if head:
        return Response(status_code=status, headers=base)
    return StreamingResponse(_read(path, first, last), status_code=status, headers=base)


async def _read(path: Path, first: int, last: int) -> AsyncIterator[bytes]:
    handle = await anyio.open_file(path, "rb")
    try:
        await handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = await handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        await handle.aclose()
