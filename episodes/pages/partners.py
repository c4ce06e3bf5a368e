"""Radio partners: partners.json lists each broadcast master, and presigned links for partners
without bucket access.

partners.json is published with the site (public URLs, no expiry). `presign_masters` reads the
published partners.json back from storage and returns a copy whose master URLs are presigned
S3 links valid for a while (`fieldreports partners SHOW_DIR --expires 7d`); it is printed for the
editor to send, never published.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from episodes.episode import Episode, join_url
from episodes.site.storage import MAX_PRESIGN_S, S3Storage, Storage, open_storage, public_base_url
from fieldreports.config import ShowConfig
from fieldreports.errors import SetupError

log = logging.getLogger(__name__)

PARTNERS_KEY = "partners.json"

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_expiry(text: str) -> int:
    """Seconds in "90s", "30m", "12h", "7d", "1w" or a bare number of seconds.

    >>> parse_expiry("7d")
    604800
    >>> parse_expiry("90")
    90
    >>> parse_expiry("soon")
    Traceback (most recent call last):
    ...
    fieldreports.errors.SetupError: expiry "soon" not understood; write it like 12h, 7d or 3600.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise SetupError(f'expiry "{text}" not understood; write it like 12h, 7d or 3600.')
    return int(match.group(1)) * _UNITS_S[match.group(2) or "s"]


def render_partners(episodes: Sequence[Episode], config: ShowConfig) -> bytes:
    """partners.json: one entry per episode with its master's loudness, checksum and URL."""
    base_url = public_base_url(config)
    ordered = sorted(episodes, key=lambda e: (e.published_at, e.slug), reverse=True)
    document: dict[str, Any] = {
        "show": config.show.title,
        "feed_url": join_url(base_url, "feed.xml"),
        "masters": {
            "format": "WAV (PCM)",
            "sample_rate_hz": config.audio.master_sample_rate_hz,
            "bit_depth": config.audio.master_bit_depth,
            "target_lufs": config.audio.master_lufs,
            "max_true_peak_dbtp": config.audio.master_true_peak_dbtp,
            "standard": "EBU R 128",
        },
        "episodes": [_entry(e, base_url) for e in ordered],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _entry(episode: Episode, base_url: str) -> dict[str, Any]:
    master = episode.master_loudness
    return {
        "guid": episode.guid,
        "slug": episode.slug,
        "title": episode.title,
        "journey": episode.journey,
        "reporter": episode.reporter,
        "place": episode.location.name if episode.location else "",
        "language": episode.language,
        "date": (episode.recorded_at or episode.published_at).date().isoformat(),
        "recorded_at": episode.recorded_at.isoformat() if episode.recorded_at else None,
        "published_at": episode.published_at.isoformat(),
        "duration_s": round(episode.duration_s, 3),
        "integrated_lufs": round(master.integrated_lufs, 1),
        "true_peak_dbtp": round(master.true_peak_dbtp, 1),
        "loudness_range_lu": round(master.range_lu, 1),
        "size_bytes": episode.master.size_bytes,
        "sha256": episode.master.sha256,
        "master_key": episode.master.key,
        "master_url": join_url(base_url, episode.master.key),
    }


def presign_masters(
    config: ShowConfig,
    *,
    expires_s: int,
    storage: Storage | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The published partners.json with each master URL presigned for `expires_s` seconds."""
    storage = storage or open_storage(config)
    published = storage.get(PARTNERS_KEY)
    if published is None:
        raise SetupError(
            f"no {PARTNERS_KEY} in the show's storage yet; run `fieldreports run "
            f"{config.show_dir}` first."
        )
    if not 1 <= expires_s <= MAX_PRESIGN_S:
        raise SetupError(f"--expires must be between 1 s and 7 days; {expires_s} s asked.")
    document = json.loads(published)
    presigned = isinstance(storage, S3Storage)
    if not presigned:
        log.warning("storage is a local folder: master URLs are plain public URLs, no expiry")
    now = now or dt.datetime.now(dt.UTC)
    document["expires_at"] = (
        (now + dt.timedelta(seconds=expires_s)).isoformat(timespec="seconds") if presigned else None
    )
    for entry in document.get("episodes", ()):
        entry["master_url"] = storage.presign(entry["master_key"], expires_s=expires_s)
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
