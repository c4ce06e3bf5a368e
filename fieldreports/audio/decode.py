"""Read any recording ffmpeg can read, decided by its content, as a stream of float blocks.

Three steps, each able to refuse a file with a plain reason (a ReportError):

1. `sniff` reads the first bytes: an empty file, a JPEG or a PDF is named for what it is, whatever
   its extension says, and a WAV whose header promises more data than the file holds is truncated.
2. `probe` asks ffprobe (as JSON, with a deadline) for the first audio stream: codec, rate,
   channels, duration.
3. `stream` pipes ffmpeg's decoded output (32-bit float, a fixed rate and channel count) block by
   block, so memory stays flat at any length; when it ends well short of the duration the container
   promised, the file was cut off and we say where. A decoder that stalls, or outlives a stage
   stopped early, is killed (`fieldreports.tools`).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fieldreports.errors import ReportError, SetupError
from fieldreports.times import format_duration
from fieldreports.tools import Watchdog, finish, run_tool, stop

log = logging.getLogger(__name__)

# Magic numbers of things people upload by mistake, and of the audio containers we expect.
_NOT_AUDIO: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
)
_AUDIO_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"#!AMR-WB\n", "AMR-WB"),
    (b"#!AMR\n", "AMR"),
    (b"fLaC", "FLAC"),
    (b"OggS", "Ogg"),
    (b"ID3", "MP3"),
    (b"RIFF", "WAV"),
    (b"FORM", "AIFF"),
    (b"caff", "CAF"),
)
# How far short of its stated duration a decode may end before we call the file truncated:
# encoder padding and estimated durations differ by a fraction of a second, a cut file by far more.
_TRUNCATION_SLACK_S = 0.5
_TRUNCATION_SLACK_FRACTION = 0.03


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceInfo:
    """What a recording is, by content: container, codec, rate, channels and stated duration."""

    path: Path
    kind: str
    format_name: str
    codec: str
    sample_rate_hz: int
    channels: int
    channel_layout: str
    duration_s: float
    size_bytes: int


def require_ffmpeg() -> None:
    """SetupError naming the missing program when ffmpeg or ffprobe are not installed."""
    for program in ("ffmpeg", "ffprobe"):
        if shutil.which(program) is None:
            raise SetupError(
                f"{program} not found: install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; "
                "macOS: brew install ffmpeg)."
            )


def sniff(path: Path) -> str:
    """Name the kind of file from its first bytes; raise ReportError for empty or non-audio files.

    Returns a short name ("MP3", "WAV", "MP4/M4A", ...) or "" when the bytes say nothing definite,
    in which case ffprobe decides.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise ReportError(f"cannot read the recording: {exc.strerror}", path=path) from exc
    if size == 0:
        raise ReportError("the recording is empty (0 bytes); upload it again", path=path)
    for magic, name in _NOT_AUDIO:
        if head.startswith(magic):
            raise ReportError(f"not audio: looks like {name}", path=path)
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        raise ReportError("not audio: looks like a web page (HTML)", path=path)
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xfa"):
        return "MP3"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "AAC"
    for magic, name in _AUDIO_MAGIC:
        if head.startswith(magic):
            if name == "WAV":
                _check_wav(path, size)
            if name == "Ogg":
                _check_ogg(path, size)
            return name
    if _looks_like_text(head):
        raise ReportError("not audio: looks like a text file", path=path)
    return ""


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _check_wav(path: Path, size: int) -> None:
    """A WAV whose data chunk claims more bytes than the file holds was cut off mid-write."""
    with path.open("rb") as handle:
        header = handle.read(1 << 16)
    if header[8:12] != b"WAVE":
        return
    offset, rate, block_align = 12, 0, 0
    while offset + 8 <= len(header):
        chunk, length = (
            header[offset : offset + 4],
            int.from_bytes(header[offset + 4 : offset + 8], "little"),
        )
        if chunk == b"fmt ":
            rate = int.from_bytes(header[offset + 12 : offset + 16], "little")
            block_align = int.from_bytes(header[offset + 20 : offset + 22], "little")
        if chunk == b"data":
            available = size - (offset + 8)
            # 0 and 0xFFFFFFFF are what streaming writers put when they cannot seek back.
            if length not in (0, 0xFFFFFFFF) and available < length and rate and block_align:
                had, promised = available / block_align / rate, length / block_align / rate
                raise ReportError(
                    f"truncated WAV: the file stops at {format_duration(had)} of {format_duration(promised)}; "
                    "copy it from the recorder again",
                    path=path,
                )
            return
        offset += 8 + length + (length & 1)


def _check_ogg(path: Path, size: int) -> None:
    """An Ogg stream ends with a page flagged end-of-stream; a cut file has none."""
    with path.open("rb") as handle:
        handle.seek(max(0, size - 65536))
        tail = handle.read()
    last = tail.rfind(b"OggS")
    if last < 0 or last + 6 > len(tail):
        return
    if not tail[last + 5] & 0x04:
        raise ReportError(
            "truncated Ogg/Opus: the stream has no end (the file was cut off); send it again",
            path=path,
        )


def probe(path: Path, kind: str = "") -> SourceInfo:
    """The first audio stream of `path` as ffprobe sees it; ReportError if none."""
    argv = ["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams", str(path)]
    try:
        info = json.loads(run_tool(argv, path=path).stdout or "{}")
    except (ValueError, OSError) as exc:
        log.debug("ffprobe gave no JSON: %r", exc)
        info = {}
    streams = [s for s in info.get("streams", ()) if s.get("codec_type") == "audio"]
    fmt = info.get("format", {})
    if not fmt:
        complaint = _ffmpeg_complaint(path)
        reason = complaint.splitlines()[-1] if complaint else "no reason given"
        if "moov atom not found" in complaint:
            raise ReportError(
                "truncated or unfinished M4A/MP4: its index (moov atom) is missing, so the recorder "
                "or the upload stopped before the file was finished",
                path=path,
            )
        what = f"a {kind} file ffmpeg cannot read" if kind else "ffmpeg cannot read it"
        raise ReportError(f"not audio, or damaged: {what} ({reason})", path=path)
    if not streams:
        others = sorted({s.get("codec_type", "?") for s in info.get("streams", ())})
        has = f"only {', '.join(others)}" if others else "no streams"
        raise ReportError(
            f"not audio: the file has no sound ({has}; format {fmt.get('format_name')})", path=path
        )
    stream = streams[0]
    rate = int(stream.get("sample_rate") or 0)
    channels = int(stream.get("channels") or 0)
    if not rate or not channels:
        raise ReportError(
            f"unsupported audio: codec {stream.get('codec_name', '?')} with no sample rate or channels",
            path=path,
        )
    duration = _float(stream.get("duration")) or _float(fmt.get("duration"))
    return SourceInfo(
        path=path,
        kind=kind or str(fmt.get("format_name", "")),
        format_name=str(fmt.get("format_name", "")),
        codec=str(stream.get("codec_name", "")),
        sample_rate_hz=rate,
        channels=channels,
        channel_layout=str(stream.get("channel_layout", "")),
        duration_s=duration,
        size_bytes=path.stat().st_size,
    )


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _ffmpeg_complaint(path: Path) -> str:
    """ffprobe's own error lines, for the reason we give."""
    result = run_tool(["ffprobe", "-v", "error", "-show_format", str(path)], path=path)
    lines = [line.strip().replace(str(path) + ": ", "") for line in result.stderr.splitlines()]
    return "\n".join(line for line in lines if line)


def _duration_is_estimate(path: Path) -> bool:
    """Whether ffprobe only guessed the duration from the bit rate (it says so in a warning)."""
    argv = ["ffprobe", "-v", "warning", "-show_entries", "format=duration", str(path)]
    result = run_tool(argv, path=path)
    return "Estimating duration from bitrate" in result.stderr


def widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Give a pipe a 1 MiB buffer (Linux): with the default 64 KiB, ffmpeg and Python take turns
    waiting on each other instead of working at the same time on two cores."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass  # not Linux, or over the system's limit: the default buffer still works


# ffmpeg run as a pipe stage: no prompts, no banner, no progress, errors only (read by us).
FFMPEG_QUIET = ("ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error")


def decode_argv(
    path: Path | str, *, rate_hz: int, channels: int, filters: Sequence[str] = ()
) -> list[str]:
    """ffmpeg reading the first audio stream and writing raw float32 at a fixed rate and layout."""
    chain = [*filters, f"aresample={rate_hz}:resampler=soxr:precision=28"]
    return [
        *FFMPEG_QUIET,
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-af",
        ",".join(chain),
        "-ac",
        str(channels),
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "-",
    ]


def _amr_argv(info: SourceInfo) -> list[str] | None:
    """sox (with libopencore-amr) decoding AMR to WAV on stdout, or None to let ffmpeg do it.

    Phones send AMR with discontinuous transmission: in pauses they write short comfort-noise
    frames. ffmpeg's own AMR decoder cannot read those and drops them, so the pauses vanish and
    everything after them comes early; opencore decodes them.
    """
    types = {"amr_nb": "amr-nb", "amr_wb": "amr-wb"}
    if info.codec not in types or shutil.which("sox") is None:
        return None
    return [
        "sox",
        "-q",
        "-t",
        types[info.codec],
        str(info.path),
        "-t",
        "wav",
        "-e",
        "floating-point",
        "-b",
        "32",
        "-",
    ]


def stream(
    info: SourceInfo,
    *,
    rate_hz: int,
    channels: int,
    filters: Sequence[str] = (),
    block_frames: int = 48000,
) -> Iterator[np.ndarray]:
    """Decoded blocks of shape (block_frames, channels), float32; the last one may be shorter.

    Raises ReportError when ffmpeg fails outright or the decode ends well short of the stated
    duration ("truncated MP3: decoding stopped at 0:03 of 0:06").
    """
    front = _amr_argv(info)
    argv = decode_argv(
        "pipe:0" if front else info.path, rate_hz=rate_hz, channels=channels, filters=filters
    )
    log.debug("argv: %s", [*(front or []), *(["|"] if front else []), *argv])
    frame_bytes = 4 * channels
    frames = 0
    # stderr goes to a file, not a pipe: a chatty decoder must never block on a full pipe.
    with tempfile.TemporaryFile() as errors:
        first = subprocess.Popen(front, stdout=subprocess.PIPE, stderr=errors) if front else None
        proc = subprocess.Popen(
            argv, stdin=first.stdout if first else None, stdout=subprocess.PIPE, stderr=errors
        )
        if first is not None and first.stdout is not None:
            first.stdout.close()  # ffmpeg holds it now; sox sees a closed pipe if ffmpeg quits
        assert proc.stdout is not None
        widen_pipe(proc.stdout.fileno())
        watchdog = Watchdog(proc, what="ffmpeg decoding")
        try:
            buffer = bytearray(block_frames * frame_bytes)
            view = memoryview(buffer)
            while True:
                filled = 0
                while filled < len(buffer):
                    with watchdog.waiting():
                        got = proc.stdout.readinto(view[filled:])  # type: ignore[attr-defined]
                    if not got:
                        break
                    filled += got
                usable = filled - filled % frame_bytes
                if usable:
                    block = np.frombuffer(bytes(view[:usable]), dtype="<f4").reshape(-1, channels)
                    frames += len(block)
                    yield block
                if filled < len(buffer):
                    break
        except BaseException:
            # Stopped early (an error, a time limit, the reader gone): the decoders go too.
            stop(proc, first)
            raise
        finally:
            watchdog.close()
            proc.stdout.close()
        code = finish(proc, what="ffmpeg decoding")
        if first is not None:
            code = finish(first, what="sox decoding AMR") or code
        watchdog.check(info.path)
        errors.seek(0)
        complaint = errors.read().decode("utf-8", "replace").strip()
    decoded_s = frames / rate_hz
    if code != 0 and not frames:
        last = complaint.splitlines()[-1] if complaint else f"exit {code}"
        raise ReportError(f"ffmpeg cannot decode the {info.codec} audio: {last}", path=info.path)
    if complaint:
        log.warning(
            "%s: ffmpeg reported while decoding: %s", info.path.name, complaint.splitlines()[-1]
        )
    expected = info.duration_s
    if expected and decoded_s < expected * (1 - _TRUNCATION_SLACK_FRACTION) - _TRUNCATION_SLACK_S:
        known = ("MP3", "FLAC", "WAV", "AAC", "MP4/M4A", "Ogg", "AMR")
        kind = info.kind if info.kind in known else info.codec.upper()
        if not _duration_is_estimate(info.path):
            raise ReportError(
                f"truncated {kind}: decoding stopped at {format_duration(decoded_s)} of {format_duration(expected)}; "
                "copy it from the recorder again",
                path=info.path,
            )
        # A length guessed from the bit rate (raw AAC, AMR, MP3 without a Xing header) proves
        # nothing: such files are played as far as they go.
        log.info(
            "%s: decoded %s of an estimated %s",
            info.path.name,
            format_duration(decoded_s),
            format_duration(expected),
        )
    if not frames:
        raise ReportError("the recording is empty: it decodes to no sound at all", path=info.path)
