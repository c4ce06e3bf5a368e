from __future__ import annotations

import re
from pathlib import Path

import pytest

from fieldreports.config import AudioSettings, load_config
from fieldreports.errors import SetupError
from tests.support import ROOT


def write(show: Path, text: str) -> Path:
    show.mkdir(exist_ok=True)
    (show / "show.toml").write_text(text, encoding="utf-8")
    return show


def test_defaults_fill_everything_but_title_and_base_url(tmp_path: Path) -> None:
    show = write(tmp_path / "s", '[show]\ntitle = "T"\nbase_url = "https://example.org/t"\n')
    config = load_config(show)
    assert config.show.title == "T"
    assert config.show.site_url == "https://example.org/t/"
    assert config.audio == AudioSettings()
    assert config.audio.podcast_lufs == -16.0 and config.audio.master_lufs == -23.0
    assert config.transcription.engine == "faster-whisper" and config.transcription.model == "base"
    assert config.storage.kind == "local"
    assert config.audio.master_channels == 1  # one layout for the whole show: mono speech
    assert config.catalog.url == ""  # the SQLite file in .fieldreports/
    assert config.public_dir == show.resolve() / "public"


def test_integers_are_accepted_for_float_settings(tmp_path: Path) -> None:
    show = write(
        tmp_path / "s",
        '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[audio]\npodcast_lufs = -14\n',
    )
    assert load_config(show).audio.podcast_lufs == -14.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[show]\ntitle = "T"\nbase_url = "https://e.org/"\nlangauge = "en"\n',
            'unknown key "langauge" in [show]; did you mean "language"?',
        ),
        ('[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[audoi]\n', 'unknown table "[audoi]"'),
        ('[show]\ntitle = "T"\n', "[show] needs base_url"),
        ('[show]\ntitle = "T"\nbase_url = "e.org"\n', "must be an absolute http(s) URL"),
        (
            '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[audio]\npodcast_lufs = "loud"\n',
            "podcast_lufs = 'loud' should be a float",
        ),
        (
            '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[storage]\nkind = "s3"\n',
            "needs a bucket",
        ),
        ("[show\n", "not valid TOML"),
        (
            '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[audio]\nmaster_channels = 0\n',
            "master_channels must be 1 (mono, for speech) or 2",
        ),
        (
            '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n'
            '[catalog]\nurl = "mysql://news:s3cret@db/reports"\n',
            '[catalog] url must be "" (the SQLite file in .fieldreports/) or a PostgreSQL URL',
        ),
        (
            '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[catalog]\npool_size = 0\n',
            "[catalog] pool_size = 0 must be at least 1",
        ),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    show = write(tmp_path / "s", text)
    with pytest.raises(SetupError) as info:
        load_config(show)
    assert expected in str(info.value)
    assert "show.toml" in str(info.value)


def test_missing_show_toml_says_what_to_write(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="needs a show.toml"):
        load_config(tmp_path)


def test_example_show_config_is_valid() -> None:
    config = load_config(ROOT / "examples" / "border-reached")
    assert config.show.title == "Border Reached!"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[audio]\npodcast_lufs = nan\n", "podcast_lufs = nan must be a finite number"),
        ("[audio]\nmaster_lufs = -inf\n", "master_lufs = -inf must be a finite number"),
        ("[storage]\nworkers = 0\n", "workers = 0 must be at least 1"),
        ('[show]\ntimezone = "Mars/Olympus"\n', 'unknown time zone "Mars/Olympus"'),
        ("[transcription]\nbeam_size = -3\n", "beam_size = -3 must be at least 1"),
    ],
)
def test_values_no_run_could_use_are_refused_on_load(
    tmp_path: Path, table: str, message: str
) -> None:
    text = '[show]\ntitle = "T"\nbase_url = "https://example.org/t"\n' + table
    if table.startswith("[show]"):
        text = '[show]\ntitle = "T"\nbase_url = "https://example.org/t"\n' + table.split("\n", 1)[1]
    with pytest.raises(SetupError, match=re.escape(message)):
        load_config(write(tmp_path / "s", text))


def test_a_huge_value_is_not_repeated_whole_in_the_error(tmp_path: Path) -> None:
    show = write(
        tmp_path / "s",
        f'[show]\ntitle = "T"\nbase_url = "https://e.org"\nlocked = "{"x" * 5000}"\n',
    )
    with pytest.raises(SetupError) as refused:
        load_config(show)
    assert len(str(refused.value)) < 300


@pytest.mark.parametrize(
    ("uploads", "expected"),
    [
        ("read_timeout_s = 0", "read_timeout_s = 0 must be at least 0.1"),
        ("max_connections = -5", "max_connections = -5 must be at least 1"),
        ('cors_origins = "newsroom.org"', "not a web origin"),
        ('cors_origins = "https://a.org/uploads"', "scheme and host only"),
        ('cors_origins = "*, https://a.org"', "or a list of web origins"),
    ],
)
def test_upload_settings_are_checked(tmp_path: Path, uploads: str, expected: str) -> None:
    base = '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[uploads]\n'
    with pytest.raises(SetupError, match=expected):
        load_config(write(tmp_path / "s", base + uploads + "\n"))


def test_upload_settings_read_origins_and_sizes(tmp_path: Path) -> None:
    text = '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[uploads]\n'
    text += 'max_size_mb = 2\ncors_origins = "https://a.org/, https://b.org"\n'
    uploads = load_config(write(tmp_path / "s", text)).uploads
    assert uploads.max_size_bytes == 2 * 1024 * 1024
    assert uploads.allowed_origins == ("https://a.org", "https://b.org")


def test_a_postgres_catalog_url_is_accepted_and_a_wrong_one_never_echoes_its_password(
    tmp_path: Path,
) -> None:
    base = '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[catalog]\n'
    url = "postgresql://news@db.example:5432/reports"
    assert load_config(write(tmp_path / "a", base + f'url = "{url}"\n')).catalog.url == url
    with pytest.raises(SetupError) as info:
        load_config(write(tmp_path / "b", base + 'url = "mysql://news:s3cret@db/reports"\n'))
    assert "s3cret" not in str(info.value) and '"mysql://..."' in str(info.value)


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        ('broker = "amqp://news:s3cret@mq/"', 'a Redis URL like "redis://localhost:6379/0", not "amqp://..."'),
        ("visibility_timeout_s = 5", "visibility_timeout_s = 5 must be at least 10"),
        ("retry_backoff_max_s = 900", "retry_backoff_max_s = 900 must be shorter than visibility_timeout_s = 600"),
        ('work_storage = "nfs"', 'work_storage must be "shared"'),
        ('work_storage = "s3"', 'work_storage = "s3" needs work_bucket'),
        ("in_flight = 0", "in_flight = 0 must be at least 1"),
    ],
)  # fmt: skip
def test_queue_settings_are_checked(tmp_path: Path, queue: str, expected: str) -> None:
    base = '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[queue]\n'
    with pytest.raises(SetupError, match=re.escape(expected)) as refused:
        load_config(write(tmp_path / "s", base + queue + "\n"))
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("storage", "work", "refused"),
    [
        ('prefix = "site"', 'work_prefix = "work/"', False),
        ('prefix = "site"', 'work_prefix = "site/work/"', True),
        ('prefix = "site/2022"', 'work_prefix = "site"', True),
        ('prefix = ""', 'work_prefix = "work/"', True),  # the whole bucket is the public site
        ('prefix = ""', 'work_prefix = "work/"\nwork_bucket = "private-work"', False),
    ],
)
def test_recordings_never_go_into_the_published_site(
    tmp_path: Path, storage: str, work: str, refused: bool
) -> None:
    text = '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n'
    text += f'[storage]\nkind = "s3"\nbucket = "site"\n{storage}\n'
    text += f'[queue]\nwork_storage = "s3"\n{work}\n'
    if not refused:
        assert load_config(write(tmp_path / "s", text)).queue.work_storage == "s3"
        return
    with pytest.raises(SetupError, match="inside the published site"):
        load_config(write(tmp_path / "s", text))


def test_station_and_notify_settings_read_lists_of_urls(tmp_path: Path) -> None:
    show = write(
        tmp_path / "s",
        '[show]\ntitle = "T"\nbase_url = "https://e.org/"\nwebsub_hub = "https://hub.e.org/"\n'
        "[station]\nnotes_wait_s = 30\n"
        '[notify]\nwebhooks = ["https://desk.e.org/hook", "http://127.0.0.1:9000/x"]\n'
        'secret_file = ".fieldreports/webhook.secret"\n',
    )
    config = load_config(show)
    assert config.notify.webhooks == ("https://desk.e.org/hook", "http://127.0.0.1:9000/x")
    assert config.station.notes_wait_s == 30.0 and config.show.websub_hub == "https://hub.e.org/"
    assert (
        load_config(
            write(tmp_path / "d", '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n')
        ).notify.webhooks
        == ()
    )


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ('[notify]\nwebhooks = "https://e.org/hook"\n', "should be a list of text"),
        ("[notify]\nwebhooks = [1, 2]\n", "should be a list of text"),
        ('[notify]\nwebhooks = ["e.org/hook"]\n', "[notify] webhooks"),
        ('[station]\nurl = "desk.e.org"\n', "[station] url"),
        ('[notify]\nsecret_file = "public/hook.secret"\n', "lies in the published folder"),
        ("[station]\nburst = 0\n", "[station] burst = 0 must be at least 1"),
        ("[station]\nnotes_wait = 5\n", 'did you mean "notes_wait_s"'),
    ],
)
def test_station_and_notify_mistakes_are_named(tmp_path: Path, tables: str, expected: str) -> None:
    show = write(tmp_path / "s", '[show]\ntitle = "T"\nbase_url = "https://e.org/"\n' + tables)
    with pytest.raises(SetupError) as error:
        load_config(show)
    assert expected in str(error.value)


def test_a_websub_hub_changes_no_cached_episode() -> None:
    """The hub is read by the feed alone: episodes and the map keep their cache keys."""
    from fieldreports.catalog.serialise import key_data
    from fieldreports.config import ShowInfo

    plain = ShowInfo(title="T", base_url="https://e.org/")
    hubbed = ShowInfo(title="T", base_url="https://e.org/", websub_hub="https://hub.e.org/")
    assert key_data(plain) == key_data(hubbed)
