"""Resumable uploads from the field: a tus 1.0 server (https://tus.io/protocols/resumable-upload).

Reporters upload from phones over one bar of signal. tus is the protocol their clients already
speak (tus-js-client in the browser, TUSKit, tus-android-client, tuspy): an upload resumes from
the last byte the server holds, chunks carry checksums, and a file enters the inbox only whole
(see `upload_store` for what happens on disk).

`tus_app()` is an ASGI application (Starlette) to mount under any prefix; `Location` headers are
built from the mount path. It speaks tus 1.0 core with creation, creation-with-upload,
creation-defer-length, termination, checksum (sha1, sha256), expiration and concatenation
(tus-js-client's `parallelUploads`), CORS for browsers, and `X-HTTP-Method-Override`. It is
written for hostile clients as much as for real ones: a body is streamed to disk and never past
the upload's length, every read has a timeout so a stalled client cannot hold an upload's lock,
a refusal sent before the body was read drains or closes the connection (so the body is never
read as a next request), and no answer carries Python's error text. Headers are read, and CORS
answered, in `tus_http`; docs/uploads.md has it all.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from fieldreports.config import UploadSettings
from fieldreports.intake.identity import Authenticate, Identity, bearer
from fieldreports.intake.tus_http import (
    CHECKSUM_ALGORITHMS,
    TUS_VERSION,
    Edge,
    creation_length,
    http_date,
    parse_checksum,
    parse_metadata,
    partial_ids,
    version_headers,
    whole_number,
)
from fieldreports.intake.upload_store import (
    SNIFF_BYTES,
    CompletedUpload,
    TusError,
    Upload,
    UploadStore,
)

__all__ = ["CompletedUpload", "MountSlash", "TusError", "receiving_app", "tus_app"]

log = logging.getLogger(__name__)

EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "checksum",
    "expiration",
    "concatenation",
)
_OFFSET_TYPE = "application/offset+octet-stream"
# After an answer sent before the body was read, a body this small is read and dropped, so the
# connection stays open and the client surely hears the answer; a larger one closes it.
_DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
_SWEEP_EVERY_S = 600.0


def tus_app(
    inbox: Path,
    *,
    authenticate: Authenticate,
    settings: UploadSettings,
    on_complete: Callable[[CompletedUpload], None] | None = None,
) -> Starlette:
    """The tus server for `inbox`, as an ASGI app to mount under any prefix (e.g. `/files`).

    `authenticate` gets the credential of `Authorization: Bearer <key>` ("" when none) and names
    the sender, or returns None (401). `on_complete` is called, in a worker thread, once for each
    file that lands in the inbox; an exception there is logged, and the file stays.
    """
    server = _TusServer(UploadStore(inbox, settings), authenticate, settings, on_complete)
    server.store.sweep()
    routes = [
        Route("/", server.collection, methods=["POST", "OPTIONS"]),
        Route("/{upload_id}", server.resource, methods=["HEAD", "PATCH", "DELETE", "OPTIONS"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Edge, settings=settings)])


def receiving_app(
    inbox: Path,
    *,
    authenticate: Authenticate,
    settings: UploadSettings,
    on_complete: Callable[[CompletedUpload], None] | None = None,
) -> Starlette:
    """`tus_app` mounted at `/files/`, as `fieldreports receive` serves it."""
    app = tus_app(inbox, authenticate=authenticate, settings=settings, on_complete=on_complete)
    return Starlette(routes=[Mount("/files", app=app)], middleware=[Middleware(MountSlash)])


class MountSlash:
    """ASGI middleware: "/files" (a mount's path) reaches the mounted app as "/files/" rather
    than as a redirect that tus clients do not follow."""

    def __init__(self, app: ASGIApp, *, path: str = "/files") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            scope = {**scope, "path": self.path + "/"}
        await self.app(scope, receive, send)


class _Stalled(Exception):
    """The client sent nothing for read_timeout_s."""


class _Body:
    """A request body read chunk by chunk, each read with a timeout, remembering how far it got."""

    def __init__(self, request: Request, timeout_s: float) -> None:
        self._receive = request.receive
        self.timeout_s = timeout_s
        length = request.headers.get("content-length")
        self.chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
        self.declared = whole_number(length, "Content-Length") if length is not None else None
        self.present = self.chunked or bool(self.declared)
        self.started = False
        self.finished = not self.present

    async def chunks(self) -> AsyncIterator[bytes]:
        self.started = True
        while not self.finished:
            try:
                with anyio.fail_after(self.timeout_s):
                    message = await self._receive()
            except TimeoutError:
                raise _Stalled from None
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            self.finished = not message.get("more_body", False)
            if chunk := message.get("body", b""):
                yield chunk

    def must_close(self) -> bool:
        """Whether the connection must close after the answer, for what is left of the body.

        The rest of a body the app did not read is read and dropped by uvicorn's HTTP parser
        (h11 or httptools), which knows where the body ends, so it is never taken for a next
        request. That costs reading it: past a chunk's worth, or of unknown size, or cut off
        mid-way (a stall, an excess), closing is cheaper.
        """
        if self.finished:
            return False
        return self.started or self.declared is None or self.declared > _DRAIN_LIMIT_BYTES


class _TusServer:
    def __init__(
        self,
        store: UploadStore,
        authenticate: Authenticate,
        settings: UploadSettings,
        on_complete: Callable[[CompletedUpload], None] | None,
    ) -> None:
        self.store = store
        self.authenticate = authenticate
        self.settings = settings
        self.on_complete = on_complete
        # One lock per upload, so one reporter's slow chunk never blocks another reporter.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._landing = asyncio.Lock()  # files land in the inbox one at a time
        self._last_sweep = time.monotonic()

    # Entry points

    async def collection(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._capabilities()
        return await self._guarded(request, self._create)

    async def resource(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._capabilities()
        actions = {"HEAD": self._head, "PATCH": self._patch, "DELETE": self._delete}
        return await self._guarded(request, actions[request.method])

    async def _guarded(
        self,
        request: Request,
        action: Callable[[Request, _Body, Identity], Awaitable[Response]],
    ) -> Response:
        body: _Body | None = None
        try:
            body = _Body(request, self.settings.read_timeout_s)
            sender = self._sender(request)
            if request.headers.get("tus-resumable") != TUS_VERSION:
                raise TusError(
                    412, f"send the header Tus-Resumable: {TUS_VERSION}", headers=version_headers()
                )
            response = await action(request, body, sender)
            if body.must_close():  # an answer that needed no body (a repeat of the last PATCH)
                response.headers["Connection"] = "close"
            return response
        except TusError as exc:
            return await self._refuse(request, body, exc)
        except ClientDisconnect:
            log.info("%s %s: the client went away", request.method, request.url.path)
            return Response(status_code=400)  # nobody reads it
        except Exception:
            log.exception("upload request failed: %s %s", request.method, request.url.path)
            failure = TusError(500, "the server failed on this request; try again later")
            return await self._refuse(request, body, failure)

    async def _refuse(self, request: Request, body: _Body | None, exc: TusError) -> Response:
        headers = dict(exc.headers)
        # Whatever of the body is left unread must never be read as the next request (request
        # smuggling): the HTTP parser drops a small rest, and a large one closes the connection.
        if body is None or body.must_close():
            headers["Connection"] = "close"
        text = "" if request.method == "HEAD" else f"{exc}\n"
        return PlainTextResponse(text, status_code=exc.status, headers=headers)

    def _sender(self, request: Request) -> Identity:
        sender = self.authenticate(bearer(request.headers))
        if sender is None:
            raise TusError(
                401,
                "upload key missing or wrong: send the header Authorization: Bearer <key>",
                headers={"WWW-Authenticate": 'Bearer realm="fieldreports uploads"'},
            )
        return sender

    def _capabilities(self) -> Response:
        headers = {
            **version_headers(),
            "Tus-Extension": ",".join(EXTENSIONS),
            "Tus-Max-Size": str(self.settings.max_size_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        }
        return Response(status_code=204, headers=headers)

    # tus requests

    async def _create(self, request: Request, body: _Body, sender: Identity) -> Response:
        await self._maybe_sweep()
        raw_metadata = request.headers.get("upload-metadata", "")
        metadata = parse_metadata(raw_metadata)
        concat = request.headers.get("upload-concat", "")
        if concat.startswith("final"):
            if body.present:
                raise TusError(400, "a final concatenation (Upload-Concat: final) has no body")
            ids = partial_ids(concat)
            async with self._landing:
                upload, completed = await anyio.to_thread.run_sync(
                    lambda: self.store.concatenate(
                        ids, metadata=metadata, raw_metadata=raw_metadata, sender=sender
                    )
                )
            await self._notify(completed)
            return Response(status_code=201, headers=self._state_headers(request, upload))
        if concat not in ("", "partial"):
            raise TusError(400, "Upload-Concat must be partial, or final;<upload URLs>")
        length = creation_length(request.headers)
        # In a thread: creation may hash inbox files of the same length (a file sent again).
        upload = await anyio.to_thread.run_sync(
            lambda: self.store.create(
                length=length,
                metadata=metadata,
                raw_metadata=raw_metadata,
                sender=sender,
                partial=concat == "partial",
            )
        )
        log.debug("created upload %s for %s (%s)", upload.id, sender.name, upload.name or "?")
        if body.present and not upload.finished and self.store.offset(upload) == 0:
            # creation-with-upload: the first bytes come with the POST.
            if request.headers.get("content-type") != _OFFSET_TYPE:
                raise TusError(415, f"a POST with a body needs Content-Type: {_OFFSET_TYPE}")
            try:
                async with self._lock(upload.id):
                    upload = await self._append(request, body, upload, 0)
            except TusError as exc:
                exc.headers["Location"] = self._location(request, upload)
                raise
        headers = self._state_headers(request, upload)
        if body.present and not body.finished:
            headers["Connection"] = "close"  # a known upload: the client resumes with PATCH
        return Response(status_code=201, headers=headers)

    async def _head(self, request: Request, body: _Body, sender: Identity) -> Response:
        upload = self.store.get(request.path_params["upload_id"], sender)
        if upload.state == "conflict":
            raise TusError(409, "a different file of this name arrived first")
        return Response(status_code=200, headers=self._state_headers(request, upload))

    async def _patch(self, request: Request, body: _Body, sender: Identity) -> Response:
        if request.headers.get("content-type") != _OFFSET_TYPE:
            raise TusError(415, f"PATCH needs Content-Type: {_OFFSET_TYPE}")
        offset = whole_number(request.headers.get("upload-offset", ""), "Upload-Offset")
        upload_id = request.path_params["upload_id"]
        self.store.get(upload_id, sender)  # a 404 answers at once, without waiting for a lock
        async with self._lock(upload_id):
            upload = self.store.get(upload_id, sender)
            if upload.state == "conflict":
                raise TusError(409, "a different file of this name arrived first")
            if upload.length is None and "upload-length" in request.headers:
                length = whole_number(request.headers["upload-length"], "Upload-Length")
                upload = self.store.set_length(upload, length)
            upload = await self._append(request, body, upload, offset)
        return Response(status_code=204, headers=self._state_headers(request, upload))

    async def _delete(self, request: Request, body: _Body, sender: Identity) -> Response:
        upload_id = request.path_params["upload_id"]
        async with self._lock(upload_id):
            self.store.cancel(self.store.get(upload_id, sender))
        return Response(status_code=204)

    # The body

    async def _append(self, request: Request, body: _Body, upload: Upload, offset: int) -> Upload:
        """Stream the body into the upload's part file, never past its length; land it if whole."""
        held = self.store.offset(upload)
        if offset != held:
            raise TusError(
                409,
                f"Upload-Offset {offset} is not where this upload stands ({held} bytes): ask "
                "with HEAD and resume from there",
            )
        room = (upload.length if upload.length is not None else self.settings.max_size_bytes) - held
        if body.declared is not None and body.declared > room:
            raise TusError(
                400,
                f"Content-Length is more than the {room} bytes still to come",
                headers={"Connection": "close"},  # a broken client: read none of its body
            )
        if upload.finished:
            return upload  # a repeated last request, or a zero-length PATCH: already complete
        # What is still to come must fit; of an upload without a length, this request's body.
        self.store.check_room(room if upload.length is not None else body.declared or 0)
        checksum = parse_checksum(request.headers.get("upload-checksum", ""))
        upload = await self._receive(body, upload, held, room, checksum)
        if upload.length is not None and self.store.offset(upload) == upload.length:
            async with self._landing:
                completed = await anyio.to_thread.run_sync(self.store.finish, upload)
            upload = self.store.get(upload.id, upload.sender)
            await self._notify(completed)
        return upload

    async def _receive(
        self,
        body: _Body,
        upload: Upload,
        start: int,
        room: int,
        checksum: tuple[str, bytes] | None,
    ) -> Upload:
        digest = hashlib.new(checksum[0]) if checksum else None
        head = bytearray() if (start == 0 and not upload.name and not upload.partial) else None
        received = 0
        with self.store.part_path(upload.id).open("r+b") as part:
            part.seek(start)

            def cut(status: int, message: str, *, keep: bool = False) -> TusError:
                # A damaged, oversized or unchecked chunk goes, back to the last good byte.
                if not keep or digest is not None:
                    part.truncate(start)
                part.flush()
                os.fsync(part.fileno())
                return TusError(status, message)

            try:
                async for chunk in body.chunks():
                    received += len(chunk)
                    if received > room:
                        raise cut(413, "more bytes than the upload's length; nothing was kept")
                    part.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    if head is not None and len(head) < SNIFF_BYTES:
                        head += chunk[: SNIFF_BYTES - len(head)]
                        if len(head) == SNIFF_BYTES or received == upload.length:
                            upload = self._name(upload, bytes(head), cut)
                            head = None
            except _Stalled:
                raise cut(
                    408,
                    f"nothing arrived for {self.settings.read_timeout_s:g} s; the bytes that "
                    "arrived are kept: ask with HEAD and resume",
                    keep=True,
                ) from None
            except ClientDisconnect:
                cut(400, "", keep=True)
                log.info("upload %s: the connection dropped; the bytes so far are kept", upload.id)
                raise
            except OSError:
                log.exception("upload %s: cannot write to %s", upload.id, self.store.state_dir)
                raise cut(507, "the server cannot store the file now; try again later") from None
            if head:
                upload = self._name(upload, bytes(head), cut)
            if digest is not None and checksum is not None and digest.digest() != checksum[1]:
                raise cut(460, "checksum mismatch: the chunk was damaged on the way; send it again")
            part.flush()
            await anyio.to_thread.run_sync(_fsync, part.fileno())
        return upload

    def _name(self, upload: Upload, head: bytes, cut: Callable[..., TusError]) -> Upload:
        try:
            return self.store.name_from_first_bytes(upload, head)
        except TusError as exc:
            raise cut(exc.status, str(exc)) from None

    # Helpers

    def _lock(self, upload_id: str) -> _TimedLock:
        lock = self._locks.get(upload_id)
        if lock is None:
            lock = self._locks[upload_id] = asyncio.Lock()
        # A stalled request lets go after read_timeout_s, so waiting a little longer suffices.
        return _TimedLock(lock, self.settings.read_timeout_s + 1)

    def _location(self, request: Request, upload: Upload) -> str:
        return f"{request.scope.get('root_path', '')}/{upload.id}"

    def _state_headers(self, request: Request, upload: Upload) -> dict[str, str]:
        headers = {
            "Location": self._location(request, upload),
            "Upload-Offset": str(self.store.offset(upload)),
            "Upload-Expires": http_date(self.store.expires_at(upload).timestamp()),
        }
        if upload.length is None:
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(upload.length)
        if upload.raw_metadata:
            headers["Upload-Metadata"] = upload.raw_metadata
        if upload.partial:
            headers["Upload-Concat"] = "partial"
        return headers

    async def _notify(self, completed: CompletedUpload | None) -> None:
        if completed is None or self.on_complete is None:
            return
        try:
            await anyio.to_thread.run_sync(self.on_complete, completed)
        except Exception:
            log.exception("on_complete failed for %s (the file is in the inbox)", completed.path)

    async def _maybe_sweep(self) -> None:
        if time.monotonic() - self._last_sweep > min(_SWEEP_EVERY_S, self.settings.expire_s):
            self._last_sweep = time.monotonic()
            await anyio.to_thread.run_sync(self.store.sweep)


class _TimedLock:
    def __init__(self, lock: asyncio.Lock, timeout_s: float) -> None:
        self.lock = lock
        self.timeout_s = timeout_s

    async def __aenter__(self) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.lock.acquire()
        except TimeoutError:
            raise TusError(
                423, "another connection is sending this upload; try again shortly"
            ) from None

    async def __aexit__(self, *exc: object) -> None:
        self.lock.release()


def _fsync(fd: int) -> None:
    os.fsync(fd)
