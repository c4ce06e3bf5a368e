"""Reading recordings by content: sniffing, probing, streaming, and telling a cut file from one whose
length was only ever a guess."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fieldreports.audio.decode import probe, sniff, stream
from fieldreports.errors import ReportError
from tests.support.audio import convert, run, speak


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("voice")
    return speak("Checking the recorder, one, two, three, four, five.", folder / "voice.wav")


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "looks like a PNG image"),
        (b"%PDF-1.7\n" + bytes(40), "looks like a PDF document"),
        (b"PK\x03\x04" + bytes(40), "looks like a ZIP archive"),
        (b"<!DOCTYPE html><html><body>Upload failed</body></html>", "looks like a web page"),
    ],
)
def test_sniffing_names_what_a_file_really_is(tmp_path: Path, head: bytes, reason: str) -> None:
    path = tmp_path / "recording.m4a"
    path.write_bytes(head)
    with pytest.raises(ReportError, match=f"not audio: {reason}"):
        sniff(path)


def test_raw_aac_with_a_guessed_length_is_not_called_truncated(voice: Path, tmp_path: Path) -> None:
    # ADTS AAC states no duration; ffprobe guesses one from the bit rate of the first packets.
    # A recorder started early makes those silent and cheap, and the guess minutes too long.
    late = tmp_path / "late-start.wav"
    run(["sox", str(voice), str(late), "pad", "3", "0"])
    aac = convert(late, tmp_path / "late-start.aac", "-c:a", "aac", "-b:a", "48k")
    info = probe(aac, sniff(aac))
    decoded_s = sum(len(block) for block in stream(info, rate_hz=16000, channels=1)) / 16000
    assert info.duration_s > 2 * decoded_s  # the guess really is off: the case is exercised
    assert decoded_s == pytest.approx(float(late.stat().st_size - 44) / 2 / 22050, abs=0.2)


def test_stream_gives_fixed_blocks_at_the_asked_rate_and_layout(
    voice: Path, tmp_path: Path
) -> None:
    flac = convert(voice, tmp_path / "voice.flac")
    info = probe(flac, sniff(flac))
    assert (info.kind, info.codec, info.sample_rate_hz, info.channels) == ("FLAC", "flac", 22050, 1)
    blocks = list(stream(info, rate_hz=48000, channels=2, block_frames=4800))
    assert all(block.shape == (4800, 2) for block in blocks[:-1])
    assert blocks[-1].shape[1] == 2 and 0 < len(blocks[-1]) <= 4800
    samples = np.concatenate(blocks)
    assert len(samples) / 48000 == pytest.approx(info.duration_s, abs=0.01)
    assert np.array_equal(samples[:, 0], samples[:, 1])


def test_m4a_cut_before_its_index_is_named_unfinished(voice: Path, tmp_path: Path) -> None:
    m4a = convert(voice, tmp_path / "voice.m4a")  # ffmpeg writes the index (moov) at the end
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(m4a.read_bytes()[: m4a.stat().st_size // 2])
    with pytest.raises(ReportError, match="unfinished M4A/MP4: its index"):
        probe(cut, sniff(cut))
