"""Uploads on disk: where the bytes of an unfinished upload wait, and how a finished one lands.

Everything lives in the hidden `inbox/.uploads/`, so `discover()` never sees half a file:

    <id>.part        the bytes so far; their count is the upload's offset (the disk is the truth)
    <id>.json        the upload's record: name, length, sender, the client's metadata, state
    conflicts/       a finished upload whose name another file took meanwhile, kept for a human
    received/        one JSON per file that landed: who sent it, when, its SHA-256 (kept for good)

A finished upload is fsynced and renamed into `inbox/` whole, once: bytes already in the inbox
under any name are not added again, and a different file is never written over another one
unless the client asked to `replace` it (edited notes). Its record stays, marked finished, for
the expiration period, so a client that lost the last reply asks again and hears "complete".

This module is synchronous and not thread-safe: the server (`tus.py`) serialises access.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fieldreports.config import UploadSettings
from fieldreports.digest import file_sha256
from fieldreports.errors import FieldReportsError
from fieldreports.intake.identity import Identity
from fieldreports.intake.inbox import report_id_of
from fieldreports.naming import slugify

log = logging.getLogger(__name__)

STATE_DIR = ".uploads"
_ID = re.compile(r"[0-9a-f]{32}")
MAX_NAME_CHARS = 255  # what file systems allow; a longer client name is refused, not cut
_STEM_CHARS = 120  # a transliterated name grows ("щ" is "shch"); keep it under the 255-byte limit
SNIFF_BYTES = 64  # enough of a file's start to tell its type
DESK = ""  # `owner_of` a report that came into the inbox without an upload

# Content types a phone or browser may send as `filetype`, and the suffix they get in the inbox.
_SUFFIX_BY_TYPE = {
    "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a",
    "audio/m4a": ".m4a", "audio/aac": ".aac", "audio/ogg": ".ogg", "audio/opus": ".opus",
    "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/vnd.wave": ".wav",
    "audio/flac": ".flac", "audio/x-flac": ".flac", "audio/amr": ".amr", "audio/3gpp": ".3gp",
    "audio/webm": ".webm", "audio/x-caf": ".caf", "video/mp4": ".mp4", "video/webm": ".webm",
    "video/3gpp": ".3gp", "text/markdown": ".md", "text/x-markdown": ".md",
    "application/gpx+xml": ".gpx",
}  # fmt: skip


class TusError(FieldReportsError):
    """A request the server refuses: `status` is the HTTP answer, the message says what to do."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True, kw_only=True)
class Upload:
    """One upload's record. Its offset is not here: it is the size of `<id>.part`."""

    id: str
    name: str  # the inbox file name; "" while only the first bytes can tell the suffix
    stem: str  # the client's name without a suffix, for when the suffix comes from the bytes
    length: int | None  # None: the client sends the length later (creation-defer-length)
    sender: Identity
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    raw_metadata: str = ""  # the Upload-Metadata header as sent, echoed by HEAD
    fingerprint: str = ""  # the client's SHA-256 of the whole file, when it sent one
    replace: bool = False  # overwrite a file of the same name (edited notes)
    partial: bool = False  # a part of a parallel upload: never lands, only concatenated
    state: str = "receiving"  # "receiving", "finished", "conflict"
    landed_as: str = ""  # the inbox file that holds these bytes, once finished
    created_at: str = ""

    @property
    def finished(self) -> bool:
        return self.state == "finished"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletedUpload:
    """A file that has just landed in the inbox, and who sent it (for `on_complete`)."""

    path: Path
    sender: Identity
    metadata: Mapping[str, str]
    sha256: str
    size_bytes: int
    upload_id: str
    replaced: bool  # it took the place of an older file of the same name


def suffix_for_type(content_type: str) -> str:
    """The inbox suffix for a client's `filetype`, or "" when we do not know the type.

    >>> suffix_for_type("audio/mp4"), suffix_for_type("Audio/MPEG; codecs=mp3"), suffix_for_type("x")
    ('.m4a', '.mp3', '')
    """
    return _SUFFIX_BY_TYPE.get(content_type.split(";")[0].strip().lower(), "")


def sniff_suffix(head: bytes) -> str:
    """A file's suffix from its first bytes (the formats phones and recorders write), or "".

    >>> sniff_suffix(b"fLaC\\x00\\x00"), sniff_suffix(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt ")
    ('.flac', '.wav')
    >>> sniff_suffix(b"\\x00\\x00\\x00\\x1cftypM4A \\x00"), sniff_suffix(b"---\\ntitle: x\\n")
    ('.m4a', '.md')
    >>> sniff_suffix(b"\\x00\\x01\\x02")
    ''
    """
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return ".m4a" if brand.startswith(b"M4A") else ".3gp" if brand.startswith(b"3g") else ".mp4"
    if head.startswith(b"OggS"):
        return ".opus" if b"OpusHead" in head else ".ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return ".wav"
    if head.startswith(b"<?xml") and b"<gpx" in head:
        return ".gpx"
    for magic, suffix in (
        (b"fLaC", ".flac"),
        (b"ID3", ".mp3"),
        (b"#!AMR", ".amr"),
        (b"\x1aE\xdf\xa3", ".webm"),
        (b"caff", ".caf"),
        (b"---\n", ".md"),
        (b"---\r\n", ".md"),
    ):
        if head.startswith(magic):
            return suffix
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return ".mp3"  # an MPEG audio frame without an ID3 tag
    return ""


def split_name(name: str) -> tuple[str, str]:
    """A client's file name as a safe (stem, suffix) for the inbox; the suffix may be "".

    >>> split_name("../../etc/passwd"), split_name("Röszke fence 2.M4A")
    (('passwd', ''), ('roszke-fence-2', '.m4a'))
    """
    base = Path(name.replace("\\", "/")).name
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem:
        stem, suffix = base, ""
    clean_suffix = slugify(suffix)[:16]
    return slugify(stem)[:_STEM_CHARS].strip("-"), f".{clean_suffix}" if clean_suffix else ""


def room_for_uploads(inbox: Path, settings: UploadSettings) -> int:
    """Bytes uploads may still take on the inbox's disk: what is free beyond
    `[uploads] min_free_mb` (negative when the disk is fuller than that)."""
    return shutil.disk_usage(inbox).free - settings.min_free_bytes


class UploadStore:
    """The uploads of one inbox, on disk."""

    def __init__(self, inbox: Path, settings: UploadSettings) -> None:
        self.inbox = inbox
        self.settings = settings
        self.state_dir = inbox / STATE_DIR
        self.conflicts_dir = self.state_dir / "conflicts"
        self.received_dir = self.state_dir / "received"
        for folder in (self.state_dir, self.conflicts_dir, self.received_dir):
            folder.mkdir(parents=True, exist_ok=True)

    # Records

    def part_path(self, upload_id: str) -> Path:
        return self.state_dir / f"{upload_id}.part"

    def _record_path(self, upload_id: str) -> Path:
        return self.state_dir / f"{upload_id}.json"

    def _save(self, upload: Upload) -> Upload:
        record = self._record_path(upload.id)
        tmp = record.with_suffix(".json.tmp")
        data = {
            **{name: getattr(upload, name) for name in Upload.__dataclass_fields__},
            "sender": {"name": upload.sender.name, "is_editor": upload.sender.is_editor},
            "metadata": dict(upload.metadata),
        }
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, record)
        return upload

    def _load(self, upload_id: str) -> Upload | None:
        try:
            data: dict[str, Any] = json.loads(self._record_path(upload_id).read_text("utf-8"))
            return Upload(
                **{
                    **data,
                    "sender": Identity(**data["sender"]),
                    "metadata": MappingProxyType(dict(data["metadata"])),
                }
            )
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError):
            # Not ours, or damaged by a crash or by hand: never let it stop the other uploads.
            log.warning("ignoring unreadable upload record %s", self._record_path(upload_id))
            return None

    def _records(self) -> Iterator[Upload]:
        for record in self.state_dir.glob("*.json"):
            if _ID.fullmatch(record.stem) and (upload := self._load(record.stem)) is not None:
                yield upload

    def get(self, upload_id: str, sender: Identity) -> Upload:
        """The upload `upload_id` if `sender` may see it (its own, or any for an editor)."""
        upload = self._load(upload_id) if _ID.fullmatch(upload_id) else None
        # Someone else's upload answers as if it did not exist: the id is not a key to it.
        if upload is None or not (upload.sender.name == sender.name or sender.is_editor):
            raise TusError(404, "no such upload: it was never made, or was cancelled or expired")
        if self.expires_at(upload) < dt.datetime.now(dt.UTC):
            raise TusError(410, "this upload expired: start it again")
        return upload

    def offset(self, upload: Upload) -> int:
        """Bytes the server holds: all of them once finished, else the size of the part file."""
        if upload.finished and upload.length is not None:
            return upload.length
        try:
            return self.part_path(upload.id).stat().st_size
        except FileNotFoundError:
            return 0

    def expires_at(self, upload: Upload) -> dt.datetime:
        """The last write plus the expiration period (sent as Upload-Expires)."""
        touched = [self._record_path(upload.id), self.part_path(upload.id)]
        latest = max((p.stat().st_mtime for p in touched if p.exists()), default=time.time())
        return dt.datetime.fromtimestamp(latest + self.settings.expire_s, dt.UTC)

    # Creating

    def create(
        self,
        *,
        length: int | None,
        metadata: Mapping[str, str],
        raw_metadata: str,
        sender: Identity,
        partial: bool = False,
    ) -> Upload:
        """A new upload, or the sender's unfinished or finished one with the same fingerprint."""
        if length is not None:
            self._check_length(length)
        fingerprint = metadata.get("sha256", "").lower()
        if fingerprint and not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
            raise TusError(400, "Upload-Metadata sha256 must be 64 hexadecimal digits")
        if fingerprint and not partial:
            for existing in self._records():
                # The same file again from a client that lost its upload URL: resume it.
                if (
                    existing.fingerprint == fingerprint
                    and existing.length == length
                    and existing.sender.name == sender.name
                    and existing.state == "receiving"
                ):
                    return existing
        upload = self._new(length, metadata, raw_metadata, sender, partial, fingerprint)
        if upload.name:
            self._check_may_send(upload)  # first: "already here" would tell what is in the report
        if fingerprint and length is not None and not partial:
            identical = self._find_identical(fingerprint, length, upload.name)
            if identical is not None:
                # Already here: answer "complete" at once, and send no byte again.
                return self._save(replace(upload, state="finished", landed_as=identical.name))
        if upload.name:
            self._check_name_free(upload, length=length)
        self.check_room(length or 0)
        self.part_path(upload.id).touch()
        return self._save(upload)

    def _new(
        self,
        length: int | None,
        metadata: Mapping[str, str],
        raw_metadata: str,
        sender: Identity,
        partial: bool,
        fingerprint: str = "",
    ) -> Upload:
        upload_id = secrets.token_hex(16)
        client_name = metadata.get("filename") or metadata.get("name") or ""
        if len(client_name) > MAX_NAME_CHARS:
            raise TusError(
                400,
                f"the file name is {len(client_name)} characters long; rename the file to at "
                f"most {MAX_NAME_CHARS} characters and send it again",
            )
        stem, suffix = split_name(client_name)
        suffix = suffix or suffix_for_type(metadata.get("filetype", ""))
        if not stem and suffix:
            stem = f"upload-{upload_id[:8]}"  # named by its type alone (tuspy sends no name)
        return Upload(
            id=upload_id,
            name=stem + suffix if stem and suffix else "",
            stem=stem,
            length=length,
            sender=sender,
            metadata=MappingProxyType(dict(metadata)),
            raw_metadata=raw_metadata,
            fingerprint=fingerprint,
            replace=metadata.get("replace", "").lower() in ("1", "true", "yes"),
            partial=partial,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

    def check_room(self, needed: int) -> None:
        """A 507 when `needed` more bytes would leave the disk fuller than `min_free_mb`:
        the client keeps the file and tries again later, and the station goes on working."""
        room = room_for_uploads(self.inbox, self.settings)
        if needed <= room:
            return
        log.error(
            "uploads refused: the inbox's disk has %d MiB free and keeps %d MiB for the "
            "station ([uploads] min_free_mb); make room, e.g. old masters or quarantine/",
            (room + self.settings.min_free_bytes) >> 20,
            self.settings.min_free_mb,
        )
        raise TusError(
            507,
            "the station's disk is too full to take this file now; it stays with you: try "
            "again later, and tell the desk if this goes on",
        )

    def _check_length(self, length: int) -> None:
        if length > self.settings.max_size_bytes:
            raise TusError(
                413,
                f"the file is {length} bytes, over this server's limit of "
                f"{self.settings.max_size_bytes} bytes ([uploads] max_size_mb)",
            )
        if length == 0:
            raise TusError(400, "the file is empty: there is nothing to upload")

    def _check_name_free(self, upload: Upload, *, length: int | None) -> None:
        """Refuse early a file that cannot be the one already in the inbox under its name."""
        existing = self.inbox / upload.name
        if upload.replace or not existing.is_file():
            return
        same_size = length is None or existing.stat().st_size == length
        if same_size and not upload.fingerprint:
            return  # maybe the same file sent again: its bytes decide when they have arrived
        if same_size and file_sha256(existing)[0] == upload.fingerprint:
            return
        raise _name_taken(upload.name)

    def set_length(self, upload: Upload, length: int) -> Upload:
        """The length of an upload created without one (Upload-Defer-Length)."""
        self._check_length(length)
        return self._save(replace(upload, length=length))

    def name_from_first_bytes(self, upload: Upload, head: bytes) -> Upload:
        """Give an upload whose client sent no usable name a suffix from its first bytes."""
        suffix = sniff_suffix(head)
        if not suffix and not upload.stem:
            raise TusError(
                400,
                "the upload has no file name and its type is not one we know: send the file "
                "name in Upload-Metadata as filename (e.g. harbour.m4a)",
            )
        stem = upload.stem or f"upload-{upload.id[:8]}"
        named = replace(upload, name=stem + suffix)
        self._check_may_send(named)
        self._check_name_free(named, length=upload.length)
        return self._save(named)

    # Finishing

    def finish(self, upload: Upload) -> CompletedUpload | None:
        """Land a complete upload in the inbox; None when its bytes were there already.

        Slow (it hashes the file): the server runs it in a worker thread, one at a time.
        """
        part = self.part_path(upload.id)
        if upload.name == "" and not upload.partial:
            with part.open("rb") as handle:
                upload = self.name_from_first_bytes(upload, handle.read(SNIFF_BYTES))
        digest, size = file_sha256(part)
        if upload.fingerprint and digest != upload.fingerprint:
            self.cancel(upload)
            raise TusError(460, "the whole file's SHA-256 does not match: upload it again")
        if upload.partial:
            self._save(replace(upload, state="finished"))
            return None
        owner = self._check_may_send(upload, cancel=True)
        identical = self._find_identical(digest, size, upload.name)
        if identical is not None:
            log.info("%s is already in the inbox as %s; not added twice", upload.name, identical)
            part.unlink()
            self._save(replace(upload, state="finished", landed_as=identical.name))
            return None
        target = self.inbox / upload.name
        replaced = target.exists()
        if replaced and not upload.replace:
            # Another file of this name landed first: keep these bytes for a human, out of the
            # way of the scan for unfinished uploads, and never over the other file.
            kept = self.conflicts_dir / f"{upload.id}-{upload.name}"
            os.replace(part, kept)
            self._save(replace(upload, state="conflict"))
            log.warning("%s arrived twice with different content; kept as %s", upload.name, kept)
            raise _name_taken(upload.name)
        os.replace(part, target)
        _fsync_dir(self.inbox)
        self._save(replace(upload, state="finished", landed_as=target.name))
        completed = CompletedUpload(
            path=target,
            sender=upload.sender,
            metadata=upload.metadata,
            sha256=digest,
            size_bytes=size,
            upload_id=upload.id,
            replaced=replaced,
        )
        self._record_receipt(completed, owner=owner or upload.sender.name)
        log.info("received %s (%d bytes) from %s", target.name, size, upload.sender.name)
        return completed

    def concatenate(
        self,
        partial_ids: list[str],
        *,
        metadata: Mapping[str, str],
        raw_metadata: str,
        sender: Identity,
    ) -> tuple[Upload, CompletedUpload | None]:
        """Join finished partial uploads (a parallel upload's parts) into one file and land it."""
        parts = [self.get(i, sender) for i in partial_ids]
        for part in parts:
            if not (part.partial and part.finished):
                raise TusError(400, f"upload {part.id} is not a finished partial upload")
        length = sum(p.length or 0 for p in parts)
        self._check_length(length)
        upload = self._new(length, metadata, raw_metadata, sender, partial=False)
        if upload.name:
            self._check_may_send(upload)
            self._check_name_free(upload, length=length)
        with self.part_path(upload.id).open("wb") as out:
            for part in parts:
                with self.part_path(part.id).open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        self._save(upload)
        for part in parts:
            self.cancel(part)
        completed = self.finish(upload)
        return self._load(upload.id) or upload, completed

    def cancel(self, upload: Upload) -> None:
        """Forget an upload and its bytes (termination); a file that landed stays."""
        self.part_path(upload.id).unlink(missing_ok=True)
        self._record_path(upload.id).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Delete expired uploads (and stray parts); return how many went."""
        now = time.time()
        gone = 0
        for upload in list(self._records()):
            if self.expires_at(upload).timestamp() < now:
                self.cancel(upload)
                gone += 1
        for stray in [*self.state_dir.glob("*.part"), *self.state_dir.glob("*.tmp")]:
            orphan = not self._record_path(stray.name.split(".")[0]).exists()
            if orphan and stray.stat().st_mtime + self.settings.expire_s < now:
                stray.unlink(missing_ok=True)
                gone += 1
        if gone:
            log.info("deleted %d expired upload(s) from %s", gone, self.state_dir)
        return gone

    def _find_identical(self, sha256: str, length: int, name: str) -> Path | None:
        """A file of the same report already holding these bytes (the same file sent again,
        maybe spelt another way). Only the same report: two reports may share bytes (the same
        notes typed twice, a recording sent again with fixed notes), and neither may lose its
        file to the other."""
        if not name:
            return None
        report_id = report_id_of(Path(name))
        for path in self.inbox.iterdir():
            if (
                path.is_file()
                and not path.name.startswith(".")
                and report_id_of(path) == report_id
                and path.stat().st_size == length
                and file_sha256(path)[0] == sha256
            ):
                return path
        return None

    def _record_receipt(self, completed: CompletedUpload, *, owner: str) -> None:
        # Who sent which file, and whose report it is, kept after the upload's record expires:
        # the station's record of senders, and what `owner_of` reads.
        receipt = {
            "file": completed.path.name,
            "size_bytes": completed.size_bytes,
            "sha256": completed.sha256,
            "sender": {"name": completed.sender.name, "is_editor": completed.sender.is_editor},
            "owner": owner,
            "received_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "upload_id": completed.upload_id,
            "replaced": completed.replaced,
            "metadata": dict(completed.metadata),
        }
        path = self.received_dir / f"{completed.path.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(receipt, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    def owner_of(self, report_id: str) -> str | None:
        """Whose report `report_id` is: the reporter who sent its first file (an editor's
        replacement does not change it); DESK for one whose files reached the inbox another way;
        None when nothing of it has come yet."""
        first: tuple[str, str] | None = None
        for receipt in self.receipts(report_id):
            sender = receipt.get("sender")
            owner = receipt.get("owner") or (sender.get("name") if isinstance(sender, dict) else "")
            received_at = str(receipt.get("received_at", ""))
            if owner and (first is None or received_at < first[0]):
                first = (received_at, str(owner))
        if first is not None:
            return first[1]
        for path in self.inbox.iterdir():
            if path.is_file() and not path.name.startswith(".") and report_id_of(path) == report_id:
                return DESK
        return None

    def _check_may_send(self, upload: Upload, *, cancel: bool = False) -> str | None:
        """A report is its first sender's: another reporter's file for it, new or a
        replacement, is refused (editors may send to any report). Otherwise anyone with an
        upload key could pair notes saying `sensitive: false` with someone else's recording,
        replace their audio, or follow their report in the status API. Returns the owner."""
        owner = self.owner_of(report_id_of(Path(upload.name)))
        if upload.sender.is_editor or owner is None or owner == upload.sender.name:
            return owner
        if cancel:
            self.cancel(upload)
        whose = "the desk's" if owner == DESK else "another reporter's"
        raise TusError(
            403,
            f"{upload.name} belongs to {whose} report of the same name: name your recording and "
            "notes differently (add the date or place) and send them again, or ask an editor",
        )

    def receipts(self, report_id: str = "") -> Iterator[dict[str, Any]]:
        """Every receipt kept (`_record_receipt`), or one report's (told by the receipt's name,
        `<inbox file>.json`, before it is read), oldest name first; unreadable ones are skipped."""
        for path in sorted(self.received_dir.glob("*.json")):
            if report_id and report_id_of(Path(path.name.removesuffix(".json"))) != report_id:
                continue
            try:
                receipt = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                log.warning("ignoring unreadable upload receipt %s", path)
                continue
            if isinstance(receipt, dict):
                yield receipt


def _name_taken(name: str) -> TusError:
    # Never overwrite, never guess which report a file belongs to: phones name every file
    # "Recording 1", and notes given to the wrong recording publish wrong facts.
    return TusError(
        409,
        f"a different file named {name} is already in the inbox: rename the recording and its "
        "notes (add the date or place), or send them with replace to overwrite",
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
