"""Clean ID3 tags for published MP3s.

A recorder or phone writes its own tags: GPS position, device model, owner name. Published, a GPS
tag can expose a source, so we never edit tags: we delete every tag the file has (ID3v2, ID3v1,
APEv2) and write a fresh ID3v2.3 with only what a listener needs.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mutagen.apev2 import delete as delete_ape
from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TPOS, TRCK, PictureType
from mutagen.id3 import delete as delete_id3

from fieldreports.errors import ReportError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioTags:
    """What a published MP3 says about itself (ID3)."""

    title: str
    show: str
    artist: str = ""
    episode: int | None = None
    season: int | None = None
    year: int | None = None
    artwork: Path | None = None


def write_tags(mp3: Path, tags: AudioTags) -> None:
    """Replace every tag in `mp3` with clean ID3 metadata (no GPS, device or owner tags survive).

    The file is rewritten under a temporary name and renamed, so a crash leaves the old file.
    """
    temp = mp3.with_name(f".{mp3.name}.{os.getpid()}.tagging")
    try:
        shutil.copyfile(mp3, temp)
        delete_id3(str(temp), delete_v1=True, delete_v2=True)
        delete_ape(str(temp))
        id3 = ID3()
        id3.add(TIT2(encoding=3, text=tags.title))
        id3.add(TALB(encoding=3, text=tags.show))
        id3.add(TCON(encoding=3, text="Podcast"))
        if tags.artist:
            id3.add(TPE1(encoding=3, text=tags.artist))
            id3.add(TPE2(encoding=3, text=tags.artist))
        if tags.episode is not None:
            id3.add(TRCK(encoding=3, text=str(tags.episode)))
        if tags.season is not None:
            id3.add(TPOS(encoding=3, text=str(tags.season)))
        if tags.year is not None:
            id3.add(TDRC(encoding=3, text=str(tags.year)))
        if tags.artwork is not None:
            mime, data = _artwork(tags.artwork)
            id3.add(
                APIC(encoding=3, mime=mime, type=PictureType.COVER_FRONT, desc="Cover", data=data)
            )
        # v2.3 with v1 off: what podcast apps and car stereos read most reliably.
        id3.save(str(temp), v1=0, v2_version=3)
        os.replace(temp, mp3)
    except OSError as exc:
        raise ReportError(f"cannot write tags: {exc.strerror or exc}", path=mp3) from exc
    finally:
        temp.unlink(missing_ok=True)


def _artwork(path: Path) -> tuple[str, bytes]:
    """JPEG or PNG bytes as they are; anything else Pillow reads is converted to JPEG."""
    data = path.read_bytes()
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", data
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", data
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=90)
    except OSError as exc:
        raise ReportError(
            f"artwork {path.name} is not an image Pillow can read", path=path
        ) from exc
    return "image/jpeg", out.getvalue()
