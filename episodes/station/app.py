"""The station's one web app, and the parts it runs beside it.

    /files/                  tus 1.0 uploads (`fieldreports.intake.tus`), by reporter key
    /upload                  the phone page (`page`), and /upload/assets/ its own files
    /api/reports             the reports the key's holder may see, as JSON
    /api/reports/{id}        one of them
    /api/health              whether the processor is alive and its last run went well
    /                        the published folder (`site`), as `fieldreports serve` serves it

A reporter key travels as `Authorization: Bearer <key>` and is checked against the catalog
(stored hashed, compared in constant time, refused at once when revoked); the API and the start
of each upload take a token from the key's bucket (`limits`). Each file that lands is recorded
in the catalog with its sender and handed to the `processor`, which runs the pipeline and tells
the `notify` side what happened.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from episodes.i18n import interface
from episodes.station import page
from episodes.station import states as st
from episodes.station.limits import RateLimit, TokenBuckets
from episodes.station.notify import Notifier, load_webhook_secret
from episodes.station.processor import Processor, RunShow
from episodes.station.site import PublishedSite
from fieldreports.catalog import Catalog, open_catalog
from fieldreports.config import ShowConfig
from fieldreports.intake.identity import Identity, bearer
from fieldreports.intake.inbox import report_id_of
from fieldreports.intake.tus import CompletedUpload, MountSlash, tus_app
from fieldreports.intake.upload_store import UploadStore, room_for_uploads

log = logging.getLogger(__name__)

_API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class Station:
    """Everything `fieldreports station` runs: open it, serve `app`, close it."""

    def __init__(self, config: ShowConfig, *, run: RunShow) -> None:
        self.config = config
        self.ui = interface(config.show.language)  # the API's sentences, as the page's
        config.inbox_dir.mkdir(parents=True, exist_ok=True)
        self.catalog: Catalog = open_catalog(config.state_dir, config.catalog)
        try:
            self.notifier = Notifier(
                config.notify,
                secret=load_webhook_secret(config),
                hub=config.show.websub_hub,
                outbox=self.catalog,
            )
            self.processor = Processor(config, run, self.catalog, self.notifier)
            self.app = self._app()
        except BaseException:
            self.catalog.close()
            raise

    def start(self) -> None:
        self.import_receipts()
        self.notifier.start()
        self.processor.start()

    def close(self) -> None:
        self.processor.close()
        self.notifier.close()
        self.catalog.close()

    def __enter__(self) -> Station:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- who is asking -------------------------------------------------------------------

    def authenticate(self, credential: str) -> Identity | None:
        """The reporter a key belongs to, or None (wrong, revoked or missing key)."""
        if not credential:
            return None
        reporter = self.catalog.reporter_for_key(credential)
        if reporter is None:
            return None
        return Identity(name=reporter.name, is_editor=reporter.is_editor)

    def _viewer(self, request: Request) -> Identity | None:
        return self.authenticate(bearer(request.headers))

    # -- uploads -------------------------------------------------------------------------

    def landed(self, completed: CompletedUpload) -> None:
        """A file is whole in the inbox: who sent it goes in the catalog, then the processor."""
        self.catalog.record_upload(
            file_name=completed.path.name,
            report_id=report_id_of(completed.path),
            reporter=completed.sender.name,
            sha256=completed.sha256,
        )
        self.processor.landed(completed.path)

    def import_receipts(self) -> int:
        """Files whose upload receipt the catalog lacks (sent to `fieldreports receive`, or
        landed just before a crash) are recorded with their sender; returns how many."""
        known = {(u.file_name, u.sha256) for u in self.catalog.uploads()}
        added = 0
        for receipt in UploadStore(self.config.inbox_dir, self.config.uploads).receipts():
            try:
                name, digest = str(receipt["file"]), str(receipt["sha256"])
                sender = str(receipt["sender"]["name"])
                received_at = dt.datetime.fromisoformat(str(receipt["received_at"]))
            except (KeyError, TypeError, ValueError):
                continue
            if (name, digest) in known:
                continue
            self.catalog.record_upload(
                file_name=name,
                report_id=report_id_of(Path(name)),
                reporter=sender,
                sha256=digest,
                received_at=received_at,
            )
            known.add((name, digest))
            added += 1
        if added:
            log.info("recorded %d earlier upload(s) from their receipts", added)
        return added

    # -- the status API ------------------------------------------------------------------

    async def list_reports(self, request: Request) -> Response:
        return await anyio.to_thread.run_sync(self._list_reports, request)

    async def one_report(self, request: Request) -> Response:
        return await anyio.to_thread.run_sync(self._one_report, request)

    def _list_reports(self, request: Request) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return _unauthorised()
        known = (r.id for r in self.catalog.reports()) if viewer.is_editor else ()
        visible = st.visible_reports(self.catalog.uploads(), viewer, known=known)
        states = st.load_states(self.catalog, visible)
        body = {
            "reporter": viewer.name,
            "editor": viewer.is_editor,
            "reports": st.report_list(states, visible, viewer, self.ui),
        }
        return JSONResponse(body, headers=_API_HEADERS)

    def _one_report(self, request: Request) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return _unauthorised()
        report_id = request.path_params["report_id"]
        uploads = list(self.catalog.uploads(report_id))
        known = [report_id] if viewer.is_editor and self.catalog.first_seen(report_id) else []
        visible = st.visible_reports(uploads, viewer, known=known)
        if report_id not in visible:
            # Someone else's report answers as if it did not exist.
            return JSONResponse(
                {"error": "no such report among yours"}, status_code=404, headers=_API_HEADERS
            )
        state = st.load_state(self.catalog, report_id)
        return JSONResponse(
            st.public_view(report_id, state, visible[report_id], viewer, self.ui),
            headers=_API_HEADERS,
        )

    def upload_page(self, request: Request) -> Response:
        return page.page_response(self.config, journeys=self.processor.journeys)

    async def health(self, request: Request) -> Response:
        """For a monitor or the proxy's health check: no key, nothing about any report."""
        room = room_for_uploads(self.config.inbox_dir, self.config.uploads)
        body = self.processor.health()
        body["uploads_room_mb"] = room >> 20  # below zero: the disk is too full for uploads
        body["ok"] = body["ok"] and room > 0
        return JSONResponse(body, status_code=200 if body["ok"] else 503, headers=_API_HEADERS)

    # -- the app -------------------------------------------------------------------------

    def _app(self) -> Starlette:
        config = self.config
        uploads = tus_app(
            config.inbox_dir,
            authenticate=self.authenticate,
            settings=config.uploads,
            on_complete=self.landed,
        )
        api = Starlette(
            routes=[
                Route("/reports", self.list_reports, methods=["GET"]),
                Route("/reports/{report_id}", self.one_report, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
            ],
            middleware=[
                Middleware(
                    CORSMiddleware,
                    allow_origins=list(config.uploads.allowed_origins),
                    allow_methods=["GET"],
                    allow_headers=["Authorization"],
                    max_age=86400,
                )
            ],
        )
        routes: list[Any] = [
            Route("/upload", self.upload_page, methods=["GET", "HEAD"]),
            Route("/upload/", lambda request: RedirectResponse("../upload", status_code=301)),
            Route("/upload/assets/{name:path}", page.asset_response, methods=["GET", "HEAD"]),
            Mount("/api", app=api),
            Mount("/files", app=uploads),
        ]
        if config.storage.kind == "local":
            secret = None
            if config.station.signed_masters:
                from episodes.site.signing import load_secret

                secret = load_secret(config.state_dir)
            routes.append(Mount("/", app=PublishedSite(config.public_dir, signing_secret=secret)))
        buckets = TokenBuckets(
            per_minute=config.station.requests_per_minute, burst=config.station.burst
        )
        return Starlette(
            routes=routes,
            middleware=[
                Middleware(MountSlash, path="/files"),
                Middleware(
                    RateLimit,
                    buckets=buckets,
                    is_key=lambda credential: self.authenticate(credential) is not None,
                    allowed_origins=config.uploads.allowed_origins,
                ),
            ],
        )


def _unauthorised() -> Response:
    return JSONResponse(
        {"error": "upload key missing or wrong: send the header Authorization: Bearer <key>"},
        status_code=401,
        headers={**_API_HEADERS, "WWW-Authenticate": 'Bearer realm="fieldreports station"'},
    )
