"""Transcript file formats: WebVTT, SRT, Podcasting 2.0 JSON and plain text.

- WebVTT: https://www.w3.org/TR/webvtt1/ (`HH:MM:SS.mmm`, a "WEBVTT" header, blank-line cues).
- SRT: numbered cues, `HH:MM:SS,mmm` with a comma, as radio editors' tools expect.
- JSON: the Podcasting 2.0 transcript format,
  https://github.com/Podcastindex-org/podcast-namespace/blob/main/transcripts/transcripts.md
  (`{"version": "1.0.0", "segments": [{"startTime", "endTime", "body"}]}`, seconds as numbers).
  With word timestamps each word becomes its own segment, as that spec suggests for karaoke-style
  display; otherwise one segment per Whisper segment.
- Text: one Whisper segment per line.

Subtitles (WebVTT and SRT) are read while they are shown, so their cues follow the usual
broadcast limits: at most `MAX_LINES` lines of at most `MAX_LINE_CHARS` characters, on screen for
at most `MAX_CUE_S` seconds. A longer segment is split at its word timestamps: at sentence ends
first (short sentences share a cue), then a sentence too long for one cue in two balanced cues
(at a comma if one is near the middle) or more; without word timestamps each word
gets its share of the segment's time in proportion to its characters. The JSON and text
transcripts keep whole segments. A transcript in more than one language marks each WebVTT cue
with a `<lang xx>` span, and each JSON segment carries a `language`.

An empty transcript renders as a valid, empty file of each kind.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fieldreports.transcription.results import Segment, Transcript

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
# A cue ends at a sentence end when that leaves it at least this share of the longest cue.
_SENTENCE_SHARE = 0.4
_SENTENCE_END = re.compile(r"[.!?…。？！]['\"”’)»]*$")

# format -> (file suffix, MIME type as the Podcasting 2.0 transcript tag wants it)
FORMATS: dict[str, tuple[str, str]] = {
    "vtt": (".vtt", "text/vtt"),
    "srt": (".srt", "application/x-subrip"),
    "json": (".json", "application/json"),
    "txt": (".txt", "text/plain"),
}

# WebVTT forbids "-->" in cue text, and a blank line would end the cue early.
_ARROW = re.compile(r"-->")


def render(transcript: Transcript, fmt: str, *, words: bool = False) -> str:
    """The transcript in one of FORMATS.

    `words=True` puts one word per JSON segment when the transcript has word timestamps.
    """
    if fmt == "vtt":
        return _vtt(transcript)
    if fmt == "srt":
        return _srt(transcript)
    if fmt == "json":
        return _json(transcript, words=words)
    if fmt == "txt":
        lines = [_clean(s.text) for s in transcript.segments if _clean(s.text)]
        return "\n".join(lines) + ("\n" if lines else "")
    raise ValueError(f'unknown transcript format "{fmt}"; use one of {", ".join(FORMATS)}')


def timestamp(seconds: float, *, decimal: str = ".") -> str:
    """`HH:MM:SS.mmm` (WebVTT) or, with decimal=",", `HH:MM:SS,mmm` (SRT).

    >>> timestamp(3725.4567)
    '01:02:05.457'
    >>> timestamp(0.0, decimal=",")
    '00:00:00,000'
    """
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def _clean(text: str) -> str:
    """One line of cue text: no line breaks, no cue arrows.

    >>> _clean("  a --> b\\n\\nc ")
    'a → b c'
    """
    return " ".join(_ARROW.sub("→", text).split())


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: its time, its lines (at most MAX_LINES of MAX_LINE_CHARS) and language."""

    start_s: float
    end_s: float
    lines: tuple[str, ...]
    language: str = ""


@dataclass(frozen=True, slots=True)
class _Token:
    start_s: float
    end_s: float
    text: str


def cues(segments: tuple[Segment, ...]) -> list[Cue]:
    """The segments as subtitle cues within the limits of the module docstring."""
    out: list[Cue] = []
    for s in segments:
        text = _clean(s.text)
        if not text:
            continue
        # a cue must not end before it starts; Whisper can return zero-length segments
        end_s = max(s.end_s, s.start_s + 0.001)
        for start, stop, piece in _by_sentence(_tokens(s, text, end_s)):
            out.append(Cue(start, max(stop, start + 0.001), wrap(piece), s.language))
    return out


def _tokens(segment: Segment, text: str, end_s: float) -> list[_Token]:
    """The segment's words with times: its word timestamps when they spell out its text, else
    its words with the segment's time shared out in proportion to their characters."""
    timed = [
        _Token(w.start_s, max(w.end_s, w.start_s), _clean(w.text))
        for w in segment.words
        if _clean(w.text)
    ]
    if timed and " ".join(t.text for t in timed).replace(" ", "") == text.replace(" ", ""):
        tokens = timed
    else:
        words = text.split()
        total = sum(len(w) + 1 for w in words)
        span, at, tokens = end_s - segment.start_s, 0, []
        for word in words:
            start = segment.start_s + span * at / total
            at += len(word) + 1
            tokens.append(_Token(start, segment.start_s + span * at / total, word))
    # A word longer than a line (a URL) is cut into line-long pieces.
    pieces: list[_Token] = []
    for t in tokens:
        parts = [t.text[i : i + MAX_LINE_CHARS] for i in range(0, len(t.text), MAX_LINE_CHARS)]
        step = (t.end_s - t.start_s) / len(parts)
        pieces.extend(
            _Token(t.start_s + i * step, t.start_s + (i + 1) * step, part)
            for i, part in enumerate(parts)
        )
    return pieces


def _fits(tokens: list[_Token]) -> bool:
    return tokens[-1].end_s - tokens[0].start_s <= MAX_CUE_S and bool(
        wrap(" ".join(t.text for t in tokens), strict=True)
    )


def _by_sentence(tokens: list[_Token]) -> list[tuple[float, float, str]]:
    """Cues that never run across a sentence end, unless whole sentences share one cue."""
    groups: list[list[_Token]] = [[]]
    for token in tokens:
        groups[-1].append(token)
        if _SENTENCE_END.search(token.text):
            groups.append([])
    merged: list[list[_Token]] = []
    for group in filter(None, groups):
        if merged and _fits(merged[-1] + group):
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    return [cue for group in merged for cue in _split(group)]


def _split(tokens: list[_Token]) -> list[tuple[float, float, str]]:
    """Cut a run of words into cues that fit: in two when two can hold it, at the cut that
    balances them best (a sentence end or a comma preferred); else the longest first cue that
    fits, ended at a late enough sentence end, and the rest the same way."""
    if not tokens:
        return []
    if _fits(tokens):
        return [_cue(tokens)]
    halves = [c for c in range(1, len(tokens)) if _fits(tokens[:c]) and _fits(tokens[c:])]
    if halves:

        def badness(cut: int) -> float:
            left = sum(len(t.text) + 1 for t in tokens[:cut])
            right = sum(len(t.text) + 1 for t in tokens[cut:])
            end = tokens[cut - 1].text
            bonus = 30 if _SENTENCE_END.search(end) else 10 if end.endswith((",", ";", ":")) else 0
            return abs(left - right) - bonus

        cut = min(halves, key=badness)
        return [_cue(tokens[:cut]), _cue(tokens[cut:])]
    last = 1  # tokens[:last] fits; a single word always goes out
    while last < len(tokens) and _fits(tokens[: last + 1]):
        last += 1
    chars = sum(len(t.text) + 1 for t in tokens[:last])
    for cut in range(last, 0, -1):
        if _SENTENCE_END.search(tokens[cut - 1].text):
            if sum(len(t.text) + 1 for t in tokens[:cut]) >= _SENTENCE_SHARE * chars:
                last = cut
            break
    return [_cue(tokens[:last]), *_split(tokens[last:])]


def _cue(piece: list[_Token]) -> tuple[float, float, str]:
    # A single word held longer than a cue may last (a long pause inside it) is cut short.
    end_s = min(piece[-1].end_s, piece[0].start_s + MAX_CUE_S)
    return piece[0].start_s, end_s, " ".join(t.text for t in piece)


def wrap(text: str, *, strict: bool = False) -> tuple[str, ...]:
    """Text as at most MAX_LINES balanced lines of at most MAX_LINE_CHARS; `strict`: () when
    it does not fit (otherwise the last line takes the rest).

    >>> wrap("Ask not what your country can do for you")
    ('Ask not what your country can do for you',)
    >>> wrap("ask not what your country can do for you, ask what you can do for your country")
    ('ask not what your country can do for you,', 'ask what you can do for your country')
    >>> wrap("x" * 90, strict=True)
    ()
    """
    if len(text) <= MAX_LINE_CHARS:
        return (text,)
    spaces = [i for i, c in enumerate(text) if c == " "]
    fitting = [i for i in spaces if i <= MAX_LINE_CHARS and len(text) - i - 1 <= MAX_LINE_CHARS]
    if fitting:
        # balanced: the break that makes the longer line shortest (a comma earns a little)
        best = min(fitting, key=lambda i: max(i, len(text) - i - 1) - 4 * (text[i - 1] in ",;:"))
        return (text[:best], text[best + 1 :])
    if strict:
        return ()
    head = max((i for i in spaces if i <= MAX_LINE_CHARS), default=MAX_LINE_CHARS)
    return (text[:head].rstrip(), text[head:].strip())


def _multilingual(transcript: Transcript) -> bool:
    return len({s.language for s in transcript.segments if s.language}) > 1


def _vtt_text(text: str) -> str:
    """Cue text with the three characters WebVTT reserves escaped (its section 4.2.2).

    >>> _vtt_text("AT&T <3")
    'AT&amp;T &lt;3'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt(transcript: Transcript) -> str:
    blocks = ["WEBVTT"]
    marked = _multilingual(transcript)
    for cue in cues(transcript.segments):
        text = "\n".join(_vtt_text(line) for line in cue.lines)
        if marked and cue.language:
            text = f"<lang {cue.language}>{text}</lang>"
        blocks.append(f"{timestamp(cue.start_s)} --> {timestamp(cue.end_s)}\n{text}")
    return "\n\n".join(blocks) + "\n"


def _srt(transcript: Transcript) -> str:
    blocks = [
        f"{n}\n{timestamp(c.start_s, decimal=',')} --> {timestamp(c.end_s, decimal=',')}\n"
        + "\n".join(c.lines)
        for n, c in enumerate(cues(transcript.segments), start=1)
    ]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _json(transcript: Transcript, *, words: bool) -> str:
    items: list[dict[str, object]] = []
    for s in transcript.segments:
        if words and s.words:
            items.extend(
                {
                    "startTime": round(w.start_s, 3),
                    "endTime": round(w.end_s, 3),
                    "body": w.text.strip(),
                    **({"language": s.language} if s.language else {}),
                }
                for w in s.words
                if w.text.strip()
            )
        elif _clean(s.text):
            items.append(
                {
                    "startTime": round(s.start_s, 3),
                    "endTime": round(s.end_s, 3),
                    "body": _clean(s.text),
                    **({"language": s.language} if s.language else {}),
                }
            )
    return json.dumps({"version": "1.0.0", "segments": items}, ensure_ascii=False, indent=1) + "\n"
