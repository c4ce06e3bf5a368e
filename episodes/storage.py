"""Where the site is published: a local folder (default) or S3 through boto3.

SKELETON: signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

from typing import Protocol

from episodes.site import SiteFile
from fieldreports.config import ShowConfig


class Storage(Protocol):
    def put(self, file: SiteFile) -> bool:
        """Store one file whole (atomically); False when an identical copy was already there."""
        ...

    def url(self, key: str) -> str: ...


def open_storage(config: ShowConfig) -> Storage:
    """The storage that `[storage]` names."""
    raise NotImplementedError
