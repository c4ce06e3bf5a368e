"""Expiring links for a local show: `fieldreports partners --expires` signs each master's URL
with the show's key, `fieldreports serve --signed` answers only those, until they expire."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from episodes.episode import Episode
from episodes.pages.partners import presign_masters
from episodes.site.publish import build_site, publish
from episodes.site.signing import KEY_FILE, load_secret, sign
from episodes.site.storage import open_storage
from fieldreports.config import ShowConfig
from tests.support.episodes import BASE_URL, make_show_episodes, show_config
from tests.support.station import serving_site


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShowConfig, tuple[Episode, ...]]:
    work = tmp_path_factory.mktemp("signing")
    config = show_config(work / "show")
    (config.show_dir / "show.toml").write_text(
        f'[show]\ntitle = "Border Reached!"\nbase_url = "{BASE_URL}"\n', encoding="utf-8"
    )
    episodes = make_show_episodes(config, work)
    publish(build_site(episodes, config, map_files=()), open_storage(config))
    return config, episodes


@pytest.fixture(scope="module", params=["serve", "station"])
def server(show, request) -> Iterator[tuple[str, int]]:  # noqa: ANN001
    config, _episodes = show
    secret = load_secret(config.state_dir)
    with serving_site(request.param, config.public_dir, signing_secret=secret) as base:
        parts = urlsplit(base)
        yield parts.hostname, parts.port


def get(server: tuple[str, int], url: str) -> tuple[int, bytes]:
    """GET the path and query of `url` (a public URL) from the local server."""
    parts = urlsplit(url)
    target = parts.path.removeprefix(urlsplit(BASE_URL).path.rstrip("/")) + (
        f"?{parts.query}" if parts.query else ""
    )
    connection = http.client.HTTPConnection(*server, timeout=5)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_signed_links_download_and_nothing_else_does(show, server) -> None:
    config, episodes = show
    document = json.loads(presign_masters(config, expires_s=3600))
    assert document["expires_at"]
    for entry in document["episodes"]:
        url = entry["master_url"]
        assert "expires=" in url and "signature=" in url
        status, body = get(server, url)
        assert status == 200 and hashlib.sha256(body).hexdigest() == entry["sha256"]
        assert get(server, url.split("?")[0])[0] == 403  # unsigned
        assert get(server, url.replace("signature=", "signature=0"))[0] == 403  # tampered
        other = next(e.master.key for e in episodes if e.master.key != entry["master_key"])
        assert get(server, url.replace(entry["master_key"], other))[0] == 403  # another file
    # A link that has expired.
    key = episodes[0].master.key
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    expired = f"{BASE_URL}{key}?{sign(key, load_secret(config.state_dir), past)}"
    assert get(server, expired)[0] == 403
    # Everything but the masters is served as ever.
    assert get(server, BASE_URL + "feed.xml")[0] == 200
    assert get(server, BASE_URL + episodes[0].audio.key)[0] == 200


def test_the_key_stays_private(show) -> None:
    config, _episodes = show
    path = config.state_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_bytes().strip()
    assert len(secret) == 64
    published = b"".join(p.read_bytes() for p in config.public_dir.rglob("*") if p.is_file())
    assert secret not in published


def test_partners_command_signs_local_links(show) -> None:
    from pipeline import cli

    config, _episodes = show
    result = CliRunner().invoke(
        cli, ["partners", str(config.show_dir), "--expires", "2h"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert all("signature=" in e["master_url"] for e in document["episodes"])
    expires = dt.datetime.fromisoformat(document["expires_at"])
    assert dt.timedelta(hours=1.9) < expires - dt.datetime.now(dt.UTC) < dt.timedelta(hours=2.1)
    too_long = CliRunner().invoke(cli, ["partners", str(config.show_dir), "--expires", "8d"])
    assert too_long.exit_code != 0 and "7 days" in too_long.output


def test_the_secret_from_the_environment_wins(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("FIELDREPORTS_SIGNING_SECRET", "from-the-vault")
    assert load_secret(tmp_path) == b"from-the-vault"
    assert not (tmp_path / KEY_FILE).exists()
