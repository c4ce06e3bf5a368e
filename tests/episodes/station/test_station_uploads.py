"""Uploads into the station, by the clients reporters really use: tus-js-client (the browser
client, run here in node) and tuspy, each with its own reporter key, over real sockets. The
pipeline is not what these tests are about: the station's run function here only notes its
calls, so every file stays in the inbox as it landed. The status API and the reporters' keys
are checked here too."""

from __future__ import annotations

import json
import secrets
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from pipeline import cli
from tests.support.station import RecordingRun, RunningStation, add_reporters, running_station
from tests.support.uploads import (
    inbox_files,
    post_whole,
    recording,
    sha256,
    tus_js,
)


@pytest.fixture
def station(tmp_path: Path) -> Iterator[RunningStation]:
    run = RecordingRun()
    with running_station(tmp_path / "show", run=run, extra_toml="[station]\nburst = 8\n") as s:
        yield s


@pytest.fixture
def keys(station: RunningStation) -> dict[str, str]:
    return add_reporters(station.config.show_dir, "Amal", "Bo", editors=("Desk",))


def tuspy(station: RunningStation, key: str) -> tus_client.TusClient:
    return tus_client.TusClient(station.files_url, headers={"Authorization": f"Bearer {key}"})


# -- tus-js-client ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"uploadDataDuringCreation": True, "chunkSize": 500_000}],
    ids=["plain", "creation-with-upload"],
)
def test_tus_js_client_upload_lands_whole_and_is_recorded_with_its_sender(
    station, keys, tmp_path: Path, options
) -> None:
    source = recording(tmp_path)
    assert tus_js(station.files_url, source, keys["Amal"], **options)["ok"]
    (received,) = inbox_files(station.inbox)
    assert sha256(received) == sha256(source)
    (upload,) = station.station.catalog.uploads()
    assert (upload.file_name, upload.report_id, upload.reporter) == (
        "harbour.flac",
        "harbour",
        "Amal",
    )
    assert upload.sha256 == sha256(source)


def test_the_upload_command_sends_notes_and_recording_with_a_reporter_key(
    station, keys, tmp_path: Path
) -> None:
    notes = tmp_path / "fence.md"
    notes.write_text("---\ntitle: At the fence\n---\n", encoding="utf-8")
    source = recording(tmp_path, name="fence.flac", size=300_000)
    args = ["upload", str(source), str(notes), "--to", station.url, "--token", keys["Bo"]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert [p.name for p in inbox_files(station.inbox)] == ["fence.flac", "fence.md"]
    uploads = station.station.catalog.uploads()
    assert sorted((u.file_name, u.reporter) for u in uploads) == [
        ("fence.flac", "Bo"),
        ("fence.md", "Bo"),
    ]
    refused = CliRunner().invoke(cli, [*args[:-1], "not-a-key"])
    assert refused.exit_code != 0 and "key" in refused.output.lower(), refused.output


def test_a_report_takes_files_only_from_its_first_sender_or_an_editor(
    station, keys, tmp_path: Path
) -> None:
    """Otherwise another key could pair `sensitive: false` notes with someone's recording,
    replace their audio, or follow their report in the status API."""
    amal, bo, desk = keys["Amal"], keys["Bo"], keys["Desk"]
    sensitive = b"---\ntitle: Fence\nsensitive: true\n---\n"
    audio = recording(tmp_path, size=50_000).read_bytes()
    assert post_whole(station.files_url, amal, "fence.md", sensitive)[0] == 201
    assert post_whole(station.files_url, amal, "fence.flac", audio)[0] == 201
    assert post_whole(station.files_url, amal, "camp.flac", audio[::-1])[0] == 201  # no notes yet
    before = {p.name: p.read_bytes() for p in inbox_files(station.inbox)}

    lifted = b"---\ntitle: Camp\nsensitive: false\n---\n"
    attempts = [
        ("camp.md", lifted, {}),  # the notes a waiting recording would pair with
        ("fence.jpg", b"\xff\xd8\xff\xe0", {}),  # any file, to see the report in the API
        ("fence.md", sensitive.replace(b"Fence", b"Fence!"), {"replace": "1"}),  # then lift it
        ("fence.flac", b"fLaC" + bytes(40_000), {"replace": "1"}),
    ]
    attempts.append(("fence.flac", audio, {"sha256": sha256(station.inbox / "fence.flac")}))
    for name, data, metadata in attempts:
        status, body = post_whole(station.files_url, bo, name, data, **metadata)
        assert status == 403 and "another reporter's report" in body, (name, status, body)
    assert {p.name: p.read_bytes() for p in inbox_files(station.inbox)} == before
    assert station.api("reports/fence", bo)[0] == 404

    edited = b"---\ntitle: Fence, edited\nsensitive: true\n---\n"
    assert post_whole(station.files_url, amal, "fence.md", edited, replace="1")[0] == 201
    assert post_whole(station.files_url, desk, "fence.md", sensitive, replace="1")[0] == 201
    assert station.station.catalog.owner_of("fence") == "Amal"  # an editor's edit keeps it hers
    assert post_whole(station.files_url, bo, "fence.md", lifted, replace="1")[0] == 403


def test_two_reports_sharing_bytes_each_keep_their_files(station, keys, tmp_path: Path) -> None:
    """The same form typed twice gives the same notes; a report sent again with fixed notes
    has the same recording. Neither may be taken for the other's file and dropped."""
    amal = keys["Amal"]
    notes = b'---\ntitle: "Interview at the camp"\nplace: "Lipa"\nsensitive: true\n---\n'
    audio = recording(tmp_path, size=30_000).read_bytes()
    for stem in ("2024-05-01-camp-aaaaaa", "2024-05-01-camp-bbbbbb"):
        assert post_whole(station.files_url, amal, f"{stem}.md", notes)[0] == 201
        assert post_whole(station.files_url, amal, f"{stem}.flac", audio)[0] == 201
    assert [p.name for p in inbox_files(station.inbox)] == [
        "2024-05-01-camp-aaaaaa.flac",
        "2024-05-01-camp-aaaaaa.md",
        "2024-05-01-camp-bbbbbb.flac",
        "2024-05-01-camp-bbbbbb.md",
    ]
    # Sent again under its own name, or spelt another way, a file still lands once.
    assert post_whole(station.files_url, amal, "2024-05-01 Camp BBBBBB.flac", audio)[0] == 201
    assert len(inbox_files(station.inbox)) == 4


def test_a_report_copied_into_the_inbox_takes_files_only_from_editors(
    station, keys, tmp_path: Path
) -> None:
    (station.inbox / "copied.flac").write_bytes(recording(tmp_path, size=20_000).read_bytes())
    notes = b"---\ntitle: Copied\nsensitive: false\n---\n"
    status, body = post_whole(station.files_url, keys["Bo"], "copied.md", notes)
    assert status == 403 and "the desk's report" in body
    assert post_whole(station.files_url, keys["Desk"], "copied.md", notes)[0] == 201


def test_tus_js_client_killed_mid_upload_resumes_in_the_station(
    station, keys, tmp_path: Path
) -> None:
    source = recording(tmp_path, size=8_000_000)
    urls = tmp_path / "tus-urls.json"
    assert tus_js(
        station.files_url, source, keys["Amal"], urlStorage=str(urls), killAtFraction=0.25
    ) == {"killed": True}
    (part,) = (station.inbox / ".uploads").glob("*.part")
    assert 0 < part.stat().st_size < source.stat().st_size
    assert not inbox_files(station.inbox)
    assert tus_js(station.files_url, source, keys["Amal"], urlStorage=str(urls))["ok"]
    (received,) = inbox_files(station.inbox)
    assert sha256(received) == sha256(source)


def test_sending_again_after_completion_succeeds_and_lands_once(
    station, keys, tmp_path: Path
) -> None:
    source = recording(tmp_path, size=300_000)
    urls = tmp_path / "tus-urls.json"
    amal = keys["Amal"]
    assert tus_js(station.files_url, source, amal, urlStorage=str(urls))["ok"]
    assert tus_js(station.files_url, source, amal, urlStorage=str(urls))["ok"]  # lost the reply
    assert tus_js(station.files_url, source, keys["Amal"])["ok"]  # a fresh client, same bytes
    (received,) = inbox_files(station.inbox)
    assert sha256(received) == sha256(source)
    assert len(station.station.catalog.uploads()) == 1


def test_wrong_and_revoked_keys_get_401_and_nothing_is_stored(
    station, keys, tmp_path: Path
) -> None:
    source = recording(tmp_path, size=200_000)
    wrong = tus_js(station.files_url, source, "not-a-key")
    assert wrong["ok"] is False and wrong["status"] == 401
    result = CliRunner().invoke(cli, ["reporters", "revoke", str(station.config.show_dir), "Bo"])
    assert result.exit_code == 0, result.output
    revoked = tus_js(station.files_url, source, keys["Bo"])
    assert revoked["ok"] is False and revoked["status"] == 401
    assert "Authorization: Bearer" in revoked["body"]
    assert not inbox_files(station.inbox)
    assert not list((station.inbox / ".uploads").glob("*.json"))
    assert not station.station.catalog.uploads()
    assert station.api("reports", keys["Bo"])[0] == 401


# -- tuspy -----------------------------------------------------------------------------------


def test_tuspy_interrupted_upload_resumes_and_its_report_is_received(
    station, keys, tmp_path: Path
) -> None:
    source = recording(tmp_path)
    metadata = {"filename": "Border crossing.flac"}
    first = tuspy(station, keys["Amal"]).uploader(
        str(source), chunk_size=500_000, metadata=metadata, upload_checksum=True
    )
    first.upload_chunk()
    first.upload_chunk()  # then the phone dies
    second = tuspy(station, keys["Amal"]).uploader(str(source), url=first.url, chunk_size=500_000)
    assert second.get_offset() == 1_000_000
    second.upload()
    (received,) = inbox_files(station.inbox)
    assert received.name == "border-crossing.flac" and sha256(received) == sha256(source)
    # A recording without notes: the station waits for them (notes_wait_s) before running it.
    state = station.wait_for_state("border-crossing", keys["Amal"], ("waiting-for-notes",))
    assert state["waiting_until"] and state["files"][0]["name"] == "border-crossing.flac"


def test_tuspy_with_a_wrong_key_is_refused(station, keys, tmp_path: Path) -> None:
    with pytest.raises(TusCommunicationError) as refused:
        tuspy(station, "guess").uploader(str(recording(tmp_path))).upload()
    assert refused.value.status_code == 401
    assert not inbox_files(station.inbox)


# -- CORS, limits ----------------------------------------------------------------------------


def test_cors_preflight_is_answered_for_uploads_and_the_api(station) -> None:
    for path, method in (("files/", "POST"), ("api/reports", "GET")):
        request = urllib.request.Request(
            station.url + path,
            method="OPTIONS",
            headers={
                "Origin": "https://newsroom.example.org",
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 204)
            assert response.headers["Access-Control-Allow-Origin"] in (
                "*",
                "https://newsroom.example.org",
            )
            assert method in response.headers["Access-Control-Allow-Methods"]
            assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


def test_a_key_that_starts_too_many_uploads_is_told_to_wait(station, keys, tmp_path: Path) -> None:
    source = recording(tmp_path, size=10_000)
    statuses = []
    for _ in range(12):  # [station] burst = 8 here
        request = urllib.request.Request(
            station.files_url,
            method="POST",
            headers={
                "Authorization": f"Bearer {keys['Amal']}",
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(source.stat().st_size),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            with exc:
                statuses.append(exc.code)
                if exc.code == 429:
                    assert int(exc.headers["Retry-After"]) >= 1
                    assert b"too many requests" in exc.read()
    assert statuses[:8] == [201] * 8 and 429 in statuses[8:]
    # Another reporter's bucket is their own.
    assert station.api("reports", keys["Bo"])[0] == 200


def test_made_up_keys_share_their_address_bucket_and_health_is_never_limited(station, keys) -> None:
    # A new made-up key each time must not escape the limit, nor starve the health check.
    statuses = [station.api("reports", secrets.token_urlsafe(16))[0] for _ in range(12)]
    assert statuses[:8] == [401] * 8 and 429 in statuses[8:], statuses
    assert station.api("reports", keys["Amal"])[0] == 200  # a real key has its own bucket
    for _ in range(12):
        with urllib.request.urlopen(station.url + "api/health", timeout=10) as response:
            assert response.status == 200


def test_a_station_whose_disk_is_full_refuses_uploads_and_tells_its_monitor(
    tmp_path: Path,
) -> None:
    full = f"[uploads]\nmin_free_mb = {(shutil.disk_usage(tmp_path).free >> 20) + 1000}\n"
    with running_station(tmp_path / "show", run=RecordingRun(), extra_toml=full) as station:
        key = add_reporters(station.config.show_dir, "Amal")["Amal"]
        status, text = post_whole(station.files_url, key, "fence.md", b"---\ntitle: x\n---\n")
        assert status == 507 and "too full" in text, text
        assert not inbox_files(station.inbox)
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(station.url + "api/health", timeout=10)
        health = json.loads(answer.value.read())
        assert answer.value.code == 503 and not health["ok"] and health["uploads_room_mb"] < 0


# -- the status API: who sees what -----------------------------------------------------------


def _send(station: RunningStation, key: str, path: Path, name: str) -> None:
    tuspy(station, key).uploader(str(path), metadata={"filename": name}).upload()


def test_a_reporter_sees_only_their_own_reports_and_an_editor_sees_all(
    station, keys, tmp_path: Path
) -> None:
    notes = tmp_path / "n.md"
    notes.write_text("---\ntitle: Amal at the fence\nlat: 35.5\nlon: 12.6\n---\n", "utf-8")
    _send(station, keys["Amal"], notes, "Amal's fence notes.md")
    other = tmp_path / "o.md"
    other.write_text("---\ntitle: Bo in the camp\n---\n", "utf-8")
    _send(station, keys["Bo"], other, "Bo camp secret-name.md")

    status, mine = station.api("reports", keys["Amal"])
    assert status == 200 and mine["reporter"] == "Amal" and mine["editor"] is False
    assert [r["id"] for r in mine["reports"]] == ["amal-s-fence-notes"]
    (report,) = mine["reports"]
    assert report["state"] == "received" and report["title"] == "Amal at the fence"
    assert report["files"][0]["name"] == "amal-s-fence-notes.md"
    text = json.dumps(mine)
    assert "bo-camp" not in text and "35.5" not in text  # no other's names, no coordinates

    assert station.api("reports/bo-camp-secret-name", keys["Amal"])[0] == 404
    assert station.api("reports/amal-s-fence-notes", keys["Bo"])[0] == 404
    assert station.api("reports/amal-s-fence-notes", "guess")[0] == 401

    status, everything = station.api("reports", keys["Desk"])
    assert status == 200 and everything["editor"] is True
    assert {r["id"] for r in everything["reports"]} == {"amal-s-fence-notes", "bo-camp-secret-name"}


def test_states_of_a_report_survive_a_restart(tmp_path: Path) -> None:
    show = tmp_path / "show"
    run = RecordingRun()
    with running_station(show, run=run) as station:
        key = add_reporters(show, "Amal")["Amal"]
        source = recording(tmp_path, size=50_000)
        _send(station, key, source, "late-night.flac")
        waiting = station.wait_for_state("late-night", key, ("waiting-for-notes",))
        port = int(station.url.rsplit(":", 1)[1].strip("/"))
    with running_station(show, run=run, port=port) as again:
        assert again.state("late-night", key)["waiting_until"] == waiting["waiting_until"]
        time.sleep(0.5)
        assert run.calls[-1] == frozenset({"late-night"})  # still held back for its notes


def test_files_sent_to_receive_before_the_station_are_attributed_from_their_receipts(
    tmp_path: Path,
) -> None:
    from fieldreports.config import UploadSettings
    from fieldreports.intake.identity import shared_token
    from fieldreports.intake.tus import receiving_app
    from tests.support.uploads import running as running_receive

    show = tmp_path / "show"
    inbox = show / "inbox"
    inbox.mkdir(parents=True)
    app = receiving_app(inbox, authenticate=shared_token("s3cret"), settings=UploadSettings())
    with running_receive(app, inbox=inbox, settings=UploadSettings()) as receive:
        client = tus_client.TusClient(receive.url, headers={"Authorization": "Bearer s3cret"})
        client.uploader(
            str(recording(tmp_path, size=20_000)), metadata={"filename": "old.flac"}
        ).upload()
    with running_station(show, run=RecordingRun()) as station:
        desk = add_reporters(show, editors=("Desk",))["Desk"]
        (report,) = station.api("reports", desk)[1]["reports"]
        assert report["id"] == "old" and report["files"][0]["reporter"] == "newsroom"
        assert station.station.import_receipts() == 0  # once
