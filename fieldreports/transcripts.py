"""Transcript file formats: WebVTT, SRT, Podcasting 2.0 JSON and plain text.

SKELETON: signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

from fieldreports.transcribe import Transcript

# format -> (file suffix, MIME type as the Podcasting 2.0 transcript tag wants it)
FORMATS: dict[str, tuple[str, str]] = {
    "vtt": (".vtt", "text/vtt"),
    "srt": (".srt", "application/x-subrip"),
    "json": (".json", "application/json"),
    "txt": (".txt", "text/plain"),
}


def render(transcript: Transcript, fmt: str) -> str:
    """The transcript in one of FORMATS."""
    raise NotImplementedError
