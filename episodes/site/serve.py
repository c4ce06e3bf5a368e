"""`fieldreports serve`: the published folder over HTTP, with HEAD and byte ranges.

Apple requires podcast hosts to answer HEAD and byte-range requests, and players seek with
ranges; Python's SimpleHTTPRequestHandler does neither range, so this handler adds them
(RFC 9110 §14): one range per request gets 206 Partial Content with Content-Range; a range
that starts past the end gets 416 with `Content-Range: bytes */size`; several ranges, or a
malformed header, get the whole file (200), which the RFC allows.

For previewing a show and for tests; a newsroom serves `public/` or the bucket with a real web
server or CDN.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

from episodes.site.files import content_type_for
from episodes.site.signing import allowed
from fieldreports.errors import SetupError

log = logging.getLogger(__name__)


class RangeNotSatisfiable(ValueError):
    """The requested range lies wholly outside the file."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single `Range: bytes=…` header, or None to send all.

    >>> parse_range("bytes=0-99", 1000)
    (0, 99)
    >>> parse_range("bytes=900-", 1000)
    (900, 999)
    >>> parse_range("bytes=-100", 1000)
    (900, 999)
    >>> parse_range("bytes=500-5000", 1000)
    (500, 999)
    >>> parse_range("bytes=0-1,5-6", 1000) is None  # several ranges: the whole file
    True
    >>> parse_range("bytes=9-3", 1000) is None  # malformed: ignored
    True
    >>> parse_range("bytes=1000-", 1000)
    Traceback (most recent call last):
    ...
    episodes.site.serve.RangeNotSatisfiable: bytes=1000- of 1000 bytes
    """
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec or "-" not in spec:
        return None
    first_text, _, last_text = spec.strip().partition("-")
    try:
        if not first_text:  # a suffix: the last N bytes
            suffix = int(last_text)
            if suffix < 0:
                return None
            if suffix == 0 or size == 0:
                raise RangeNotSatisfiable(f"{header} of {size} bytes")
            return max(0, size - suffix), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else None
    except ValueError:
        return None
    if last is not None and last < first:
        return None  # malformed, so ignored (RFC 9110 §14.2)
    if first >= size:
        raise RangeNotSatisfiable(f"{header} of {size} bytes")
    return first, size - 1 if last is None else min(last, size - 1)


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """Static files with HEAD, single byte ranges and our content types; with a
    `signing_secret`, the masters only through signed, unexpired links (403 otherwise)."""

    server_version = "fieldreports"
    signing_secret: bytes | None = None
    _range: tuple[int, int] | None = None

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        found = content_type_for(os.fspath(path))
        return found if found != "application/octet-stream" else super().guess_type(path)

    def translate_path(self, path: str) -> str:
        """The file for a URL path, or "" for anything outside the published folder: a
        hidden file or folder (".git", ".env"), or a symlink that leads out of it."""
        translated = super().translate_path(path)
        root = os.path.realpath(self.directory)
        relative = os.path.relpath(translated, self.directory)
        if any(part.startswith(".") for part in Path(relative).parts if part != "."):
            return ""
        real = os.path.realpath(translated)
        if real != root and not real.startswith(root + os.sep):
            return ""
        return translated

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        """No folder listings: a site has its index.html, and a listing shows what it does not link."""
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")
        return None

    def send_head(self) -> Any:
        self._range = None
        if self.signing_secret is not None and not allowed(self.path, self.signing_secret):
            self.send_error(HTTPStatus.FORBIDDEN, "This link is not signed or has expired")
            return None
        path = self.translate_path(self.path)
        if not path:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        if os.path.isdir(path):
            index = os.path.join(path, "index.html")
            if not self.path.split("?", 1)[0].endswith("/") or not os.path.isfile(index):
                return super().send_head()  # redirect to "dir/" or list the folder
            path = index
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the base class after copyfile
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            stat = os.fstat(handle.fileno())
            size = stat.st_size
            last_modified = self.date_time_string(int(stat.st_mtime))
            wanted = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            if wanted and if_range and if_range.strip() != last_modified:
                wanted = None  # the file changed since the client's copy: send it all
            byte_range = parse_range(wanted, size) if wanted else None
        except RangeNotSatisfiable:
            handle.close()
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        except Exception:
            handle.close()
            raise
        content_type = self.guess_type(path)
        if byte_range is None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", str(size))
        else:
            first, last = byte_range
            self._range = byte_range
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Content-Type", content_type)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", last_modified)
        self.end_headers()
        return handle

    def copyfile(self, source: BinaryIO, outputfile: Any) -> None:  # type: ignore[override]
        if self._range is None:
            shutil.copyfileobj(source, outputfile)
            return
        first, last = self._range
        source.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = source.read(min(1 << 16, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class name
        log.info("%s %s", self.address_string(), format % args)


def make_server(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    signing_secret: bytes | None = None,
) -> ThreadingHTTPServer:
    """A server for `directory`, bound but not yet serving (port 0 picks a free port). With
    `signing_secret`, masters are served only through links signed with it."""
    if not directory.is_dir():
        raise SetupError(f"{directory} does not exist yet; run `fieldreports run` first.")
    handler_class = RangeRequestHandler
    if signing_secret is not None:

        class SignedRangeRequestHandler(RangeRequestHandler):
            pass

        SignedRangeRequestHandler.signing_secret = signing_secret
        handler_class = SignedRangeRequestHandler
    handler = partial(handler_class, directory=str(directory))
    return ThreadingHTTPServer((host, port), handler)


def serve(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    signing_secret: bytes | None = None,
) -> None:
    """Serve `directory` until interrupted (Ctrl-C)."""
    server = make_server(directory, host=host, port=port, signing_secret=signing_secret)
    log.info("serving %s at http://%s:%d/", directory, host, server.server_address[1])
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            log.info("stopped")


@contextlib.contextmanager
def running(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    signing_secret: bytes | None = None,
) -> Iterator[str]:
    """Serve `directory` in a background thread; yields the base URL ("http://host:port/")."""
    server = make_server(directory, host=host, port=port, signing_secret=signing_secret)
    thread = threading.Thread(target=server.serve_forever, name="fieldreports-serve", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
