"""The HTTP side of the tus server: reading tus headers, and CORS and method override for browsers.

Every reader here turns a malformed header into a `TusError` (400) with a sentence naming the
header, never Python's error text.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import urllib.parse

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fieldreports.config import UploadSettings
from fieldreports.intake.upload_store import TusError

TUS_VERSION = "1.0.0"
CHECKSUM_ALGORITHMS = ("sha1", "sha256")
_REQUEST_HEADERS = (
    "Authorization, Content-Type, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, "
    "Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata, Upload-Defer-Length, "
    "Upload-Concat, Upload-Checksum"
)
_EXPOSED_HEADERS = (
    "Location, Upload-Offset, Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, "
    "Tus-Extension, Upload-Expires, Upload-Metadata, Upload-Defer-Length, Upload-Concat"
)


def version_headers() -> dict[str, str]:
    return {"Tus-Version": TUS_VERSION}


def parse_metadata(header: str) -> dict[str, str]:
    """tus Upload-Metadata: comma-separated `key base64value` pairs; garbage is a 400.

    >>> parse_metadata("filename bGFtcGVkdXNhLm9nZw==,replace")
    {'filename': 'lampedusa.ogg', 'replace': ''}
    >>> parse_metadata("filename !!!")
    Traceback (most recent call last):
    fieldreports.intake.upload_store.TusError: Upload-Metadata: the value of "filename" is not base64
    """
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        if not (key.isascii() and key.isprintable()) or key in result or len(key) > 64:
            raise TusError(400, "Upload-Metadata must be pairs of a key and a base64 value")
        try:
            text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise TusError(400, f'Upload-Metadata: the value of "{key}" is not base64') from None
        if "\x00" in text:
            raise TusError(400, f'Upload-Metadata: the value of "{key}" holds a NUL character')
        result[key] = text
    return result


def whole_number(value: str, header: str) -> int:
    """A header's non-negative integer, or a 400 naming the header.

    >>> whole_number("42", "Upload-Offset")
    42
    >>> whole_number("-1", "Content-Length")
    Traceback (most recent call last):
    fieldreports.intake.upload_store.TusError: Content-Length must be a whole number of bytes
    """
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise TusError(400, f"{header} must be a whole number of bytes")
    return int(value)


def http_date(moment: float) -> str:
    return email.utils.formatdate(moment, usegmt=True)


def creation_length(headers: Headers) -> int | None:
    deferred = headers.get("upload-defer-length")
    if "upload-length" in headers:
        if deferred is not None:
            raise TusError(400, "send Upload-Length or Upload-Defer-Length, not both")
        return whole_number(headers["upload-length"], "Upload-Length")
    if deferred == "1":
        return None
    raise TusError(400, "send the file's size as Upload-Length (or Upload-Defer-Length: 1)")


def parse_checksum(header: str) -> tuple[str, bytes] | None:
    """Upload-Checksum `<algorithm> <base64 digest>`, or None when the client sent none."""
    if not header:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm.lower() not in CHECKSUM_ALGORITHMS:
        raise TusError(400, f"Upload-Checksum: use one of {', '.join(CHECKSUM_ALGORITHMS)}")
    try:
        expected = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise TusError(400, "Upload-Checksum: the digest is not base64") from None
    return algorithm.lower(), expected


def partial_ids(concat: str) -> list[str]:
    """The upload ids of `Upload-Concat: final;<url> <url>...`: the last segment of each URL.

    >>> partial_ids("final;/files/ab12 http://x.org/files/cd34")
    ['ab12', 'cd34']
    """
    urls = concat.removeprefix("final").lstrip(";").split()
    if not urls:
        raise TusError(400, "Upload-Concat: final; needs the URLs of the partial uploads")
    return [urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] for url in urls]


class Edge:
    """CORS, method override and tus headers on every answer; trailing slashes forgiven.

    Pure ASGI, around the whole tus app, so even a 404 from routing carries CORS headers a
    browser needs to show it, and a preflight is answered without credentials.
    """

    def __init__(self, app: ASGIApp, *, settings: UploadSettings) -> None:
        self.app = app
        self.origins = settings.allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        scope = dict(scope)
        override = headers.get("x-http-method-override", "").upper()
        if scope["method"] == "POST" and override in ("PATCH", "DELETE"):
            scope["method"] = override  # tus-js-client's overridePatchMethod
        # "/files" is the collection as "/files/" is; "/files/<id>/" is the upload "/files/<id>".
        route_path = scope["path"][len(scope.get("root_path", "")) :]
        if route_path == "":
            scope["path"] += "/"
        elif route_path != "/" and route_path.endswith("/"):
            scope["path"] = scope["path"].rstrip("/")
        cors = self._cors(headers.get("origin"))
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            preflight = {
                "Access-Control-Allow-Methods": "POST, HEAD, PATCH, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": _REQUEST_HEADERS,
                "Access-Control-Max-Age": "86400",
            }
            if cors and headers.get("access-control-request-private-network") == "true":
                # Chromium asks before a public page reaches a server on a private network
                # (a newsroom's desk machine): an allowed origin may.
                preflight["Access-Control-Allow-Private-Network"] = "true"
            response = Response(status_code=204, headers={**preflight, **dict(cors)})
            await response(scope, receive, send)
            return
        extra = [
            (b"tus-resumable", TUS_VERSION.encode()),
            (b"cache-control", b"no-store"),
            *((k.lower().encode(), v.encode()) for k, v in cors),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cors(self, origin: str | None) -> list[tuple[str, str]]:
        if origin is None:
            return []
        if "*" in self.origins:
            allowed = "*"
        elif origin.rstrip("/") in self.origins:
            allowed = origin
        else:
            return []
        headers = [
            ("Access-Control-Allow-Origin", allowed),
            ("Access-Control-Expose-Headers", _EXPOSED_HEADERS),
        ]
        return headers if allowed == "*" else [*headers, ("Vary", "Origin")]
