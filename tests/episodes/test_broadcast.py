"""The broadcast master as a radio station gets it: a real recording mastered, made into an
episode, and read back with a chunk parser written here (not fieldreports') and with ffprobe."""

from __future__ import annotations

import datetime as dt
import json
import struct
import subprocess
from pathlib import Path

import pytest

from episodes.episode import Episode
from fieldreports.audio.bwf import BroadcastInfo, write_bwf
from fieldreports.audio.master import measure, normalise
from fieldreports.audio.results import MasteredAudio
from fieldreports.config import AudioSettings
from fieldreports.intake.notes import Notes
from tests.support.audio import require, run, speak
from tests.support.episodes import ROSZKE, build_episode, show_config, tone_wav, transcript

# The sensitive report's exact point (ROSZKE: 46.18734, 20.03862), to three decimals, as any
# tool might print it.
EXACT = (b"46.187", b"20.038", b"20.039")


def chunks(path: Path) -> list[tuple[bytes, bytes]]:
    """Every top-level chunk of a RIFF or RF64 file as (id, payload): a reader of our own."""
    data = path.read_bytes()
    assert data[8:12] == b"WAVE" and data[:4] in (b"RIFF", b"RF64")
    out, offset, data_size = [], 12, None
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        if chunk_id == b"ds64":
            data_size = struct.unpack_from("<Q", data, offset + 16)[0]
        if chunk_id == b"data" and size == 0xFFFFFFFF:
            size = data_size
        out.append((chunk_id, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size + (size & 1)
    return out


def parse_bext(payload: bytes) -> dict[str, object]:
    """EBU Tech 3285 v2, field by field."""
    text = lambda raw: raw.rstrip(b"\0").decode("ascii")  # noqa: E731
    fields = struct.unpack_from("<256s32s32s10s8sIIH64s5h180s", payload)
    return {
        "description": text(fields[0]),
        "originator": text(fields[1]),
        "originator_reference": text(fields[2]),
        "origination_date": text(fields[3]),
        "origination_time": text(fields[4]),
        "time_reference": fields[5] + (fields[6] << 32),
        "version": fields[7],
        "loudness": [v / 100 for v in fields[9:14]],
        "coding_history": text(payload[602:]),
    }


def ffprobe_tags(path: Path) -> dict[str, str]:
    require("ffprobe")
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags:stream=codec_name,channels,"
         "sample_rate,bits_per_sample", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    found = json.loads(result.stdout)
    return {
        **found["format"].get("tags", {}),
        **{k: str(v) for k, v in found["streams"][0].items()},
    }


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Episode, MasteredAudio, Path]:
    """A sensitive report whose recording carries its exact point in bext, INFO and comment."""
    require("ffmpeg", "espeak-ng")
    work = tmp_path_factory.mktemp("broadcast")
    spoken = speak("The fence runs as far as we can see. We wait here tonight.", work / "s.wav")
    source = work / "recorder.wav"
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(spoken), "-ac", "2",
         "-c:a", "pcm_s24le", "-write_bext", "1",
         "-metadata", "description=GPS 46.18734,20.03862 Zoom H5 serial 0042",
         "-metadata", "originator=Zoom H5", "-metadata", "comment=lat 46.18734 lon 20.03862",
         str(source)])  # fmt: skip
    mastered = normalise(source, work / "master", AudioSettings())
    config = show_config(work / "show")
    episode = build_episode(
        Notes(title="At the fence", journey="Balkan route", reporter="Jan", sensitive=True),
        mastered,
        (transcript("en", "The fence runs as far as we can see."),),
        ROSZKE,
        guid="urn:uuid:6f0c1e2a-3b4d-5e6f-8a9b-0c1d2e3f4a5b",
        season=2,
        number=3,
        published_at=dt.datetime(2022, 5, 1, 12, tzinfo=dt.UTC),
        recorded_at=dt.datetime(2022, 4, 2, 16, 5, 30, tzinfo=dt.UTC),
        show=config.show,
        work_dir=work / "episodes",
    )
    return episode, mastered, work


def test_every_bext_field_reads_back(made) -> None:
    episode, mastered, _work = made
    master = episode.master.source
    ids = [chunk_id for chunk_id, _ in chunks(master)]
    assert ids == [b"fmt ", b"bext", b"iXML", b"data"]
    bext = parse_bext(dict(chunks(master))[b"bext"])
    assert bext["version"] == 2
    assert bext["description"] == "At the fence (Roszke, 2 April 2022)"  # the public place
    assert bext["originator"] == "Border Reached!"
    assert bext["originator_reference"] == "6f0c1e2a3b4d5e6f8a9b0c1d2e3f4a5b"
    # The recording's date and time (not the render's), and its first sample from midnight.
    assert (bext["origination_date"], bext["origination_time"]) == ("2022-04-02", "16:05:30")
    start_s = 16 * 3600 + 5 * 60 + 30 + mastered.trimmed_start_s
    assert bext["time_reference"] == round(start_s * 48000)
    history = bext["coding_history"].split("\r\n")
    assert history[0] == "A=PCM,F=22050,W=24,M=stereo,T=field recording"
    assert history[1].startswith("A=PCM,F=48000,W=24,M=mono,T=fieldreports ")


def test_loudness_fields_match_the_meter(made) -> None:
    episode, _mastered, _work = made
    value, lra, peak, momentary, short_term = parse_bext(
        dict(chunks(episode.master.source))[b"bext"]
    )["loudness"]
    metered = measure(episode.master.source)  # the file as a partner receives it
    assert value == pytest.approx(metered.integrated_lufs, abs=0.1)
    assert value == pytest.approx(-23.0, abs=0.5)
    assert lra == pytest.approx(metered.range_lu, abs=0.1)
    assert peak == pytest.approx(metered.true_peak_dbtp, abs=0.1)
    assert momentary == pytest.approx(metered.max_momentary_lufs, abs=0.1)
    assert short_term == pytest.approx(metered.max_short_term_lufs, abs=0.1)
    assert momentary > short_term > value - 3


def test_plain_pcm_and_ffprobe_agrees(made) -> None:
    episode, mastered, _work = made
    fmt = dict(chunks(episode.master.source))[b"fmt "]
    assert len(fmt) == 16
    tag, channels, rate, _avg, align, bits = struct.unpack("<HHIIHH", fmt)
    assert (tag, channels, rate, align, bits) == (1, 1, 48000, 3, 24)  # WAVE_FORMAT_PCM
    # ffmpeg's wav demuxer reads bext into its own tag names.
    tags = ffprobe_tags(episode.master.source)
    assert tags["comment"] == "At the fence (Roszke, 2 April 2022)"  # Description
    assert tags["encoded_by"] == "Border Reached!"  # Originator
    assert tags["originator_reference"] == "6f0c1e2a3b4d5e6f8a9b0c1d2e3f4a5b"
    assert (tags["date"], tags["creation_time"]) == ("2022-04-02", "16:05:30")
    assert int(tags["time_reference"]) > 16 * 3600 * 48000
    assert tags["coding_history"].startswith("A=PCM,F=22050")
    assert (tags["codec_name"], tags["channels"], tags["sample_rate"]) == (
        "pcm_s24le",
        "1",
        "48000",
    )
    # The samples are the cached master's, bit for bit; the cached master is untouched.
    assert (
        dict(chunks(episode.master.source))[b"data"] == dict(chunks(mastered.master_wav))[b"data"]
    )
    assert [c for c, _ in chunks(mastered.master_wav)] != [b"fmt ", b"bext", b"iXML", b"data"]
    assert (episode.master_channels, episode.master_sample_rate_hz, episode.master_bit_depth) == (
        1, 48000, 24
    )  # fmt: skip


def test_ixml_repeats_the_facts_in_utf8(made) -> None:
    from lxml import etree

    episode, _mastered, _work = made
    ixml = etree.fromstring(dict(chunks(episode.master.source))[b"iXML"].rstrip(b"\0"))
    assert ixml.findtext("PROJECT") == "Border Reached!"
    assert ixml.findtext("SCENE") == "Balkan route"
    assert ixml.findtext("TAKE") == "2.3"
    assert ixml.findtext("NOTE") == "At the fence"
    assert ixml.findtext("BEXT/BWF_DESCRIPTION") == "At the fence (Röszke, 2 April 2022)"
    assert ixml.findtext("TRACK_LIST/TRACK_COUNT") == "1"


def test_a_sensitive_report_master_carries_no_exact_place(made) -> None:
    episode, _mastered, work = made
    source = (work / "recorder.wav").read_bytes()
    assert all(needle in source for needle in (b"46.187", b"20.038", b"Zoom"))  # it could leak
    data = episode.master.source.read_bytes()
    for needle in (*EXACT, b"Zoom", b"0042", b"GPS"):
        assert needle not in data, needle
    assert episode.location is not None and episode.location.sensitive


def test_stereo_and_rf64(tmp_path: Path) -> None:
    """A 24-bit stereo master (ffmpeg writes it WAVE_FORMAT_EXTENSIBLE) becomes plain PCM; past
    the RIFF size limit (lowered here) the copy is RF64 with a ds64 chunk, which ffmpeg reads."""
    require("ffmpeg")
    source = tmp_path / "stereo.wav"
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "sine=frequency=500:duration=1:sample_rate=48000", "-ac", "2", "-c:a", "pcm_s24le",
         str(source)])  # fmt: skip
    assert struct.unpack_from("<H", dict(chunks(source))[b"fmt "])[0] == 0xFFFE
    info = BroadcastInfo(
        description="Tone", originator="Show", originator_reference="x" * 40,
        origination_date="2022-01-02", origination_time="03:04:05",
    )  # fmt: skip
    for name, limit in (("riff.wav", 0xFFFFFFFF), ("rf64.wav", 1000)):
        out = tmp_path / name
        sha256, size = write_bwf(source, out, info, rf64_above=limit)
        assert size == out.stat().st_size
        found = dict(chunks(out))
        assert struct.unpack("<HH", found[b"fmt "][:4]) == (1, 2)
        assert found[b"data"] == dict(chunks(source))[b"data"]
        assert parse_bext(found[b"bext"])["originator_reference"] == "x" * 32
        assert parse_bext(found[b"bext"])["loudness"] == [327.67] * 5  # 0x7FFF: not given
        assert (b"ds64" in found) == (name == "rf64.wav")
        tags = ffprobe_tags(out)
        assert (tags["channels"], tags["codec_name"]) == ("2", "pcm_s24le")
    assert chunks(tmp_path / "rf64.wav") and (tmp_path / "rf64.wav").read_bytes()[:4] == b"RF64"


def test_tone_helper_master_is_accepted(tmp_path: Path) -> None:
    wav = tone_wav(tmp_path / "t.wav")
    sha256, size = write_bwf(
        wav,
        tmp_path / "o.wav",
        BroadcastInfo(
            description="",
            originator="",
            originator_reference="",
            origination_date="",
            origination_time="",
        ),  # fmt: skip
    )
    assert len(sha256) == 64 and size > 0
