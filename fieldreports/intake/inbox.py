"""discover: pair each recording in the inbox with its notes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.digest import file_sha256
from fieldreports.errors import ReportError
from fieldreports.intake.notes import Notes, read_notes
from fieldreports.naming import slugify

log = logging.getLogger(__name__)

NOTES_SUFFIX = ".md"
# Files that are never recordings: what upload clients and editors leave behind while they work,
# and what reporters keep beside a recording (photos, documents, system files). Anything else is
# tried as audio, whatever its extension: recorders and phones use many.
_IGNORED_SUFFIXES = {
    ".part", ".partial", ".tmp", ".crdownload", ".download", ".swp", ".bak",
    ".gpx", ".kml", ".kmz", ".txt", ".json", ".csv", ".toml", ".yaml", ".yml", ".reason",
    ".jpg", ".jpeg", ".png", ".heic", ".heif", ".gif", ".webp", ".tif", ".tiff", ".bmp",
    ".pdf", ".doc", ".docx", ".odt", ".rtf", ".html", ".htm", ".zip",
    ".db", ".ini", ".ds_store", ".lnk",
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldReport:
    """One recording with its notes. `id` is the file stem's slug: the report's lasting identity."""

    id: str
    # Where the files are does not change what a stage makes of them: their content does.
    audio_path: Path = field(metadata=NOT_IN_KEY)
    notes_path: Path | None = field(metadata=NOT_IN_KEY)
    notes: Notes
    audio_sha256: str
    size_bytes: int
    warnings: tuple[str, ...] = field(default=(), metadata=NOT_IN_KEY)


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A report that failed a stage, and why, in words a reporter can act on."""

    report_id: str
    path: Path
    stage: str
    reason: str
    # True only when the recording itself cannot be used (undecodable, not audio): it is then
    # moved to quarantine/. A show-wide problem or a bug never moves a reporter's file.
    set_aside: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovery:
    reports: tuple[FieldReport, ...]
    failures: tuple[Failure, ...]
    warnings: tuple[str, ...] = ()


def discover(
    inbox: Path, *, hash_file: Callable[[Path], tuple[str, int]] = file_sha256
) -> Discovery:
    """Find every recording in `inbox`, read its notes, and hash its audio with `hash_file`
    (which may remember the hashes of files it has seen unchanged: `digest.remembered`).

    A recording without notes gets a title from its file name and a warning; notes that cannot
    be read make that report a Failure while the others go on.
    """
    if not inbox.is_dir():
        return Discovery(reports=(), failures=(), warnings=(f"no inbox folder at {inbox}",))
    files = sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))
    # Case-insensitive: "Harbour.md" beside "harbour.wav" must not lose its notes (and with them
    # a `sensitive: true`) on a phone or a Windows share that changed the case.
    notes_by_stem = {p.stem.lower(): p for p in files if p.suffix.lower() == NOTES_SUFFIX}
    recordings = [
        p
        for p in files
        if p.suffix.lower() != NOTES_SUFFIX and p.suffix.lower() not in _IGNORED_SUFFIXES
    ]
    reports: list[FieldReport] = []
    failures: list[Failure] = []
    warnings: list[str] = []
    by_id: dict[str, list[Path]] = {}
    for audio in recordings:
        by_id.setdefault(slugify(audio.stem), []).append(audio)
    for report_id, clashing in by_id.items():
        if len(clashing) > 1:
            # Neither goes ahead: which recording the notes describe is the reporter's call.
            names = " and ".join(p.name for p in clashing)
            failures.append(
                Failure(
                    report_id=report_id,
                    path=clashing[0],
                    stage="discover",
                    reason=f"{len(clashing)} recordings share the name {report_id!r} ({names}); "
                    "rename all but one, with their notes.",
                )
            )
            continue
        (audio,) = clashing
        try:
            reports.append(
                _read_report(audio, notes_by_stem.get(audio.stem.lower()), report_id, hash_file)
            )
        except ReportError as exc:
            failures.append(
                Failure(
                    report_id=report_id,
                    path=exc.path or audio,
                    stage="discover",
                    reason=exc.message,
                )
            )
    stems = {p.stem.lower() for p in recordings}
    for stem, notes in notes_by_stem.items():
        if stem not in stems:
            warnings.append(f"{notes.name}: notes without a recording (is the upload finished?)")
    return Discovery(reports=tuple(reports), failures=tuple(failures), warnings=tuple(warnings))


def _read_report(
    audio: Path,
    notes_path: Path | None,
    report_id: str,
    hash_file: Callable[[Path], tuple[str, int]],
) -> FieldReport:
    warnings: tuple[str, ...] = ()
    default_title = audio.stem.replace("_", " ").replace("-", " ").strip().capitalize()
    if notes_path is None:
        notes = Notes(title=default_title)
        warnings = (
            f"{audio.name}: no notes file {audio.stem}{NOTES_SUFFIX}; titled {default_title!r}",
        )
        log.warning(warnings[0])
    else:
        notes = read_notes(notes_path, default_title=default_title)
    digest, size = hash_file(audio)
    if size == 0:
        raise ReportError("the recording is empty (0 bytes); upload it again.", path=audio)
    return FieldReport(
        id=report_id,
        audio_path=audio,
        notes_path=notes_path,
        notes=notes,
        audio_sha256=digest,
        size_bytes=size,
        warnings=warnings,
    )
