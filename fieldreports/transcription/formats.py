"""Transcript file formats: WebVTT, SRT, Podcasting 2.0 JSON and plain text.

- WebVTT: https://www.w3.org/TR/webvtt1/ (`HH:MM:SS.mmm`, a "WEBVTT" header, blank-line cues).
- SRT: numbered cues, `HH:MM:SS,mmm` with a comma, as radio editors' tools expect.
- JSON: the Podcasting 2.0 transcript format,
  https://github.com/Podcastindex-org/podcast-namespace/blob/main/transcripts/transcripts.md
  (`{"version": "1.0.0", "segments": [{"startTime", "endTime", "body"}]}`, seconds as numbers).
  With word timestamps each word becomes its own segment, as that spec suggests for karaoke-style
  display; otherwise one segment per Whisper segment.
- Text: one Whisper segment per line.

An empty transcript renders as a valid, empty file of each kind.
"""

from __future__ import annotations

import json
import re

from fieldreports.transcription.results import Segment, Transcript

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
        return _vtt(transcript.segments)
    if fmt == "srt":
        return _srt(transcript.segments)
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


def _cues(segments: tuple[Segment, ...]) -> list[tuple[float, float, str]]:
    cues = []
    for s in segments:
        text = _clean(s.text)
        if text:
            # a cue must not end before it starts; Whisper can return zero-length segments
            cues.append((s.start_s, max(s.end_s, s.start_s + 0.001), text))
    return cues


def _vtt_text(text: str) -> str:
    """Cue text with the three characters WebVTT reserves escaped (its section 4.2.2).

    >>> _vtt_text("AT&T <3")
    'AT&amp;T &lt;3'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt(segments: tuple[Segment, ...]) -> str:
    blocks = ["WEBVTT"]
    for start, end, text in _cues(segments):
        blocks.append(f"{timestamp(start)} --> {timestamp(end)}\n{_vtt_text(text)}")
    return "\n\n".join(blocks) + "\n"


def _srt(segments: tuple[Segment, ...]) -> str:
    blocks = [
        f"{n}\n{timestamp(start, decimal=',')} --> {timestamp(end, decimal=',')}\n{text}"
        for n, (start, end, text) in enumerate(_cues(segments), start=1)
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
                }
            )
    return json.dumps({"version": "1.0.0", "segments": items}, ensure_ascii=False, indent=1) + "\n"
