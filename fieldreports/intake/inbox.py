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
UNTITLED = "Untitled report"
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

    A recording without notes is published as "Untitled report" with a warning; notes that
    cannot be read make that report a Failure while the others go on.
    """
    if not inbox.is_dir():
        return Discovery(reports=(), failures=(), warnings=(f"no inbox folder at {inbox}",))
    files = sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))
    # Notes pair with their recording by the report id, the same normalised name that
    # identifies the report: "Harbour Talk.m4a" and "harbour-talk.md" are one report. Pairing by
    # any stricter rule would publish a recording as if it had no notes, and so without the
    # `sensitive: true` they carry.
    notes_by_id: dict[str, list[Path]] = {}
    for path in files:
        if file_kind(path) == "notes":
            notes_by_id.setdefault(report_id_of(path), []).append(path)
    recordings_by_id: dict[str, list[Path]] = {}
    for path in files:
        if file_kind(path) == "recording":
            recordings_by_id.setdefault(report_id_of(path), []).append(path)
    reports: list[FieldReport] = []
    failures: list[Failure] = []
    for report_id, recordings in recordings_by_id.items():
        notes = notes_by_id.get(report_id, [])
        # Which recording, or which notes, a report is, is the reporter's call: neither goes ahead.
        clash = recordings if len(recordings) > 1 else notes if len(notes) > 1 else []
        if clash:
            names = " and ".join(p.name for p in clash)
            failures.append(
                Failure(
                    report_id=report_id,
                    path=clash[0],
                    stage="discover",
                    reason=f"{len(clash)} files share the name {report_id!r} ({names}); "
                    "rename all but one, with their notes.",
                )
            )
            continue
        try:
            reports.append(
                _read_report(recordings[0], notes[0] if notes else None, report_id, hash_file)
            )
        except ReportError as exc:
            failures.append(
                Failure(
                    report_id=report_id,
                    path=exc.path or recordings[0],
                    stage="discover",
                    reason=exc.message,
                )
            )
    warnings = [
        f"{notes[0].name}: notes without a recording (is the upload finished?)"
        for report_id, notes in notes_by_id.items()
        if report_id not in recordings_by_id
    ]
    return Discovery(reports=tuple(reports), failures=tuple(failures), warnings=tuple(warnings))


def file_kind(path: Path) -> str:
    """What an inbox file is to `discover`: "notes", "recording" or "other" (ignored).

    >>> file_kind(Path("a.md")), file_kind(Path("a.M4A")), file_kind(Path("a.jpg"))
    ('notes', 'recording', 'other')
    >>> file_kind(Path(".a.wav"))
    'other'
    """
    suffix = path.suffix.lower()
    if path.name.startswith("."):
        return "other"
    if suffix == NOTES_SUFFIX:
        return "notes"
    return "other" if suffix in _IGNORED_SUFFIXES else "recording"


def report_id_of(path: Path) -> str:
    """The report a file belongs to: its name without the suffix, as a slug.

    >>> report_id_of(Path("Harbour Talk.m4a")) == report_id_of(Path("harbour-talk.md"))
    True
    """
    return slugify(path.stem)


def _read_report(
    audio: Path,
    notes_path: Path | None,
    report_id: str,
    hash_file: Callable[[Path], tuple[str, int]],
) -> FieldReport:
    warnings: tuple[str, ...] = ()
    if notes_path is None:
        # Nothing of the file name is published: it may name the place ("Via Roma 12
        # safehouse.m4a"). Without notes the report is also treated as sensitive (geo).
        notes = Notes(title=UNTITLED)
        warnings = (
            f"{audio.name}: no notes file {audio.stem}{NOTES_SUFFIX}; published as "
            f'"{UNTITLED}" with only an approximate place until its notes arrive',
        )
        log.warning(warnings[0])
    else:
        notes = read_notes(notes_path, default_title=UNTITLED)
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
