"""Resumable uploads from the field, over the tus 1.0 protocol (https://tus.io/protocols/resumable-upload).

Reporters upload over bad connections: an upload resumes from the last byte the server holds, each
chunk is checked against its checksum, a re-sent file is recognised by its SHA-256 and never lands
twice, and a file enters the inbox only whole (written beside it, then renamed). tus is the
protocol phone and browser clients already speak (tus-js-client, TUSKit, tus-android-client), so a
newsroom can put any of them in front of this server; `upload_file` is the command-line client.

Server: core protocol plus the creation, checksum (sha1, sha256) and termination extensions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fieldreports.digest import file_sha256
from fieldreports.errors import FieldReportsError, ReportError
from fieldreports.naming import slugify

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination"
MAX_SIZE = 4 * 1024**3  # 4 GiB: hours of WAV from a field recorder
_CHUNK = 1 << 20
_STATE_DIR = ".uploads"  # hidden, so discover() never mistakes a partial upload for a report


@dataclass(slots=True, kw_only=True)
class Upload:
    """One upload in progress; its bytes so far are in `<id>.part`, this in `<id>.json`."""

    id: str
    filename: str
    length: int
    offset: int
    sha256: str  # the client's fingerprint of the whole file, when it sent one
    replace: bool = False  # the client asked to replace a file of the same name (edited notes)


def parse_metadata(header: str) -> dict[str, str]:
    """tus Upload-Metadata: comma-separated `key base64value` pairs.

    >>> parse_metadata("filename bGFtcGVkdXNhLm9nZw==,sha256 YWJj")
    {'filename': 'lampedusa.ogg', 'sha256': 'abc'}
    >>> parse_metadata("")
    {}
    """
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        result[key] = base64.b64decode(value).decode("utf-8") if value else ""
    return result


def safe_filename(name: str) -> str:
    """A client's file name reduced to a safe inbox name, keeping its suffix.

    >>> safe_filename("../../etc/passwd")
    'passwd'
    >>> safe_filename("Röszke fence 2.M4A")
    'roszke-fence-2.m4a'
    """
    base = Path(name.replace("\\", "/")).name
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    clean = slugify(stem) or "upload"
    return f"{clean}.{slugify(suffix)}" if suffix and slugify(suffix) else clean


class UploadError(FieldReportsError):
    """A request the server refuses; `status` is the HTTP status it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class UploadStore:
    """Uploads in progress for one inbox. Thread-safe: the server handles requests in threads."""

    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox
        self.state_dir = inbox / _STATE_DIR
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # guards the inbox and the table of uploads
        self._upload_locks: dict[str, threading.Lock] = {}

    def _lock_for(self, upload_id: str) -> threading.Lock:
        # One lock per upload, so a slow reporter's chunk never blocks another reporter.
        with self._lock:
            return self._upload_locks.setdefault(upload_id, threading.Lock())

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not upload_id.isalnum():
            raise UploadError(HTTPStatus.NOT_FOUND, "no such upload")
        return self.state_dir / f"{upload_id}.part", self.state_dir / f"{upload_id}.json"

    def _save(self, upload: Upload) -> None:
        _, meta = self._paths(upload.id)
        tmp = meta.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(upload)), encoding="utf-8")
        os.replace(tmp, meta)

    def get(self, upload_id: str) -> Upload:
        part, meta = self._paths(upload_id)
        if not meta.is_file():
            raise UploadError(
                HTTPStatus.NOT_FOUND, "no such upload (finished, cancelled or never made)"
            )
        upload = Upload(**json.loads(meta.read_text(encoding="utf-8")))
        # The bytes on disk are the truth: a crash between write and save must not lose or repeat any.
        upload.offset = part.stat().st_size if part.exists() else 0
        return upload

    def create(self, *, length: int, metadata: Mapping[str, str]) -> Upload:
        if length < 0 or length > MAX_SIZE:
            raise UploadError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"Upload-Length {length} is over the {MAX_SIZE} byte limit",
            )
        filename = safe_filename(metadata.get("filename", "upload"))
        fingerprint = metadata.get("sha256", "").lower()
        with self._lock:
            if fingerprint:
                # The same file again (a client that lost its upload URL): resume, never duplicate.
                for meta in self.state_dir.glob("*.json"):
                    existing = self.get(meta.stem)
                    if existing.sha256 == fingerprint and existing.length == length:
                        return existing
                done = self._find_identical(fingerprint, length)
                if done is not None:
                    return Upload(
                        id="done" + fingerprint[:16],
                        filename=done.name,
                        length=length,
                        offset=length,
                        sha256=fingerprint,
                    )
            replace = metadata.get("replace", "").lower() in ("1", "true", "yes")
            if (self.inbox / filename).exists() and not replace:
                # Never overwrite, never guess which report a file belongs to: phones name every
                # file "Recording 1", and notes given to the wrong recording publish wrong facts.
                raise UploadError(
                    HTTPStatus.CONFLICT,
                    f"a different file named {filename} is already in the inbox: rename the "
                    "recording and its notes (add the date or place), or send them with "
                    "replace to overwrite",
                )
            upload = Upload(
                id=secrets.token_hex(12),
                filename=filename,
                length=length,
                offset=0,
                sha256=fingerprint,
                replace=replace,
            )
            self._paths(upload.id)[0].touch()
            self._save(upload)
        if length == 0:
            self._finish(upload)
        return upload

    def append(
        self,
        upload_id: str,
        *,
        offset: int,
        body: Callable[[int], bytes],
        size: int,
        checksum: str = "",
    ) -> Upload:
        with self._lock_for(upload_id):
            upload = self.get(upload_id)
            if offset != upload.offset:
                raise UploadError(
                    HTTPStatus.CONFLICT,
                    f"Upload-Offset {offset} does not match the server's {upload.offset}",
                )
            if upload.offset + size > upload.length:
                raise UploadError(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "more bytes than Upload-Length"
                )
            algorithm, _, expected = checksum.partition(" ")
            digest = hashlib.new(algorithm) if algorithm in ("sha1", "sha256") else None
            if checksum and digest is None:
                raise UploadError(HTTPStatus.BAD_REQUEST, f"unsupported checksum {algorithm!r}")
            part, _ = self._paths(upload_id)
            # Stream to disk, so a client sending one huge chunk cannot exhaust memory; a
            # damaged chunk is cut off again, back to the last good byte.
            with part.open("ab") as handle:
                remaining = size
                while remaining:
                    chunk = body(min(_CHUNK, remaining))
                    if not chunk:
                        break  # the connection dropped: keep what arrived, unless checksummed
                    handle.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    remaining -= len(chunk)
                damaged = digest is not None and (
                    remaining or base64.b64encode(digest.digest()).decode() != expected
                )
                if damaged:
                    handle.truncate(upload.offset)
                handle.flush()
                os.fsync(handle.fileno())
            if damaged:
                raise UploadError(460, "checksum mismatch: the chunk was damaged; send it again")
            upload.offset += size - remaining
        if upload.offset == upload.length:
            self._finish(upload)
        return upload

    def cancel(self, upload_id: str) -> None:
        with self._lock_for(upload_id):
            for path in self._paths(upload_id):
                path.unlink(missing_ok=True)

    def _find_identical(self, sha256: str, length: int) -> Path | None:
        for path in self.inbox.iterdir():
            if path.is_file() and path.stat().st_size == length and file_sha256(path)[0] == sha256:
                return path
        return None

    def _finish(self, upload: Upload) -> Path:
        """Move a complete upload into the inbox: whole, checked, and only once."""
        part, meta = self._paths(upload.id)
        digest, size = file_sha256(part)
        if upload.sha256 and digest != upload.sha256:
            part.unlink()
            meta.unlink()
            raise UploadError(460, "the whole file's SHA-256 does not match; upload it again")
        with self._lock:
            identical = self._find_identical(digest, size)
            if identical is not None:
                log.info(
                    "%s is already in the inbox as %s; not added twice",
                    upload.filename,
                    identical.name,
                )
                part.unlink()
                meta.unlink()
                return identical
            target = self.inbox / upload.filename
            if target.exists() and not upload.replace:
                # Another upload of the same name finished first: keep this one in the
                # state folder rather than lose it or overwrite the other.
                kept = self.state_dir / f"conflict-{upload.id}-{upload.filename}"
                os.replace(part, kept)
                meta.unlink()
                raise UploadError(
                    HTTPStatus.CONFLICT,
                    f"{upload.filename} arrived twice with different content; the second copy "
                    f"is kept as {kept.relative_to(self.inbox)}",
                )
            os.replace(part, target)
            meta.unlink()
        log.info("received %s (%d bytes)", target.name, size)
        return target


def make_server(
    inbox: Path, *, host: str = "127.0.0.1", port: int = 8001, token: str = ""
) -> ThreadingHTTPServer:
    """A tus upload server writing into `inbox`; with `token`, requests need `Bearer <token>`."""
    store = UploadStore(inbox)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fieldreports-upload"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("%s " + format, self.address_string(), *args)

        def _reply(
            self, status: int, headers: Mapping[str, str] | None = None, text: str = ""
        ) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Tus-Resumable", TUS_VERSION)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self, action: Callable[[], None]) -> None:
            if token and self.headers.get("Authorization", "") != f"Bearer {token}":
                self._reply(HTTPStatus.UNAUTHORIZED, text="upload token missing or wrong\n")
                return
            if self.command != "OPTIONS" and self.headers.get("Tus-Resumable") != TUS_VERSION:
                self._reply(
                    HTTPStatus.PRECONDITION_FAILED,
                    {"Tus-Version": TUS_VERSION},
                    "send Tus-Resumable: 1.0.0\n",
                )
                return
            try:
                action()
            except UploadError as exc:
                self._reply(exc.status, text=f"{exc}\n")
            except (ValueError, TypeError, KeyError, ReportError) as exc:
                # A missing or malformed tus header (Upload-Length, Upload-Offset...).
                self._reply(HTTPStatus.BAD_REQUEST, text=f"bad request: {exc!r}\n")

        def _upload_id(self) -> str:
            prefix = "/files/"
            if not self.path.startswith(prefix):
                raise UploadError(HTTPStatus.NOT_FOUND, "uploads live under /files/")
            return self.path[len(prefix) :].strip("/")

        def do_OPTIONS(self) -> None:  # noqa: N802
            self._handle(
                lambda: self._reply(
                    HTTPStatus.NO_CONTENT,
                    {
                        "Tus-Version": TUS_VERSION,
                        "Tus-Extension": EXTENSIONS,
                        "Tus-Max-Size": str(MAX_SIZE),
                        "Tus-Checksum-Algorithm": "sha1,sha256",
                    },
                )
            )

        def do_POST(self) -> None:  # noqa: N802
            def create() -> None:
                if self.path.rstrip("/") != "/files":
                    raise UploadError(HTTPStatus.NOT_FOUND, "create uploads at /files/")
                upload = store.create(
                    length=int(self.headers["Upload-Length"]),
                    metadata=parse_metadata(self.headers.get("Upload-Metadata", "")),
                )
                self._reply(
                    HTTPStatus.CREATED,
                    {"Location": f"/files/{upload.id}", "Upload-Offset": str(upload.offset)},
                )

            self._handle(create)

        def do_HEAD(self) -> None:  # noqa: N802
            def head() -> None:
                upload_id = self._upload_id()
                if upload_id.startswith("done"):
                    raise UploadError(HTTPStatus.GONE, "already received")
                upload = store.get(upload_id)
                self._reply(
                    HTTPStatus.OK,
                    {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length)},
                )

            self._handle(head)

        def do_PATCH(self) -> None:  # noqa: N802
            def patch() -> None:
                if self.headers.get("Content-Type") != "application/offset+octet-stream":
                    raise UploadError(
                        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                        "PATCH needs Content-Type: application/offset+octet-stream",
                    )
                upload = store.append(
                    self._upload_id(),
                    offset=int(self.headers["Upload-Offset"]),
                    body=self.rfile.read,
                    size=int(self.headers.get("Content-Length", 0)),
                    checksum=self.headers.get("Upload-Checksum", ""),
                )
                self._reply(HTTPStatus.NO_CONTENT, {"Upload-Offset": str(upload.offset)})

            self._handle(patch)

        def do_DELETE(self) -> None:  # noqa: N802
            def delete() -> None:
                store.cancel(self._upload_id())
                self._reply(HTTPStatus.NO_CONTENT)

            self._handle(delete)

    return ThreadingHTTPServer((host, port), Handler)


def upload_file(
    path: Path,
    server_url: str,
    *,
    token: str = "",
    chunk_bytes: int = 4 << 20,
    attempts: int = 8,
    replace: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Send one file to a tus server, resuming after every dropped connection.

    The file's SHA-256 is its fingerprint: if the server already holds part of it (from an
    earlier attempt, even by another run of this command) the upload continues from there.
    `replace` overwrites a different file of the same name (edited notes); without it the
    server refuses such a file.
    """
    digest, length = file_sha256(path)
    base = server_url.rstrip("/")
    headers = {"Tus-Resumable": TUS_VERSION}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    metadata = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in (("filename", path.name), ("sha256", digest), ("replace", str(replace)))
    )
    delay_s = 1.0
    for attempt in range(1, attempts + 1):
        try:
            response = _request(
                "POST",
                f"{base}/files/",
                {**headers, "Upload-Length": str(length), "Upload-Metadata": metadata},
            )
            location = response.headers["Location"]
            url = location if location.startswith("http") else base + location
            offset = int(response.headers.get("Upload-Offset", 0))
            with path.open("rb") as handle:
                while offset < length:
                    handle.seek(offset)
                    chunk = handle.read(chunk_bytes)
                    checksum = base64.b64encode(hashlib.sha1(chunk).digest()).decode()
                    response = _request(
                        "PATCH",
                        url,
                        {
                            **headers,
                            "Upload-Offset": str(offset),
                            "Content-Type": "application/offset+octet-stream",
                            "Upload-Checksum": f"sha1 {checksum}",
                        },
                        body=chunk,
                    )
                    offset = int(response.headers["Upload-Offset"])
                    if on_progress:
                        on_progress(offset, length)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code in (
                400,
                401,
                403,
                409,
                413,
                415,
                460,
            ):
                raise FieldReportsError(
                    f"{path.name}: the server refused the upload "
                    f"({exc.code}: {exc.read().decode().strip()})"
                ) from exc
            if attempt == attempts:
                raise FieldReportsError(
                    f"{path.name}: upload failed after {attempts} attempts ({exc}); run the same "
                    "command again later: it resumes where it stopped."
                ) from exc
            log.warning("%s: %s; retrying in %.0f s", path.name, exc, delay_s)
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 60.0)


def _request(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
) -> urllib.response.addinfourl:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    return urllib.request.urlopen(request, timeout=60)  # noqa: S310 - the user names the server
