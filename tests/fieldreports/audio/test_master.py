"""normalise on real recordings made with espeak-ng, sox and ffmpeg, checked with ffmpeg's ebur128
meter (independent of ours): every format and condition reaches its targets after encoding; broken
input is refused with a plain reason; published files carry only clean tags."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import mutagen
import numpy as np
import pytest
from mutagen.id3 import ID3, TXXX
from PIL import Image

from fieldreports.audio.master import AudioTags, MasteredAudio, measure, normalise, write_tags
from fieldreports.config import AudioSettings
from fieldreports.errors import ReportError
from tests.support.audio import convert, ebur128, gain, require, run, speak, with_noise

TEXT = (
    "We reached the harbour at dawn. The boats came in one after another, and the volunteers "
    "handed out blankets and water."
)
SETTINGS = AudioSettings()


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About seven seconds of English speech with a quiet room-noise bed, 22.05 kHz mono WAV."""
    folder = tmp_path_factory.mktemp("speech")
    dry = speak(TEXT, folder / "dry.wav")
    return with_noise(dry, folder / "speech.wav", noise_dbfs=-50)


@pytest.fixture(scope="session")
def recordings(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same speech as phones, messengers and recorders deliver it (names say how)."""
    require("sox", "ffmpeg")
    folder = tmp_path_factory.mktemp("recordings")
    out = {
        "m4a from a phone": convert(speech, folder / "phone.m4a", "-c:a", "aac", "-b:a", "64k"),
        "opus from a messenger": convert(
            speech, folder / "voice.opus", "-c:a", "libopus", "-b:a", "24k"
        ),
        "variable-bit-rate mp3": convert(speech, folder / "vbr.mp3", "-q:a", "5"),
        "ogg vorbis": convert(speech, folder / "take.ogg"),
        "flac": convert(speech, folder / "take.flac"),
    }
    amr = folder / "old-phone.amr"
    run(["sox", str(speech), "-r", "8000", "-c", "1", "-t", "amr-nb", str(amr)])
    out["8 kHz AMR from an old phone"] = amr
    quad = folder / "recorder.wav"
    # A field recorder: 96 kHz, 24-bit, four channels (two mics at different levels).
    run(
        [
            "sox",
            str(speech),
            "-r",
            "96000",
            "-b",
            "24",
            str(quad),
            "remix",
            "1",
            "1v0.5",
            "1v0.7",
            "1v0.3",
        ]
    )
    out["96 kHz four-channel recorder"] = quad
    return out


def master(source: Path, out_dir: Path, settings: AudioSettings = SETTINGS) -> MasteredAudio:
    result = normalise(source, out_dir, settings)
    assert result.podcast_mp3 == out_dir / "podcast.mp3"
    assert result.master_wav == out_dir / "master.wav"
    return result


def assert_on_target(result: MasteredAudio, settings: AudioSettings = SETTINGS) -> None:
    """Both outputs, measured by ffmpeg's meter, within 0.5 LU of target and under the ceiling."""
    podcast_lufs, podcast_peak = ebur128(result.podcast_mp3)
    master_lufs, master_peak = ebur128(result.master_wav)
    assert podcast_lufs == pytest.approx(settings.podcast_lufs, abs=0.5)
    assert master_lufs == pytest.approx(settings.master_lufs, abs=0.5)
    # ebur128 prints one decimal: at or under the ceiling means <= -1.0 as printed.
    assert podcast_peak <= settings.podcast_true_peak_dbtp
    assert master_peak <= settings.master_true_peak_dbtp
    # Our own after-encoding figures say the same.
    assert result.podcast.integrated_lufs == pytest.approx(podcast_lufs, abs=0.15)
    assert result.master.integrated_lufs == pytest.approx(master_lufs, abs=0.15)
    assert result.podcast.true_peak_dbtp <= settings.podcast_true_peak_dbtp
    assert result.master.true_peak_dbtp <= settings.master_true_peak_dbtp


def probe_stream(path: Path) -> dict[str, str]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=codec_name,sample_rate,channels,bits_per_sample",
            "-of",
            "default=nw=1",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.split())


def test_speech_reaches_both_targets_in_the_promised_formats(speech: Path, tmp_path: Path) -> None:
    ticks: list[tuple[float, float]] = []
    result = normalise(
        speech, tmp_path, SETTINGS, on_progress=lambda done, total: ticks.append((done, total))
    )
    assert_on_target(result)
    # Progress in seconds of audio over both passes: rising, ending complete.
    assert len(ticks) > 4
    assert ticks[-1][0] == ticks[-1][1] == pytest.approx(2 * result.source_duration_s, abs=0.2)
    assert all(later[0] >= earlier[0] for earlier, later in zip(ticks, ticks[1:], strict=False))
    podcast, broadcast = probe_stream(result.podcast_mp3), probe_stream(result.master_wav)
    assert podcast == {
        "codec_name": "mp3",
        "sample_rate": "44100",
        "channels": "1",
        "bits_per_sample": "0",
    }
    assert broadcast == {
        "codec_name": "pcm_s24le",
        "sample_rate": "48000",
        "channels": "1",
        "bits_per_sample": "24",
    }
    assert result.duration_s == pytest.approx(result.source_duration_s, abs=0.6)
    assert result.source_sample_rate_hz == 22050 and result.source_channels == 1
    # Nothing half-written is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.wav", "podcast.mp3"]


@pytest.mark.parametrize(
    "kind",
    [
        "m4a from a phone",
        "opus from a messenger",
        "variable-bit-rate mp3",
        "8 kHz AMR from an old phone",
        "96 kHz four-channel recorder",
    ],
)
def test_every_kind_of_recording_reaches_its_targets(
    recordings: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    result = master(recordings[kind], tmp_path)
    assert_on_target(result)
    if "AMR" in kind:
        # Phones' AMR has comfort-noise frames in pauses; dropping them would shorten the pauses.
        spoken_s = float(
            subprocess.run(
                ["soxi", "-D", str(recordings["flac"])], check=True, capture_output=True, text=True
            ).stdout
        )
        assert result.source_duration_s == pytest.approx(spoken_s, abs=0.1)
    if kind.startswith("96 kHz"):
        assert result.source_channels == 4 and result.source_sample_rate_hz == 96000
        assert probe_stream(result.master_wav)["channels"] == "1"  # the show's layout: mono
        assert probe_stream(result.master_wav)["sample_rate"] == "48000"


def test_format_is_decided_by_content_not_by_name(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    disguised = tmp_path / "recording.wav"  # really Ogg Vorbis
    disguised.write_bytes(recordings["ogg vorbis"].read_bytes())
    result = master(disguised, tmp_path / "out")
    assert "vorbis" in result.source_format
    assert_on_target(result)


@pytest.mark.parametrize("db", [-30.0, +12.0], ids=["very quiet", "loud, clipping"])
def test_quiet_and_loud_recordings_are_brought_to_target(
    speech: Path, tmp_path: Path, db: float
) -> None:
    source = tmp_path / "source.wav"
    run(["sox", str(speech), "-b", "24", str(source), "gain", str(db)])
    # -56 LUFS needs about 40 dB: more than the default max_gain_db allows (test_leveler.py).
    settings = AudioSettings(max_gain_db=45) if db < 0 else SETTINGS
    result = master(source, tmp_path / "out", settings)
    assert_on_target(result)
    if db > 0:
        assert result.before.true_peak_dbtp > -0.5  # it really was near or over full scale
        assert result.master_gain_db < -5
    else:
        assert result.podcast_gain_db > 20


def test_noisy_recording_reaches_its_targets(tmp_path: Path) -> None:
    dry = speak("Wind and traffic at the border crossing, all morning long.", tmp_path / "dry.wav")
    noisy = with_noise(dry, tmp_path / "noisy.wav", noise_dbfs=-28)
    assert_on_target(master(noisy, tmp_path / "out"))


def test_long_leading_and_trailing_silence_is_trimmed(speech: Path, tmp_path: Path) -> None:
    padded = tmp_path / "padded.wav"
    run(["sox", str(speech), str(padded), "pad", "4", "3"])
    result = master(padded, tmp_path / "out")
    assert result.trimmed_start_s == pytest.approx(3.5, abs=0.3)
    assert result.trimmed_end_s == pytest.approx(2.5, abs=0.5)
    assert result.duration_s == pytest.approx(result.source_duration_s - 6.0, abs=0.8)
    kept = master(padded, tmp_path / "untrimmed", dataclasses.replace(SETTINGS, trim_silence=False))
    assert kept.duration_s == pytest.approx(kept.source_duration_s, abs=0.05)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples (mono mix) and rate, decoded by ffmpeg: 24-bit masters are WAVE_FORMAT_EXTENSIBLE,
    which Python's wave module cannot read."""
    rate = int(probe_stream(path)["sample_rate"])
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-f", "f32le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float64), rate


def band_share(samples: np.ndarray, rate: int, below_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[freqs < below_hz].sum() / spectrum.sum())


def test_high_pass_removes_rumble(speech: Path, tmp_path: Path) -> None:
    rumble = tmp_path / "rumble.wav"
    run(
        [
            "sox",
            "-n",
            "-r",
            "22050",
            "-c",
            "1",
            "-b",
            "16",
            str(rumble),
            "synth",
            "8",
            "sine",
            "35",
            "vol",
            "-12dB",
        ]
    )
    windy = tmp_path / "windy.wav"
    run(["sox", "-m", str(speech), str(rumble), str(windy), "trim", "0", "6"])
    on = master(windy, tmp_path / "on", dataclasses.replace(SETTINGS, trim_silence=False))
    off = master(
        windy, tmp_path / "off", dataclasses.replace(SETTINGS, trim_silence=False, highpass_hz=0.0)
    )
    share_on = band_share(read_wav(on.master_wav)[0], 48000, 50)
    share_off = band_share(read_wav(off.master_wav)[0], 48000, 50)
    # Rumble against the voice: a 2-pole high-pass at 80 Hz takes 35 Hz down by about 14 dB.
    ratio_on, ratio_off = share_on / (1 - share_on), share_off / (1 - share_off)
    assert ratio_on < ratio_off / 20


def test_noise_reduction_lowers_the_noise_between_words(tmp_path: Path) -> None:
    dry = speak("Here. And there. Then nothing for a while.", tmp_path / "dry.wav", speed_wpm=110)
    noisy = with_noise(dry, tmp_path / "noisy.wav", noise_dbfs=-35)
    plain = master(noisy, tmp_path / "plain")
    cleaned = master(noisy, tmp_path / "clean", dataclasses.replace(SETTINGS, noise_reduction=True))
    assert_on_target(cleaned)

    def floor_db(path: Path) -> float:
        samples, rate = read_wav(path)
        hops = samples[: len(samples) // 4800 * 4800].reshape(-1, 4800)
        return float(10 * np.log10(np.percentile(np.mean(hops**2, axis=1), 10)))

    assert floor_db(cleaned.master_wav) < floor_db(plain.master_wav) - 6


# -- refusals ------------------------------------------------------------------------------------


def jpeg(path: Path) -> Path:
    Image.new("RGB", (32, 32), (200, 40, 40)).save(path, format="JPEG")
    return path


def test_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.m4a"
    empty.write_bytes(b"")
    with pytest.raises(ReportError, match="the recording is empty"):
        normalise(empty, tmp_path / "out", SETTINGS)


def test_photo_named_like_a_recording_is_refused(tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "interview.mp3")
    with pytest.raises(ReportError, match="not audio: looks like a JPEG"):
        normalise(photo, tmp_path / "out", SETTINGS)


def test_text_file_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("title: oops, this is the notes file\n", encoding="utf-8")
    with pytest.raises(ReportError, match="not audio: looks like a text file"):
        normalise(notes, tmp_path / "out", SETTINGS)


@pytest.mark.parametrize("kind", ["variable-bit-rate mp3", "flac", "opus from a messenger"])
def test_truncated_recording_is_refused_with_where_it_stops(
    recordings: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    whole = recordings[kind]
    cut = tmp_path / f"cut{whole.suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    out = tmp_path / "out"
    with pytest.raises(ReportError, match=r"truncated") as caught:
        normalise(cut, out, SETTINGS)
    if kind != "opus from a messenger":  # Ogg states no length: we can only say it has no end
        assert "decoding stopped at 0:0" in str(caught.value)
    # Nothing that looks finished is left behind.
    assert not (out / "podcast.mp3").exists() and not (out / "master.wav").exists()


def test_truncated_wav_is_refused(speech: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.wav"
    cut.write_bytes(speech.read_bytes()[:40000])
    with pytest.raises(ReportError, match=r"truncated WAV: the file stops at 0:0\d of 0:0\d"):
        normalise(cut, tmp_path / "out", SETTINGS)


def test_silent_and_too_short_recordings_are_refused(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    run(["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(silent), "trim", "0", "3"])
    with pytest.raises(ReportError, match="silent"):
        normalise(silent, tmp_path / "out", SETTINGS)
    short = tmp_path / "short.wav"
    run(
        [
            "sox",
            "-n",
            "-r",
            "48000",
            "-c",
            "1",
            "-b",
            "16",
            str(short),
            "synth",
            "0.2",
            "sine",
            "440",
        ]
    )
    with pytest.raises(ReportError, match="too short"):
        normalise(short, tmp_path / "out", SETTINGS)


# -- metadata ------------------------------------------------------------------------------------


def test_recorder_tags_never_reach_the_published_mp3(speech: Path, tmp_path: Path) -> None:
    tagged = convert(
        speech,
        tmp_path / "phone.m4a",
        "-metadata",
        "location=+35.5011+012.6058/",
        "-metadata",
        "make=Pixel 7",
        "-metadata",
        "artist=Owner Name",
        "-metadata",
        "comment=GPS 35.5011 12.6058",
    )
    result = master(tagged, tmp_path / "out")
    assert mutagen.File(result.podcast_mp3).tags is None  # the encoder wrote none either
    artwork = tmp_path / "cover.jpg"
    Image.new("RGB", (64, 64), (10, 80, 160)).save(artwork, format="JPEG")
    write_tags(
        result.podcast_mp3,
        AudioTags(
            title="Waiting at the harbour",
            show="Border Reached!",
            artist="Field desk",
            episode=3,
            year=2022,
            artwork=artwork,
        ),
    )
    tags = ID3(result.podcast_mp3)
    assert str(tags["TIT2"]) == "Waiting at the harbour"
    assert str(tags["TALB"]) == "Border Reached!"
    assert str(tags["TRCK"]) == "3"
    assert tags.getall("APIC")[0].data == artwork.read_bytes()
    assert {key[:4] for key in tags} <= {
        "TIT2",
        "TALB",
        "TCON",
        "TPE1",
        "TPE2",
        "TRCK",
        "TDRC",
        "APIC",
    }
    everything = " ".join(str(frame) for frame in tags.values())
    assert "35.5" not in everything and "Pixel" not in everything and "Owner" not in everything


def test_write_tags_strips_tags_an_mp3_already_had(speech: Path, tmp_path: Path) -> None:
    mp3 = convert(
        speech,
        tmp_path / "source.mp3",
        "-metadata",
        "title=raw take",
        "-metadata",
        "encoded_by=Recorder X100",
        "-write_id3v1",
        "1",
    )
    old = ID3(mp3)
    old.add(TXXX(encoding=3, desc="GPS", text="35.5011,12.6058"))
    old.save(mp3, v1=2)
    write_tags(mp3, AudioTags(title="Clean", show="Border Reached!"))
    tags = ID3(mp3)
    assert sorted(tags.keys()) == ["TALB", "TCON", "TIT2"]
    assert b"TAG" not in mp3.read_bytes()[-128:][:3]  # no ID3v1 block at the end
    assert b"35.5011" not in mp3.read_bytes() and b"X100" not in mp3.read_bytes()
    # Still a playable MP3 of the same length.
    assert measure(mp3).integrated_lufs == pytest.approx(
        measure(convert(speech, tmp_path / "again.mp3")).integrated_lufs, abs=0.2
    )


def test_gain_tags_loudness_helper_is_independent(speech: Path, tmp_path: Path) -> None:
    """measure() agrees with ffmpeg on a real recording at another level (not just sines)."""
    louder = gain(speech, tmp_path / "louder.wav", db=6)
    theirs, theirs_peak = ebur128(louder)
    ours = measure(louder)
    assert ours.integrated_lufs == pytest.approx(theirs, abs=0.1)
    assert ours.true_peak_dbtp == pytest.approx(theirs_peak, abs=0.2)


def test_stereo_that_cancels_in_mono_is_refused_with_the_fix(speech: Path, tmp_path: Path) -> None:
    reversed_mic = tmp_path / "reversed.wav"
    run(["sox", str(speech), "-c", "2", str(reversed_mic), "remix", "1", "1v-1"])
    with pytest.raises(ReportError, match="channels cancel out.*podcast_channels = 2"):
        normalise(reversed_mic, tmp_path / "out", SETTINGS)
    stereo = master(
        reversed_mic,
        tmp_path / "stereo",
        dataclasses.replace(SETTINGS, podcast_channels=2, master_channels=2),
    )
    assert_on_target(stereo)
