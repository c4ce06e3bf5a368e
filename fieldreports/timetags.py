"""When a report was recorded: the notes' `recorded_at`, else the recording's own tags.

Phones and field recorders stamp their files: MP4/M4A and QuickTime carry `creation_time`,
MP3s an ID3 date, Broadcast WAVs an origination date and time in the bext chunk. ffprobe reads
them all; without ffprobe, mutagen reads what it can.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

from fieldreports.clock import as_aware
from fieldreports.inbox import FieldReport

log = logging.getLogger(__name__)

_FFPROBE_TIMEOUT_S = 30


def recording_time(report: FieldReport, timezone: str) -> dt.datetime | None:
    """When a report was recorded: `recorded_at` from the notes, else the recording's own
    creation-time tag, else None. Always timezone-aware; a naive time is read in `timezone`.
    """
    if report.notes.recorded_at is not None:
        return as_aware(report.notes.recorded_at, timezone)
    tagged = _tagged_time(report.audio_path, timezone)
    if tagged is not None:
        log.debug("%s: recording time %s from the file's tags", report.audio_path.name, tagged)
    return tagged


def _tagged_time(path: Path, timezone: str) -> dt.datetime | None:
    tags = _ffprobe_tags(path) if shutil.which("ffprobe") else _mutagen_tags(path)
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
