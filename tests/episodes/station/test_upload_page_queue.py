"""The upload page's queue and what a reporter (and a screen reader) is told, in real Chromium
against a station whose run only notes its calls (the files stay in the inbox as they landed).

Playwright's sync API runs route handlers only while the test is inside a playwright call: the
waits here are `page.wait_for_timeout`, never `time.sleep`.
"""

from __future__ import annotations

import base64
import json
import os
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldreports.catalog import open_catalog
from tests.support.station import RecordingRun, RunningStation, add_reporters, running_station

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PHONE = {"width": 360, "height": 740}
FOCUSED = "document.activeElement === document.body ? 'BODY' : document.activeElement.outerHTML"


@pytest.fixture
def station(tmp_path: Path) -> Iterator[RunningStation]:
    with running_station(tmp_path / "show", run=RecordingRun(),
                         extra_toml="[station]\nscan_interval_s = 0\n") as s:  # fmt: skip
        yield s


def noise(path: Path, seconds: float) -> Path:
    """A WAV that does not compress: about 88 KB a second, so 256 KiB chunks are many."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(os.urandom(int(44100 * seconds) * 2))
    return path


def upload_name(headers: dict[str, str]) -> str:
    for pair in headers.get("upload-metadata", "").split(","):
        name, _, value = pair.strip().partition(" ")
        if name == "filename":
            return base64.b64decode(value).decode()
    return ""


def opened(browser: Any, station: RunningStation, key: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(station.url + "upload#key=" + key)
    page.wait_for_function("() => document.querySelector('#key-section').hidden")
    return context, page


def fill(page: Any, recording: Path, title: str) -> None:
    page.set_input_files("#file", str(recording))
    page.fill("#title", title)


def landed(station: RunningStation) -> list[str]:
    return sorted(p.name for p in station.inbox.iterdir() if p.is_file())


def test_a_double_tap_is_one_report_and_one_sent_meanwhile_follows(
    browser, station, tmp_path: Path
) -> None:
    key = add_reporters(station.config.show_dir, "Amal")["Amal"]
    context, page = opened(browser, station, key)

    def one_bar(route: Any, request: Any) -> None:  # each chunk takes a while
        if request.method == "PATCH":
            page.wait_for_timeout(100)
        route.continue_()

    context.route("**/files/**", one_bar)
    fill(page, noise(tmp_path / "long.wav", 20), "first report")
    page.dblclick("#send")  # an impatient double tap
    first = page.locator("#reports li", has_text="first report")
    expect(first.locator(".state")).to_contain_text("Sending the recording", timeout=15_000)
    fill(page, noise(tmp_path / "short.wav", 1), "second report")
    page.click("#send")  # while the first is still going out
    deadline = time.monotonic() + 60
    while len(landed(station)) < 4:
        assert time.monotonic() < deadline, landed(station)
        page.wait_for_timeout(200)
    page.wait_for_timeout(1000)  # a second copy of the first would have started by now
    names = landed(station)
    assert len(names) == 4, names
    assert [n.split("-report-")[0][11:] for n in names] == ["first"] * 2 + ["second"] * 2
    assert page.locator("#reports li").count() == 2
    context.close()


def test_a_rotated_key_resumes_the_recording_where_the_station_stands(
    browser, station, tmp_path: Path
) -> None:
    """The page checks the key before an upload: tus-js-client forgets an upload's URL when its
    HEAD is refused, and the recording would start again from byte 0 under the new key."""
    old_key = add_reporters(station.config.show_dir, "Amal")["Amal"]
    context, page = opened(browser, station, old_key)
    names: dict[str, str] = {}  # upload id -> file name
    offsets: list[tuple[str, int]] = []  # (phase, Upload-Offset) of the recording's PATCHes
    now = {"cut": False, "phase": "old key", "chunks": 0}

    def created(response: Any) -> None:
        request = response.request
        if request.method == "POST" and "/files/" in request.url and response.status == 201:
            names[response.headers["location"].rsplit("/", 1)[-1]] = upload_name(request.headers)

    def network(route: Any, request: Any) -> None:
        if now["cut"]:
            route.abort("internetdisconnected")
            return
        if request.method == "PATCH" and names.get(request.url.rsplit("/", 1)[-1], "").endswith(
            ".wav"
        ):
            offsets.append((now["phase"], int(request.headers["upload-offset"])))
            now["chunks"] += 1
            if now["chunks"] == 4:  # four chunks through, then the signal goes
                now["cut"] = True
        route.continue_()

    context.route("**/files/**", network)
    page.on("response", created)
    fill(page, noise(tmp_path / "clip.wav", 20), "Harbour at night")
    page.click("#send")
    report = page.locator("#reports li").first
    expect(report.locator(".state")).to_have_text(
        "Waiting for a connection. Kept on this phone.", timeout=60_000
    )
    held = max(offset for _, offset in offsets)
    config = station.config
    with open_catalog(config.state_dir, config.catalog) as catalog:
        new_key = catalog.rotate_key("Amal")  # the desk, meanwhile
    now["cut"] = False
    report.get_by_role("button", name="Try again now").click()
    expect(page.locator("#key-section")).to_be_visible(timeout=15_000)
    expect(report.locator(".state")).to_contain_text("Waiting for a valid upload key")
    assert 'id="key"' in page.evaluate(FOCUSED)  # the field to fix it has the focus
    now["phase"] = "new key"
    page.fill("#key", new_key)
    page.locator("#key-form").evaluate("form => form.requestSubmit()")
    deadline = time.monotonic() + 60
    while not any(name.endswith(".wav") for name in landed(station)):
        assert time.monotonic() < deadline, landed(station)
        page.wait_for_timeout(200)
    resumed = [offset for phase, offset in offsets if phase == "new key"]
    assert resumed and resumed[0] >= held, (held, resumed[:3])
    context.close()


def test_a_failure_is_heard_whole_and_focus_stays_in_the_list(
    browser, station, tmp_path: Path
) -> None:
    key = add_reporters(station.config.show_dir, "Amal")["Amal"]
    failed = {"id": "r1", "title": "Broken", "state": "failed", "message": "Not published.",
              "stage": "normalise", "reason": "not audio", "what_to_do": "Record it again",
              "updated_at": "2026-01-01T00:00:00+00:00", "links": None, "place": None}  # fmt: skip
    listing = {"reporter": "Amal", "editor": False, "reports": [failed]}
    context = browser.new_context(viewport=PHONE)
    context.route("**/api/reports", lambda route, _: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(listing)))  # fmt: skip

    def refuse_recordings(route: Any, request: Any) -> None:
        if request.method == "POST" and upload_name(request.headers).endswith(".wav"):
            route.fulfill(status=413, body="the file is over this server's limit")
        else:
            route.continue_()

    context.route("**/files/**", refuse_recordings)
    page = context.new_page()
    page.goto(station.url + "upload#key=" + key)
    # "Failed" is heard with why and what to do: all three in one live region.
    expect(page.locator("#reports li .reason")).to_be_visible(timeout=15_000)
    inside = page.evaluate("""() => ['.state', '.reason', '.what'].map(s =>
        !!document.querySelector('#reports li ' + s).closest('[aria-live]'))""")
    assert inside == [True, True, True]
    # A refused report, removed from the keyboard: focus goes to the next report, not the top.
    fill(page, noise(tmp_path / "clip.wav", 1), "refused one")
    page.click("#send")
    remove = page.get_by_role("button", name="Remove from this list")
    expect(remove).to_be_visible(timeout=30_000)
    remove.focus()
    page.keyboard.press("Enter")
    expect(remove).to_have_count(0)
    assert page.evaluate(FOCUSED).startswith("<h3")
    context.close()


def test_notes_that_failed_are_fixed_from_the_page_without_sending_the_recording_again(
    browser, station, tmp_path: Path
) -> None:
    key = add_reporters(station.config.show_dir, "Amal")["Amal"]
    context, page = opened(browser, station, key)
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(upload_name(r.headers)))
    fill(page, noise(tmp_path / "clip.wav", 1), "Camp")
    page.fill("#place", "Lipaa")  # a typo the gazetteer cannot place
    page.click("#send")
    report = page.locator("#reports li").first
    expect(report.locator(".state")).to_have_text("Mastering", timeout=30_000)  # the run notes it
    report_id = str(report.get_attribute("id")).removeprefix("report-")
    failed = {"id": report_id, "title": "Camp", "state": "failed", "stage": "locate",
              "message": "", "reason": 'place "Lipaa" is not in the gazetteer',
              "what_to_do": "Check the place", "updated_at": "2026-01-01T00:00:00+00:00",
              "links": None, "place": None, "files": []}  # fmt: skip
    context.route(f"**/api/reports/{report_id}", lambda route, _: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(failed)))  # fmt: skip
    context.route("**/api/reports", lambda route, _: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({"reporter": "Amal", "editor": False, "reports": [failed]})))  # fmt: skip
    report.get_by_role("button", name="Fix the notes").click(timeout=15_000)
    assert page.input_value("#title") == "Camp" and page.input_value("#place") == "Lipaa"
    assert page.locator("#recording-fields").is_hidden()
    page.fill("#place", "Lipa")
    page.get_by_role("button", name="Send the fixed notes").click()
    notes = station.inbox / f"{report_id}.md"
    deadline = time.monotonic() + 30
    while 'place: "Lipa"' not in notes.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, notes.read_text(encoding="utf-8")
        page.wait_for_timeout(200)
    assert sum(name.endswith(".wav") for name in posts) == 1  # the recording went once
    assert page.locator("#recording-fields").is_visible()  # the form is a new report's again
    context.close()


def test_a_refused_report_does_not_hold_up_the_next_one(browser, station, tmp_path: Path) -> None:
    """The station refuses one report's recording for good (413): the page says so, and the
    report queued behind it goes out without waiting for a reload."""
    key = add_reporters(station.config.show_dir, "Amal")["Amal"]
    context = browser.new_context(viewport=PHONE)
    refused: list[str] = []

    def refuse_the_first_recording(route: Any, request: Any) -> None:
        name = upload_name(request.headers)
        if request.method == "POST" and name.endswith(".wav") and "first" in name:
            refused.append(name)
            route.fulfill(status=413, body="the file is over this server's limit")
            return
        route.continue_()

    context.route("**/files/", refuse_the_first_recording)
    page = context.new_page()
    page.goto(station.url + "upload")  # no key yet: both reports wait on the phone
    for count, title in enumerate(("first report", "second report"), start=1):
        fill(page, noise(tmp_path / f"{count}.wav", 1), title)
        page.click("#send")
        page.wait_for_function(f"() => document.querySelectorAll('#reports li').length >= {count}")
    page.fill("#key", key)
    page.locator("#key-form").evaluate("form => form.requestSubmit()")
    deadline = time.monotonic() + 30
    while not any("second-report" in name and name.endswith(".wav") for name in landed(station)):
        assert time.monotonic() < deadline, "the second report was never sent"
        page.wait_for_timeout(200)
    assert refused
    expect(page.locator("#reports")).to_contain_text("over this server's limit")
    context.close()


def test_a_full_station_is_said_and_the_report_goes_when_there_is_room(
    browser, station, tmp_path: Path
) -> None:
    """The station answers 507 (its disk is full): the page says what the station said, not
    "waiting for a connection", keeps the report and sends it by itself once there is room."""
    key = add_reporters(station.config.show_dir, "Amal")["Amal"]
    full = [True]

    def disk_full(route: Any, request: Any) -> None:
        if request.method == "POST" and full[0]:
            route.fulfill(status=507, body="the station's disk is too full to take this file now")
            return
        route.continue_()

    context, page = opened(browser, station, key)
    context.route("**/files/", disk_full)
    fill(page, noise(tmp_path / "fence.wav", 1), "At the fence")
    page.click("#send")
    state = page.locator("#reports li .state")
    expect(state).to_contain_text("The station cannot take it now", timeout=30_000)
    expect(state).to_contain_text("too full to take this file")
    assert not landed(station)
    full[0] = False
    deadline = time.monotonic() + 30
    while not any("at-the-fence" in name and name.endswith(".wav") for name in landed(station)):
        assert time.monotonic() < deadline, landed(station)
        page.wait_for_timeout(200)
    context.close()
