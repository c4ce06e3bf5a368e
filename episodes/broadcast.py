"""The broadcast master's BWF chunks, from the public episode only.

`broadcast_info` takes an `Episode`, which has no field for the exact point, the report id or the
original file name, so what the master says of a report can be no more than what the feed says:
the title, the public place, the recording's date and time, the show. The mastering facts
(formats, rates, where silence was trimmed) come as plain numbers and short codec names.
"""

from __future__ import annotations

import hashlib
import re

from episodes.episode import Episode
from episodes.numbering import number_label
from fieldreports import __version__
from fieldreports.audio.bwf import BroadcastInfo, PcmFormat
from fieldreports.audio.results import MasteredAudio

# EBU R 98 coding-algorithm names for the codecs field recordings arrive in.
_R98_CODECS = {"mp3": "MPEG1L3", "mp2": "MPEG1L2", "aac": "AAC", "flac": "FLAC", "opus": "OPUS"}
_MODES = {1: "mono", 2: "stereo"}


def originator_reference(guid: str) -> str:
    """A 32-character reference that names the episode for good: the hex of its GUID's UUID.

    >>> originator_reference("urn:uuid:00000000-0000-5000-8000-000000000001")
    '00000000000050008000000000000001'
    >>> len(originator_reference("https://example.org/ep/1"))
    32
    """
    hexdigits = re.sub(r"[^0-9a-f]", "", guid.lower().removeprefix("urn:uuid:"))
    if len(hexdigits) == 32:
        return hexdigits
    return hashlib.sha256(guid.encode("utf-8")).hexdigest()[:32]


def describe(episode: Episode) -> str:
    """What a playout list shows: the title, the public place and the day of recording."""
    when = episode.recorded_at or episode.published_at
    where = episode.location.name if episode.location else ""
    said = ", ".join(p for p in (where, f"{when.day} {when:%B %Y}") if p)
    return f"{episode.title} ({said})"


def coding_history(mastered: MasteredAudio, fmt: PcmFormat) -> str:
    """EBU R 98 lines: the recording as it arrived, then the master fieldreports made of it.

    >>> from fieldreports.audio.results import Loudness, MasteredAudio
    >>> from pathlib import Path
    >>> loud = Loudness(integrated_lufs=-23.0, true_peak_dbtp=-1.2, range_lu=4.0)
    >>> m = MasteredAudio(source=Path("x"), source_sha256="", duration_s=1.0,
    ...     podcast_mp3=Path("p"), master_wav=Path("m"), before=loud, podcast=loud, master=loud,
    ...     podcast_gain_db=0.0, master_gain_db=0.0, source_format="mp4 (aac)",
    ...     source_sample_rate_hz=44100, source_channels=2)
    >>> fmt = PcmFormat(channels=1, sample_rate_hz=48000, bits=24, data_offset=0, data_bytes=0)
    >>> for line in coding_history(m, fmt).splitlines(): print(line)
    A=AAC,F=44100,M=stereo,T=field recording
    A=PCM,F=48000,W=24,M=mono,T=fieldreports 0.1.0; EBU R 128 -23.0 LUFS
    """
    lines = []
    if mastered.source_sample_rate_hz:
        codec = mastered.source_format.rsplit("(", 1)[-1].rstrip(")").strip()
        name = "PCM" if codec.startswith("pcm_") else _R98_CODECS.get(codec, codec.upper())
        bits = re.search(r"pcm_[su](\d+)", codec)
        fields = [f"A={name}", f"F={mastered.source_sample_rate_hz}"]
        if bits:
            fields.append(f"W={bits.group(1)}")
        mode = _MODES.get(mastered.source_channels, f"{mastered.source_channels}ch")
        lines.append(",".join([*fields, f"M={mode}", "T=field recording"]))
    lines.append(
        f"A=PCM,F={fmt.sample_rate_hz},W={fmt.bits},M={_MODES.get(fmt.channels, 'multi')},"
        f"T=fieldreports {__version__}; EBU R 128 {mastered.master.integrated_lufs:.1f} LUFS"
    )
    return "".join(line + "\r\n" for line in lines)


def broadcast_info(
    episode: Episode, *, show_title: str, mastered: MasteredAudio, fmt: PcmFormat
) -> BroadcastInfo:
    """The bext/iXML facts of one episode's master: public text, the recording's time."""
    when = episode.recorded_at or episode.published_at
    # TimeReference counts samples from midnight to the master's first sample: the recording's
    # start, plus the silence trimmed off its head.
    since_midnight_s = (
        when - when.replace(hour=0, minute=0, second=0, microsecond=0)
    ).total_seconds()
    if episode.recorded_at is not None:
        since_midnight_s += mastered.trimmed_start_s
    loudness = mastered.master
    return BroadcastInfo(
        description=describe(episode),
        originator=show_title,
        originator_reference=originator_reference(episode.guid),
        origination_date=f"{when:%Y-%m-%d}",
        origination_time=f"{when:%H:%M:%S}",
        time_reference_samples=round(since_midnight_s * fmt.sample_rate_hz),
        coding_history=coding_history(mastered, fmt),
        loudness_lufs=loudness.integrated_lufs,
        loudness_range_lu=loudness.range_lu,
        max_true_peak_dbtp=loudness.true_peak_dbtp,
        max_momentary_lufs=loudness.max_momentary_lufs,
        max_short_term_lufs=loudness.max_short_term_lufs,
        title=episode.title,
        project=show_title,
        scene=episode.journey,
        take=number_label(episode.season, episode.number),
    )
