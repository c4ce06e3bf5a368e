"""A report's notes: Markdown with YAML front matter, read strictly.

Strict because the notes are typed in the field on a phone: a misspelt key ("plase") must be caught
and named, not silently dropped.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fieldreports.errors import ReportError
from fieldreports.naming import did_you_mean

FRONT_MATTER_KEYS = (
    "title",
    "journey",
    "recorded_at",
    "place",
    "lat",
    "lon",
    "language",
    "reporter",
    "tags",
    "explicit",
    "sensitive",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Notes:
    """What the reporter wrote. `recorded_at` may be naive: it is then read in the show's time zone."""

    title: str
    body: str = ""
    journey: str = ""
    recorded_at: dt.datetime | None = None
    place: str = ""
    lat: float | None = None
    lon: float | None = None
    language: str = ""
    reporter: str = ""
    tags: tuple[str, ...] = ()
    explicit: bool = False
    sensitive: bool = False


def split_front_matter(text: str) -> tuple[str, str]:
    """Split a notes file into its YAML front matter and Markdown body.

    Leading blank lines are skipped, and `...` may close the block as YAML allows. A block that
    opens and never closes is an error: read as body text, its keys (`sensitive` among them)
    would be silently ignored and published.

    >>> split_front_matter("---\\ntitle: Hi\\n---\\nBody text\\n")
    ('title: Hi\\n', 'Body text\\n')
    >>> split_front_matter("\\n\\n---\\ntitle: Hi\\n...\\nBody\\n")
    ('title: Hi\\n', 'Body\\n')
    >>> split_front_matter("Just a body")
    ('', 'Just a body')
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    stripped = text.lstrip("\n")
    if stripped.startswith("+++"):
        raise ValueError("TOML front matter (+++) is not read; write YAML between --- lines")
    if not stripped.startswith("---"):
        return "", text
    lines = stripped.split("\n")
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            return "\n".join(lines[1:index]) + "\n", "\n".join(lines[index + 1 :])
    raise ValueError("the front matter opens with --- but never closes; end it with a --- line")


def read_notes(path: Path, *, default_title: str) -> Notes:
    """Parse a notes file; raise ReportError naming the file and key on any mistake."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError("notes are not UTF-8 text; save them as UTF-8.", path=path) from exc
    try:
        head, body = split_front_matter(text)
    except ValueError as exc:
        raise ReportError(f"{exc}.", path=path) from None
    try:
        meta = yaml.safe_load(head) if head.strip() else {}
    except yaml.YAMLError as exc:
        raise ReportError(f"front matter is not valid YAML ({exc}).", path=path) from exc
    if not isinstance(meta, dict):
        raise ReportError("front matter must be a list of `key: value` lines.", path=path)
    return parse_front_matter(meta, body=body.strip(), path=path, default_title=default_title)


def parse_front_matter(meta: dict[str, Any], *, body: str, path: Path, default_title: str) -> Notes:
    for key in meta:
        if key not in FRONT_MATTER_KEYS:
            raise ReportError(
                f'unknown key "{key}" in front matter{did_you_mean(str(key), FRONT_MATTER_KEYS)}',
                path=path,
            )
    lat = _coordinate(meta.get("lat"), "lat", 90.0, path)
    lon = _coordinate(meta.get("lon"), "lon", 180.0, path)
    if (lat is None) != (lon is None):
        raise ReportError("give both lat and lon, or neither.", path=path)
    tags = meta.get("tags") or ()
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    if not isinstance(tags, list | tuple) or not all(
        isinstance(t, str | int | float) and not isinstance(t, bool) for t in tags
    ):
        raise ReportError("tags must be a list of words, like [sea, arrivals].", path=path)
    return Notes(
        title=_text(meta.get("title"), "title", path) or default_title,
        body=body,
        journey=_text(meta.get("journey"), "journey", path),
        recorded_at=_datetime(meta.get("recorded_at"), path),
        place=_text(meta.get("place"), "place", path),
        lat=lat,
        lon=lon,
        language=_text(meta.get("language"), "language", path).lower(),
        reporter=_text(meta.get("reporter"), "reporter", path),
        tags=tuple(str(t) for t in tags),
        explicit=_flag(meta.get("explicit"), "explicit", path),
        sensitive=_flag(meta.get("sensitive"), "sensitive", path),
    )


def _text(value: Any, key: str, path: Path) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    raise ReportError(f"{key} must be text, not {value!r}.", path=path)


def _flag(value: Any, key: str, path: Path) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise ReportError(f"{key} must be true or false, not {value!r}.", path=path)


def _coordinate(value: Any, key: str, limit: float, path: Path) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReportError(
            f"{key} must be a number in decimal degrees, not {value!r}.", path=path
        ) from None
    if not math.isfinite(number) or abs(number) > limit:
        hint = " (are lat and lon swapped?)" if key == "lat" and abs(number) <= 180 else ""
        raise ReportError(
            f"{key} = {value} is out of range: it must lie between -{limit:g} and {limit:g}{hint}.",
            path=path,
        )
    return number


def _datetime(value: Any, path: Path) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
    raise ReportError(
        f"recorded_at = {value!r} is not a date and time; write it like 2022-03-14T09:40:00+01:00.",
        path=path,
    )
