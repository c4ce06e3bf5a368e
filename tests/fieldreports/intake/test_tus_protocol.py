"""The tus 1.0 protocol as the upload server speaks it: extensions, CORS, expiry, senders."""

from __future__ import annotations

import email.utils
import json
import os
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from fieldreports.config import UploadSettings
from fieldreports.intake.identity import Identity
from fieldreports.intake.tus import CompletedUpload, tus_app
from fieldreports.intake.upload_store import UploadStore
from tests.support.uploads import TOKEN, encode_metadata, running

AUTH = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {TOKEN}"}
OCTETS = "application/offset+octet-stream"
NOTES = b"---\ntitle: Harbour\n---\nThe ferry came at six.\n"
TUS_HEADERS = ("Upload-Offset", "Upload-Length", "Upload-Metadata", "Tus-Resumable", "Location")


def upload(base: str, data: bytes, metadata: dict[str, str], headers: dict[str, str] = AUTH):
    created = httpx.post(
        base,
        headers={
            **headers,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": encode_metadata(metadata),
        },
    )
    assert created.status_code == 201, created.text
    url = httpx.URL(base).join(created.headers["Location"])
    patched = httpx.patch(
        url, headers={**headers, "Content-Type": OCTETS, "Upload-Offset": "0"}, content=data
    )
    return url, patched


def test_capabilities_are_announced_without_a_key(server) -> None:
    response = httpx.options(server.url)
    assert response.status_code == 204
    extensions = response.headers["Tus-Extension"].split(",")
    for extension in ("creation", "creation-with-upload", "creation-defer-length", "termination"):
        assert extension in extensions
    assert {"checksum", "expiration", "concatenation"} <= set(extensions)
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Max-Size"] == str(4 << 30)
    assert response.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"


def test_a_cors_preflight_is_answered_without_credentials(server) -> None:
    response = httpx.options(
        server.url + "0123456789abcdef0123456789abcdef",
        headers={
            "Origin": "https://newsroom.example.org",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,tus-resumable,upload-offset",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "x-http-method-override", "upload-checksum", *TUS_HEADERS[:3]):
        assert header.lower() in allowed
    assert int(response.headers["Access-Control-Max-Age"]) >= 600


def test_every_answer_exposes_the_tus_headers_to_a_page(server) -> None:
    origin = {"Origin": "https://newsroom.example.org"}
    refused = httpx.post(server.url, headers={"Tus-Resumable": "1.0.0", **origin})
    created = httpx.post(
        server.url,
        headers={
            **AUTH,
            **origin,
            "Upload-Length": "5",
            "Upload-Metadata": encode_metadata({"filename": "a.md"}),
        },
    )
    for response in (refused, created):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        exposed = response.headers["Access-Control-Expose-Headers"]
        for header in (*TUS_HEADERS, "Tus-Version", "Tus-Max-Size", "Upload-Expires"):
            assert header in exposed
    assert refused.status_code == 401


def test_only_listed_origins_get_cors_headers(start_server) -> None:
    server = start_server(cors_origins="https://newsroom.example.org, https://desk.example.org")
    allowed = httpx.options(server.url, headers={"Origin": "https://desk.example.org"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://desk.example.org"
    assert "Origin" in allowed.headers["Vary"]
    other = httpx.options(server.url, headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_x_http_method_override_patches(server) -> None:
    created = httpx.post(
        server.url,
        headers={
            **AUTH,
            "Upload-Length": str(len(NOTES)),
            "Upload-Metadata": encode_metadata({"filename": "a.md"}),
        },
    )
    url = httpx.URL(server.url).join(created.headers["Location"])
    headers = {**AUTH, "X-HTTP-Method-Override": "PATCH", "Content-Type": OCTETS}
    response = httpx.post(url, headers={**headers, "Upload-Offset": "0"}, content=NOTES)
    assert response.status_code == 204
    assert (server.inbox / "a.md").read_bytes() == NOTES


def test_a_finished_upload_still_answers_head_as_complete(server) -> None:
    url, patched = upload(server.url, NOTES, {"filename": "harbour.md"})
    assert patched.status_code == 204
    head = httpx.head(url, headers=AUTH)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(NOTES))
    expires = email.utils.parsedate_to_datetime(head.headers["Upload-Expires"])
    assert 6.9 * 86400 < expires.timestamp() - time.time() < 7.1 * 86400


def test_length_can_come_later(server) -> None:
    created = httpx.post(
        server.url,
        headers={
            **AUTH,
            "Upload-Defer-Length": "1",
            "Upload-Metadata": encode_metadata({"filename": "a.md"}),
        },
    )
    url = httpx.URL(server.url).join(created.headers["Location"])
    assert httpx.head(url, headers=AUTH).headers["Upload-Defer-Length"] == "1"
    headers = {**AUTH, "Content-Type": OCTETS}
    first = httpx.patch(url, headers={**headers, "Upload-Offset": "0"}, content=NOTES[:10])
    assert first.status_code == 204
    last = httpx.patch(
        url,
        headers={**headers, "Upload-Offset": "10", "Upload-Length": str(len(NOTES))},
        content=NOTES[10:],
    )
    assert last.status_code == 204
    assert (server.inbox / "a.md").read_bytes() == NOTES


def test_termination_forgets_the_upload(server) -> None:
    created = httpx.post(
        server.url,
        headers={
            **AUTH,
            "Upload-Length": "50",
            "Upload-Metadata": encode_metadata({"filename": "a.md"}),
        },
    )
    url = httpx.URL(server.url).join(created.headers["Location"])
    assert httpx.delete(url, headers=AUTH).status_code == 204
    assert httpx.head(url, headers=AUTH).status_code == 404
    assert not list((server.inbox / ".uploads").glob("*.part"))


def test_a_file_named_by_its_type_or_its_bytes(server) -> None:
    upload(server.url, b"fLaC" + bytes(100), {"filetype": "audio/mp4"})
    upload(server.url, b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(100), {"filename": "Recording 7"})
    names = sorted(p.name for p in server.inbox.iterdir() if p.is_file())
    assert names[0] == "recording-7.wav"
    assert names[1].startswith("upload-") and names[1].endswith(".m4a")


def test_the_sender_is_recorded_and_told_once(start_server) -> None:
    keys = {
        "k-ana": Identity(name="ana"),
        "k-ben": Identity(name="ben"),
        "k-ed": Identity(name="ed", is_editor=True),
    }
    completed: list[CompletedUpload] = []
    server = start_server(authenticate=keys.get, on_complete=completed.append)
    ana = {"Tus-Resumable": "1.0.0", "Authorization": "Bearer k-ana"}
    url, _ = upload(server.url, NOTES, {"filename": "harbour.md", "place": "Lesbos"}, ana)
    upload(server.url, NOTES, {"filename": "harbour.md"}, ana)  # the same again: lands once

    (done,) = completed
    assert done.path == server.inbox / "harbour.md" and done.sender.name == "ana"
    assert done.metadata["place"] == "Lesbos" and done.size_bytes == len(NOTES)
    receipt = json.loads((server.inbox / ".uploads" / "received" / "harbour.md.json").read_text())
    assert receipt["sender"] == {"name": "ana", "is_editor": False}
    assert receipt["metadata"]["place"] == "Lesbos"

    # Another reporter cannot see ana's upload; an editor can.
    assert httpx.head(url, headers={**ana, "Authorization": "Bearer k-ben"}).status_code == 404
    assert httpx.head(url, headers={**ana, "Authorization": "Bearer k-ed"}).status_code == 200


def test_a_failing_on_complete_does_not_lose_the_file(start_server, caplog) -> None:
    def broken(_: CompletedUpload) -> None:
        raise RuntimeError("catalogue offline")

    server = start_server(on_complete=broken)
    _, patched = upload(server.url, NOTES, {"filename": "harbour.md"})
    assert patched.status_code == 204 and "catalogue" not in patched.text
    assert (server.inbox / "harbour.md").read_bytes() == NOTES
    assert "on_complete failed" in caplog.text


def test_locations_follow_the_mount_path(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = UploadSettings()
    app = tus_app(
        inbox, authenticate=lambda key: Identity(name="x") if key else None, settings=settings
    )
    station = Starlette(routes=[Mount("/station/uploads", app=app)])
    with running(station, inbox=inbox, settings=settings) as server:
        base = f"http://{server.host}:{server.port}/station/uploads/"
        url, patched = upload(base, NOTES, {"filename": "a.md"})
        assert url.path.startswith("/station/uploads/") and patched.status_code == 204
    assert (inbox / "a.md").read_bytes() == NOTES


def test_a_sweep_deletes_expired_uploads_and_keeps_fresh_ones(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, UploadSettings(expire_partial_hours=1))
    sender = Identity(name="ana")
    old = store.create(length=10, metadata={"filename": "a.md"}, raw_metadata="", sender=sender)
    fresh = store.create(length=10, metadata={"filename": "b.md"}, raw_metadata="", sender=sender)
    stray = tmp_path / ".uploads" / "ffffffffffffffffffffffffffffffff.part"
    stray.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for path in (*(tmp_path / ".uploads").glob(f"{old.id}.*"), stray):
        os.utime(path, (two_hours_ago, two_hours_ago))
    assert store.sweep() == 2
    remaining = sorted(p.name for p in (tmp_path / ".uploads").iterdir() if p.is_file())
    assert remaining == [f"{fresh.id}.json", f"{fresh.id}.part"]


def test_a_public_page_may_reach_a_desk_machine_on_the_newsroom_network(server) -> None:
    # Chromium's Private Network Access preflight, for a server on a private address.
    response = httpx.options(
        server.url,
        headers={
            "Origin": "https://newsroom.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"
