"""`fieldreports upload`: a tus 1.0 client that resumes and retries until a file is across.

The file's SHA-256 is its fingerprint, sent as `sha256` metadata: a server holding part of the
file (from an earlier attempt, even by another run of this command) continues from there, and a
server holding all of it answers "complete" at once. Each chunk carries a SHA-1 checksum.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from http.client import HTTPResponse
from pathlib import Path

from fieldreports.digest import file_sha256
from fieldreports.errors import FieldReportsError

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
# Answers that will not change by asking again: say why and stop. Others (a dropped connection,
# 408, 423 "busy", 5xx) are retried with a growing pause.
_FINAL_STATUSES = (400, 401, 403, 404, 410, 413, 415, 460)


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

    `server_url` is the server's address (`https://desk.example.org:8001/`, uploads go to its
    `/files/`) or the tus endpoint itself (ending in `/files/`). `replace` overwrites a
    different file of the same name (edited notes); without it the server refuses such a file.
    """
    digest, length = file_sha256(path)
    endpoint = _endpoint(server_url)
    headers = {"Tus-Resumable": TUS_VERSION}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    metadata = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in (("filename", path.name), ("sha256", digest), ("replace", str(replace)))
    )
    delay_s = 1.0
    url = ""
    for attempt in range(1, attempts + 1):
        try:
            if url:
                response = _request("HEAD", url, headers)
            else:
                response = _request(
                    "POST",
                    endpoint,
                    {**headers, "Upload-Length": str(length), "Upload-Metadata": metadata},
                )
                url = urllib.parse.urljoin(endpoint, response.headers["Location"])
            offset = int(response.headers.get("Upload-Offset", 0))
            _send_chunks(path, url, headers, offset, length, chunk_bytes, on_progress)
            return
        except urllib.error.HTTPError as exc:
            message = exc.read().decode("utf-8", "replace").strip()
            if exc.code in (404, 410) and url:
                url = ""  # the upload expired meanwhile: start it again (the fingerprint helps)
                continue
            if exc.code == 401:
                raise FieldReportsError(
                    f"{path.name}: the server refused the upload key (401): check --token or "
                    "FIELDREPORTS_UPLOAD_TOKEN"
                ) from exc
            if exc.code in _FINAL_STATUSES or (exc.code == 409 and "Upload-Offset" not in message):
                raise FieldReportsError(
                    f"{path.name}: the server refused the upload ({exc.code}: {message})"
                ) from exc
            problem = f"{exc.code}: {message}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError) as exc:
            problem = str(exc)
        if attempt == attempts:
            raise FieldReportsError(
                f"{path.name}: upload failed after {attempts} attempts ({problem}); run the "
                "same command again later: it resumes where it stopped."
            )
        log.warning("%s: %s; retrying in %.0f s", path.name, problem, delay_s)
        time.sleep(delay_s)
        delay_s = min(delay_s * 2, 60.0)


def _send_chunks(
    path: Path,
    url: str,
    headers: Mapping[str, str],
    offset: int,
    length: int,
    chunk_bytes: int,
    on_progress: Callable[[int, int], None] | None,
) -> None:
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


def _endpoint(server_url: str) -> str:
    """The tus endpoint for a server address.

    >>> _endpoint("https://desk.example.org:8001"), _endpoint("https://x.org/news/files/")
    ('https://desk.example.org:8001/files/', 'https://x.org/news/files/')
    """
    base = server_url.rstrip("/")
    return f"{base}/" if base.endswith("/files") else f"{base}/files/"


def _request(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
) -> HTTPResponse:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    response: HTTPResponse = urllib.request.urlopen(request, timeout=60)  # noqa: S310
    response.read()
    return response
