"""Content hashes: one way to fingerprint a file, for caches, uploads and publishing.

Hours of field audio take seconds to hash, so a run remembers each file's hash by what `stat`
says of it (`remembered`): a file whose path, size, modification time and inode are unchanged
is not read again. Anything that rewrites a file changes its mtime; uploads and copies that
land by rename change its inode.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

_CHUNK = 1 << 20


def file_sha256(path: Path) -> tuple[str, int]:
    """The SHA-256 hex digest and byte size of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True, slots=True, kw_only=True)
class FileDigest:
    sha256: str
    size_bytes: int


class _Memory(Protocol):
    def get(self, stage: str, key: str, cls: type[T]) -> T | None: ...
    def put(self, stage: str, key: str, value: Any) -> None: ...


def remembered(memory: _Memory) -> Callable[[Path], tuple[str, int]]:
    """`file_sha256`, remembered in `memory` (the catalog) by each file's stat."""

    def hash_file(path: Path) -> tuple[str, int]:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
        known = memory.get("digest", key, FileDigest)
        if known is not None:
            return known.sha256, known.size_bytes
        sha256, size = file_sha256(path)
        memory.put("digest", key, FileDigest(sha256=sha256, size_bytes=size))
        return sha256, size

    return hash_file
