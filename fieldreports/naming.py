"""Small pure helpers for names: slugs and "did you mean" suggestions."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable


def slugify(text: str) -> str:
    """A lowercase ASCII slug for file names and URLs.

    >>> slugify("Röszke: waiting at the fence")
    'roszke-waiting-at-the-fence'
    >>> slugify("  2022-03-14 Lampedusa Harbour.m4a ")
    '2022-03-14-lampedusa-harbour-m4a'
    >>> slugify("Białowieża")
    'bialowieza'
    """
    text = text.replace("ł", "l").replace("Ł", "L").replace("ß", "ss").replace("ø", "o")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint for an unknown key, or an empty string.

    >>> did_you_mean("plase", ["place", "title"])
    '; did you mean "place"?'
    >>> did_you_mean("zzz", ["place"])
    ''
    """
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f'; did you mean "{match[0]}"?' if match else ""
