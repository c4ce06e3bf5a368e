"""Quarantine: a recording that cannot be used is moved aside, with its reason beside it."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

from fieldreports.intake.inbox import Failure, FieldReport

log = logging.getLogger(__name__)


def set_aside(report: FieldReport, failure: Failure, quarantine_dir: Path) -> Failure:
    """Move a recording that cannot be used to `quarantine_dir`, the reason in a file beside it.

    Only the recording moves: its notes stay in the inbox, so a good copy of the recording
    dropped in again pairs with them (and their `sensitive: true`) at once. A file that grew
    while it was read is still being copied: it stays for the next run. A failure that is not
    about the recording itself (`set_aside` false) moves nothing.
    """
    if not failure.set_aside:
        return failure
    audio = report.audio_path
    if audio.exists() and audio.stat().st_size != report.size_bytes:
        return dataclasses.replace(
            failure,
            set_aside=False,
            reason="the file changed while it was read (is it still being copied?); "
            "it is tried again on the next run",
        )
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    # A free name, so an earlier quarantined file of the same name is kept.
    moved, n = quarantine_dir / audio.name, 2
    while moved.exists():
        moved, n = quarantine_dir / f"{audio.stem}-{n}{audio.suffix}", n + 1
    shutil.move(str(audio), moved)
    (quarantine_dir / f"{moved.name}.reason.txt").write_text(
        f"{failure.reason}\n", encoding="utf-8"
    )
    log.warning("%s set aside as %s: %s", audio.name, moved, failure.reason)
    return dataclasses.replace(
        failure,
        path=moved,
        reason=failure.reason + f" (moved to {quarantine_dir.name}/{moved.name})",
    )


def quarantined(quarantine_dir: Path) -> tuple[tuple[str, str], ...]:
    """(file name, reason) of every recording in quarantine, for `status`."""
    if not quarantine_dir.is_dir():
        return ()
    return tuple(
        (
            reason.name.removesuffix(".reason.txt"),
            reason.read_text(encoding="utf-8").strip(),
        )
        for reason in sorted(quarantine_dir.glob("*.reason.txt"))
    )
