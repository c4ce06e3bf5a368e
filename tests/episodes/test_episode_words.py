"""Word timestamps reach the published Podcasting 2.0 JSON transcript."""

from __future__ import annotations

import json

from episodes.episode import render_transcripts
from fieldreports.transcription.results import Segment, Transcript, Word


def test_word_times_are_published_one_word_per_segment() -> None:
    words = (
        Word(start_s=0.0, end_s=0.4, text=" Ask", probability=0.9),
        Word(start_s=0.4, end_s=0.7, text=" not", probability=0.9),
    )
    transcript = Transcript(
        engine="faster-whisper",
        model="base",
        task="transcribe",
        language="en",
        language_probability=0.99,
        duration_s=1.0,
        segments=(Segment(start_s=0.0, end_s=0.7, text=" Ask not", words=words),),
    )
    files = {
        f.fmt: f
        for f in render_transcripts("s", (transcript,), base_url="https://e.org/", fallback="en")
    }
    body = json.loads(files["json"].data)
    assert [(s["startTime"], s["body"]) for s in body["segments"]] == [(0.0, "Ask"), (0.4, "not")]
    assert "Ask not" in files["vtt"].data.decode()
