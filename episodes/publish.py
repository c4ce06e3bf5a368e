"""publish: put the site into storage in an order that never exposes a broken reference.

SKELETON: signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from episodes.site import Site
from episodes.storage import Storage


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishReport:
    uploaded: tuple[str, ...]
    unchanged: tuple[str, ...]


def publish(
    site: Site, storage: Storage, *, on_progress: Callable[[int, int], None] | None = None
) -> PublishReport:
    """Media and transcripts first, then the map and pages, the feed last."""
    raise NotImplementedError
