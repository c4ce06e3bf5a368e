"""normalise: decode any field recording and master it to loudness targets (ITU-R BS.1770-4, EBU R 128).

A recording is read twice and never held whole:

1. **Analyse.** ffmpeg decodes it (decided by content, see `decode.py`) to 48 kHz float blocks
   through the field clean-up (80 Hz high-pass, optional noise reduction). A streaming meter keeps
   the K-weighted energy and 4x-oversampled true peak of every 5 ms hop, for the master's channel
   layout and, when it differs, for the podcast's.
2. **Plan.** From those statistics alone: where long leading and trailing silence ends, where
   speech is and the speech leveler's gain curve (`leveler.py`), the integrated loudness, the
   static gain for each target (a recording is never made more than `max_gain_db` louder as a
   whole, and not at all when no speech is found in it, so room tone is never raised into loud
   noise; the target is lowered to match), and a look-ahead true-peak limiter
   curve for when that gain would push peaks over the ceiling (`limiter.py`). The loudness the
   limited result will have is predicted, so the gain is solved once.
3. **Render.** ffmpeg decodes again; each block gets its gain and limiter curve and is piped to two
   encoders: a 24-bit WAV master and an MP3. Both are written under temporary names.
4. **Verify.** The master is metered as written (its exact 24-bit samples); the MP3 is decoded and
   metered. Lossy encoding moves peaks, so when the MP3 lands over its ceiling or off target it is
   rendered again with the measured error taken off. Only then do the files get their real names.

Every number in the returned MasteredAudio is measured after encoding.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fieldreports.audio.decode import (
    FFMPEG_QUIET,
    SourceInfo,
    probe,
    require_ffmpeg,
    sniff,
    stream,
    widen_pipe,
)
from fieldreports.audio.denoise import Denoiser
from fieldreports.audio.id3 import AudioTags, write_tags
from fieldreports.audio.leveler import level_curve, speech_steps
from fieldreports.audio.limiter import Excerpt, GainPlan, PeakLimiter, plan
from fieldreports.audio.loudness import HopStats, LoudnessMeter, channel_weights
from fieldreports.audio.results import Loudness, MasteredAudio
from fieldreports.config import AudioSettings, check_audio_settings
from fieldreports.digest import file_sha256
from fieldreports.errors import ReportError, SetupError
from fieldreports.tools import Watchdog, finish, stop

__all__ = ["AudioTags", "Loudness", "MasteredAudio", "measure", "normalise", "write_tags"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, float], None]

PODCAST_NAME = "podcast.mp3"
MASTER_NAME = "master.wav"
# Control grid of the limiter and resolution of the analysis statistics.
HOP_S = 0.005
BLOCK_S = 1.0
# Blocks of BLOCK_S kept from the analysis to rehearse the peak limiter on (32 s of audio).
EXCERPTS = 32
# A recording shorter than one BS.1770 gating block has no integrated loudness.
MIN_DURATION_S = 0.4
# The MP3 is limited this far under its ceiling before encoding; lossy coding adds overshoot.
PODCAST_HEADROOM_DB = 1.5
# LAME at speech bit rates measures about this much quieter than its input: aim that much higher.
MP3_LOSS_LU = 0.45
MASTER_HEADROOM_DB = 0.05
# Verification: an output further off than this is rendered again (the promise is 0.5 LU).
RETRY_ABOVE_LU = 0.3
MAX_RENDERS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layout:
    """Working format: the master's rate and channels, and the podcast's channels."""

    rate_hz: int
    master_channels: int
    podcast_channels: int

    def podcast_view(self, block: np.ndarray) -> np.ndarray:
        if self.podcast_channels == self.master_channels:
            return block
        if self.podcast_channels == 1:
            return block.mean(axis=1, keepdims=True)
        return np.repeat(block, self.podcast_channels, axis=1)


def normalise(
    source: Path,
    out_dir: Path,
    settings: AudioSettings,
    *,
    source_sha256: str = "",
    on_progress: ProgressFn | None = None,
) -> MasteredAudio:
    """Master `source` into `out_dir/podcast.mp3` and `out_dir/master.wav`.

    Raises ReportError with a plain reason for empty, truncated, non-audio or unsupported input.
    Progress is reported in seconds of audio over two passes (analysis, then rendering).
    """
    require_ffmpeg()
    check_audio_settings(settings)
    info = probe(source, sniff(source))
    if info.duration_s and info.duration_s < MIN_DURATION_S:
        raise ReportError(
            f"the recording is too short to master ({info.duration_s:.2f} s; at least "
            f"{MIN_DURATION_S} s is needed)",
            path=source,
        )
    layout = _Layout(
        rate_hz=settings.master_sample_rate_hz,
        master_channels=settings.master_channels,
        podcast_channels=settings.podcast_channels,
    )
    progress = _monotone(on_progress)
    total_s = 2.0 * (info.duration_s or 1.0)

    master_stats, podcast_stats, excerpts = _analyse(
        info, layout, settings, lambda s: progress(s, total_s)
    )
    duration_s = master_stats.duration_s
    if duration_s < MIN_DURATION_S:
        raise ReportError(
            f"the recording is too short to master ({duration_s:.2f} s of sound; at least "
            f"{MIN_DURATION_S} s is needed)",
            path=source,
        )
    before = master_stats.loudness()
    mono_of_stereo = info.channels > 1 and layout.master_channels == 1
    if not math.isfinite(before.integrated_lufs) and mono_of_stereo:
        raise ReportError(
            "the mono mix is silent: the channels cancel out (one microphone is wired in "
            "reverse polarity); set master_channels = 2 and podcast_channels = 2 in [audio] or "
            "fix the recording",
            path=source,
        )
    if not math.isfinite(before.integrated_lufs):
        raise ReportError(
            "the recording is silent: nothing in it is louder than -70 LUFS; check the "
            "microphone input or send the right file",
            path=source,
        )
    start_hop, stop_hop = (
        _trim(master_stats, settings) if settings.trim_silence else (0, len(master_stats.energy))
    )
    warnings: list[str] = []
    speech = speech_steps(master_stats)
    level_db = None
    max_gain_db = settings.max_gain_db
    if not speech.found:
        if not settings.publish_without_speech:
            raise ReportError(
                f"no speech found (only noise or a steady sound at "
                f"{before.integrated_lufs:.1f} LUFS); it is held back because [audio] "
                "publish_without_speech = false. Check the recording, or set it to true.",
                path=source,
            )
        max_gain_db = 0.0
        warnings.append(
            f"{source.name}: no speech found (only noise or a steady sound at "
            f"{before.integrated_lufs:.1f} LUFS), so it is published at its own level, not "
            "raised to the loudness target; check it is the right recording."
        )
    elif settings.leveler:
        level_db = level_curve(master_stats, speech)
    # The most a recording may be raised as a whole: the targets come down to meet it.
    plain_lufs = master_stats.loudness(0.0, start_hop, stop_hop).integrated_lufs
    podcast_lufs = min(settings.podcast_lufs, plain_lufs + max_gain_db)
    master_lufs = min(settings.master_lufs, plain_lufs + max_gain_db)
    master_plan = plan(
        master_stats,
        target_lufs=master_lufs,
        ceiling_dbtp=settings.master_true_peak_dbtp - MASTER_HEADROOM_DB,
        start_hop=start_hop,
        stop_hop=stop_hop,
        excerpts=excerpts,
        level_db=level_db,
    )
    podcast_excerpts = tuple(
        Excerpt(first_frame=e.first_frame, samples=layout.podcast_view(e.samples)) for e in excerpts
    )
    try:
        podcast_plan = plan(
            podcast_stats,
            target_lufs=podcast_lufs + MP3_LOSS_LU,
            ceiling_dbtp=settings.podcast_true_peak_dbtp - PODCAST_HEADROOM_DB,
            start_hop=start_hop,
            stop_hop=stop_hop,
            excerpts=podcast_excerpts,
            level_db=level_db,
        )
    except ValueError:
        # Stereo that is loud but silent in mono: one channel is the other upside down.
        raise ReportError(
            "the mono mix is silent: the two channels cancel out (one microphone is wired in "
            "reverse polarity); set podcast_channels = 2 in [audio] or fix the recording",
            path=source,
        ) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    temp_master = _temp_name(out_dir, MASTER_NAME)
    temp_podcast = _temp_name(out_dir, PODCAST_NAME)
    try:
        master, podcast_peak_db, master_peak_db = _render(
            info,
            layout,
            settings,
            master_plan,
            podcast_plan,
            temp_master,
            temp_podcast,
            on_progress=lambda s: progress(info.duration_s + s, total_s),
        )
        podcast, podcast_plan, retried_peak_db = _verify_podcast(
            info,
            layout,
            settings,
            podcast_stats,
            podcast_excerpts,
            podcast_plan,
            temp_podcast,
            target=podcast_lufs,
        )
        podcast_peak_db = podcast_peak_db if retried_peak_db is None else retried_peak_db
        if podcast_lufs < settings.podcast_lufs and speech.found:
            warnings.append(
                f"{source.name}: the recording is very quiet ({plain_lufs:.1f} LUFS) and was "
                f"raised by at most [audio] max_gain_db = {max_gain_db:g} dB, so the podcast is "
                f"at {podcast.integrated_lufs:.1f} LUFS (target {settings.podcast_lufs:g}); "
                "raise max_gain_db to bring it up, noise and all."
            )
        _check_master(source, settings, master, master_lufs)
        master_path, podcast_path = out_dir / MASTER_NAME, out_dir / PODCAST_NAME
        os.replace(temp_master, master_path)
        os.replace(temp_podcast, podcast_path)
    finally:
        for temp in (temp_master, temp_podcast):
            temp.unlink(missing_ok=True)
    hop_s = master_stats.hop / master_stats.rate_hz
    kept_frames = (
        min(stop_hop * master_stats.hop, master_stats.frames) - start_hop * master_stats.hop
    )
    podcast_sha256, podcast_size = file_sha256(podcast_path)
    master_sha256, master_size = file_sha256(master_path)
    result = MasteredAudio(
        source=source,
        source_sha256=source_sha256 or file_sha256(source)[0],
        duration_s=kept_frames / layout.rate_hz,
        podcast_mp3=podcast_path,
        master_wav=master_path,
        before=before,
        podcast=podcast,
        master=master,
        podcast_gain_db=podcast_plan.gain_db,
        master_gain_db=master_plan.gain_db,
        source_format=f"{info.kind or info.format_name} ({info.codec})",
        source_sample_rate_hz=info.sample_rate_hz,
        source_channels=info.channels,
        source_duration_s=duration_s,
        trimmed_start_s=start_hop * hop_s,
        trimmed_end_s=max(0.0, duration_s - stop_hop * hop_s),
        podcast_limiter_db=podcast_plan.max_reduction_db,
        master_limiter_db=master_plan.max_reduction_db,
        podcast_peak_limiter_db=podcast_peak_db,
        master_peak_limiter_db=master_peak_db,
        podcast_sha256=podcast_sha256,
        podcast_size_bytes=podcast_size,
        master_sha256=master_sha256,
        master_size_bytes=master_size,
        speech_s=round(speech.seconds, 1),
        leveler_boost_db=round(max(0.0, float(level_db.max())), 1) if level_db is not None else 0.0,
        leveler_cut_db=round(max(0.0, -float(level_db.min())), 1) if level_db is not None else 0.0,
        warnings=tuple(warnings),
    )
    for warning in warnings:
        log.warning("%s", warning)
    progress(total_s, total_s)
    log.info(
        "%s: %.1f LUFS -> podcast %.1f LUFS / %.1f dBTP, master %.1f LUFS / %.1f dBTP",
        source.name,
        before.integrated_lufs,
        podcast.integrated_lufs,
        podcast.true_peak_dbtp,
        master.integrated_lufs,
        master.true_peak_dbtp,
    )
    return result


def _monotone(on_progress: ProgressFn | None) -> ProgressFn:
    """Progress that never goes back or past the total: the stated duration the total is built
    from and the decoded length differ by a few milliseconds."""
    if on_progress is None:
        return lambda _done, _total: None
    reported = 0.0

    def report(done: float, total: float) -> None:
        nonlocal reported
        reported = max(reported, min(done, total))
        on_progress(reported, total)

    return report


def measure(path: Path) -> Loudness:
    """Measure a file's loudness and true peak (BS.1770-4) at its own rate and channels."""
    require_ffmpeg()
    info = probe(path, sniff(path))
    meter = LoudnessMeter(
        rate_hz=info.sample_rate_hz,
        channels=info.channels,
        weights=channel_weights(info.channels, info.channel_layout),
    )
    for block in stream(info, rate_hz=info.sample_rate_hz, channels=info.channels):
        meter.feed(block)
    return meter.finish().loudness()


# -- the passes --------------------------------------------------------------------------------


def _filters(settings: AudioSettings) -> tuple[str, ...]:
    """ffmpeg filters of the field clean-up that run inside the decoder."""
    # A 2-pole Butterworth high-pass: wind and handling rumble sit below 80 Hz, voices above.
    return (f"highpass=f={settings.highpass_hz:g}:poles=2",) if settings.highpass_hz > 0 else ()


def _blocks(info: SourceInfo, layout: _Layout, settings: AudioSettings) -> Iterator[np.ndarray]:
    """The cleaned working signal, block by block; the same samples on every pass."""
    frames = round(BLOCK_S * layout.rate_hz)
    decoded = stream(
        info,
        rate_hz=layout.rate_hz,
        channels=layout.master_channels,
        filters=_filters(settings),
        block_frames=frames,
    )
    if not settings.noise_reduction:
        yield from decoded
        return
    denoiser = Denoiser(
        rate_hz=layout.rate_hz,
        channels=layout.master_channels,
        strength=settings.noise_reduction_strength,
    )
    for block in decoded:
        yield from denoiser.feed(block)
    yield from denoiser.finish()


def _analyse(
    info: SourceInfo, layout: _Layout, settings: AudioSettings, on_progress: Callable[[float], None]
) -> tuple[HopStats, HopStats, tuple[Excerpt, ...]]:
    """First pass: hop statistics for both layouts, and loud excerpts to rehearse the limiter on."""
    expected = round(info.duration_s * layout.rate_hz)
    master_meter = LoudnessMeter(
        rate_hz=layout.rate_hz,
        channels=layout.master_channels,
        hop_s=HOP_S,
        expected_frames=expected,
    )
    podcast_meter = (
        None
        if layout.podcast_channels == layout.master_channels
        else LoudnessMeter(
            rate_hz=layout.rate_hz,
            channels=layout.podcast_channels,
            hop_s=HOP_S,
            expected_frames=expected,
        )
    )
    sampler = _ExcerptSampler(count=EXCERPTS)
    done = 0
    for block in _blocks(info, layout, settings):
        master_meter.feed(block)
        if podcast_meter is not None:
            podcast_meter.feed(layout.podcast_view(block))
        sampler.offer(done, block)
        done += len(block)
        on_progress(done / layout.rate_hz)
    master_stats = master_meter.finish()
    podcast_stats = podcast_meter.finish() if podcast_meter else master_stats
    return master_stats, podcast_stats, sampler.excerpts()


class _ExcerptSampler:
    """Keeps `count` blocks drawn at random with odds in proportion to their energy (weighted
    reservoir sampling, Efraimidis-Spirakis), so the kept blocks are the programme's loud parts in
    fair proportion, in constant memory, the same on every run (fixed seed)."""

    def __init__(self, *, count: int) -> None:
        self.count = count
        self._rng = np.random.default_rng(1770)
        self._heap: list[tuple[float, int, np.ndarray]] = []

    def offer(self, first_frame: int, block: np.ndarray) -> None:
        energy = float(np.mean(np.square(block, dtype=np.float64)))
        if energy <= 1e-10:  # -100 dBFS: nothing a limiter will touch
            return
        key = math.log(max(self._rng.random(), 1e-300)) / energy
        item = (key, first_frame, block)
        if len(self._heap) < self.count:
            heapq.heappush(self._heap, (key, first_frame, block.copy()))
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, (item[0], item[1], block.copy()))

    def excerpts(self) -> tuple[Excerpt, ...]:
        return tuple(
            Excerpt(first_frame=first, samples=samples)
            for _key, first, samples in sorted(self._heap, key=lambda item: item[1])
        )


def _trim(stats: HopStats, settings: AudioSettings) -> tuple[int, int]:
    """Hops to keep: from `trim_keep_s` before the first sound to `trim_keep_s` after the last.

    Sound is any 100 ms step within `silence_threshold_lu` of the integrated loudness, so a
    steady field hum well under the voice counts as silence, and a quiet recording keeps its words.
    """
    level = stats.step_levels()
    steps = level
    integrated = stats.loudness().integrated_lufs
    loud = np.flatnonzero(level > integrated - settings.silence_threshold_lu)
    total = len(stats.energy)
    if not len(loud):
        return 0, total
    keep = round(settings.trim_keep_s * stats.rate_hz / (stats.hop * stats.hops_per_step))
    first = max(0, loud[0] - keep) * stats.hops_per_step
    last = min(len(steps), loud[-1] + 1 + keep) * stats.hops_per_step
    stop = total if last >= len(steps) * stats.hops_per_step else last
    return int(first), int(stop)


class _Encoder:
    """An ffmpeg process reading raw float32 on stdin and writing one file."""

    def __init__(self, argv: list[str], what: str) -> None:
        log.debug("argv: %s", argv)
        self.what = what
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._errors
        )
        assert self.proc.stdin is not None
        widen_pipe(self.proc.stdin.fileno())
        self._watchdog = Watchdog(self.proc, what=f"ffmpeg writing the {what}")

    def write(self, block: np.ndarray) -> None:
        assert self.proc.stdin is not None
        try:
            with self._watchdog.waiting():
                self.proc.stdin.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
        except BrokenPipeError:
            self.close()

    def abort(self) -> None:
        """The render stopped early (an error, a time limit): kill ffmpeg, keep nothing."""
        self._watchdog.close()
        stop(self.proc)
        if self.proc.stdin and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        self._errors.close()

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError), self._watchdog.waiting():
                self.proc.stdin.close()  # flushes what is buffered
        self._watchdog.close()
        if self._errors.closed:
            return  # closed already (a broken pipe), or aborted
        code = finish(self.proc, what=f"ffmpeg writing the {self.what}")
        self._watchdog.check()
        self._errors.seek(0)
        complaint = self._errors.read().decode("utf-8", "replace").strip()
        self._errors.close()
        if code != 0:
            raise SetupError(
                f"ffmpeg could not write the {self.what}: {complaint or f'exit {code}'}"
            )


def _input_args(rate_hz: int, channels: int) -> list[str]:
    return [
        *FFMPEG_QUIET,
        "-y",
        "-f",
        "f32le",
        "-ar",
        str(rate_hz),
        "-ac",
        str(channels),
        "-i",
        "-",
    ]


def _master_argv(layout: _Layout, settings: AudioSettings, out: Path) -> list[str]:
    codec = {16: "pcm_s16le", 24: "pcm_s24le", 32: "pcm_s32le"}[settings.master_bit_depth]
    # bitexact: no "Lavf" software tag; -map_metadata -1: nothing of the source's tags survives.
    return [
        *_input_args(layout.rate_hz, layout.master_channels),
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        "-c:a",
        codec,
        "-rf64",
        "auto",
        "-f",
        "wav",
        str(out),
    ]


def _podcast_argv(layout: _Layout, settings: AudioSettings, out: Path) -> list[str]:
    return [
        *_input_args(layout.rate_hz, layout.podcast_channels),
        "-af",
        f"aresample={settings.podcast_sample_rate_hz}:resampler=soxr:precision=28",
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        "-c:a",
        "libmp3lame",
        "-b:a",
        f"{settings.podcast_bitrate_kbps}k",
        "-id3v2_version",
        "0",
        "-write_xing",
        "1",
        "-f",
        "mp3",
        str(out),
    ]


def _quantise(block: np.ndarray, bits: int) -> np.ndarray:
    """Round to the output's integer grid as the WAV holds it (float32 holds 24 bits exactly)."""
    scale = float(1 << (bits - 1))
    return np.clip(np.round(block * scale), -scale, scale - 1) / scale


def _render(
    info: SourceInfo,
    layout: _Layout,
    settings: AudioSettings,
    master_plan: GainPlan | None,
    podcast_plan: GainPlan,
    master_out: Path,
    podcast_out: Path,
    *,
    on_progress: Callable[[float], None],
) -> tuple[Loudness, float, float]:
    """Second pass: apply the plans, encode, and meter the master's exact samples as written.

    Returns the master's loudness and the most the sample-level limiter turned the podcast and
    the master down (dB). With `master_plan` None only the podcast is rendered (a retry); the
    master figures returned are then meaningless.
    """
    start = podcast_plan.start_hop * podcast_plan.hop
    stop = podcast_plan.stop_hop * podcast_plan.hop
    encoders = [_Encoder(_podcast_argv(layout, settings, podcast_out), "podcast MP3")]
    meter = None
    if master_plan is not None:
        encoders.append(_Encoder(_master_argv(layout, settings, master_out), "broadcast master"))
        meter = LoudnessMeter(rate_hz=layout.rate_hz, channels=layout.master_channels)
    outputs = [_Output(podcast_plan, encoders[0], None, None, layout)]
    if master_plan is not None:
        outputs.append(_Output(master_plan, encoders[1], meter, settings.master_bit_depth, layout))
    position = 0
    try:
        for block in _blocks(info, layout, settings):
            first, position = position, position + len(block)
            lo, hi = max(start, first), min(stop, position)
            if hi > lo:
                kept = block[lo - first : hi - first].astype(np.float64)
                for output in outputs:
                    output.write(kept, lo)
            on_progress(position / layout.rate_hz)
        for output in outputs:
            output.finish()
    except BaseException:
        for encoder in encoders:
            encoder.abort()
        raise
    for encoder in encoders:
        encoder.close()
    master_loudness = meter.finish().loudness() if meter else podcast_plan.predicted
    peaks = [output.limiter.max_reduction_db if output.limiter else 0.0 for output in outputs]
    return master_loudness, peaks[0], peaks[-1] if len(peaks) > 1 else 0.0


class _Output:
    """One output's chain in the render pass: planned gain, peak limiter, quantiser, encoder."""

    def __init__(
        self,
        gain_plan: GainPlan,
        encoder: _Encoder,
        meter: LoudnessMeter | None,
        bits: int | None,
        layout: _Layout,
    ) -> None:
        self.plan = gain_plan
        self.encoder = encoder
        self.meter = meter
        self.bits = bits
        self.is_master = meter is not None
        self.layout = layout
        channels = layout.master_channels if self.is_master else layout.podcast_channels
        self.limiter = (
            PeakLimiter(
                rate_hz=layout.rate_hz, channels=channels, ceiling_dbtp=gain_plan.peak_ceiling_dbtp
            )
            if gain_plan.peak_ceiling_dbtp is not None
            else None
        )

    def write(self, kept: np.ndarray, first_frame: int) -> None:
        view = kept if self.is_master else self.layout.podcast_view(kept)
        out = self.plan.apply(view, first_frame)
        if self.limiter is not None:
            quiet = not self.plan.reaches_ceiling(first_frame, len(view))
            out = self.limiter.feed(out, below_ceiling=quiet)
        self._emit(out)

    def finish(self) -> None:
        if self.limiter is not None:
            self._emit(self.limiter.finish())

    def _emit(self, out: np.ndarray) -> None:
        if not len(out):
            return
        if self.bits is not None and self.is_master:
            out = _quantise(out, self.bits)
        if self.meter is not None:
            self.meter.feed(out)
        self.encoder.write(out)


def _verify_podcast(
    info: SourceInfo,
    layout: _Layout,
    settings: AudioSettings,
    stats: HopStats,
    excerpts: tuple[Excerpt, ...],
    first_plan: GainPlan,
    mp3: Path,
    *,
    target: float,
) -> tuple[Loudness, GainPlan, float | None]:
    """Measure the encoded MP3; render it again, correcting the measured error, if it missed.

    Returns the measurement, the plan of the MP3 kept, and its sample-level limiting when it was
    rendered again (None when the first render stood).
    """
    current = first_plan
    peak_db: float | None = None
    ceiling = settings.podcast_true_peak_dbtp
    aim, limit = target + MP3_LOSS_LU, ceiling - PODCAST_HEADROOM_DB
    measured = measure(mp3)
    for attempt in range(2, MAX_RENDERS + 1):
        off_target = abs(measured.integrated_lufs - target) > RETRY_ABOVE_LU
        over = measured.true_peak_dbtp > ceiling
        if not off_target and not over:
            break
        log.info(
            "%s: podcast MP3 measured %.2f LUFS / %.2f dBTP; rendering again (attempt %d)",
            info.path.name,
            measured.integrated_lufs,
            measured.true_peak_dbtp,
            attempt,
        )
        aim += target - measured.integrated_lufs
        if over:
            limit -= measured.true_peak_dbtp - ceiling + 0.2
        current = plan(
            stats,
            target_lufs=aim,
            ceiling_dbtp=limit,
            excerpts=excerpts,
            start_hop=first_plan.start_hop,
            stop_hop=first_plan.stop_hop,
            level_db=first_plan.level_db,
        )
        _master, peak_db, _unused = _render(
            info, layout, settings, None, current, mp3, mp3, on_progress=lambda _s: None
        )
        measured = measure(mp3)
    if abs(measured.integrated_lufs - target) > 0.5 or measured.true_peak_dbtp > ceiling:
        log.warning(
            "%s: podcast MP3 measures %.2f LUFS / %.2f dBTP against %.1f LUFS / %.1f dBTP",
            info.path.name,
            measured.integrated_lufs,
            measured.true_peak_dbtp,
            target,
            ceiling,
        )
    return measured, current, peak_db


def _check_master(source: Path, settings: AudioSettings, master: Loudness, target: float) -> None:
    if abs(master.integrated_lufs - target) > 0.5 or (
        master.true_peak_dbtp > settings.master_true_peak_dbtp
    ):
        log.warning(
            "%s: master measures %.2f LUFS / %.2f dBTP against %.1f LUFS / %.1f dBTP",
            source.name,
            master.integrated_lufs,
            master.true_peak_dbtp,
            target,
            settings.master_true_peak_dbtp,
        )


def _temp_name(out_dir: Path, name: str) -> Path:
    # A dot name with .partial: never mistaken for a finished file, by people or by the cache check.
    return out_dir / f".{name}.{os.getpid()}.partial"
