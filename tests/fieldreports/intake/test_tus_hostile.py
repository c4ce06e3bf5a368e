"""The upload server faces the open internet: broken and hostile requests, over raw sockets.

Every answer is short plain text, never Python's error text; nothing is written past an upload's
length; a body the server did not read is never read as a next request; a silent client lets go.
"""

from __future__ import annotations

import base64
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.uploads import TOKEN, RunningServer, encode_metadata

AUTH = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {TOKEN}"}
OCTETS = "application/offset+octet-stream"


def create(server: RunningServer, length: int, name: str = "harbour.md", **headers: str) -> str:
    """A new upload's URL path (like /files/<id>)."""
    response = httpx.post(
        server.url,
        headers={
            **AUTH,
            "Upload-Length": str(length),
            "Upload-Metadata": encode_metadata({"filename": name}),
            **headers,
        },
    )
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def exchange(server: RunningServer, data: bytes, timeout_s: float = 3.0) -> bytes:
    """Send raw bytes, return everything the server says until it closes or falls silent."""
    with socket.create_connection((server.host, server.port), timeout=timeout_s) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def head_offset(server: RunningServer, location: str) -> int:
    response = httpx.head(f"http://{server.host}:{server.port}{location}", headers=AUTH)
    return int(response.headers["Upload-Offset"])


def assert_plain(text: str) -> None:
    assert text and len(text) < 300 and "Traceback" not in text and "Error(" not in text, text


def patch_head(location: str, *, offset: int = 0, extra: str = "") -> bytes:
    return (
        f"PATCH {location} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: {OCTETS}\r\n"
        f"Upload-Offset: {offset}\r\n{extra}"
    ).encode()


@pytest.mark.parametrize("length", ["-1", "ten", "1000"])
def test_a_bad_or_oversized_content_length_gets_400_and_writes_nothing(server, length) -> None:
    location = create(server, 100)
    reply = exchange(
        server, patch_head(location, extra=f"Content-Length: {length}\r\n\r\n") + b"x" * 200
    )
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert_plain(reply.split(b"\r\n\r\n", 1)[1].decode())
    assert head_offset(server, location) == 0


def test_a_chunked_body_longer_than_the_upload_is_cut_back_with_413(server) -> None:
    location = create(server, 100)
    body = (
        b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in [b"-" * 60] * 3) + b"0\r\n\r\n"
    )
    chunked = "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    reply = exchange(server, patch_head(location, extra=chunked) + body)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert head_offset(server, location) == 0  # nothing past the length, nor the chunk before it
    assert not [p for p in server.inbox.iterdir() if p.is_file()]


def test_a_refused_body_is_never_read_as_a_second_request(server) -> None:
    """Request smuggling: the body of a refused PATCH holds a whole, authorised POST."""
    smuggled = (
        f"POST /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Bearer {TOKEN}\r\nUpload-Length: 5\r\n"
        f"Upload-Metadata: {encode_metadata({'filename': 'smuggled.md'})}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    for body in (smuggled, smuggled + b"x" * 300_000):
        refused = (
            f"PATCH /files/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\n"
            f"Tus-Resumable: 1.0.0\r\nContent-Type: {OCTETS}\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        last = b"OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        reply = exchange(server, refused + body + last)
        statuses = [
            line.split()[1] for line in reply.split(b"\r\n") if line.startswith(b"HTTP/1.1")
        ]
        assert statuses[0] == b"401" and b"201" not in statuses, reply
        assert not list((server.inbox / ".uploads").glob("*.json"))


def test_a_stalled_patch_keeps_its_bytes_and_lets_another_client_resume(start_server) -> None:
    server = start_server(read_timeout_s=0.5)
    data = b"---\ntitle: Harbour\n---\n" + b"notes " * 2000
    location = create(server, len(data))
    with socket.create_connection((server.host, server.port), timeout=5) as stalled:
        stalled.sendall(patch_head(location, extra=f"Content-Length: {len(data)}\r\n\r\n"))
        stalled.sendall(data[:1000])  # ...then the phone loses its signal
        started = time.monotonic()
        reply = b""
        while chunk := stalled.recv(65536):  # until the server closes the connection
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 408"), reply
        assert b"the bytes that arrived are kept" in reply
        assert time.monotonic() - started < 3
    # Another connection (the phone, back online) resumes where the bytes stopped.
    assert head_offset(server, location) == 1000
    response = httpx.patch(
        f"http://{server.host}:{server.port}{location}",
        headers={**AUTH, "Content-Type": OCTETS, "Upload-Offset": "1000"},
        content=data[1000:],
    )
    assert response.status_code == 204, response.text
    assert (server.inbox / "harbour.md").read_bytes() == data


def test_a_second_patch_waits_for_a_stalled_one_instead_of_failing(start_server) -> None:
    server = start_server(read_timeout_s=0.5)
    location = create(server, 10)
    url = f"http://{server.host}:{server.port}{location}"
    with socket.create_connection((server.host, server.port), timeout=5) as stalled:
        stalled.sendall(patch_head(location, extra="Content-Length: 10\r\n\r\n") + b"---\n")
        time.sleep(0.1)
        # This one waits for the upload's lock; it is freed when the stalled read times out.
        late = httpx.patch(url, headers={**AUTH, "Content-Type": OCTETS, "Upload-Offset": "0"})
    assert late.status_code == 409 and "4 bytes" in late.text  # the stalled bytes were kept
    done = httpx.patch(
        url, headers={**AUTH, "Content-Type": OCTETS, "Upload-Offset": "4"}, content=b"a: 1\n\n"
    )
    assert done.status_code == 204


def test_idle_connections_cost_no_thread_and_are_closed(start_server) -> None:
    server = start_server(read_timeout_s=0.5, max_connections=20)
    threads_before = threading.active_count()
    idle = [socket.create_connection((server.host, server.port)) for _ in range(60)]
    try:
        time.sleep(0.1)
        assert threading.active_count() == threads_before
        # Over the limit, a request is answered at once ("busy"), never left hanging.
        busy = httpx.options(server.url, timeout=2)
        assert busy.status_code in (204, 503)
        time.sleep(0.8)
        # The silent sockets were closed by the server; the slots are free again.
        for sock in idle:
            sock.settimeout(1)
            assert sock.recv(10) == b""
        assert httpx.options(server.url, timeout=2).status_code == 204
    finally:
        for sock in idle:
            sock.close()


def test_a_conflict_copy_of_a_json_file_does_not_break_later_uploads(server) -> None:
    first = create(server, 12, name="gps.json")
    second = create(server, 12, name="gps.json")  # same name, same size: decided on arrival
    base = f"http://{server.host}:{server.port}"
    headers = {**AUTH, "Content-Type": OCTETS, "Upload-Offset": "0"}
    assert httpx.patch(base + first, headers=headers, content=b'{"a": 1}    ').status_code == 204
    conflict = httpx.patch(base + second, headers=headers, content=b'{"b": 2}    ')
    assert conflict.status_code == 409 and "already in the inbox" in conflict.text
    assert list((server.inbox / ".uploads" / "conflicts").iterdir())  # kept for a human
    # A foreign file in the state folder is ignored too.
    (server.inbox / ".uploads" / "notes.json").write_text("[1, 2]")
    digest = "ab" * 32
    later = httpx.post(
        server.url,
        headers={
            **AUTH,
            "Upload-Length": "5",
            "Upload-Metadata": encode_metadata({"filename": "x.md", "sha256": digest}),
        },
    )
    assert later.status_code == 201, later.text


def answers(reply: bytes) -> list[tuple[int, str]]:
    """The (status, body text) of each HTTP response in a raw reply."""
    parts = [p for p in reply.split(b"HTTP/1.1 ") if p]
    result = []
    for part in parts:
        head, _, body = part.partition(b"\r\n\r\n")
        result.append((int(head[:3]), body.decode("utf-8", "replace")))
    return result


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/files/", {"Upload-Length": "5", "Upload-Metadata": "filename YQ"}, 400),
        ("POST", "/files/", {"Upload-Length": "5", "Upload-Metadata": "filename !!!"}, 400),
        ("POST", "/files/", {"Upload-Length": "5", "Upload-Metadata": "filename /w==,"}, 400),
        ("POST", "/files/", {"Upload-Length": str(8 << 30)}, 413),
        ("POST", "/files/", {"Upload-Length": "5", "Upload-Concat": "final;"}, 400),
        ("POST", "/files/", {"Upload-Defer-Length": "2"}, 400),
        ("POST", "/files/", {"Upload-Length": "5", "Content-Type": "text/plain"}, 415),
        ("HEAD", "/files/0123456789abcdef0123456789abcdef", {}, 404),
        ("HEAD", "/files/..%2f..%2fetc%2fpasswd", {}, 404),
        ("PATCH", "/files/abc%00def", {"Upload-Offset": "0", "Content-Type": OCTETS}, 404),
        ("PATCH", "/files/0123456789abcdef0123456789abcdef", {"Upload-Offset": "0"}, 415),
        ("DELETE", "/files/nope", {}, 404),
    ],
)
def test_garbage_gets_a_short_plain_answer_and_the_connection_stays_sound(
    server, method, path, headers, status
) -> None:
    # Each carries a body the server need not read; a normal request follows on the connection.
    lines = [f"{method} {path} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in AUTH.items())]
    lines += [*(f"{k}: {v}" for k, v in headers.items()), "Content-Length: 100", "", ""]
    follow = b"OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = exchange(server, "\r\n".join(lines).encode() + b"x" * 100 + follow)
    (first_status, first_text), *rest = answers(reply)
    assert first_status == status, reply
    if method != "HEAD":
        assert_plain(first_text)
    # Either the body was dropped and the next request answered, or the connection was closed.
    assert [s for s, _ in rest] in ([204],), reply


def test_a_5000_character_file_name_is_refused_plainly(server) -> None:
    name = "ж" * 5000 + ".m4a"
    response = httpx.post(
        server.url,
        headers={
            **AUTH,
            "Upload-Length": "5",
            "Upload-Metadata": encode_metadata({"filename": name}),
        },
    )
    assert response.status_code == 400
    assert_plain(response.text)
    assert "5004 characters" in response.text


def test_a_nul_in_a_file_name_is_refused(server) -> None:
    raw = base64.b64encode(b"a\x00b.md").decode()
    response = httpx.post(
        server.url, headers={**AUTH, "Upload-Length": "5", "Upload-Metadata": f"filename {raw}"}
    )
    assert response.status_code == 400
    assert_plain(response.text)


def test_a_zero_length_patch_at_completion_answers_complete(server) -> None:
    location = create(server, 6)
    url = f"http://{server.host}:{server.port}{location}"
    headers = {**AUTH, "Content-Type": OCTETS}
    assert httpx.patch(
        url, headers={**headers, "Upload-Offset": "0"}, content=b"---\n\n\n"
    ).is_success
    again = httpx.patch(url, headers={**headers, "Upload-Offset": "6"})
    assert again.status_code == 204 and again.headers["Upload-Offset"] == "6"
    late = httpx.patch(url, headers={**headers, "Upload-Offset": "6"}, content=b"more")
    assert late.status_code == 400
    assert_plain(late.text)


def test_a_client_dying_mid_chunk_leaves_no_traceback(server, caplog) -> None:
    location = create(server, 100_000)
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(patch_head(location, extra="Content-Length: 100000\r\n\r\n") + b"-" * 5000)
        time.sleep(0.1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    deadline = time.monotonic() + 3
    while head_offset(server, location) != 5000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert head_offset(server, location) == 5000
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_over_the_size_limit_is_413(start_server) -> None:
    server = start_server(max_size_mb=1)
    response = httpx.post(server.url, headers={**AUTH, "Upload-Length": str(2 << 20)})
    assert response.status_code == 413 and "max_size_mb" in response.text


def test_a_disk_nearly_full_is_507_and_loses_nothing(start_server, tmp_path: Path) -> None:
    """Uploads that would leave less than min_free_mb free are refused with 507 (the client
    keeps the file and tries again); one begun before goes on once there is room."""
    free_mb = shutil.disk_usage(tmp_path).free >> 20
    roomy = start_server(min_free_mb=max(0, free_mb - 200))  # 200 MiB to spare
    location = create(roomy, 5000)
    assert create(roomy, 1 << 20, name="small.wav")
    big = httpx.post(roomy.url, headers={**AUTH, "Upload-Length": str(1000 << 20)})
    assert big.status_code == 507 and "too full" in big.text, big.text
    assert_plain(big.text)

    full = start_server(min_free_mb=free_mb + 1000)  # the same inbox, after the disk filled
    refused = httpx.post(full.url, headers={**AUTH, "Upload-Length": "10"})
    assert refused.status_code == 507
    url = f"http://{full.host}:{full.port}{location}"
    patch = {**AUTH, "Content-Type": OCTETS, "Upload-Offset": "0"}
    assert httpx.patch(url, headers=patch, content=b"x" * 5000).status_code == 507
    assert head_offset(full, location) == 0
    url = f"http://{roomy.host}:{roomy.port}{location}"
    assert httpx.patch(url, headers=patch, content=b"x" * 5000).status_code == 204
    assert (roomy.inbox / "harbour.md").read_bytes() == b"x" * 5000


def test_paths_outside_the_server_never_leak(server, tmp_path: Path) -> None:
    location = create(server, 5, name="../../../etc/passwd.md")
    url = f"http://{server.host}:{server.port}{location}"
    httpx.patch(
        url, headers={**AUTH, "Content-Type": OCTETS, "Upload-Offset": "0"}, content=b"---\n\n"
    )
    assert (server.inbox / "passwd.md").is_file()
    assert not (tmp_path / "etc").exists()
