"""What a recording says about itself: when it was made and, from some phones, where.

Phones and field recorders stamp their files: MP4/M4A and QuickTime carry `creation_time` (and
from many phones an ISO 6709 `location`), MP3s an ID3 date, Broadcast WAVs an origination date
and time in the bext chunk. ffprobe reads them all; without ffprobe, mutagen reads what it can.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from fieldreports.intake.inbox import FieldReport
from fieldreports.times import as_aware

log = logging.getLogger(__name__)

_FFPROBE_TIMEOUT_S = 30


def recording_time(
    report: FieldReport, timezone: str, *, tags: Mapping[str, str] | None = None
) -> dt.datetime | None:
    """When a report was recorded: `recorded_at` from the notes, else the recording's own
    creation-time tag, else None. Always timezone-aware; a naive time is read in `timezone`.

    `tags` are the recording's tags when already read (`read_tags`), to spare a second ffprobe.
    """
    if report.notes.recorded_at is not None:
        return as_aware(report.notes.recorded_at, timezone)
    tagged = tagged_time(read_tags(report.audio_path) if tags is None else tags, timezone)
    if tagged is not None:
        log.debug("%s: recording time %s from the file's tags", report.audio_path.name, tagged)
    return tagged


def read_tags(path: Path) -> dict[str, str]:
    """The recording's container and stream tags, keys in lower case ({} when none or unreadable)."""
    return _ffprobe_tags(path) if shutil.which("ffprobe") else _mutagen_tags(path)


def tagged_time(tags: Mapping[str, str], timezone: str) -> dt.datetime | None:
    """The creation time in a recording's tags, or None."""
    for key in ("creation_time", "com.apple.quicktime.creationdate", "date", "©day", "tdrc"):
        value = tags.get(key)
        if value:
            parsed = parse_tag_time(value, timezone)
            if parsed is not None:
                return parsed
    # Broadcast WAV (EBU Tech 3285) keeps a local date and time in the bext chunk.
    if tags.get("origination_date") and tags.get("origination_time"):
        return parse_tag_time(f"{tags['origination_date']}T{tags['origination_time']}", timezone)
    return None


def tagged_position(tags: Mapping[str, str]) -> tuple[float, float] | None:
    """The GPS position in a recording's tags (ISO 6709, as phones write it), or None."""
    for key in ("com.apple.quicktime.location.iso6709", "location", "location-eng", "©xyz"):
        value = tags.get(key)
        if value:
            position = parse_iso6709(value)
            if position is not None:
                return position
    return None


def parse_iso6709(value: str) -> tuple[float, float] | None:
    """An ISO 6709 point in decimal degrees ("+52.0705+023.6010+112.5/"), or None.

    >>> parse_iso6709("+52.0705+023.6010/")
    (52.0705, 23.601)
    >>> parse_iso6709("-33.8688+151.2093+058.000/")
    (-33.8688, 151.2093)
    >>> parse_iso6709("+00.0000+000.0000/") is None  # an unset fix, not the Gulf of Guinea
    True
    >>> parse_iso6709("somewhere") is None
    True
    """
    match = re.match(r"\s*([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)", value)
    if match is None:
        return None
    lat, lon = float(match[1]), float(match[2])
    if abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return None
    return lat, lon


def parse_tag_time(value: str, timezone: str) -> dt.datetime | None:
    """A creation-time tag as an aware datetime; None for a bare date or anything unreadable.

    >>> parse_tag_time("2022-03-14T08:40:00.000000Z", "Europe/Rome").isoformat()
    '2022-03-14T08:40:00+00:00'
    >>> parse_tag_time("2022-03-14 09:40:00", "Europe/Rome").isoformat()
    '2022-03-14T09:40:00+01:00'
    >>> parse_tag_time("2022:03:14", "UTC") is None
    True
    """
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r"^(\d{4}):(\d{2}):(\d{2})", r"\1-\2-\3", text)
    if not re.match(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}", text):
        return None
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # "+0100", as QuickTime writes it
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    # 1970 or 1904 is a device with no clock set, not a time.
    return as_aware(when, timezone) if when.year > 1990 else None


def _ffprobe_tags(path: Path) -> dict[str, str]:
    argv = [
        "ffprobe", "-v", "error", "-print_format", "json",
        "-show_entries", "format_tags:stream_tags", str(path),
    ]  # fmt: skip
    log.debug("argv: %s", argv)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_FFPROBE_TIMEOUT_S)
        data = json.loads(done.stdout or "{}")
    except (subprocess.TimeoutExpired, json.JSONDecodeError, OSError):
        return {}
    tags: dict[str, str] = {}
    # Stream tags first, so the container's own tags win.
    for stream in data.get("streams", ()):
        tags.update({k.lower(): str(v) for k, v in (stream.get("tags") or {}).items()})
    tags.update({k.lower(): str(v) for k, v in (data.get("format", {}).get("tags") or {}).items()})
    return tags


def _mutagen_tags(path: Path) -> dict[str, str]:
    import mutagen  # only without ffprobe

    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError:
        return {}
    if audio is None or audio.tags is None:
        return {}
    return {
        str(k).lower(): str(v[0] if isinstance(v, list) and v else v) for k, v in audio.tags.items()
    }
