"""`fieldreports serve` and the station's site: HEAD and byte ranges over real HTTP, as Apple and
players use them (every test runs against both)."""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from episodes.site.serve import running
from tests.support.station import serving_site

BODY = os.urandom(10_000)


@pytest.fixture(scope="module", params=["serve", "station"])
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, int]]:
    root = tmp_path_factory.mktemp("public")
    (root / "episodes").mkdir()
    (root / "episodes" / "a.mp3").write_bytes(BODY)
    (root / "feed.xml").write_bytes(b"<rss/>")
    (root / "index.html").write_text("<!doctype html><title>home</title>")
    (root / "transcripts").mkdir()
    (root / "transcripts" / "a.en.vtt").write_text("WEBVTT\n")
    (root / "chapters").mkdir()
    (root / "chapters" / "a.json").write_text('{"version": "1.2.0", "chapters": []}')
    with serving_site(request.param, root) as base_url:
        parts = urlsplit(base_url)
        yield parts.hostname, parts.port


def request(
    server: tuple[str, int], method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection(*server, timeout=5)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def test_whole_file_says_it_accepts_ranges(server) -> None:
    response, body = request(server, "GET", "/episodes/a.mp3")
    assert response.status == 200 and body == BODY
    assert response.getheader("Accept-Ranges") == "bytes"
    assert response.getheader("Content-Type") == "audio/mpeg"
    assert response.getheader("Content-Length") == str(len(BODY))


def test_head_gives_headers_and_no_body(server) -> None:
    response, body = request(server, "HEAD", "/episodes/a.mp3")
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Length") == str(len(BODY))
    response, _ = request(server, "HEAD", "/episodes/a.mp3", {"Range": "bytes=0-1"})
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 0-1/{len(BODY)}"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-1", 0, 1),
        ("bytes=100-199", 100, 199),
        ("bytes=9000-", 9000, 9999),
        ("bytes=-500", 9500, 9999),
        ("bytes=9990-20000", 9990, 9999),
    ],
)
def test_byte_ranges_answer_206(server, header: str, first: int, last: int) -> None:
    response, body = request(server, "GET", "/episodes/a.mp3", {"Range": header})
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes {first}-{last}/{len(BODY)}"
    assert response.getheader("Content-Length") == str(last - first + 1)
    assert body == BODY[first : last + 1]


def test_range_past_the_end_is_416(server) -> None:
    response, body = request(server, "GET", "/episodes/a.mp3", {"Range": "bytes=10000-"})
    assert response.status == 416
    assert response.getheader("Content-Range") == f"bytes */{len(BODY)}"


def test_several_ranges_or_stale_if_range_get_the_whole_file(server) -> None:
    response, body = request(server, "GET", "/episodes/a.mp3", {"Range": "bytes=0-1,5-6"})
    assert response.status == 200 and body == BODY
    response, body = request(
        server,
        "GET",
        "/episodes/a.mp3",
        {"Range": "bytes=0-1", "If-Range": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )
    assert response.status == 200 and body == BODY


def test_index_types_and_missing_files(server) -> None:
    response, body = request(server, "GET", "/")
    assert response.status == 200 and b"home" in body
    response, _ = request(server, "GET", "/feed.xml")
    assert response.getheader("Content-Type") == "application/rss+xml"
    response, _ = request(server, "GET", "/transcripts/a.en.vtt")
    assert response.getheader("Content-Type") == "text/vtt; charset=utf-8"
    response, _ = request(server, "GET", "/nothing.mp3")
    assert response.status == 404


def test_missing_folder_is_a_setup_error(tmp_path: Path) -> None:
    from fieldreports.errors import SetupError

    with pytest.raises(SetupError, match="fieldreports run"), running(tmp_path / "nope"):
        pass


def test_chapters_are_served_with_their_own_type(server) -> None:
    """Podcasting 2.0 asks for application/json+chapters; plain JSON stays application/json."""
    response, _body = request(server, "GET", "/chapters/a.json")
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json+chapters"


def test_folders_redirect_to_their_slash_and_are_never_listed(server) -> None:
    response, _ = request(server, "GET", "/transcripts")
    assert response.status == 301 and response.getheader("Location").endswith("/transcripts/")
    response, _ = request(server, "GET", "/transcripts/")
    assert response.status == 404
    # "//transcripts" must not redirect to a host named "transcripts".
    response, _ = request(server, "GET", "//transcripts")
    location = response.getheader("Location") or ""
    assert response.status in (301, 404) and not location.startswith("//"), location
