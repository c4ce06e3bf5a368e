"""A report's notes: Markdown with YAML front matter, read strictly.

Strict because the notes are typed in the field on a phone: a misspelt key ("plase") must be caught
and named, not silently dropped.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fieldreports.errors import ReportError
from fieldreports.naming import clip, did_you_mean

# Notes are typed on a phone: anything larger is not notes, and is refused before it is read.
MAX_NOTES_BYTES = 256 * 1024

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
    "image",
    "about",
)
# Episode artwork beside the recording: a photo the reporter chose, published re-encoded.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


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
    language: str = ""  # one language code: a hint for the whole recording
    languages: tuple[str, ...] = ()  # `language: [en, de]`: detected per stretch among these
    reporter: str = ""
    tags: tuple[str, ...] = ()
    explicit: bool = False
    # None: the notes do not say, and the show's `sensitive_by_default` decides (geo).
    sensitive: bool | None = None
    image: str = ""  # a JPEG or PNG file name beside the notes in inbox/
    # What the report is about, where that is not where it was recorded ("Moria camp").
    about: str = ""


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
    size = path.stat().st_size
    if size > MAX_NOTES_BYTES:
        raise ReportError(
            f"notes are {size // 1024} KB; at most {MAX_NOTES_BYTES // 1024} KB are read. "
            "Keep the notes short and put long documents beside the recording.",
            path=path,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError("notes are not UTF-8 text; save them as UTF-8.", path=path) from exc
    try:
        head, body = split_front_matter(text)
    except ValueError as exc:
        raise ReportError(f"{exc}.", path=path) from None
    # The front matter's first line in the file: after any blank lines and the opening ---.
    plain = text.removeprefix("\ufeff").replace("\r\n", "\n")
    first_line = len(plain) - len(plain.lstrip("\n")) + 2
    try:
        meta = yaml.load(head, Loader=_loader(first_line)) if head.strip() else {}
    except _NotesError as exc:
        raise ReportError(f"{exc}.", path=path) from None
    except yaml.YAMLError as exc:
        raise ReportError(
            f"front matter is not valid YAML ({clip(str(exc), 200)}).", path=path
        ) from None
    if not isinstance(meta, dict):
        raise ReportError("front matter must be a list of `key: value` lines.", path=path)
    return parse_front_matter(meta, body=body.strip(), path=path, default_title=default_title)


class _NotesError(ValueError):
    """A mistake in the front matter that the YAML parser itself would let through."""


def _loader(first_line: int) -> type[yaml.SafeLoader]:
    """Safe YAML that also refuses what notes never need.

    - Aliases (`*name`): a 350-byte "billion laughs" expands to hundreds of megabytes.
    - A key given twice: YAML lets the last win, so `sensitive: false` below a
      `sensitive: true` would silently publish the exact place.

    Line numbers in the errors are the notes file's (`first_line` is the front matter's first).
    """

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                line = self.peek_event().start_mark.line + first_line
                raise _NotesError(
                    f"line {line}: YAML aliases (*name) are not allowed in notes; "
                    "write the value out"
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + first_line
                if isinstance(key, str | int | float | bool) and key in seen:
                    raise _NotesError(
                        f'"{clip(key)}" is given twice, on lines {seen[key]} and {line}; keep one'
                    )
                if isinstance(key, str | int | float | bool):
                    seen[key] = line
            return super().construct_mapping(node, deep)

    return StrictLoader


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
    languages = _languages(meta.get("language"), path)
    return Notes(
        title=_text(meta.get("title"), "title", path) or default_title,
        body=body,
        journey=_text(meta.get("journey"), "journey", path),
        recorded_at=_datetime(meta.get("recorded_at"), path),
        place=_text(meta.get("place"), "place", path),
        lat=lat,
        lon=lon,
        language=languages[0] if len(languages) == 1 else "",
        languages=languages if len(languages) > 1 else (),
        reporter=_text(meta.get("reporter"), "reporter", path),
        tags=tuple(str(t) for t in tags),
        explicit=_flag(meta.get("explicit"), "explicit", path),
        sensitive=None
        if meta.get("sensitive") is None
        else _flag(meta["sensitive"], "sensitive", path),
        image=_image(meta.get("image"), path),
        about=_text(meta.get("about"), "about", path),
    )


def _text(value: Any, key: str, path: Path) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    raise ReportError(f"{key} must be text, not {clip(repr(value))}.", path=path)


def _image(value: Any, path: Path) -> str:
    """A JPEG or PNG named by its file name, lying beside the notes."""
    name = _text(value, "image", path)
    if not name:
        return ""
    if "/" in name or "\\" in name or name.startswith("."):
        raise ReportError(
            f'image = "{name}" must be the name of a photo beside the notes, like harbour.jpg.',
            path=path,
        )
    if not name.lower().endswith(IMAGE_SUFFIXES):
        raise ReportError(f'image = "{name}" must be a .jpg or .png file.', path=path)
    if not (path.parent / name).is_file():
        raise ReportError(
            f'image = "{name}": no such file beside the notes; copy the photo into '
            f"{path.parent.name}/ or remove the image line.",
            path=path,
        )
    return name


def _languages(value: Any, path: Path) -> tuple[str, ...]:
    """`language: nl` or `language: [en, de]`: language codes, lower case, each once.

    >>> _languages(["EN", "de", "en"], Path("n.md")), _languages("nl", Path("n.md"))
    (('en', 'de'), ('nl',))
    """
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else [value]
    codes: list[str] = []
    for item in items:
        if not isinstance(item, str) or not re.fullmatch(r"[^\W\d_][\w -]*", item.strip()):
            raise ReportError(
                f"language must be a language code (language: nl) or a list of codes "
                f"(language: [en, de]), not {value!r}.",
                path=path,
            )
        codes.append(item.strip().lower())
    return tuple(dict.fromkeys(codes))


def _flag(value: Any, key: str, path: Path) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise ReportError(f"{key} must be true or false, not {clip(repr(value))}.", path=path)


def _coordinate(value: Any, key: str, limit: float, path: Path) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReportError(
            f"{key} must be a number in decimal degrees, not {clip(repr(value))}.", path=path
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
        f"recorded_at = {clip(repr(value))} is not a date and time; write it like 2022-03-14T09:40:00+01:00.",
        path=path,
    )
