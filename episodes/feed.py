"""render_feed: the podcast RSS (feedgen), with iTunes and Podcasting 2.0 tags.

SKELETON: signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

from collections.abc import Sequence

from episodes.episode import Episode
from fieldreports.config import ShowInfo


def render_feed(episodes: Sequence[Episode], show: ShowInfo, *, artwork_url: str) -> bytes:
    """The whole feed.xml, newest episode first."""
    raise NotImplementedError
