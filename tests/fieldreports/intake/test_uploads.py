"""Resumable uploads: a reporter's file arrives whole, once, even over a connection that drops."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fieldreports.errors import FieldReportsError
from fieldreports.intake.identity import Identity
from fieldreports.intake.inbox import discover
from fieldreports.intake.upload_client import upload_file
from tests.support.uploads import TOKEN, RunningServer


@pytest.fixture
def server(server: RunningServer) -> tuple[str, Path]:
    """The server's address as `fieldreports upload --to` takes it, and its inbox."""
    return server.url.removesuffix("/files/"), server.inbox


def recording(tmp_path: Path, size: int = 300_000, name: str = "2022-09-20 Röszke.flac") -> Path:
    path = tmp_path / name
    path.write_bytes(hashlib.sha256(b"seed").digest() * (size // 32))
    return path


def request(method: str, url: str, headers: dict[str, str], body: bytes | None = None):
    base = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {TOKEN}"}
    req = urllib.request.Request(url, data=body, method=method, headers={**base, **headers})
    return urllib.request.urlopen(req, timeout=10)


def test_upload_arrives_whole_under_a_safe_name(server, tmp_path: Path) -> None:
    url, inbox = server
    source = recording(tmp_path)
    seen: list[int] = []
    upload_file(
        source,
        url,
        token=TOKEN,
        chunk_bytes=64_000,
        on_progress=lambda done, total: seen.append(done),
    )
    (received,) = [p for p in inbox.iterdir() if p.is_file()]
    assert received.name == "2022-09-20-roszke.flac"
    assert received.read_bytes() == source.read_bytes()
    assert seen[-1] == source.stat().st_size and len(seen) == 5
    # Nothing half-uploaded is ever visible to discover().
    assert [r.audio_path for r in discover(inbox).reports] == [received]


def test_interrupted_upload_resumes_without_resending(server, tmp_path: Path) -> None:
    url, inbox = server
    source = recording(tmp_path)
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in (("filename", source.name), ("sha256", digest))
    )
    created = request(
        "POST", f"{url}/files/", {"Upload-Length": str(len(data)), "Upload-Metadata": meta}
    )
    location = url + created.headers["Location"]
    request(
        "PATCH",
        location,
        {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        data[:100_000],
    )
    assert not any(p.is_file() for p in inbox.iterdir())  # half a file never enters the inbox

    # The client lost the upload URL (a restart); the fingerprint finds the upload again.
    offsets: list[int] = []
    upload_file(
        source,
        url,
        token=TOKEN,
        chunk_bytes=50_000,
        on_progress=lambda done, total: offsets.append(done),
    )
    assert offsets[0] == 150_000  # resumed at 100 000, not from zero
    (received,) = [p for p in inbox.iterdir() if p.is_file()]
    assert received.read_bytes() == data


def test_same_file_twice_lands_once_per_report(server, tmp_path: Path) -> None:
    url, inbox = server
    source = recording(tmp_path)
    upload_file(source, url, token=TOKEN)
    upload_file(source, url, token=TOKEN)
    respelt = recording(tmp_path / "..", name="2022-09-20-roszke.flac")  # the same report
    upload_file(respelt, url, token=TOKEN)
    assert len([p for p in inbox.iterdir() if p.is_file()]) == 1
    # Another report may hold the same bytes (a recording sent again with fixed notes).
    upload_file(recording(tmp_path / "..", name="renamed.flac"), url, token=TOKEN)
    assert len([p for p in inbox.iterdir() if p.is_file()]) == 2


def test_other_content_under_a_taken_name_is_refused_never_overwritten(server, tmp_path) -> None:
    url, inbox = server
    first = recording(tmp_path, size=1000)
    upload_file(first, url, token=TOKEN)
    other = tmp_path / "b"
    other.mkdir()
    # Phones name every file alike: a second "Recording 1" must not take the first one's place.
    with pytest.raises(FieldReportsError, match="already in the inbox"):
        upload_file(recording(other, size=2000), url, token=TOKEN)
    (received,) = [p for p in inbox.iterdir() if p.is_file()]
    assert received.read_bytes() == first.read_bytes()


def test_edited_notes_replace_the_old_ones_when_asked(server, tmp_path: Path) -> None:
    url, inbox = server
    notes = tmp_path / "harbour.md"
    notes.write_text("---\ntitle: Harbour\n---\n", encoding="utf-8")
    upload_file(notes, url, token=TOKEN)
    notes.write_text("---\ntitle: Harbour\nsensitive: true\n---\n", encoding="utf-8")
    upload_file(notes, url, token=TOKEN, replace=True)
    assert "sensitive: true" in (inbox / "harbour.md").read_text(encoding="utf-8")


def test_non_latin_names_are_transliterated(server, tmp_path: Path) -> None:
    url, inbox = server
    upload_file(recording(tmp_path, name="Харків вокзал.m4a"), url, token=TOKEN)
    assert [p.name for p in inbox.iterdir() if p.is_file()] == ["kharkiv-vokzal.m4a"]


def test_a_request_without_tus_headers_gets_a_plain_400(server) -> None:
    url, _ = server
    with pytest.raises(urllib.error.HTTPError) as missing:
        request("POST", f"{url}/files/", {})
    assert missing.value.code == 400


def test_damaged_chunk_and_wrong_offset_are_refused(server, tmp_path: Path) -> None:
    url, inbox = server
    meta = "filename " + base64.b64encode(b"a.md").decode()
    created = request("POST", f"{url}/files/", {"Upload-Length": "10", "Upload-Metadata": meta})
    location = url + created.headers["Location"]
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    with pytest.raises(urllib.error.HTTPError) as damaged:
        request(
            "PATCH",
            location,
            {
                "Upload-Offset": "0",
                "Upload-Checksum": f"sha1 {wrong}",
                "Content-Type": "application/offset+octet-stream",
            },
            b"0123456789",
        )
    assert damaged.value.code == 460
    with pytest.raises(urllib.error.HTTPError) as conflict:
        request(
            "PATCH",
            location,
            {"Upload-Offset": "5", "Content-Type": "application/offset+octet-stream"},
            b"56789",
        )
    assert conflict.value.code == 409
    head = request("HEAD", location, {})
    assert head.headers["Upload-Offset"] == "0"


def test_wrong_token_is_refused_with_a_plain_error(server, tmp_path: Path) -> None:
    url, inbox = server
    with pytest.raises(FieldReportsError, match="refused the upload key .401.: check --token"):
        upload_file(recording(tmp_path), url, token="guess")
    assert not any(p.is_file() for p in inbox.iterdir())


def test_upload_command_sends_notes_and_recording(server, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline import cli

    url, inbox = server
    notes = tmp_path / "harbour.md"
    notes.write_text("---\ntitle: Harbour\n---\n", encoding="utf-8")
    args = ["upload", str(recording(tmp_path, name="harbour.flac")), str(notes), "--to", url]
    result = CliRunner().invoke(cli, [*args, "--token", TOKEN])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["harbour.flac", "harbour.md"]
    refused = CliRunner().invoke(cli, [*args, "--token", "guess"])
    assert refused.exit_code == 1 and "401" in refused.output
    assert "Traceback" not in refused.output


def test_receive_says_plainly_when_the_port_is_taken(tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from pipeline import cli

    show = tmp_path / "show"
    init = ["init", str(show), "--title", "T", "--base-url", "https://e.org/"]
    assert CliRunner().invoke(cli, init).exit_code == 0
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = str(busy.getsockname()[1])
        result = CliRunner().invoke(cli, ["receive", str(show), "--port", port])
    assert result.exit_code == 1 and "Try --port with another number" in result.output
    open_net = CliRunner().invoke(cli, ["receive", str(show), "--host", "0.0.0.0"])
    assert open_net.exit_code == 1 and "without a token" in open_net.output


def test_a_report_takes_files_only_from_its_first_sender_or_an_editor(
    start_server, tmp_path: Path
) -> None:
    """Anyone with an upload key could otherwise publish another reporter's source's place."""
    keys = {"ana-key": Identity(name="ana", is_editor=False),
            "ben-key": Identity(name="ben", is_editor=False),
            "desk-key": Identity(name="desk", is_editor=True)}  # fmt: skip
    running = start_server(authenticate=keys.get)
    url, inbox = running.url.removesuffix("/files/"), running.inbox
    notes = tmp_path / "camp.md"
    notes.write_text("---\ntitle: Camp\nsensitive: true\n---\n", encoding="utf-8")
    upload_file(notes, url, token="ana-key")
    notes.write_text("---\ntitle: Camp\nsensitive: false\nlat: 45.1\nlon: 19.2\n---\n")
    with pytest.raises(FieldReportsError, match="403.*another reporter's report"):
        upload_file(notes, url, token="ben-key", replace=True)
    assert "sensitive: true" in (inbox / "camp.md").read_text(encoding="utf-8")
    upload_file(notes, url, token="ana-key", replace=True)  # the reporter herself may
    assert "sensitive: false" in (inbox / "camp.md").read_text(encoding="utf-8")
    notes.write_text("---\ntitle: Camp, edited\nsensitive: true\n---\n")
    upload_file(notes, url, token="desk-key", replace=True)  # an editor may
    assert "edited" in (inbox / "camp.md").read_text(encoding="utf-8")
    notes.write_text("---\ntitle: Camp\nsensitive: false\n---\n")
    with pytest.raises(FieldReportsError, match="403"):  # still Ana's report after the edit
        upload_file(notes, url, token="ben-key", replace=True)
