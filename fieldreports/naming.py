"""Small pure helpers for names and short text: slugs, "did you mean" hints, excerpts."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable

from anyascii import anyascii


def slugify(text: str) -> str:
    """A lowercase ASCII slug for file names and URLs, transliterating any script.

    >>> slugify("Röszke: waiting at the fence")
    'roszke-waiting-at-the-fence'
    >>> slugify("  2022-03-14 Lampedusa Harbour.m4a ")
    '2022-03-14-lampedusa-harbour-m4a'
    >>> slugify("Białowieża")
    'bialowieza'
    >>> slugify("Харків, вокзал")
    'kharkiv-vokzal'
    >>> slugify("🎙️") == slugify("🎙️") != ""
    True
    """
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(text).lower()).strip("-")
    if slug or not text.strip():
        return slug
    # Nothing transliterates (emoji, symbols): a stable name from the text itself.
    return "x" + hashlib.sha256(text.strip().encode()).hexdigest()[:10]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint for an unknown key, or an empty string.

    >>> did_you_mean("plase", ["place", "title"])
    '; did you mean "place"?'
    >>> did_you_mean("zzz", ["place"])
    ''
    """
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f'; did you mean "{match[0]}"?' if match else ""


def excerpt(text: str, max_chars: int = 280) -> str:
    """The start of `text`, cut at a word boundary, with an ellipsis when cut.

    >>> excerpt("ask not what your country can do for you", 20)
    'ask not what your…'
    >>> excerpt("  short  ", 20)
    'short'
    """
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + "…"


def clip(value: object, limit: int = 40) -> str:
    """A value for an error message, never longer than `limit` characters: a hostile file must
    not turn one error into megabytes of log.

    >>> clip("x" * 100)
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'
    >>> clip(3.5), clip("Lampedusa")
    ('3.5', 'Lampedusa')
    """
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
