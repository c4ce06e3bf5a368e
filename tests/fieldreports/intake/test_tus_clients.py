"""The upload server against the clients reporters really use: tus-js-client (browsers, run here
in node) and tuspy, over real sockets. Each file must land in the inbox byte for byte, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from tests.support.uploads import (
    TOKEN,
    RunningServer,
    inbox_files,
    recording,
    sha256,
    tus_js,
)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"chunkSize": 1_000_000},
        {"uploadDataDuringCreation": True, "chunkSize": 1_000_000},
        {"overridePatchMethod": True, "chunkSize": 1_000_000},
        {"parallelUploads": 2},
    ],
    ids=["plain", "chunked", "creation-with-upload", "override-patch", "parallel"],
)
def test_tus_js_client_upload_lands_whole(server, tmp_path: Path, options) -> None:
    source = recording(tmp_path, name="Harbour 2022-09-20.flac", size=3_000_000)
    result = tus_js(server.url, source, **options)
    assert result["ok"], result
    (received,) = inbox_files(server.inbox)
    assert received.name == "harbour-2022-09-20.flac"
    assert sha256(received) == sha256(source)
    # A parallel upload's parts were joined and are gone; nothing waits half-done.
    assert not list((server.inbox / ".uploads").glob("*.part"))


def test_tus_js_client_killed_mid_upload_resumes(server, tmp_path: Path) -> None:
    source = recording(tmp_path, size=8_000_000)
    storage = tmp_path / "tus-urls.json"
    first = tus_js(server.url, source, urlStorage=str(storage), killAtFraction=0.25)
    assert first == {"killed": True}
    (part,) = (server.inbox / ".uploads").glob("*.part")
    kept = part.stat().st_size
    assert 0 < kept < source.stat().st_size  # the bytes that arrived before the kill are kept
    assert not inbox_files(server.inbox)  # half a file never enters the inbox

    second = tus_js(server.url, source, urlStorage=str(storage))
    assert second["ok"], second
    (received,) = inbox_files(server.inbox)
    assert sha256(received) == sha256(source)


def test_tus_js_client_sending_again_after_completion_succeeds_and_lands_once(
    server, tmp_path: Path
) -> None:
    source = recording(tmp_path, size=500_000)
    storage = tmp_path / "tus-urls.json"
    assert tus_js(server.url, source, urlStorage=str(storage))["ok"]
    # The same client resuming a finished upload (it lost the last reply): HEAD says complete.
    assert tus_js(server.url, source, urlStorage=str(storage))["ok"]
    # A fresh client sending the same bytes under the same name: a new upload, landing nowhere.
    assert tus_js(server.url, source)["ok"]
    (received,) = inbox_files(server.inbox)
    assert sha256(received) == sha256(source)


def test_tus_js_client_with_a_wrong_token_gets_401_and_stores_nothing(
    server, tmp_path: Path
) -> None:
    result = tus_js(server.url, recording(tmp_path), token="guess")
    assert result["ok"] is False and result["status"] == 401
    assert "Authorization: Bearer" in result["body"]
    assert not inbox_files(server.inbox)
    assert not list((server.inbox / ".uploads").glob("*.json"))


def test_a_different_file_under_a_taken_name_is_refused_with_409(server, tmp_path: Path) -> None:
    first = recording(tmp_path, size=200_000)
    assert tus_js(server.url, first)["ok"]
    other = recording(tmp_path / "..", name=first.name, size=300_000)
    result = tus_js(server.url, other)
    assert result["ok"] is False and result["status"] == 409
    assert "already in the inbox" in result["body"]
    (received,) = inbox_files(server.inbox)
    assert sha256(received) == sha256(first)


def tuspy(server: RunningServer, token: str = TOKEN) -> tus_client.TusClient:
    return tus_client.TusClient(server.url, headers={"Authorization": f"Bearer {token}"})


def test_tuspy_upload_with_its_default_metadata_is_named_by_its_content(
    server, tmp_path: Path
) -> None:
    source = recording(tmp_path)
    # tuspy sends no file name unless told: the first bytes say FLAC.
    tuspy(server).uploader(str(source), chunk_size=1_000_000).upload()
    (received,) = inbox_files(server.inbox)
    assert received.suffix == ".flac" and received.name.startswith("upload-")
    assert sha256(received) == sha256(source)


def test_tuspy_upload_without_a_name_or_known_type_is_refused_plainly(
    server, tmp_path: Path
) -> None:
    source = tmp_path / "data"
    source.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(TusCommunicationError) as refused:
        tuspy(server).uploader(str(source), chunk_size=10_000, upload_checksum=True).upload()
    assert refused.value.status_code == 400
    assert b"send the file name in Upload-Metadata as filename" in refused.value.response_content
    assert not inbox_files(server.inbox)


def test_tuspy_interrupted_upload_resumes_from_the_server_offset(server, tmp_path: Path) -> None:
    source = recording(tmp_path)
    metadata = {"filename": "Border crossing.flac"}
    first = tuspy(server).uploader(
        str(source), chunk_size=500_000, metadata=metadata, upload_checksum=True
    )
    first.upload_chunk()
    first.upload_chunk()  # then the phone dies
    second = tuspy(server).uploader(str(source), url=first.url, chunk_size=500_000)
    assert second.get_offset() == 1_000_000
    second.upload()
    (received,) = inbox_files(server.inbox)
    assert received.name == "border-crossing.flac"
    assert sha256(received) == sha256(source)


def test_tuspy_with_a_wrong_token_is_refused(server, tmp_path: Path) -> None:
    with pytest.raises(TusCommunicationError) as refused:
        tuspy(server, token="guess").uploader(str(recording(tmp_path))).upload()
    assert refused.value.status_code == 401
    assert not inbox_files(server.inbox)
