"""Where the site is published: a local folder (default) or S3 through boto3.

One small interface, two backends. Both write each file whole: the local folder writes a
temporary file beside the target and renames it (atomic on POSIX); an S3 object only appears
when its upload completes. Both skip a file whose size and SHA-256 match what is already
stored, so re-publishing an unchanged show uploads nothing.

S3 credentials come from boto3's usual chain (environment, ~/.aws, instance role), never from
show.toml. boto3 is imported only when S3 is used, so a local show never loads it.
Throttling and 5xx answers are retried with exponential backoff by botocore's
"standard" retry mode; files above `multipart_threshold_mb` go up in parts.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from episodes.episode import join_url
from episodes.site.files import SiteFile
from fieldreports.config import ShowConfig, StorageSettings
from fieldreports.digest import file_sha256
from fieldreports.errors import SetupError
from fieldreports.s3 import make_s3_client

log = logging.getLogger(__name__)

# SigV4 presigned URLs live at most seven days.
MAX_PRESIGN_S = 7 * 24 * 3600


class StorageError(SetupError):
    """Storage could not be reached or refused a file; nothing later in the order was written."""


class Storage(Protocol):
    def put(self, file: SiteFile) -> bool:
        """Store one file whole (atomically); False when an identical copy was already there."""
        ...

    def url(self, key: str) -> str: ...

    def get(self, key: str) -> bytes | None:
        """The stored bytes of `key`, or None when absent."""
        ...

    def list_keys(self) -> tuple[str, ...]:
        """Every stored key, sorted."""
        ...

    def presign(self, key: str, *, expires_s: int) -> str:
        """A URL that downloads `key` without credentials (plain URL when storage is public)."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; nothing happens when it is absent."""
        ...


def check_key(key: str) -> str:
    """A site key is a relative "/"-path that stays inside the site.

    >>> check_key("episodes/a.mp3")
    'episodes/a.mp3'
    >>> check_key("../etc/passwd")
    Traceback (most recent call last):
    ...
    ValueError: unsafe site key '../etc/passwd'
    """
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"unsafe site key {key!r}")
    return key


def public_base_url(config: ShowConfig) -> str:
    """Where published files are served: `[storage] public_base_url`, else `[show] base_url`."""
    return (config.storage.public_base_url or config.show.base_url).rstrip("/") + "/"


def feed_url(config: ShowConfig) -> str:
    """The main feed's address, which also names each report's GUID (derived once, kept)."""
    return join_url(public_base_url(config), "feed.xml")


def open_storage(
    config: ShowConfig, *, hash_file: Callable[[Path], tuple[str, int]] = file_sha256
) -> Storage:
    """The storage that `[storage]` names. A local folder compares what it holds by
    `hash_file` (`digest.remembered` spares reading unchanged files again)."""
    if config.storage.kind == "s3":
        return S3Storage(config.storage, base_url=public_base_url(config))
    return LocalStorage(
        config.public_dir,
        base_url=public_base_url(config),
        prune=config.storage.prune,
        hash_file=hash_file,
        secret_dir=config.state_dir,
    )


class LocalStorage:
    """A folder on disk, written with temp + rename so a reader never sees half a file."""

    # One at a time: the cost is fsync, and a predictable order is easier to reason about.
    workers = 1

    def __init__(
        self,
        root: Path,
        *,
        base_url: str,
        prune: bool = False,
        hash_file: Callable[[Path], tuple[str, int]] = file_sha256,
        secret_dir: Path | None = None,
    ) -> None:
        self.root = root
        self.base_url = base_url
        self.prune = prune
        self.hash_file = hash_file
        # Where the show's signing key lives (never inside `root`): links from `presign` then
        # carry an HMAC that `fieldreports serve --signed` and the station check.
        self.secret_dir = secret_dir

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def url(self, key: str) -> str:
        return join_url(self.base_url, key)

    def put(self, file: SiteFile) -> bool:
        target = self.path(file.key)
        sha256, size = file.digest()
        if (
            target.is_file()
            and target.stat().st_size == size
            and self.hash_file(target)[0] == sha256
        ):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                if file.data is not None:
                    out.write(file.data)
                else:
                    assert file.source is not None
                    with file.source.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            tmp.chmod(0o644)  # mkstemp makes 0600; a web server must read it
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True

    def get(self, key: str) -> bytes | None:
        target = self.path(key)
        return target.read_bytes() if target.is_file() else None

    def list_keys(self) -> tuple[str, ...]:
        if not self.root.is_dir():
            return ()
        return tuple(
            sorted(
                p.relative_to(self.root).as_posix()
                for p in self.root.rglob("*")
                if p.is_file() and not p.name.startswith(".")
            )
        )

    def delete(self, key: str) -> None:
        target = self.path(key)
        target.unlink(missing_ok=True)
        # Leave no empty folders behind (but never remove the root).
        for parent in target.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def presign(self, key: str, *, expires_s: int) -> str:
        """The URL with an HMAC signature valid for `expires_s` (episodes.site.signing), or the
        plain URL when this storage has no signing key."""
        url = self.url(check_key(key))
        if self.secret_dir is None:
            log.debug("no signing key for local storage; %s is served as a plain URL", key)
            return url
        from episodes.site.signing import MAX_EXPIRY_S, load_secret, signed_url

        if not 1 <= expires_s <= MAX_EXPIRY_S:
            raise StorageError(
                f"a signed link lives between 1 second and 7 days; {expires_s} s asked."
            )
        expires_at = int(time.time()) + expires_s
        return signed_url(url, key, load_secret(self.secret_dir), expires_at)


class S3Storage:
    """An S3 bucket (AWS, MinIO, R2, Garage) through boto3, under an optional key prefix."""

    def __init__(self, settings: StorageSettings, *, base_url: str, client: Any = None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix.strip("/") + "/" if settings.prefix.strip("/") else ""
        self.base_url = base_url
        self.client = client or make_s3_client(settings)
        # Each file costs at least one round trip; several in flight hide the latency.
        self.workers = settings.workers
        self.prune = settings.prune

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def url(self, key: str) -> str:
        return join_url(self.base_url, key)

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._key(key)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put(self, file: SiteFile) -> bool:
        from boto3.s3.transfer import TransferConfig

        sha256, size = file.digest()
        try:
            head = self._head(file.key)
            if head is not None and _same(head, file, sha256=sha256, size=size):
                return False
            threshold = self.settings.multipart_threshold_mb * 1024 * 1024
            transfer = TransferConfig(
                multipart_threshold=threshold,
                multipart_chunksize=max(threshold, 8 * 1024 * 1024),
                use_threads=False,
            )
            extra = {
                "ContentType": file.content_type,
                "CacheControl": file.cache_control,
                "Metadata": {"sha256": sha256},
            }
            if file.data is not None:
                self.client.upload_fileobj(
                    io.BytesIO(file.data),
                    self.bucket,
                    self._key(file.key),
                    ExtraArgs=extra,
                    Config=transfer,
                )
            else:
                self.client.upload_file(
                    str(file.source),
                    self.bucket,
                    self._key(file.key),
                    ExtraArgs=extra,
                    Config=transfer,
                )
        except Exception as exc:  # botocore and s3transfer raise many kinds
            raise StorageError(
                f"could not upload {file.key} to s3://{self.bucket}/{self.prefix}: {exc}. "
                "Check [storage] and your AWS credentials, then run again: files already "
                "uploaded are skipped and the previous feed stays live until the new one is up."
            ) from exc
        return True

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return bytes(answer["Body"].read())

    def list_keys(self) -> tuple[str, ...]:
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            found.extend(obj["Key"][len(self.prefix) :] for obj in page.get("Contents", ()))
        return tuple(sorted(found))

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise StorageError(f"could not delete {key} from s3://{self.bucket}: {exc}") from exc

    def presign(self, key: str, *, expires_s: int) -> str:
        if not 1 <= expires_s <= MAX_PRESIGN_S:
            raise SetupError(
                f"a presigned URL lives between 1 second and 7 days; {expires_s} s asked."
            )
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=expires_s,
            )
        )


def _same(head: dict[str, Any], file: SiteFile, *, sha256: str, size: int) -> bool:
    """Is the stored object byte-identical and served with the same headers?"""
    if head.get("ContentLength") != size:
        return False
    if head.get("ContentType") != file.content_type:
        return False
    if head.get("CacheControl", "") != file.cache_control:
        return False
    stored = head.get("Metadata", {}).get("sha256")
    if stored:
        return bool(stored == sha256)
    # Uploaded by another tool: a single-part ETag is the MD5 of the bytes.
    etag = str(head.get("ETag", "")).strip('"')
    return "-" not in etag and etag == _md5(file)


def _md5(file: SiteFile) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    if file.data is not None:
        digest.update(file.data)
    else:
        assert file.source is not None
        with file.source.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()
