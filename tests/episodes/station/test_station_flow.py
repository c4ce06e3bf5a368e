"""From the field to the feed with nobody at a desk: reports sent to a running station are
mastered, transcribed (Whisper tiny.en), located and published by its processor alone, each
reporter is told how theirs is doing, and webhooks and a WebSub hub hear of it.

One station for the module, with the real pipeline, two webhook receivers (one failing at first)
and a hub, all tiny HTTP servers on this machine.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from mutagen.id3 import ID3
from tusclient import client as tus_client

from episodes.station.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from fieldreports.intake.serving import listen
from fieldreports.naming import slugify
from pipeline import run_show
from tests.support.audio import speak
from tests.support.station import (
    Receiver,
    RunningStation,
    add_reporters,
    running_station,
    write_show,
)

SECRET = "a webhook secret of some length"


def wait(predicate: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


class FlakyRun:
    """The real run_show, but the run that first sees a file named explode* stops with an
    exception, as a bug or a full disk would."""

    def __init__(self) -> None:
        self.exploded = False

    def __call__(self, config: Any, **options: Any) -> Any:
        if not self.exploded and any(
            p.name.startswith("explode") for p in config.inbox_dir.iterdir()
        ):
            self.exploded = True
            raise RuntimeError("a bug in the pipeline")
        return run_show(config, **options)


@pytest.fixture(scope="module")
def receivers() -> Iterator[dict[str, Receiver]]:
    made = {"good": Receiver(), "flaky": Receiver(fail_first=2), "hub": Receiver()}
    yield made
    for receiver in made.values():
        receiver.close()


@pytest.fixture(scope="module")
def station(tmp_path_factory, receivers) -> Iterator[RunningStation]:
    show = tmp_path_factory.mktemp("station-flow") / "show"
    secret = show.parent / "webhook.secret"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    extra = (
        f'[notify]\nwebhooks = ["{receivers["good"].url}", "{receivers["flaky"].url}"]\n'
        f'secret_file = "{secret}"\nfirst_retry_s = 0.5\n'
        "[station]\nnotes_wait_s = 600\nscan_interval_s = 0\nretry_s = 1\n"
    )
    with running_station(show, run=FlakyRun(), extra_toml=extra) as running:
        yield running


@pytest.fixture(scope="module")
def hubbed(tmp_path_factory, receivers) -> Iterator[RunningStation]:
    """A second, smaller station whose show names a WebSub hub."""
    show = tmp_path_factory.mktemp("station-hub") / "show"
    show.mkdir(parents=True)
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    write_show(show, port)
    toml = show / "show.toml"
    toml.write_text(
        toml.read_text("utf-8").replace(
            "[show]\n", f'[show]\nwebsub_hub = "{receivers["hub"].url}"\n', 1
        ),
        encoding="utf-8",
    )
    with running_station(show, run=run_show, port=port) as running:
        yield running


@pytest.fixture(scope="module")
def keys(station: RunningStation) -> dict[str, str]:
    return add_reporters(station.config.show_dir, "Amal", "Bo")


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    return speak(
        "We are waiting at the harbour. The boat arrives tonight and the families are tired.",
        folder / "speech.wav",
    )


def other_speech(folder: Path, text: str) -> Path:
    """Another recording, so that no two reports of a test share their audio."""
    return speak(text, folder / f"{slugify(text)[:40]}.wav")


def send(station: RunningStation, key: str, path: Path, name: str) -> None:
    uploader = tus_client.TusClient(station.files_url, headers={"Authorization": f"Bearer {key}"})
    uploader.uploader(str(path), metadata={"filename": name}, chunk_size=100_000).upload()


def notes(folder: Path, name: str, front: str) -> Path:
    path = folder / name
    path.write_text(f"---\n{front}---\nWritten at the harbour.\n", encoding="utf-8")
    return path


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@pytest.fixture(scope="module")
def published(station, keys, speech, tmp_path_factory) -> dict[str, Any]:
    """Amal sends notes, then the recording, as the upload page does: it goes at once."""
    folder = tmp_path_factory.mktemp("harbour")
    send(station, keys["Amal"], notes(folder, "n.md", 'title: "Harbour: #1 night"\n'
         "journey: Test route\nlat: 35.4990\nlon: 12.6060\nsensitive: true\n"), "harbour.md")  # fmt: skip
    sent_at = time.time()
    send(station, keys["Amal"], speech, "harbour.wav")
    state = station.wait_for_state("harbour", keys["Amal"], ("published", "failed"))
    return {"state": state, "sent_at": sent_at, "published_at": time.time()}


def test_a_complete_report_is_published_by_the_station_alone(station, keys, published) -> None:
    state = published["state"]
    assert state["state"] == "published", state
    assert state["title"] == "Harbour: #1 night"
    links = state["links"]
    assert links["episode"].startswith(station.url + "episodes/") and links["episode"].endswith(
        ".mp3"
    )
    assert links["map"] == station.url + "map/#test-route/1"
    for url in links.values():
        status, body = fetch(url)
        assert status == 200 and body
    page = fetch(links["page"])[1].decode("utf-8")
    assert f'id="{links["page"].rsplit("#", 1)[1]}"' in page
    feed = fetch(station.url + "feed.xml")[1]
    assert b"Harbour: #1 night" in feed
    # The page offers the journey as it was spelt, so the next report joins the same season.
    assert '<option value="Test route">' in fetch(station.url + "upload")[1].decode("utf-8")
    status, body = fetch(station.url + "api/health")  # no key: for a monitor
    health = json.loads(body)
    assert status == 200 and health["ok"] and health["runs"] >= 1, health
    assert health["uploads_room_mb"] > 0
    # The report is sensitive: the API says the public place, never the exact point.
    assert (
        state["place"] and "35.499" not in json.dumps(state) and "12.606" not in json.dumps(state)
    )


def test_the_reporter_whose_key_sent_it_signs_a_report_whose_notes_name_nobody(
    station, published
) -> None:
    mp3 = station.config.public_dir / published["state"]["links"]["episode"].split(station.url)[1]
    assert str(ID3(mp3)["TPE1"]) == "Amal"


def test_webhooks_hear_of_it_signed_and_a_failing_one_is_retried(
    station, receivers, published
) -> None:
    good, flaky = receivers["good"], receivers["flaky"]
    wait(lambda: good.events("episode.published") and 204 in flaky.answered)
    when, headers, body = next(r for r in good.requests if b"episode.published" in r[2])
    assert verify_signature(body, headers, SECRET.encode())
    assert not verify_signature(body, headers, b"another secret of some length")
    assert headers[SIGNATURE_HEADER].startswith("sha256=")
    event = json.loads(body)
    assert int(headers[TIMESTAMP_HEADER]) == event["timestamp"]
    episode = event["episode"]
    links = published["state"]["links"]
    assert episode["guid"] == published["state"]["guid"] and episode["title"] == "Harbour: #1 night"
    assert (episode["mp3"], episode["page"], episode["map"]) == (
        links["episode"],
        links["page"],
        links["map"],
    )
    master = urllib.request.urlopen(episode["master"], timeout=10).read()  # a signed link works
    assert __import__("hashlib").sha256(master).hexdigest() == episode["master_sha256"]
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        fetch(episode["master"].split("?")[0])
    assert unsigned.value.code == 403
    # The failing receiver heard it at the third try; publishing did not wait for it.
    assert flaky.answered[:3] == [500, 500, 204]
    first_try, last_try = flaky.requests[0][0], flaky.requests[2][0]
    assert last_try - first_try >= 1.0  # 0.5 s, then 1 s: backing off
    assert [json.loads(b)["delivery"] for _, _, b in flaky.requests[:3]].count(
        event["delivery"]
    ) == 3
    assert published["published_at"] < last_try


def test_a_recording_without_notes_waits_for_them_then_goes_at_once(
    station, keys, speech, published, tmp_path: Path
) -> None:
    evening = other_speech(tmp_path, "The camp is quiet in the evening. Children play football.")
    send(station, keys["Bo"], evening, "camp-evening.wav")
    waiting = station.wait_for_state("camp-evening", keys["Bo"], ("waiting-for-notes",))
    assert waiting["waiting_until"]
    # Meanwhile another report goes out whole; the recording without notes is held back.
    road = other_speech(tmp_path, "On the road to the border the buses are full.")
    send(station, keys["Amal"], notes(tmp_path, "r.md", "title: On the road\n"), "road.md")
    send(station, keys["Amal"], road, "road.wav")
    assert (
        station.wait_for_state("road", keys["Amal"], ("published", "failed"))["state"]
        == "published"
    )
    assert station.state("camp-evening", keys["Bo"])["state"] == "waiting-for-notes"
    feed = fetch(station.url + "feed.xml")[1]
    assert b"On the road" in feed and b"Untitled" not in feed
    sent = time.monotonic()
    send(
        station,
        keys["Bo"],
        notes(tmp_path, "n.md", "title: Camp in the evening\n"),
        "camp-evening.md",
    )
    state = station.wait_for_state("camp-evening", keys["Bo"], ("published", "failed"))
    assert state["state"] == "published" and state["title"] == "Camp in the evening"
    assert time.monotonic() - sent < 60  # not the 600 s of notes_wait_s
    assert station.api("reports/camp-evening", keys["Amal"])[0] == 404


def test_a_broken_recording_fails_with_the_reason_and_what_to_do(
    station, keys, receivers, published, tmp_path: Path
) -> None:
    send(station, keys["Amal"], notes(tmp_path, "n.md", "title: Broken\n"), "broken.md")
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"ID3" + bytes(range(256)) * 40)
    send(station, keys["Amal"], bad, "broken.mp3")
    state = station.wait_for_state("broken", keys["Amal"], ("failed", "published"))
    assert state["state"] == "failed" and state["stage"] == "normalise"
    assert state["reason"] and "Record it again" in state["what_to_do"]
    wait(lambda: receivers["good"].events("report.failed"))
    (event,) = receivers["good"].events("report.failed")
    assert event["report"]["stage"] == "normalise" and event["report"]["title"] == "Broken"


def test_a_run_that_stops_with_an_error_is_marked_and_tried_again(
    station, keys, speech, published, tmp_path: Path
) -> None:
    send(station, keys["Amal"], notes(tmp_path, "n.md", "title: Second try\n"), "explode.md")
    send(
        station, keys["Amal"], other_speech(tmp_path, "A second try at the border."), "explode.wav"
    )
    failed = station.wait_for_state("explode", keys["Amal"], ("failed",))
    assert failed["stage"] == "station" and "tries again" in failed["reason"]
    state = station.wait_for_state("explode", keys["Amal"], ("published",))
    assert state["title"] == "Second try"


def test_a_websub_hub_is_pinged_and_named_in_the_feed(hubbed, receivers, speech, tmp_path) -> None:
    key = add_reporters(hubbed.config.show_dir, "Cem")["Cem"]
    send(hubbed, key, notes(tmp_path, "n.md", "title: Hubbed\n"), "hubbed.md")
    send(hubbed, key, other_speech(tmp_path, "News for the hub."), "hubbed.wav")
    hubbed.wait_for_state("hubbed", key, ("published",))
    feed_url = hubbed.url + "feed.xml"
    wait(lambda: any(b"hub.mode=publish" in body for _, _, body in receivers["hub"].requests))
    pings = [urllib.parse.parse_qs(body.decode()) for _, _, body in receivers["hub"].requests]
    assert {"hub.mode": ["publish"], "hub.url": [feed_url]} in pings
    channel = etree.fromstring(fetch(feed_url)[1]).find("channel")
    atom = "{http://www.w3.org/2005/Atom}link"
    rels = {link.get("rel"): link.get("href") for link in channel.findall(atom)}
    assert rels == {"self": feed_url, "hub": receivers["hub"].url}
