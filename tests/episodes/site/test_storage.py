"""Storage backends: the local folder, and S3 against moto's standalone server over real HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path

import boto3
import pytest

from episodes.episode import Episode
from episodes.pages.partners import presign_masters
from episodes.site.files import SiteFile
from episodes.site.publish import build_site, publish
from episodes.site.storage import LocalStorage, S3Storage, StorageError, check_key, open_storage
from fieldreports.config import ShowConfig
from tests.support.episodes import make_show_episodes, show_config
from tests.support.s3 import BUCKET, Moto, moto_server

# ---------------------------------------------------------------- local folder


def test_local_put_is_whole_and_skips_identical(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "public", base_url="https://example.org/show/")
    page = SiteFile(key="transcripts/a.en.vtt", content_type="text/vtt", data=b"WEBVTT\n")
    assert storage.put(page) is True
    assert storage.put(page) is False
    assert (tmp_path / "public/transcripts/a.en.vtt").read_bytes() == b"WEBVTT\n"
    same_size = SiteFile(key=page.key, content_type="text/vtt", data=b"WEBVTT\r")
    assert storage.put(same_size) is True  # same size, different bytes: written
    assert storage.get(page.key) == b"WEBVTT\r"
    assert storage.list_keys() == ("transcripts/a.en.vtt",)
    assert not [p for p in (tmp_path / "public").rglob("*") if p.name.endswith(".tmp")]
    assert oct((tmp_path / "public/transcripts/a.en.vtt").stat().st_mode & 0o777) == "0o644"
    assert storage.url("feed.xml") == "https://example.org/show/feed.xml"


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a//b", "a/./b", ""])
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


# ---------------------------------------------------------------- S3 (moto server)

moto = moto_server  # the fixture, under the name these tests use


@pytest.fixture(scope="module")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Episode, ...]:
    work = tmp_path_factory.mktemp("s3-episodes")
    return make_show_episodes(show_config(work / "show"), work)


def s3_config(tmp_path: Path, moto: Moto, prefix: str, **storage: object) -> ShowConfig:
    return show_config(
        tmp_path / "show",
        storage={
            "kind": "s3",
            "bucket": BUCKET,
            "prefix": prefix,
            "region": "us-east-1",
            "endpoint_url": moto.endpoint,
            "public_base_url": f"{moto.endpoint}/{BUCKET}/{prefix}/",
            "addressing_style": "path",
            "max_attempts": 2,
            "connect_timeout_s": 1.0,
            "read_timeout_s": 5.0,
            **storage,
        },
    )


def _client(moto: Moto):  # noqa: ANN202 - a boto3 client
    return boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1")


def test_s3_publish_sets_types_and_republish_uploads_nothing(
    moto: Moto, episodes: tuple[Episode, ...], tmp_path: Path
) -> None:
    config = s3_config(tmp_path, moto, "first")
    storage = open_storage(config)
    assert isinstance(storage, S3Storage)
    site = build_site(episodes, config, map_files=())
    report = publish(site, storage)
    assert set(report.uploaded) == set(site.keys()) and report.unchanged == ()
    client = _client(moto)
    feed = client.head_object(Bucket=BUCKET, Key="first/feed.xml")
    assert feed["ContentType"] == "application/rss+xml; charset=utf-8"
    assert feed["CacheControl"] == "public, max-age=300"
    mp3 = client.head_object(Bucket=BUCKET, Key=f"first/{episodes[0].audio.key}")
    assert mp3["ContentType"] == "audio/mpeg"
    assert mp3["CacheControl"] == "public, max-age=86400"
    assert mp3["ContentLength"] == episodes[0].audio.size_bytes
    assert mp3["Metadata"]["sha256"] == episodes[0].audio.sha256
    vtt = client.head_object(Bucket=BUCKET, Key=f"first/{episodes[0].transcripts[0].key}")
    assert vtt["ContentType"] == "text/vtt; charset=utf-8"
    # The feed's enclosures point at the bucket's public URLs.
    assert f"{moto.endpoint}/{BUCKET}/first/episodes/".encode() in storage.get("feed.xml")

    again = publish(build_site(episodes, config, map_files=()), storage)
    assert again.uploaded == ()
    assert len(again.unchanged) == len(site.keys())


def test_s3_server_stopped_mid_publish_keeps_old_feed_and_next_run_completes(
    moto: Moto, episodes: tuple[Episode, ...], tmp_path: Path
) -> None:
    config = s3_config(tmp_path, moto, "crash")
    storage = open_storage(config)
    old_site = build_site(episodes[:2], config, map_files=())
    publish(old_site, storage)
    old_feed = storage.get("feed.xml")

    new_site = build_site(episodes, config, map_files=())
    stop_after = len(new_site.media)

    def stop_server(done: int, total: int) -> None:
        if done == stop_after:
            moto.stop()

    try:
        with pytest.raises(StorageError, match="run again"):
            publish(new_site, storage, on_progress=stop_server)
    finally:
        if moto.server is None:
            moto.start()
    assert storage.get("feed.xml") == old_feed  # listeners still see a consistent feed
    new_mp3 = episodes[2].audio.key
    assert storage.get(new_mp3) == episodes[2].audio.source.read_bytes()

    finished = publish(new_site, storage)
    assert new_mp3 in finished.unchanged  # uploaded before the crash, not again
    assert "feed.xml" in finished.uploaded
    assert storage.get("feed.xml") == new_site.feed[-1].data
    assert storage.get("feed.xml") != old_feed


def test_s3_multipart_upload_and_foreign_objects(moto: Moto, tmp_path: Path) -> None:
    config = s3_config(tmp_path, moto, "multi", multipart_threshold_mb=5)
    storage = open_storage(config)
    big = tmp_path / "big.wav"
    big.write_bytes(os.urandom(6 * 1024 * 1024 + 17))
    file = SiteFile(
        key="masters/big.wav",
        content_type="audio/wav",
        cache_control="public, max-age=86400",
        source=big,
    )
    assert storage.put(file) is True
    head = _client(moto).head_object(Bucket=BUCKET, Key="multi/masters/big.wav")
    assert "-" in head["ETag"]  # went up in parts
    assert head["ContentLength"] == big.stat().st_size
    assert storage.put(file) is False  # and is recognised by its SHA-256 afterwards

    # An object another tool uploaded (no sha256 metadata) is matched by its MD5 ETag.
    data = b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n"
    _client(moto).put_object(
        Bucket=BUCKET,
        Key="multi/t.vtt",
        Body=data,
        ContentType="text/vtt",
        CacheControl="public, max-age=300",
    )
    assert storage.put(SiteFile(key="t.vtt", content_type="text/vtt", data=data)) is False
    # ...but re-uploaded when its headers are wrong.
    assert (
        storage.put(SiteFile(key="t.vtt", content_type="text/vtt; charset=utf-8", data=data))
        is True
    )


def test_presigned_master_urls_download(
    moto: Moto, episodes: tuple[Episode, ...], tmp_path: Path
) -> None:
    config = s3_config(tmp_path, moto, "partners")
    storage = open_storage(config)
    publish(build_site(episodes, config, map_files=()), storage)
    document = json.loads(presign_masters(config, expires_s=3600))
    assert document["expires_at"]
    assert len(document["episodes"]) == len(episodes)
    for entry in document["episodes"]:
        url = entry["master_url"]
        assert "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url
        with urllib.request.urlopen(url, timeout=10) as answer:  # no credentials involved
            body = answer.read()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
        assert entry["integrated_lufs"] == -23.0


def test_partners_command_prints_presigned_links(
    moto: Moto, episodes: tuple[Episode, ...], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from pipeline import cli

    config = s3_config(tmp_path, moto, "cli")
    publish(
        build_site(episodes, config, map_files=()),
        open_storage(config),
    )
    (config.show_dir / "show.toml").write_text(
        f'[show]\ntitle = "Border Reached!"\nbase_url = "https://example.org/br/"\n'
        f'[storage]\nkind = "s3"\nbucket = "{BUCKET}"\nprefix = "cli"\n'
        f'region = "us-east-1"\nendpoint_url = "{moto.endpoint}"\naddressing_style = "path"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["partners", str(config.show_dir), "--expires", "2h"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert all("X-Amz-Expires=7200" in e["master_url"] for e in document["episodes"])
    too_long = CliRunner().invoke(cli, ["partners", str(config.show_dir), "--expires", "8d"])
    assert too_long.exit_code != 0 and "7 days" in too_long.output


class _Flaky:
    """An HTTP proxy in front of moto that answers the first request of each key with 503 SlowDown
    (S3's throttling answer) or 500, so the client's retries with backoff are exercised for real."""

    def __init__(self, upstream_port: int) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen: dict[str, int] = {}
        self.refused = 0
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers botocore's "Expect: 100-continue" at once

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                key = f"{self.command} {self.path.split('?')[0]}"
                seen[key] = seen.get(key, 0) + 1
                if seen[key] == 1 and self.command in ("PUT", "HEAD"):
                    flaky.refused += 1
                    status = 503 if self.command == "PUT" else 500
                    payload = (
                        b"<Error><Code>SlowDown</Code><Message>Reduce your request rate."
                        b"</Message></Error>"
                        if status == 503
                        else b""
                    )
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=10)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _any

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_throttling_and_5xx_are_retried_with_backoff(moto: Moto, tmp_path: Path) -> None:
    flaky = _Flaky(moto.port)
    try:
        config = s3_config(tmp_path, moto, "flaky", endpoint_url=flaky.endpoint, max_attempts=3)
        storage = open_storage(config)
        files = [
            SiteFile(key=f"transcripts/{n}.txt", content_type="text/plain", data=b"x" * n)
            for n in range(1, 4)
        ]
        assert all(storage.put(f) for f in files)
        assert flaky.refused == 6  # each HEAD got a 500 and each PUT a 503 first
        assert [storage.get(f.key) for f in files] == [f.data for f in files]
    finally:
        flaky.close()

    # With a single attempt the same refusals surface as an error that says what to do.
    flaky = _Flaky(moto.port)
    try:
        config = s3_config(tmp_path, moto, "flaky2", endpoint_url=flaky.endpoint, max_attempts=1)
        with pytest.raises(StorageError, match="run again"):
            open_storage(config).put(files[0])
    finally:
        flaky.close()


def test_s3_prune_deletes_only_stale_managed_keys(
    moto: Moto, episodes: tuple[Episode, ...], tmp_path: Path
) -> None:
    config = s3_config(tmp_path, moto, "prune", prune=True)
    storage = open_storage(config)
    publish(build_site(episodes, config, map_files=()), storage)
    _client(moto).put_object(Bucket=BUCKET, Key="prune/notes/keep.txt", Body=b"ours, not yours")
    report = publish(build_site(episodes[1:], config, map_files=()), storage)
    assert episodes[0].audio.key in report.deleted and episodes[0].master.key in report.deleted
    keys = storage.list_keys()
    assert episodes[0].audio.key not in keys and "notes/keep.txt" in keys
    assert episodes[1].audio.key in keys
