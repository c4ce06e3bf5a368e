"""Broadcast Wave Format (EBU Tech 3285 v2): the master as radio playout systems take it.

A BWF file is a RIFF/WAVE file with a `bext` chunk before the audio: who made it (Originator,
OriginatorReference), what it is (Description), when it was recorded (OriginationDate and
OriginationTime, and TimeReference, the first sample counted from midnight), how it was made
(CodingHistory, EBU R 98) and, since version 2, its loudness (EBU R 128 figures in hundredths:
-23.0 LUFS is stored as -2300; 0x7FFF where a figure is unknown). We add an `iXML` chunk (iXML
2.10) with the same facts in UTF-8 for systems that read that instead.

`write_bwf` copies only the audio of a finished master: the `data` bytes and the format, which is
written as plain `WAVE_FORMAT_PCM` (tag 1). ffmpeg writes 24-bit WAV as WAVE_FORMAT_EXTENSIBLE,
which several playout systems refuse, and nothing else of the source file (no LIST, no JUNK, no
recorder chunks) can reach the copy, since only `fmt ` and `data` are read from it. A master
over 4 GiB becomes RF64 (EBU Tech 3306) with a `ds64` chunk, as the ffmpeg master itself does.

Everything written here comes from the caller's `BroadcastInfo`; the episode stage fills it from
the public episode (the public place name, never coordinates).
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape

from anyascii import anyascii

from fieldreports.errors import ReportError

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# The GUID tail shared by the KSDATAFORMAT_SUBTYPE_* formats; PCM's starts with 01 00 00 00.
_PCM_SUBFORMAT = bytes.fromhex("0100000000001000800000aa00389b71")
BEXT_VERSION = 2
LOUDNESS_UNSET = 0x7FFF
# Tech 3285 field widths (characters).
DESCRIPTION_CHARS = 256
ORIGINATOR_CHARS = 32
REFERENCE_CHARS = 32
_BEXT_FIXED = struct.Struct("<256s32s32s10s8sIIH64s5h180s")  # 602 bytes before CodingHistory
_RIFF_LIMIT = 0xFFFFFFFF
_COPY_BYTES = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcastInfo:
    """What goes into the `bext` and `iXML` chunks. Loudness in LUFS / LU / dBTP, None unknown."""

    description: str
    originator: str
    originator_reference: str
    origination_date: str  # yyyy-mm-dd
    origination_time: str  # hh:mm:ss
    time_reference_samples: int = 0
    coding_history: str = ""
    loudness_lufs: float | None = None
    loudness_range_lu: float | None = None
    max_true_peak_dbtp: float | None = None
    max_momentary_lufs: float | None = None
    max_short_term_lufs: float | None = None
    # iXML only: UTF-8 text as typed, where bext holds its ASCII transliteration.
    title: str = ""
    project: str = ""
    scene: str = ""
    take: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PcmFormat:
    """The audio of a WAV file: its format and where its samples lie."""

    channels: int
    sample_rate_hz: int
    bits: int
    data_offset: int
    data_bytes: int

    @property
    def block_align(self) -> int:
        return self.channels * self.bits // 8

    @property
    def frames(self) -> int:
        return self.data_bytes // self.block_align


def ascii_field(text: str, chars: int) -> bytes:
    """Text as Tech 3285 wants it: ASCII, cut to the field, NUL-padded by the packer.

    >>> ascii_field("Röszke: at the fence", 12)
    b'Roszke: at t'
    """
    return anyascii(" ".join(text.split())).encode("ascii", "replace")[:chars]


def loudness_word(value: float | None) -> int:
    """A loudness figure as bext stores it: hundredths as a signed 16-bit word, 0x7FFF unknown.

    >>> loudness_word(-23.04), loudness_word(-1.005), loudness_word(None), loudness_word(-math.inf)
    (-2304, -100, 32767, 32767)
    """
    if value is None or not math.isfinite(value):
        return LOUDNESS_UNSET
    return max(-32768, min(32766, round(value * 100)))


def bext_chunk(info: BroadcastInfo) -> bytes:
    """The `bext` chunk's payload, version 2, padded to an even length."""
    time_reference = max(0, info.time_reference_samples)
    fixed = _BEXT_FIXED.pack(
        ascii_field(info.description, DESCRIPTION_CHARS),
        ascii_field(info.originator, ORIGINATOR_CHARS),
        ascii_field(info.originator_reference, REFERENCE_CHARS),
        info.origination_date.encode("ascii")[:10],
        info.origination_time.encode("ascii")[:8],
        time_reference & 0xFFFFFFFF,
        time_reference >> 32,
        BEXT_VERSION,
        b"",  # UMID: none (SMPTE 330M would need a registered organisation)
        *(
            loudness_word(v)
            for v in (
                info.loudness_lufs,
                info.loudness_range_lu,
                info.max_true_peak_dbtp,
                info.max_momentary_lufs,
                info.max_short_term_lufs,
            )
        ),
        b"",
    )
    history = anyascii(info.coding_history).encode("ascii", "replace")
    payload = fixed + history
    return payload + b"\0" * (len(payload) % 2)


def ixml_chunk(info: BroadcastInfo, fmt: PcmFormat) -> bytes:
    """The `iXML` chunk's payload: the same facts in UTF-8 XML (iXML 2.10)."""

    def tag(name: str, value: object) -> str:
        return f"<{name}>{escape(str(value))}</{name}>" if value != "" else ""

    tracks = "".join(
        f"<TRACK><CHANNEL_INDEX>{i}</CHANNEL_INDEX><INTERLEAVE_INDEX>{i}</INTERLEAVE_INDEX>"
        f"<NAME>{name}</NAME></TRACK>"
        for i, name in enumerate(("Mono",) if fmt.channels == 1 else ("Left", "Right"), start=1)
    )
    loudness = "".join(
        tag(name, f"{value:.2f}")
        for name, value in (
            ("LOUDNESS_VALUE", info.loudness_lufs),
            ("LOUDNESS_RANGE", info.loudness_range_lu),
            ("MAX_TRUE_PEAK_LEVEL", info.max_true_peak_dbtp),
            ("MAX_MOMENTARY_LOUDNESS", info.max_momentary_lufs),
            ("MAX_SHORT_TERM_LOUDNESS", info.max_short_term_lufs),
        )
        if value is not None and math.isfinite(value)
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<BWFXML><IXML_VERSION>2.10</IXML_VERSION>'
        + tag("PROJECT", info.project)
        + tag("SCENE", info.scene)
        + tag("TAKE", info.take)
        + tag("NOTE", info.title or info.description)
        + tag("FILE_UID", info.originator_reference)
        + "<SPEED>"
        + tag("FILE_SAMPLE_RATE", fmt.sample_rate_hz)
        + tag("AUDIO_BIT_DEPTH", fmt.bits)
        + "</SPEED>"
        + f"<TRACK_LIST><TRACK_COUNT>{fmt.channels}</TRACK_COUNT>{tracks}</TRACK_LIST>"
        + "<BEXT>"
        + tag("BWF_DESCRIPTION", info.description)
        + tag("BWF_ORIGINATOR", info.originator)
        + tag("BWF_ORIGINATOR_REFERENCE", info.originator_reference)
        + tag("BWF_ORIGINATION_DATE", info.origination_date)
        + tag("BWF_ORIGINATION_TIME", info.origination_time)
        + tag("BWF_TIME_REFERENCE_LOW", info.time_reference_samples & 0xFFFFFFFF)
        + tag("BWF_TIME_REFERENCE_HIGH", info.time_reference_samples >> 32)
        + tag("BWF_VERSION", BEXT_VERSION)
        + tag("BWF_CODING_HISTORY", info.coding_history)
        + (f"<BWF_LOUDNESS>{loudness}</BWF_LOUDNESS>" if loudness else "")
        + "</BEXT></BWFXML>\n"
    )
    payload = xml.encode("utf-8")
    return payload + b"\0" * (len(payload) % 2)


def _chunks(handle: BinaryIO, path: Path) -> Iterator[tuple[bytes, int, int]]:
    """(id, payload offset, payload size) of each chunk of a RIFF or RF64 WAVE file."""
    head = handle.read(12)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
        raise ReportError("the master is not a WAV file; run the normalise stage again", path=path)
    rf64 = head[:4] == b"RF64"
    end = os.fstat(handle.fileno()).st_size
    data_size_64: int | None = None
    offset = 12
    while offset + 8 <= end:
        handle.seek(offset)
        chunk_id, size = struct.unpack("<4sI", handle.read(8))
        if chunk_id == b"ds64":
            _riff, data_size_64 = struct.unpack("<QQ", handle.read(16))
        if rf64 and chunk_id == b"data" and size == _RIFF_LIMIT and data_size_64 is not None:
            size = data_size_64
        yield chunk_id, offset + 8, min(size, end - offset - 8)
        offset += 8 + size + (size & 1)


def read_format(path: Path) -> PcmFormat:
    """The PCM format and data position of a WAV master; ReportError for anything else."""
    with path.open("rb") as handle:
        fmt: tuple[int, int, int, int] | None = None
        for chunk_id, offset, size in _chunks(handle, path):
            if chunk_id == b"fmt ":
                handle.seek(offset)
                raw = handle.read(size)
                tag, channels, rate, _avg, _align, bits = struct.unpack("<HHIIHH", raw[:16])
                if tag == WAVE_FORMAT_EXTENSIBLE and len(raw) >= 40:
                    tag = WAVE_FORMAT_PCM if raw[24:40] == _PCM_SUBFORMAT else -1
                fmt = (tag, channels, rate, bits)
            elif chunk_id == b"data" and fmt is not None:
                tag, channels, rate, bits = fmt
                if tag != WAVE_FORMAT_PCM or bits % 8 or channels < 1:
                    raise ReportError(
                        f"the master is not integer PCM (format {tag}, {bits} bits)", path=path
                    )
                return PcmFormat(
                    channels=channels,
                    sample_rate_hz=rate,
                    bits=bits,
                    data_offset=offset,
                    data_bytes=size,
                )
    raise ReportError("the master has no fmt and data chunks; normalise it again", path=path)


def write_bwf(
    source: Path, out: Path, info: BroadcastInfo, *, rf64_above: int = _RIFF_LIMIT
) -> tuple[str, int]:
    """Write `out`: `source`'s samples as plain PCM with `bext` and `iXML` chunks.

    Returns the new file's SHA-256 and size, taken while writing. `out` appears whole (written
    under a temporary name, then renamed). `rf64_above` is the RIFF size limit (tests lower it).
    """
    fmt = read_format(source)
    bext, ixml = bext_chunk(info), ixml_chunk(info, fmt)
    fmt_payload = struct.pack(
        "<HHIIHH",
        WAVE_FORMAT_PCM,
        fmt.channels,
        fmt.sample_rate_hz,
        fmt.sample_rate_hz * fmt.block_align,
        fmt.block_align,
        fmt.bits,
    )
    pad = fmt.data_bytes & 1
    body = [(b"fmt ", fmt_payload), (b"bext", bext), (b"iXML", ixml)]
    riff_size = 4 + sum(8 + len(p) for _, p in body) + 8 + fmt.data_bytes + pad
    rf64 = riff_size + 8 > rf64_above or fmt.data_bytes > rf64_above
    digest = hashlib.sha256()
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with tmp.open("wb") as dst, source.open("rb") as src:

            def put(data: bytes) -> None:
                dst.write(data)
                digest.update(data)

            if rf64:
                riff_size += 8 + 28  # the ds64 chunk
                put(b"RF64" + struct.pack("<I", _RIFF_LIMIT) + b"WAVE")
                put(b"ds64" + struct.pack("<IQQQI", 28, riff_size, fmt.data_bytes, fmt.frames, 0))
            else:
                put(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE")
            for chunk_id, payload in body:
                put(chunk_id + struct.pack("<I", len(payload)) + payload)
            put(b"data" + struct.pack("<I", _RIFF_LIMIT if rf64 else fmt.data_bytes))
            src.seek(fmt.data_offset)
            remaining = fmt.data_bytes
            while remaining:
                block = src.read(min(_COPY_BYTES, remaining))
                if not block:
                    raise ReportError("the master ends before its data chunk does", path=source)
                put(block)
                remaining -= len(block)
            if pad:
                put(b"\0")
        size = tmp.stat().st_size
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest(), size
