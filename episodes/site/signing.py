"""Expiring links for files we serve ourselves: an HMAC in the query string.

S3 signs its own links (SigV4 presigned URLs, at most seven days). A show published to a local
folder has no such service, so the links `fieldreports partners --expires` hands a radio partner
carry their own proof:

    https://example.org/show/masters/<slug>.wav?expires=1718000000&signature=<64 hex digits>

`signature` is HMAC-SHA256, keyed with the show's secret, over the file's key and the expiry
(seconds since 1970, UTC). Whoever serves the file (`fieldreports serve --signed`, or the
station service, which mounts `verify`) recomputes it and refuses the request when it differs
or the time has passed. A plain static web server ignores the query: there the link works for
as long as the file is published, which is why the masters should sit behind one of those two.

The secret is `FIELDREPORTS_SIGNING_SECRET` when set, else a random key kept in
`.fieldreports/signing.key` (made on first use, readable by its owner only, never published).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode

log = logging.getLogger(__name__)

SECRET_ENV = "FIELDREPORTS_SIGNING_SECRET"
KEY_FILE = "signing.key"
# The same limit as S3's presigned URLs, so a link lives as long whatever the storage.
MAX_EXPIRY_S = 7 * 24 * 3600


def _message(key: str, expires: int) -> bytes:
    return f"{unquote(key).lstrip('/')}\n{expires}".encode()


def _timestamp(when: dt.datetime | int) -> int:
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        return int(when.timestamp())
    return int(when)


def sign(key: str, secret: bytes, expires_at: dt.datetime | int) -> str:
    """The query string that makes a link to `key` valid until `expires_at`.

    >>> query = sign("masters/a.wav", b"s3cret", 1718000000)
    >>> query[:29], len(query) - 29
    ('expires=1718000000&signature=', 64)
    """
    expires = _timestamp(expires_at)
    signature = hmac.new(secret, _message(key, expires), hashlib.sha256).hexdigest()
    return urlencode({"expires": expires, "signature": signature})


def verify(key: str, query: str, secret: bytes, *, now: dt.datetime | None = None) -> bool:
    """Whether `query` (as `sign` made it) lets `key` be served at `now`.

    >>> query = sign("masters/a.wav", b"s3cret", 2000000000)
    >>> verify("masters/a.wav", query, b"s3cret"), verify("/masters/a.wav", query, b"s3cret")
    (True, True)
    >>> verify("masters/b.wav", query, b"s3cret"), verify("masters/a.wav", query, b"other")
    (False, False)
    >>> verify("masters/a.wav", query.replace("2000000000", "2000000001"), b"s3cret")
    False
    >>> late = dt.datetime(2033, 6, 1, tzinfo=dt.UTC)
    >>> verify("masters/a.wav", query, b"s3cret", now=late)
    False
    """
    fields = parse_qs(query.lstrip("?"))
    try:
        (expires_text,), (signature,) = fields["expires"], fields["signature"]
        expires = int(expires_text)
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret, _message(key, expires), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        return False
    return (now or dt.datetime.now(dt.UTC)).timestamp() < expires


def signed_url(url: str, key: str, secret: bytes, expires_at: dt.datetime | int) -> str:
    """`url` (which serves `key`) with the query that makes it valid until `expires_at`."""
    return f"{url}{'&' if '?' in url else '?'}{sign(key, secret, expires_at)}"


def load_secret(state_dir: Path, *, create: bool = True) -> bytes:
    """The show's signing secret: the environment's, else `state_dir/signing.key` (made when
    missing and `create`). FileNotFoundError when there is none and `create` is off."""
    from_env = os.environ.get(SECRET_ENV, "")
    if from_env:
        return from_env.encode("utf-8")
    path = state_dir / KEY_FILE
    if path.is_file():
        return path.read_bytes().strip()
    if not create:
        raise FileNotFoundError(path)
    state_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32).encode("ascii")
    # Owner-only from the first byte: opened with 0600, never chmod-ed after writing.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret + b"\n")
    log.info(
        "made a signing key in %s (keep it; links signed with it stop working without it)", path
    )
    return secret


# What a signed link protects: the broadcast masters.
SIGNED_PREFIXES = ("masters/",)


def allowed(
    target: str,
    secret: bytes,
    *,
    prefixes: tuple[str, ...] = SIGNED_PREFIXES,
    now: dt.datetime | None = None,
) -> bool:
    """Whether a server may answer `target` (an HTTP request's path and query): anything
    outside `prefixes`, or a file inside them with a valid, unexpired signature.

    >>> query = sign("masters/a.wav", b"k", 2000000000)
    >>> allowed("/masters/a.wav?" + query, b"k"), allowed("/masters/a.wav", b"k")
    (True, False)
    >>> allowed("/episodes/a.mp3", b"k"), allowed("/masters/../masters/b.wav?" + query, b"k")
    (True, False)
    """
    path, _, query = target.partition("?")
    key = unquote(path).lstrip("/")
    if not any(key.startswith(p) or f"/{p}" in f"/{key}" for p in prefixes):
        return True
    return ".." not in key.split("/") and verify(key, query, secret, now=now)
