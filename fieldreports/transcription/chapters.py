"""Where chapters start: a transcript is cut into chapters of at least a minute at a pause.

Used twice: the locate stage places each chapter start on the GPX track (a report recorded on
the move), and the chapters file titles each chapter with its opening words.
"""

from __future__ import annotations

from collections.abc import Sequence

from fieldreports.naming import excerpt


def chapter_starts(
    segments: Sequence[tuple[float, float, str]], *, min_chapter_s: float = 60.0
) -> tuple[tuple[float, str], ...]:
    """(start_s, opening words) of each chapter after the first.

    >>> segs = [(0, 30, "one"), (30, 70, "two"), (70, 100, "three"), (100, 140, "four")]
    >>> chapter_starts(segs, min_chapter_s=60)
    ((70, 'three'),)
    >>> chapter_starts(segs, min_chapter_s=30)
    ((30, 'two'), (70, 'three'), (100, 'four'))
    """
    starts: list[tuple[float, str]] = []
    current = 0.0
    for start_s, _end_s, text in segments:
        if start_s - current >= min_chapter_s and text.strip():
            starts.append((start_s, excerpt(text, 60)))
            current = start_s
    return tuple(starts)
