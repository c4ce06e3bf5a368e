"""A newsroom web page uploads with tus-js-client in real Chromium, from another origin (CORS)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.support import ROOT
from tests.support.uploads import TOKEN

playwright_api = pytest.importorskip("playwright.sync_api")

TUS_BUNDLE = ROOT / "node_modules" / "tus-js-client" / "dist" / "tus.min.js"
PAGE = b"""<!doctype html><meta charset="utf-8"><script src="/tus.min.js"></script>"""
# Builds a recording in the page and uploads it; resolves to {ok, error}.
UPLOAD = """async ({endpoint, token, size}) => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 7919) % 251
  bytes.set([0x66, 0x4c, 0x61, 0x43])  // fLaC
  const file = new File([bytes], 'Harbour at dawn.flac', {type: 'audio/flac'})
  return await new Promise((resolve) => {
    const upload = new tus.Upload(file, {
      endpoint,
      headers: {Authorization: `Bearer ${token}`},
      metadata: {filename: file.name, filetype: file.type},
      chunkSize: 100000,
      parallelUploads: 2,
      retryDelays: [],
      onError: (e) => resolve({ok: false, error: String(e)}),
      onSuccess: () => resolve({ok: true}),
    })
    upload.start()
  })
}"""


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        script = self.path.endswith(".js")
        body = TUS_BUNDLE.read_bytes() if script else PAGE
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript" if script else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The newsroom's page, on another port: another origin than the upload server's.

    Both on loopback: Chromium never lets a plain-http public page reach loopback at all.
    """
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(browser):  # noqa: ANN001, ANN201 - the run's one Chromium (tests/conftest.py)
    if not TUS_BUNDLE.exists():
        pytest.skip("needs tus-js-client (make install runs npm ci)")
    return browser


def upload_from_page(browser, origin: str, endpoint: str) -> dict:  # noqa: ANN001
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{origin}/upload.html")
    try:
        return page.evaluate(UPLOAD, {"endpoint": endpoint, "token": TOKEN, "size": 300_000})
    finally:
        context.close()


def test_a_page_on_another_origin_uploads_in_parallel(browser, page_origin, server) -> None:
    result = upload_from_page(browser, page_origin, server.url)
    assert result == {"ok": True}
    (received,) = [p for p in server.inbox.iterdir() if p.is_file()]
    assert received.name == "harbour-at-dawn.flac"
    data = received.read_bytes()
    assert data[:4] == b"fLaC" and len(data) == 300_000
    assert (
        hashlib.sha256(data[4:]).hexdigest()
        == hashlib.sha256(bytes((i * 7919) % 251 for i in range(4, 300_000))).hexdigest()
    )


def test_a_page_on_an_origin_not_allowed_cannot_upload(browser, page_origin, start_server) -> None:
    server = start_server(cors_origins="https://desk.example.org")
    result = upload_from_page(browser, page_origin, server.url)
    assert result["ok"] is False
    assert not [p for p in server.inbox.iterdir() if p.is_file()]
