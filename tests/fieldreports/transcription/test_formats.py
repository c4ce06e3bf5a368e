"""Subtitle cues: at most two lines of 42 characters, at most 7 s, split where a reader expects."""

from __future__ import annotations

import re

import pytest

from fieldreports.transcription import formats
from fieldreports.transcription.results import Segment, Transcript, Word

LONG = (
    "We left Edirne before dawn and walked along the river for six hours. "
    "At the crossing the police sent everyone back, so we waited in the forest until night came."
)  # 159 characters, as Whisper gave it in one segment


def transcript(*segments: Segment) -> Transcript:
    return Transcript(
        engine="faster-whisper",
        model="base",
        task="transcribe",
        language="en",
        language_probability=1.0,
        duration_s=60.0,
        segments=segments,
    )


def timed_words(text: str, start_s: float, end_s: float) -> tuple[Word, ...]:
    pieces = text.split()
    step = (end_s - start_s) / len(pieces)
    return tuple(
        Word(
            start_s=start_s + i * step,
            end_s=start_s + (i + 0.9) * step,
            text=" " + w,
            probability=0.9,
        )
        for i, w in enumerate(pieces)
    )


def cues_of(text: str, fmt: str) -> list[tuple[float, float, list[str]]]:
    stamp = r"(\d\d):(\d\d):(\d\d)[.,](\d{3})"
    out = []
    for block in text.strip().split("\n\n"):
        lines = [line for line in block.split("\n") if line != "WEBVTT"]
        if not lines:
            continue
        if fmt == "srt":
            lines = lines[1:]
        m = re.match(rf"^{stamp} --> {stamp}$", lines[0])
        assert m, lines[0]
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        out.append((start, end, lines[1:]))
    return out


@pytest.mark.parametrize("fmt", ["vtt", "srt"])
@pytest.mark.parametrize("with_words", [True, False], ids=["word times", "no word times"])
def test_long_segments_become_cues_a_person_can_read(fmt: str, with_words: bool) -> None:
    segment = Segment(
        start_s=12.0,
        end_s=24.5,
        text=LONG,
        words=timed_words(LONG, 12.0, 24.5) if with_words else (),
    )
    cues = cues_of(formats.render(transcript(segment), fmt), fmt)
    assert len(cues) >= 3
    for start, end, lines in cues:
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines), lines
        assert 0 < end - start <= 7.0
    assert " ".join(" ".join(lines) for _s, _e, lines in cues) == LONG
    assert cues[0][0] == 12.0 and 24.0 < cues[-1][1] <= 24.5
    # The sentence end is a cue end.
    assert any(lines[-1].endswith("six hours.") for _s, _e, lines in cues)
    # JSON and text keep the whole sentence.
    assert LONG in formats.render(transcript(segment), "txt")


def test_a_multilingual_transcript_marks_each_cue_with_its_language() -> None:
    vtt = formats.render(
        transcript(
            Segment(start_s=0.0, end_s=2.0, text="Keep your papers.", language="en"),
            Segment(start_s=3.0, end_s=5.0, text="Behalten Sie Ihre Papiere.", language="de"),
        ),
        "vtt",
    )
    assert "<lang en>Keep your papers.</lang>" in vtt
    assert "<lang de>Behalten Sie Ihre Papiere.</lang>" in vtt
    single = formats.render(
        transcript(Segment(start_s=0.0, end_s=2.0, text="Keep your papers.", language="en")), "vtt"
    )
    assert "<lang" not in single


def test_a_word_held_longer_than_a_cue_is_one_cue_cut_to_7_s() -> None:
    """Whisper without word times gives a lone word a whole long segment."""
    vtt = formats.render(transcript(Segment(start_s=3.0, end_s=30.0, text="Hello.")), "vtt")
    assert cues_of(vtt, "vtt") == [(3.0, 10.0, ["Hello."])]
