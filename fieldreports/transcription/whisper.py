"""transcribe: Whisper (faster-whisper or openai-whisper) on weights a package ships.

How one recording becomes a `Transcript`:

1. ffmpeg decodes it to 16 kHz mono, read `window_minutes` at a time and cut in a pause, so a
   3-hour file never sits in memory whole.
2. Voice-activity detection (Silero, from faster-whisper) keeps only the speech. Both engines get
   the same speech, so silence can neither decide the language nor be "heard" as words.
3. The language is the notes' hint when there is one; otherwise Whisper detects it on the first
   30 s of *speech*, once per recording, and the probability is kept. Without a single hint,
   each stretch of speech then gets its own language (`_region_languages`): speech regions
   (VAD chunks, merged across short gaps) of at least `MIN_REGION_S` are detected one by one,
   and a region takes another language than the whole file's only when Whisper is sure of it by
   a clear margin; shorter regions keep their neighbour's. Each run of regions in one language
   is decoded in that language, so a notice read in English and then in German comes out in
   English and German, not all in English. The transcript's language is the one spoken longest.
   Notes that list several languages (`language: [en, de]`) limit detection to those.
4. The engine decodes with its own no-speech, log-probability and compression-ratio thresholds;
   then `_guard` drops what still looks invented (loops, repeated sentences). A recording with no
   speech gets no segments and a warning: a wrong sentence in a published transcript is worse
   than none.

Segments stream out of the engine window by window; `on_progress(done_s, total_s)` reports audio
seconds. The stage still returns one frozen `Transcript`, because stage results are cached.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fieldreports.config import TranscriptionSettings
from fieldreports.errors import ReportError, SetupError
from fieldreports.times import format_duration
from fieldreports.tools import Watchdog, finish, run_tool, stop
from fieldreports.transcription import models as whisper_models
from fieldreports.transcription.results import Segment, Transcript, Word

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, float], None]

SAMPLE_RATE_HZ = 16000
# Bump when _guard or the windowing changes what a transcript says, so cached ones are redone.
GUARD_VERSION = 3
_DETECT_S = 30.0  # Whisper sees 30 s at a time; language detection uses one such window
_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
_LOW_CONFIDENCE = 0.5  # below this a detected language is worth a second look
# Language per stretch of speech: regions closer than REGION_GAP_S are one region; a region
# shorter than MIN_REGION_S is not detected on its own; a region leaves the file's language only
# for one Whisper gives at least REGION_MIN_PROBABILITY and REGION_MARGIN more than the file's.
REGION_GAP_S = 1.0
MIN_REGION_S = 2.5
REGION_MIN_PROBABILITY = 0.6
REGION_MARGIN = 0.3
_DETECT_BATCH = 4  # regions detected in one encoder call (bounded memory)
# The cheap first look at a region: its first SCREEN_S (see `_region_languages`).
SCREEN_S = 4.0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Engine:
    """A loaded Whisper model; load once per run, reuse for every report."""

    settings: TranscriptionSettings
    files: whisper_models.ModelFiles
    multilingual: bool
    model: Any  # faster_whisper.WhisperModel or whisper.model.Whisper
    # faster_whisper.BatchedInferencePipeline when batched decoding may be used (see `_batched`)
    batched: Any = None

    @property
    def name(self) -> str:
        return self.settings.engine

    @property
    def model_name(self) -> str:
        return self.settings.model


def load_engine(settings: TranscriptionSettings, *, cache_dir: Path | None = None) -> Engine:
    """Load the configured engine and model; SetupError naming what to install if none is there.

    `cache_dir` holds the joined `base` model, converted openai-whisper checkpoints and downloads
    (default: `~/.cache/fieldreports`).
    """
    cache_dir = cache_dir or whisper_models.default_cache_dir()
    files = whisper_models.locate(settings.model, cache_dir)
    if settings.engine == "faster-whisper":
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        try:
            model = WhisperModel(
                str(files.directory),
                device="cpu",
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                local_files_only=True,
            )
        except (ValueError, RuntimeError) as exc:
            raise SetupError(
                f"faster-whisper could not load {files.directory} with compute_type = "
                f'"{settings.compute_type}" ({exc}); try compute_type = "int8" or "float32".'
            ) from exc
        may_batch = settings.batched or settings.batched_from_speech_s > 0
        batched = BatchedInferencePipeline(model) if may_batch else None
        return Engine(
            settings=settings,
            files=files,
            multilingual=model.model.is_multilingual,
            model=model,
            batched=batched,
        )
    if settings.engine == "openai-whisper":
        return Engine(
            settings=settings,
            files=files,
            model=(m := _load_openai(files, cache_dir)),
            multilingual=m.is_multilingual,
        )
    raise SetupError(
        f'[transcription] engine = "{settings.engine}": use "faster-whisper" or "openai-whisper".'
    )


def _load_openai(files: whisper_models.ModelFiles, cache_dir: Path) -> Any:
    import torch
    from whisper.model import ModelDimensions, Whisper

    checkpoint = torch.load(
        whisper_models.openai_checkpoint(files, cache_dir), map_location="cpu", weights_only=True
    )
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    heads = checkpoint.get("alignment_heads") or ()
    if heads:  # the model's own cross-attention heads for word timing, as openai-whisper ships them
        mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.eval()


def cache_key_fields(
    engine: Engine | TranscriptionSettings, *, language: str = "", task: str = "transcribe"
) -> dict[str, Any]:
    """Everything that changes what `transcribe` returns; the catalog hashes it with the audio.

    Takes a loaded Engine or, so a run can check its cache before loading Whisper, the settings
    alone. cpu_threads is left out on purpose: it changes the speed, not the words.
    """
    if isinstance(engine, Engine):
        s, weights, multilingual = engine.settings, engine.files.identity, engine.multilingual
    else:
        s = engine
        weights = whisper_models.weights_identity(s.model)
        multilingual = not whisper_models.english_only(s.model)
    fields: dict[str, Any] = {
        "engine": s.engine,
        "model": s.model,
        "weights": weights,
        "task": task,
        "language": _language_hint(language or s.language) if multilingual else "en",
        "beam_size": s.beam_size,
        "word_timestamps": s.word_timestamps,
        "vad": s.vad,
        "vad_threshold": s.vad_threshold,
        "vad_min_silence_ms": s.vad_min_silence_ms,
        "no_speech_threshold": s.no_speech_threshold,
        "log_prob_threshold": s.log_prob_threshold,
        "compression_ratio_threshold": s.compression_ratio_threshold,
        "condition_on_previous_text": s.condition_on_previous_text,
        "window_minutes": s.window_minutes,
        "guard_version": GUARD_VERSION,
    }
    if s.engine == "faster-whisper":
        fields["compute_type"] = s.compute_type
        fields["batched"] = s.batched
        fields["batched_from_speech_s"] = s.batched_from_speech_s
        if s.batched or s.batched_from_speech_s > 0:
            fields["batch_size"] = s.batch_size
    return fields


def transcribe(
    audio: Path,
    engine: Engine,
    *,
    language: str = "",
    languages: Sequence[str] = (),
    task: str = "transcribe",
    on_progress: ProgressFn | None = None,
) -> Transcript:
    """Transcribe (or translate to English) one recording.

    `language` (the notes' hint) wins over `[transcription] language`, which wins over detection.
    `languages` (notes that list several) limits detection to those and detects per region.
    Raises ReportError when the file cannot be decoded or the hint is not a language Whisper knows.
    """
    if task not in ("transcribe", "translate"):
        raise ValueError(f'task must be "transcribe" or "translate", not "{task}"')
    s = engine.settings
    warnings: list[str] = []
    candidates = tuple(dict.fromkeys(_language_hint(c, path=audio) for c in languages if c))
    if len(candidates) == 1:
        language, candidates = candidates[0], ()
    hint = "" if candidates else _language_hint(language or s.language, path=audio)
    lang, prob, source = "", 0.0, ""
    if not engine.multilingual:
        if hint and hint != "en":
            warnings.append(
                f'the notes say language "{hint}" but model {s.model} only knows English; '
                "the transcript is left empty rather than wrong: "
                'set [transcription] model = "base".'
            )
            duration_s = _probe_duration_s(audio)
            return _result(engine, task, "", 0.0, "", duration_s, 0.0, (), warnings)
        lang, prob, source = "en", 1.0, "english-only model"
    elif hint:
        lang, prob, source = hint, 1.0, "hint"

    total_s = _probe_duration_s(audio)
    done_s = duration_s = speech_s = 0.0
    heard: list[Segment] = []
    region_probability: dict[str, float] = {}
    for offset_s, samples in _windows(audio, window_s=s.window_minutes * 60.0):
        duration_s = offset_s + len(samples) / SAMPLE_RATE_HZ
        chunks = _speech_chunks(samples, s)
        speech_s += sum(c["end"] - c["start"] for c in chunks) / SAMPLE_RATE_HZ
        if chunks and not lang:
            lang, prob = _detect_language(engine, samples, chunks, candidates)
            source = "detected"
            log.info("%s: detected language %s (p=%.2f)", audio.name, lang, prob)
        stretches = [_Stretch(language=lang, first=0, stop=len(samples), chunks=chunks)]
        if source == "detected" and len(chunks) > 1:
            by_chunk, probabilities = _region_languages(engine, samples, chunks, lang, candidates)
            stretches = _stretches(chunks, by_chunk, len(samples))
            for code, p in probabilities.items():
                region_probability[code] = max(region_probability.get(code, 0.0), p)
        for stretch in stretches:
            own = samples[stretch.first : stretch.stop]
            stretch_lang = stretch.language
            for segment in _decode(engine, own, stretch.chunks, language=stretch_lang, task=task):
                segment = _place(
                    segment,
                    offset_s + stretch.first / SAMPLE_RATE_HZ,
                    (stretch.stop - stretch.first) / SAMPLE_RATE_HZ,
                )
                spoken = "en" if task == "translate" else stretch_lang
                heard.append(replace(segment, language=spoken))
                if on_progress is not None:
                    done_s = max(done_s, segment.end_s)
                    on_progress(done_s, max(total_s, duration_s))
        done_s = duration_s
        if on_progress is not None:
            on_progress(done_s, max(total_s, done_s))
    if done_s == 0.0:
        raise ReportError(
            "no audio could be decoded from the file; is it empty or truncated?", path=audio
        )
    segments, dropped = _guard(heard, s)
    if dropped:
        when = ", ".join(format_duration(seg.start_s) for seg in dropped[:5])
        warnings.append(
            f"dropped {len(dropped)} segment(s) that looked invented (repeated or unlikely text) "
            f"at {when}{'…' if len(dropped) > 5 else ''}."
        )
    if not s.vad and not segments:
        warnings.append(
            "Whisper heard no words (voice-activity detection is off); the transcript is empty."
        )
    elif speech_s == 0.0:
        warnings.append(
            "no speech found (voice-activity detection heard only noise or silence); "
            "the transcript is empty."
        )
    elif not segments:
        warnings.append("speech was found but no words were kept; the transcript is empty.")
    if segments and source == "detected" and task == "transcribe":
        main = _main_language(segments)
        if main and main != lang:
            log.info("%s: most speech is in %s, not %s", audio.name, main, lang)
            lang, prob = main, region_probability.get(main, prob)
    if not segments and source == "detected":
        lang, prob, source = "", 0.0, ""
    elif source == "detected" and prob < _LOW_CONFIDENCE:
        warnings.append(
            f'the language was detected as "{lang}" with probability {prob:.2f} only; if that is '
            "wrong, give the report a language in its notes (language: xx) and run again."
        )
    return _result(
        engine, task, lang, prob, source, duration_s, speech_s, tuple(segments), warnings
    )


def _result(
    engine: Engine,
    task: str,
    language: str,
    probability: float,
    source: str,
    duration_s: float,
    speech_s: float,
    segments: tuple[Segment, ...],
    warnings: list[str],
) -> Transcript:
    options = tuple(
        (k, str(v))
        for k, v in cache_key_fields(engine, language=language, task=task).items()
        if k not in ("engine", "model", "weights", "task", "language")
    )
    return Transcript(
        engine=engine.name,
        model=engine.model_name,
        task=task,
        language=language,
        language_probability=round(float(probability), 4),
        duration_s=round(duration_s, 3),
        segments=segments,
        warnings=tuple(warnings),
        language_source=source,
        speech_s=round(speech_s, 3),
        model_identity=engine.files.identity,
        options=options,
    )


# --- language -------------------------------------------------------------------------------------


def _language_hint(hint: str, *, path: Path | None = None) -> str:
    """A Whisper language code for a hint such as "it", "nl-BE" or "Italian"; "" for none.

    >>> _language_hint("nl-BE"), _language_hint("Italian"), _language_hint("")
    ('nl', 'it', '')
    """
    # faster-whisper's list of codes is importable without torch; openai-whisper's table of
    # language names is not, so it is only imported for a hint that is not a code.
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    value = hint.strip().lower()
    if not value:
        return ""
    code = re.split(r"[-_]", value)[0]
    if code in _LANGUAGE_CODES:
        return code
    from whisper.tokenizer import TO_LANGUAGE_CODE

    if value in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[value]
    raise ReportError(
        f'language "{hint}" is not one Whisper knows; use a two-letter code such as "nl", "it" or '
        '"pl", or leave it out to detect it.',
        path=path,
    )


def _detect_language(
    engine: Engine,
    samples: np.ndarray,
    chunks: list[dict[str, int]],
    candidates: tuple[str, ...] = (),
) -> tuple[str, float]:
    """Detect on the first 30 s of speech only, so a silent or noisy start cannot decide it;
    only among `candidates` when the notes list them."""
    speech = _collect(samples, chunks)[: int(_DETECT_S * SAMPLE_RATE_HZ)]
    return _best(_language_probabilities(engine, [speech])[0], candidates)


def _best(probabilities: dict[str, float], candidates: tuple[str, ...]) -> tuple[str, float]:
    """The likeliest language, among `candidates` when there are any.

    >>> _best({"en": 0.5, "de": 0.3, "nl": 0.2}, ("de", "nl"))
    ('de', 0.3)
    """
    pool = {k: v for k, v in probabilities.items() if not candidates or k in candidates}
    if not pool:
        pool = {c: 0.0 for c in candidates}
    language = max(pool, key=lambda k: pool[k])
    return language, float(pool[language])


def _language_probabilities(engine: Engine, speeches: list[np.ndarray]) -> list[dict[str, float]]:
    """Whisper's language probabilities for each piece of speech (its first 30 s), a few
    pieces per encoder call."""
    out: list[dict[str, float]] = []
    n = int(_DETECT_S * SAMPLE_RATE_HZ)
    for i in range(0, len(speeches), _DETECT_BATCH):
        batch = [speech[:n] for speech in speeches[i : i + _DETECT_BATCH]]
        if engine.name == "faster-whisper":
            from faster_whisper.audio import pad_or_trim
            from faster_whisper.transcribe import get_ctranslate2_storage

            model = engine.model
            features = np.stack(
                [pad_or_trim(model.feature_extractor(speech)) for speech in batch]
            ).astype(np.float32)
            results = model.model.detect_language(get_ctranslate2_storage(features))
            out.extend({token[2:-2]: float(p) for token, p in r} for r in results)
            continue
        import torch
        import whisper

        mel = torch.stack(
            [
                whisper.log_mel_spectrogram(
                    whisper.pad_or_trim(torch.from_numpy(speech)), n_mels=engine.model.dims.n_mels
                )
                for speech in batch
            ]
        )
        with torch.no_grad():
            _tokens, probs = engine.model.detect_language(mel)
        out.extend({k: float(v) for k, v in p.items()} for p in probs)
    return out


def _screen_languages(engine: Engine, speeches: list[np.ndarray]) -> list[dict[str, float] | None]:
    """Language probabilities from the first SCREEN_S of each piece, encoded at its own length
    (CTranslate2 takes fewer than Whisper's 3000 frames: 0.05 s of CPU instead of 1 s). Less
    reliable than a full window (espeak French comes out as Latin), so it only decides which
    regions need the full look. None for each piece when the engine cannot do it (openai-whisper
    encodes 30 s windows only)."""
    if engine.name != "faster-whisper":
        return [None] * len(speeches)
    from faster_whisper.transcribe import get_ctranslate2_storage

    model = engine.model
    out: list[dict[str, float] | None] = []
    for speech in speeches:
        features = model.feature_extractor(speech[: int(SCREEN_S * SAMPLE_RATE_HZ)])
        batch = np.ascontiguousarray(features[None], dtype=np.float32)
        result = model.model.detect_language(get_ctranslate2_storage(batch))[0]
        out.append({token[2:-2]: float(p) for token, p in result})
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Stretch:
    """A run of speech in one language: samples [first, stop) of the window, and its VAD chunks
    counted from `first`."""

    language: str
    first: int
    stop: int
    chunks: list[dict[str, int]]


def _regions(chunks: list[dict[str, int]]) -> list[tuple[int, int]]:
    """Speech regions as [first, last) chunk indices: chunks closer than REGION_GAP_S merged.

    >>> s = SAMPLE_RATE_HZ
    >>> _regions([{"start": 0, "end": s}, {"start": s + s // 2, "end": 3 * s},
    ...           {"start": 6 * s, "end": 9 * s}])
    [(0, 2), (2, 3)]
    """
    gap = REGION_GAP_S * SAMPLE_RATE_HZ
    regions: list[tuple[int, int]] = []
    for i, chunk in enumerate(chunks):
        if regions and chunk["start"] - chunks[i - 1]["end"] < gap:
            regions[-1] = (regions[-1][0], i + 1)
        else:
            regions.append((i, i + 1))
    return regions


def _region_languages(
    engine: Engine,
    samples: np.ndarray,
    chunks: list[dict[str, int]],
    file_language: str,
    candidates: tuple[str, ...],
) -> tuple[list[str], dict[str, float]]:
    """A language for each chunk, and the best probability seen for each language chosen.

    Regions of at least MIN_REGION_S are detected; one takes a language other than
    `file_language` only when Whisper gives it REGION_MIN_PROBABILITY and REGION_MARGIN over
    the file's. Shorter regions take the language of the region before them (else after).
    """
    regions = _regions(chunks)
    languages: list[str | None] = [None] * len(regions)
    probabilities: dict[str, float] = {}
    if len(regions) > 1:
        sure = [
            r
            for r, (a, b) in enumerate(regions)
            if sum(c["end"] - c["start"] for c in chunks[a:b]) >= MIN_REGION_S * SAMPLE_RATE_HZ
        ]
        speeches = [_collect(samples, chunks[slice(*regions[r])]) for r in sure]
        # A cheap look at each region first (faster-whisper encodes only its first few
        # seconds). Regions whose look says another language are grouped by that language, and
        # the longest of a group gets Whisper's full 30 s window: a group of confusions (espeak
        # Polish looks like Latin in 4 s) is cleared by one full look; a group that really is
        # another language has every member looked at in full.
        screened = _screen_languages(engine, speeches)
        groups: dict[str, list[int]] = {}
        for i, probs in enumerate(screened):
            top = _best(probs, candidates)[0] if probs is not None else f"?{i}"
            if top != file_language:
                groups.setdefault(top, []).append(i)
        full: dict[int, dict[str, float]] = {}

        def look(indices: list[int]) -> None:
            todo = [i for i in indices if i not in full]
            found = _language_probabilities(engine, [speeches[i] for i in todo])
            full.update(zip(todo, found, strict=True))

        for members in groups.values():
            longest = max(members, key=lambda i: len(speeches[i]))
            look([longest])
            if _region_language(full[longest], file_language, candidates) != file_language:
                look(members)
        for i, r in enumerate(sure):
            probs = full.get(i) or screened[i] or {}
            languages[r] = (
                _region_language(full[i], file_language, candidates) if i in full else file_language
            )
            chosen = languages[r] or file_language
            probabilities[chosen] = max(probabilities.get(chosen, 0.0), probs.get(chosen, 0.0))
    filled = _fill(languages, file_language)
    per_chunk = [""] * len(chunks)
    for (a, b), language in zip(regions, filled, strict=True):
        per_chunk[a:b] = [language] * (b - a)
    return per_chunk, probabilities


def _region_language(
    probabilities: dict[str, float], file_language: str, candidates: tuple[str, ...]
) -> str:
    """A region's language from Whisper's full look: another than the file's only when sure.

    >>> _region_language({"de": 0.93, "en": 0.02}, "en", ())
    'de'
    >>> _region_language({"la": 0.45, "pl": 0.30}, "pl", ())  # not sure enough: keep the file's
    'pl'
    """
    top, p = _best(probabilities, candidates)
    own = probabilities.get(file_language, 0.0)
    sure = top != file_language and p >= REGION_MIN_PROBABILITY and p - own >= REGION_MARGIN
    return top if sure else file_language


def _fill(languages: list[str | None], default: str) -> list[str]:
    """Undetected regions take the language before them, else after, else `default`.

    >>> _fill([None, "de", None, "en", None], "en")
    ['de', 'de', 'de', 'en', 'en']
    """
    out: list[str] = []
    last: str | None = None
    for language in languages:
        last = language or last
        out.append(last or "")
    following: str | None = None
    for i in range(len(out) - 1, -1, -1):
        following = languages[i] or following
        if not out[i]:
            out[i] = following or default
    return out


def _stretches(chunks: list[dict[str, int]], languages: list[str], length: int) -> list[_Stretch]:
    """Consecutive chunks of one language as stretches; one stretch covers the whole window."""
    runs: list[tuple[str, int, int]] = []
    for i, language in enumerate(languages):
        if runs and runs[-1][0] == language:
            runs[-1] = (language, runs[-1][1], i + 1)
        else:
            runs.append((language, i, i + 1))
    if len(runs) <= 1:
        return [_Stretch(language=languages[0], first=0, stop=length, chunks=chunks)]
    stretches = []
    for n, (language, a, b) in enumerate(runs):
        # Each stretch reaches into the silence around it, halfway to its neighbours.
        first = 0 if n == 0 else (chunks[a - 1]["end"] + chunks[a]["start"]) // 2
        stop = length if n == len(runs) - 1 else (chunks[b - 1]["end"] + chunks[b]["start"]) // 2
        own = [{"start": c["start"] - first, "end": c["end"] - first} for c in chunks[a:b]]
        stretches.append(_Stretch(language=language, first=first, stop=stop, chunks=own))
    return stretches


def _main_language(segments: Sequence[Segment]) -> str:
    """The language with the most seconds of speech.

    >>> _main_language([Segment(start_s=0, end_s=2, text="a", language="en"),
    ...                 Segment(start_s=2, end_s=5, text="b", language="de")])
    'de'
    """
    seconds: dict[str, float] = {}
    for s in segments:
        if s.language:
            seconds[s.language] = seconds.get(s.language, 0.0) + s.end_s - s.start_s
    return max(seconds, key=lambda k: seconds[k]) if seconds else ""


# --- audio in bounded windows ---------------------------------------------------------------------


def _probe_duration_s(path: Path) -> float:
    """The container's duration (0.0 when it does not say), for the progress total only."""
    if shutil.which("ffprobe") is None:
        return 0.0
    argv = [
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "csv=p=0",
        str(path),
    ]
    result = run_tool(argv, path=path)
    try:
        return max(0.0, float(result.stdout.strip()))
    except ValueError:
        return 0.0


def _windows(path: Path, *, window_s: float) -> Iterator[tuple[float, np.ndarray]]:
    """(offset_s, float32 samples) pieces of about `window_s`, each cut at the quietest moment of
    its last 30 s, so a word is never split between two windows."""
    if shutil.which("ffmpeg") is None:
        raise SetupError("ffmpeg is not installed; install it (Debian: apt-get install ffmpeg).")
    if not path.is_file():
        raise ReportError("the recording does not exist.", path=path)
    argv = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE_HZ),
        "-f",
        "s16le",
        "-acodec",
        "pcm_s16le",
        "-",
    ]
    log.debug("running %s", argv)
    window = max(60, int(window_s * SAMPLE_RATE_HZ))
    carry = np.zeros(0, dtype=np.float32)
    offset = 0
    # stderr goes to a file: a decoder complaining about every frame of a damaged file would
    # fill a pipe and block while we wait on its output.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        # Only our waits on the pipe count: Whisper working on a window is not ffmpeg stalling.
        watchdog = Watchdog(proc, what="ffmpeg decoding")
        try:
            while True:
                with watchdog.waiting():
                    raw = proc.stdout.read(max(0, window - len(carry)) * 2)
                block = np.concatenate(
                    [carry, np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768.0]
                )
                if not raw or len(block) < window:  # the end of the file
                    if len(block):
                        yield offset / SAMPLE_RATE_HZ, block
                    break
                # search the last quarter (at most 30 s), so a window is never cut to a sliver
                cut = _quiet_cut(block, search_s=min(30.0, window_s / 4))
                yield offset / SAMPLE_RATE_HZ, block[:cut]
                offset += cut
                carry = block[cut:]
        except BaseException:
            stop(proc)  # stopped early (an error, a time limit): ffmpeg goes too
            raise
        finally:
            watchdog.close()
            proc.stdout.close()
        code = finish(proc, what="ffmpeg decoding")
        watchdog.check(path)
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace").strip()
    if code != 0:
        reason = stderr.splitlines()[-1] if stderr else f"ffmpeg exited with {code}"
        raise ReportError(f"ffmpeg could not decode the recording: {reason}", path=path)


def _quiet_cut(block: np.ndarray, *, search_s: float = 30.0, frame_s: float = 0.1) -> int:
    """The sample index of the quietest 0.1 s frame in the last `search_s` of `block`.

    >>> block = np.ones(16000 * 40, dtype=np.float32); block[16000 * 35 : 16000 * 35 + 1600] = 0
    >>> _quiet_cut(block) == 16000 * 35 + 800
    True
    """
    frame = int(frame_s * SAMPLE_RATE_HZ)
    start = max(0, len(block) - int(search_s * SAMPLE_RATE_HZ))
    tail = block[start:]
    n = len(tail) // frame
    if n == 0:
        return len(block)
    energy = np.square(tail[: n * frame].reshape(n, frame)).mean(axis=1)
    return start + int(np.argmin(energy)) * frame + frame // 2


# --- voice-activity detection ---------------------------------------------------------------------


def _speech_chunks(samples: np.ndarray, s: TranscriptionSettings) -> list[dict[str, int]]:
    """Speech regions as sample ranges; the whole window when VAD is off."""
    if not s.vad:
        return [{"start": 0, "end": len(samples)}] if len(samples) else []
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=s.vad_threshold, min_silence_duration_ms=s.vad_min_silence_ms)
    return list(get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE_HZ))


def _collect(samples: np.ndarray, chunks: list[dict[str, int]]) -> np.ndarray:
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([samples[c["start"] : c["end"]] for c in chunks])


class _TimeMap:
    """Maps a time in the speech-only audio back to the window it came from."""

    def __init__(self, chunks: list[dict[str, int]]) -> None:
        self.ends: list[float] = []  # end of each chunk in speech-only time (s)
        self.silence_before: list[float] = []
        silent = previous_end = 0
        for c in chunks:
            silent += c["start"] - previous_end
            previous_end = c["end"]
            self.ends.append((c["end"] - silent) / SAMPLE_RATE_HZ)
            self.silence_before.append(silent / SAMPLE_RATE_HZ)

    def index(self, t: float) -> int:
        import bisect

        return min(bisect.bisect_left(self.ends, t), len(self.ends) - 1)

    def __call__(self, t: float, index: int | None = None) -> float:
        return round(float(t) + self.silence_before[self.index(t) if index is None else index], 3)


# --- decoding -------------------------------------------------------------------------------------


def _decode(
    engine: Engine, samples: np.ndarray, chunks: list[dict[str, int]], *, language: str, task: str
) -> Iterator[Segment]:
    """Segments in window time for one window's speech."""
    if not chunks:
        return
    s = engine.settings
    if _batched(engine, chunks):
        from faster_whisper.vad import VadOptions

        log.debug(
            "decoding %d s of speech batched",
            sum(c["end"] - c["start"] for c in chunks) // SAMPLE_RATE_HZ,
        )
        step = int(_DETECT_S * SAMPLE_RATE_HZ)
        # With VAD, the pipeline's own: speech cut at 160 ms pauses into pieces of at most 30 s,
        # then packed into 30 s chunks. Passing our own clips instead would decode every short
        # piece as a padded 30 s chunk of its own: measured 2.7x slower and twice the memory.
        where: dict[str, Any] = (
            {
                "vad_filter": True,
                "vad_parameters": VadOptions(
                    threshold=s.vad_threshold,
                    min_silence_duration_ms=160,
                    max_speech_duration_s=_DETECT_S,
                ),
            }
            if s.vad
            else {
                "vad_filter": False,
                "clip_timestamps": [
                    {
                        "start": i / SAMPLE_RATE_HZ,
                        "end": min(i + step, len(samples)) / SAMPLE_RATE_HZ,
                    }
                    for i in range(0, len(samples), step)
                ],
            }
        )
        segments, _info = engine.batched.transcribe(
            samples,
            language=language or None,
            task=task,
            beam_size=s.beam_size,
            batch_size=s.batch_size,
            word_timestamps=s.word_timestamps,
            compression_ratio_threshold=s.compression_ratio_threshold,
            log_prob_threshold=s.log_prob_threshold,
            no_speech_threshold=s.no_speech_threshold,
            **where,
        )
        identity = _TimeMap([{"start": 0, "end": len(samples)}])  # already in window time
        for seg in segments:
            yield _from_faster(seg, identity)
        return
    speech = _collect(samples, chunks)
    to_window = _TimeMap(chunks)
    if engine.name == "faster-whisper":
        segments, _info = engine.model.transcribe(
            speech,
            language=language or None,
            task=task,
            beam_size=s.beam_size,
            temperature=list(_TEMPERATURES),
            compression_ratio_threshold=s.compression_ratio_threshold,
            log_prob_threshold=s.log_prob_threshold,
            no_speech_threshold=s.no_speech_threshold,
            condition_on_previous_text=s.condition_on_previous_text,
            word_timestamps=s.word_timestamps,
            vad_filter=False,
        )
        for seg in segments:
            yield _from_faster(seg, to_window)
        return
    yield from _decode_openai(engine, speech, to_window, language=language, task=task)


def _batched(engine: Engine, chunks: list[dict[str, int]]) -> bool:
    """Whether to decode this speech with the batched pipeline: always with `batched = true`;
    otherwise when it holds at least `batched_from_speech_s`. Measured on 10 minutes of speech
    the batched pipeline took 20% less CPU and lost no words (docs/benchmarks.md); on less than
    a few 30 s windows there is nothing to batch, and short recordings keep the sequential
    decoder, word for word as before.
    """
    s = engine.settings
    if engine.batched is None:
        return False
    if s.batched:
        return True
    speech_s = sum(c["end"] - c["start"] for c in chunks) / SAMPLE_RATE_HZ
    return 0 < s.batched_from_speech_s <= speech_s


def _from_faster(seg: Any, to_window: _TimeMap) -> Segment:
    words = tuple(
        Word(
            start_s=to_window(w.start, to_window.index((w.start + w.end) / 2)),
            end_s=to_window(w.end, to_window.index((w.start + w.end) / 2)),
            text=w.word,
            probability=round(float(w.probability), 4),
        )
        for w in (seg.words or ())
    )
    return Segment(
        start_s=words[0].start_s if words else to_window(seg.start),
        end_s=words[-1].end_s if words else _end(to_window, seg.start, seg.end),
        text=seg.text.strip(),
        words=words,
        avg_logprob=round(float(seg.avg_logprob), 4),
        no_speech_prob=round(float(seg.no_speech_prob), 4),
        temperature=float(seg.temperature or 0.0),
    )


def _decode_openai(
    engine: Engine, speech: np.ndarray, to_window: _TimeMap, *, language: str, task: str
) -> Iterator[Segment]:
    import torch
    import whisper

    s = engine.settings
    if s.cpu_threads > 0:
        torch.set_num_threads(s.cpu_threads)
    with torch.no_grad():
        result = whisper.transcribe(
            engine.model,
            torch.from_numpy(speech),
            language=language or None,
            task=task,
            temperature=_TEMPERATURES,
            beam_size=s.beam_size,
            best_of=5,
            fp16=False,
            compression_ratio_threshold=s.compression_ratio_threshold,
            logprob_threshold=s.log_prob_threshold,
            no_speech_threshold=s.no_speech_threshold,
            condition_on_previous_text=s.condition_on_previous_text,
            word_timestamps=s.word_timestamps,
            verbose=None,
        )
    for seg in result["segments"]:
        words = tuple(
            Word(
                start_s=to_window(w["start"], to_window.index((w["start"] + w["end"]) / 2)),
                end_s=to_window(w["end"], to_window.index((w["start"] + w["end"]) / 2)),
                text=w["word"],
                probability=round(float(w["probability"]), 4),
            )
            for w in seg.get("words", ())
        )
        yield Segment(
            start_s=words[0].start_s if words else to_window(seg["start"]),
            end_s=words[-1].end_s if words else _end(to_window, seg["start"], seg["end"]),
            text=seg["text"].strip(),
            words=words,
            avg_logprob=round(float(seg["avg_logprob"]), 4),
            no_speech_prob=round(float(seg["no_speech_prob"]), 4),
            temperature=float(seg["temperature"]),
        )


def _end(to_window: _TimeMap, start: float, end: float) -> float:
    """A segment's end, mapped in the chunk where the segment lies (not the next one)."""
    return to_window(end, to_window.index(max(start, end - 0.01)))


def _place(segment: Segment, offset_s: float, window_s: float) -> Segment:
    """Move a segment from window time to file time, clamped to the window: Whisper pads its
    input to 30 s and can stamp the last segment past the end of the audio it was given."""

    def at(t: float) -> float:
        return round(offset_s + min(max(t, 0.0), window_s), 3)

    return replace(
        segment,
        start_s=at(segment.start_s),
        end_s=at(segment.end_s),
        words=tuple(replace(w, start_s=at(w.start_s), end_s=at(w.end_s)) for w in segment.words),
    )


# --- the guard against invented text --------------------------------------------------------------


def compression_ratio(text: str) -> float:
    """How well zlib packs the text: looping text packs far better than speech (Whisper uses 2.4).

    >>> compression_ratio("ask not what your country can do for you") < 2.4
    True
    >>> compression_ratio("thank you " * 20) > 2.4
    True
    """
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _words(text: str) -> list[str]:
    return re.findall(r"\w+(?:'\w+)?", text.lower())


def repeats_itself(text: str) -> bool:
    """True when a phrase loops: one word 8 times running, two words 4 times, longer ones 3 times.

    >>> repeats_itself("no no no, I said no")
    False
    >>> repeats_itself("thank you thank you thank you thank you")
    True
    """
    words = _words(text)
    for n in range(1, 7):
        needed = max(3, -(-8 // n))
        for i in range(len(words) - n * needed + 1):
            gram, count, j = words[i : i + n], 1, i + n
            while words[j : j + n] == gram:
                count, j = count + 1, j + n
            if count >= needed:
                return True
    return False


def _guard(
    segments: list[Segment], s: TranscriptionSettings
) -> tuple[list[Segment], list[Segment]]:
    """Split segments into (kept, dropped as probably invented)."""
    kept: list[Segment] = []
    dropped: list[Segment] = []
    previous: list[str] = []
    for seg in segments:
        words = _words(seg.text)
        if not words:
            continue  # punctuation or music symbols only: nothing to publish, nothing to warn of
        # Whisper retries a window at higher temperatures while avg_logprob stays under the
        # threshold; a segment still under it is one every retry failed on: guessed, not heard.
        unlikely = seg.avg_logprob < s.log_prob_threshold
        ratio = compression_ratio(seg.text)
        looping = ratio > s.compression_ratio_threshold or repeats_itself(seg.text)
        # the same sentence three times running is a decoder loop, not a reporter
        echo = len(previous) >= 2 and previous[-1] == previous[-2] == " ".join(words)
        # Whisper skips a window it judges silent unless its text is likely. Text that became
        # likely only when sampled again, after the greedy pass was judged unlikely, is a guess
        # at noise: with VAD off, 4 of 80 clips of hiss gave "2.0% 3.0%", "1 tbp" or "nd" so.
        guessed = seg.no_speech_prob > s.no_speech_threshold and seg.temperature > 0
        if unlikely or looping or echo or guessed:
            dropped.append(seg)
        else:
            kept.append(seg)
        previous.append(" ".join(words))
    return kept, dropped
