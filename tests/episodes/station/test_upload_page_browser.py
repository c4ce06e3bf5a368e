"""The upload page in real Chromium (playwright) on a phone-sized screen, the outside network
blocked: a reporter opens the link with their key, picks a recording (espeak), fills in the
notes, and sends it; the connection drops mid-upload and the page is even reloaded; when the
connection is back the upload resumes where it stopped and lands byte for byte; and the page
shows the report published, with links that work, without anyone running `fieldreports run`.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldreports.intake.notes import read_notes
from pipeline import run_show
from tests.support.audio import speak
from tests.support.mapkit import AXE, axe_violations
from tests.support.station import RunningStation, add_reporters, running_station
from tests.support.uploads import sha256

playwright_api = pytest.importorskip("playwright.sync_api")

PHONE = {"width": 360, "height": 740}
TITLE = 'Harbour: #1 at night "all" waiting'


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Iterator[RunningStation]:
    show = tmp_path_factory.mktemp("page") / "show"
    with running_station(show, run=run_show, extra_toml="[station]\nscan_interval_s = 0\n") as s:
        yield s


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """About 15 s of speech as a 22 kHz WAV: a few of the page's 256 KiB chunks."""
    folder = tmp_path_factory.mktemp("recording")
    return speak(
        "We are at the harbour of Lampedusa. It is late at night and a boat has just arrived. "
        "The families are tired and cold, and the volunteers bring blankets and tea. "
        "Nobody knows yet where they will sleep tonight.",
        folder / "Harbour at night.wav",
    )


class Network:
    """The phone's connection as the test controls it: the station's origin only, and uploads
    can be cut (every request to /files/ fails as if the signal were gone)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.cut = False
        self.outside: list[str] = []
        self.patches: list[tuple[bool, int]] = []  # (after the cut, Upload-Offset) of each PATCH
        self.aborted = 0
        self.was_cut = False

    def handle(self, route: Any, request: Any) -> None:
        url = request.url
        if not url.startswith((self.origin, "data:", "blob:")):
            self.outside.append(url)
            route.abort()
            return
        if "/files/" in url and self.cut:
            self.aborted += 1
            route.abort("internetdisconnected")
            return
        if request.method == "PATCH" and "/files/" in url:
            self.patches.append((self.was_cut, int(request.headers.get("upload-offset", "-1"))))
            if len(self.patches) == 2:  # the notes went whole; now the recording's first chunk
                route.continue_()
                self.cut = self.was_cut = True
                return
        route.continue_()


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
        return int(response.status)


@pytest.fixture(scope="module")
def sent(station, browser, recording) -> Iterator[dict[str, Any]]:
    """One report sent from the page through a dropped connection and a reload (`browser`: the
    session's Chromium, tests/conftest.py, with a fake microphone)."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run make install (npm ci)")
    key = add_reporters(station.config.show_dir, "Amal")["Amal"]
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, bypass_csp=True)
    network = Network(station.url.rstrip("/"))
    context.route("**/*", network.handle)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(station.url + "upload#key=" + key)
    page.wait_for_function("() => document.querySelector('#key-section').hidden")
    url_after_key = page.url

    page.set_input_files("#file", str(recording))
    page.fill("#title", TITLE)
    page.fill("#place", "Lampedusa")
    page.fill("#journey", "Test route")
    page.select_option("#language", "en")
    page.fill("#notes", "Volunteers: 12.\n# Not a heading in YAML\nSecond line.")
    sensitive_default = page.is_checked("#sensitive")
    page.check("#sensitive")
    page.click("#send")

    item = page.locator("#reports li").first
    playwright_api.expect(item.locator(".state")).to_have_text(
        "Waiting for a connection. Kept on this phone.", timeout=30_000
    )
    # The phone restarts the page while still offline: the report is kept on it.
    page.reload()
    playwright_api.expect(page.locator("#reports li h3").first).to_have_text(TITLE)
    page.wait_for_timeout(500)  # it tries, and cannot get through yet
    aborted_while_cut = network.aborted
    network.cut = False  # the signal is back: the page's own retries get through
    report = page.locator("#reports li").first
    playwright_api.expect(report.locator(".state")).to_have_text("Published", timeout=180_000)
    yield {
        "page": page,
        "report": report,
        "network": network,
        "errors": errors,
        "key": key,
        "url_after_key": url_after_key,
        "aborted_while_cut": aborted_while_cut,
        "sensitive_default": sensitive_default,
        "context": context,
    }
    context.close()


def test_the_upload_resumes_after_the_cut_and_lands_byte_for_byte(station, sent, recording) -> None:
    network = sent["network"]
    assert sent["aborted_while_cut"] >= 1
    # After the cut and the reload, the recording went on from where the station stood.
    resumed = [offset for after_cut, offset in network.patches if after_cut]
    assert resumed and resumed[0] >= 256 * 1024, network.patches
    (landed,) = [p for p in station.inbox.iterdir() if p.suffix == ".wav"]
    assert sha256(landed) == sha256(recording)
    assert sent["errors"] == []


def test_the_notes_round_trip_with_colons_hashes_and_quotes(station, sent) -> None:
    (notes_file,) = [p for p in station.inbox.iterdir() if p.suffix == ".md"]
    notes = read_notes(notes_file, default_title="")
    assert notes.title == TITLE
    assert (notes.place, notes.journey, notes.language) == ("Lampedusa", "Test route", "en")
    assert notes.sensitive is True and sent["sensitive_default"] is False
    assert "# Not a heading in YAML" in notes.body
    assert notes_file.stem == next(p for p in station.inbox.iterdir() if p.suffix == ".wav").stem


def test_the_page_shows_published_with_links_that_work(station, sent) -> None:
    report = sent["report"]
    assert report.locator("h3").inner_text() == TITLE
    links = {
        name: report.locator(f"a.link-{name}").get_attribute("href")
        for name in ("episode", "page", "map")
    }
    assert links["episode"].endswith(".mp3") and "#test-route/1" in links["map"]
    for url in links.values():
        assert url.startswith(station.url) and fetch(url) == 200
    # Sensitive: the page names the coarse place the site shows, nothing finer.
    assert "Shown as:" in report.inner_text()


def test_no_request_leaves_the_station_and_the_key_leaves_the_address_bar(sent) -> None:
    assert sent["network"].outside == []
    assert "key=" not in sent["url_after_key"]


def test_the_page_fits_a_phone_and_passes_axe(sent) -> None:
    page = sent["page"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.locator("#send").bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 300
    assert axe_violations(page) == []
    # The check can fail: a field without its label is critical.
    page.evaluate("document.querySelector('label[for=title]').remove()")
    assert "label" in {v["id"] for v in axe_violations(page)}


def test_the_page_allows_nothing_from_elsewhere(station) -> None:
    with urllib.request.urlopen(station.url + "upload", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        html = response.read().decode("utf-8")
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "http://" not in html and "https://" not in html
    started = time.monotonic()
    assert fetch(station.url + "upload/assets/tus-js-client-4.3.1/tus.min.js") == 200
    assert time.monotonic() - started < 5


def test_a_report_recorded_in_the_browser_is_sent_and_published(station, browser) -> None:
    """MediaRecorder with Chromium's fake microphone (a beep): the page records, keeps the
    recording's start time in the notes, and sends it as WebM, which the pipeline decodes."""
    key = add_reporters(station.config.show_dir, "Bo")["Bo"]
    context = browser.new_context(viewport=PHONE, permissions=["microphone"])
    page = context.new_page()
    page.goto(station.url + "upload#key=" + key)
    page.click("#record")
    playwright_api.expect(page.locator("#record")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(2500)
    page.click("#record")
    playwright_api.expect(page.locator("#preview")).to_be_visible()
    page.fill("#title", "Recorded at the fence")
    page.click("#send")
    state = page.locator("#reports li .state").first
    playwright_api.expect(state).to_have_text("Published", timeout=180_000)
    context.close()
    (webm,) = [p for p in station.inbox.iterdir() if p.suffix == ".webm"]
    assert webm.read_bytes()[:4] == b"\x1aE\xdf\xa3"  # Matroska/WebM
    notes = read_notes(webm.with_suffix(".md"), default_title="")
    assert notes.title == "Recorded at the fence" and notes.recorded_at is not None
    assert notes.recorded_at.tzinfo is not None
