"""show.toml, read into a frozen ShowConfig.

Defaults live in the dataclasses below; an unknown key is an error that names the key and the file,
because a misspelt setting that is silently ignored costs a reporter a whole re-run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fieldreports.errors import SetupError
from fieldreports.naming import clip, did_you_mean
from fieldreports.times import zone

CONFIG_NAME = "show.toml"
# A setting that changes how fast a stage runs, not its result (catalog.serialise.NOT_IN_KEY,
# spelt out here so that config imports nothing of the catalog).
_NOT_IN_KEY = {"cache_key": False}


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowInfo:
    """The `[show]` table: what listeners and podcast directories see."""

    title: str
    base_url: str
    author: str = "fieldreports"
    description: str = ""
    language: str = "en"  # the feed's, and the interface's of the map and pages (episodes.i18n)
    category: str = "News"
    subcategory: str = ""
    explicit: bool = False
    artwork: str = ""
    owner_name: str = ""
    owner_email: str = ""
    copyright: str = ""
    link: str = ""
    timezone: str = "UTC"
    locked: bool = True
    # true: a report is published only approximately unless its notes say `sensitive: false`.
    sensitive_by_default: bool = False
    # A WebSub hub (https://www.w3.org/TR/websub/) told of every new feed, so podcast apps that
    # subscribe there refresh at once. Only the feed's <atom:link rel="hub"> shows it.
    websub_hub: str = field(default="", metadata=_NOT_IN_KEY)

    @property
    def site_url(self) -> str:
        """The base URL with exactly one trailing slash."""
        return self.base_url.rstrip("/") + "/"


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioSettings:
    """The `[audio]` table: loudness targets and field clean-up (EBU R 128; see docs/audio.md)."""

    podcast_lufs: float = -16.0
    podcast_true_peak_dbtp: float = -1.0
    podcast_bitrate_kbps: int = 96
    podcast_channels: int = 1  # 1: mono (speech); 2: stereo
    podcast_sample_rate_hz: int = 44100
    master_lufs: float = -23.0
    master_true_peak_dbtp: float = -1.0
    master_sample_rate_hz: int = 48000
    master_bit_depth: int = 24
    # One layout for every master of the show, so a partner's playout never gets a mix of mono
    # and stereo files: 1 (mono, for speech) or 2 (stereo; a mono source is copied to both).
    master_channels: int = 1
    highpass_hz: float = 80.0  # 0 turns the high-pass off
    noise_reduction: bool = False
    noise_reduction_strength: float = 0.8  # 0..1: how far noise is turned down (noisereduce)
    trim_silence: bool = True
    trim_keep_s: float = 0.5  # silence kept before the first and after the last sound
    silence_threshold_lu: float = 25.0  # quieter than this under the integrated loudness is silence
    # Ride the gain on speech so near and far voices end up alike (docs/audio.md, "Leveler").
    leveler: bool = True
    # The most a recording is ever raised (dB): a quieter one lands under target, with a warning.
    max_gain_db: float = 20.0
    # A recording with no speech found is published at its own level (false: it fails instead).
    publish_without_speech: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptionSettings:
    """The `[transcription]` table: which Whisper, which model, which guards."""

    engine: str = "faster-whisper"
    model: str = "base"
    language: str = ""
    # Whether to also translate, not what a transcript says: kept out of the cache key.
    translate: bool = field(default=False, metadata=_NOT_IN_KEY)
    word_timestamps: bool = False
    vad: bool = True
    beam_size: int = 5
    compute_type: str = "int8"
    batched: bool = False
    # Guards against invented text (docs/transcription.md): Whisper's own thresholds, then ours.
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    # Off by default: feeding the previous text back in is what lets one hallucination loop on.
    condition_on_previous_text: bool = False
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 2000
    batch_size: int = 8
    # faster-whisper: a stretch of at least this much speech is decoded batched even with
    # `batched = false` (faster there, no words lost: docs/benchmarks.md); 0: never.
    batched_from_speech_s: float = 120.0
    # Long files are read this many minutes at a time, cut in a pause, so memory stays bounded.
    window_minutes: float = 10.0
    cpu_threads: int = field(default=0, metadata=_NOT_IN_KEY)  # speed, not words


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageSettings:
    """The `[storage]` table: where the site is published. Credentials never live here."""

    kind: str = "local"
    path: str = "public"
    bucket: str = ""
    prefix: str = ""
    region: str = ""
    endpoint_url: str = ""
    public_base_url: str = ""
    # "path" suits MinIO and Garage; "virtual" suits AWS and R2; "" lets boto3 choose.
    addressing_style: str = ""
    feed_max_age_s: int = 300
    media_max_age_s: int = 86400
    multipart_threshold_mb: int = 16
    max_attempts: int = 5
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    workers: int = 8
    # Delete published files the show no longer has (a withdrawn report), after the new feed is up.
    prune: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GeotagSettings:
    """The `[geotag]` table: how reports are placed on the route (docs/geotagging.md).

    `clock_offset_s` is added to a recording's time before it is looked up on the GPX tracks
    (a recorder 1 h slow: 3600). `countries` lists the journey's ISO 3166 codes ("PL, BY");
    the countries of the other stops and of the tracks are added to it.
    """

    max_gap_minutes: float = 30.0
    clock_offset_s: float = 0.0
    sensitive: bool = False
    coarsen_km: float = 10.0
    coarsen_town_population: int = 5000
    countries: str = ""

    @property
    def country_codes(self) -> tuple[str, ...]:
        """`countries` as upper-case codes: "pl, BY" -> ("PL", "BY")."""
        codes = self.countries.replace(";", ",").split(",")
        return tuple(c.strip().upper() for c in codes if c.strip())


@dataclass(frozen=True, slots=True, kw_only=True)
class MapSettings:
    """The `[map]` table: the public route map (docs/map.md).

    `tiles` is "OpenStreetMap" (or another name folium knows), a URL template with {z}/{x}/{y}
    (then `attribution` is required), or "none" for the bundled country borders alone.
    """

    tiles: str = "OpenStreetMap"
    attribution: str = ""
    excerpt_chars: int = 280
    cluster_min_stops: int = 40  # a journey with this many stops clusters its markers; 0: never
    max_zoom: int = 12  # the closest zoom when fitting the map to its stops
    area_radius_km: float = 10.0  # a sensitive stop's area when its location gives no accuracy
    popup_width_px: int = 320  # a stop in the panel beside the map; on phones the full width


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadSettings:
    """The `[uploads]` table: limits of the tus upload server (docs/uploads.md)."""

    max_size_mb: int = 4096  # MiB; 4 GiB is hours of WAV from a field recorder
    # Uploads that would leave less than this free on the inbox's disk are refused (507) and
    # kept by the client, so the station always has room to master, publish and keep its catalog.
    min_free_mb: int = 1024
    # Unfinished uploads untouched this long are deleted; finished ones are remembered as long.
    expire_partial_hours: float = 168.0
    # A client that sends nothing for this long (headers or body) is cut off; what arrived is kept.
    read_timeout_s: float = 60.0
    max_connections: int = 200  # more at once are answered 503 "busy", never queued forever
    cors_origins: str = "*"  # "*" or web pages allowed to upload: "https://a.org, https://b.org"

    @property
    def max_size_bytes(self) -> int:
        return self.max_size_mb * 1024 * 1024

    @property
    def min_free_bytes(self) -> int:
        return self.min_free_mb * 1024 * 1024

    @property
    def expire_s(self) -> float:
        return self.expire_partial_hours * 3600

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """`cors_origins` as a tuple: ("*",) or the origins without trailing slashes."""
        origins = (o.strip().rstrip("/") for o in self.cors_origins.split(","))
        return tuple(o for o in origins if o)


@dataclass(frozen=True, slots=True, kw_only=True)
class StationSettings:
    """The `[station]` table: `fieldreports station`, the long-running service (docs/station.md)."""

    # Where reporters reach the station (behind HTTPS), for the upload links `reporters add`
    # prints; "" means [show] base_url, where the station serves the published site too.
    url: str = ""
    # A recording that lands without its notes waits this long for them before it is published
    # as "Untitled report"; one whose notes came first (as the upload page sends them) goes at once.
    notes_wait_s: float = 120.0
    # How often to look in inbox/ for files that arrived by other ways (a copy by hand); 0: never.
    scan_interval_s: float = 60.0
    # Per reporter key, on the status API and on starting uploads: a bucket of `burst` requests,
    # refilled at `requests_per_minute`. More are answered 429 with how long to wait.
    requests_per_minute: int = 120
    burst: int = 30
    # Broadcast masters only through signed, expiring links (`fieldreports partners --expires`).
    signed_masters: bool = True
    # After a run stopped by an error (not a failed report), the first wait before trying again;
    # it doubles each time, up to an hour.
    retry_s: float = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifySettings:
    """The `[notify]` table: who hears of each published or failed report (docs/station.md).

    Each webhook gets a JSON POST signed with HMAC-SHA256. The secret never lives in show.toml:
    `secret_file` names a file holding it (outside the published folder), else the environment
    variable FIELDREPORTS_WEBHOOK_SECRET gives it.
    """

    webhooks: tuple[str, ...] = ()
    secret_file: str = ""
    max_attempts: int = 8  # then the event is dropped with an error in the log
    first_retry_s: float = 5.0  # doubled after each failed attempt, up to an hour
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogSettings:
    """The `[catalog]` table: where the catalog lives (docs/catalog.md).

    `url = ""` keeps it in SHOW_DIR/.fieldreports/catalog.sqlite3, nothing to install; a
    "postgresql://user@host:port/db" URL shares one PostgreSQL database between machines. Keep its
    password out of this file: libpq reads PGPASSWORD and ~/.pgpass.
    """

    url: str = ""
    pool_size: int = 4  # PostgreSQL connections one process may hold at once
    # How long to wait for the database (a connection, or SQLite's lock) before giving up.
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSettings:
    """The `[queue]` table: the remote stages on Celery workers (docs/scaling.md).

    `broker = ""` (the default) runs every stage in this process. A "redis://host:6379/0" URL
    sends mastering and transcription to `fieldreports worker` processes on any machine that
    reaches the broker, the show's catalog (`[catalog] url`) and the work storage: the show
    folder on a shared disk (`work_storage = "shared"`, same path on every machine) or a private
    S3 prefix (`"s3"`). Keep the broker's password out of this file: `run --broker` takes one.
    """

    broker: str = ""
    name: str = ""  # the Celery queue; "" derives one from [show] base_url
    # A task whose worker vanished (kill -9, power cut) is given to another after this long;
    # a task still running after this long is given to another too (see docs/scaling.md).
    visibility_timeout_s: float = 600.0
    # Each task may take time_limit_s plus time_limit_per_audio_s for each second of audio
    # (the soft limit: the report fails); hard_limit_extra_s later its process is killed.
    time_limit_s: float = 120.0
    time_limit_per_audio_s: float = 1.0
    hard_limit_extra_s: float = 60.0
    # Transient faults (the catalog's database or the work storage unreachable) are retried
    # after retry_backoff_s, doubling up to retry_backoff_max_s, at most max_retries times.
    max_retries: int = 5
    retry_backoff_s: float = 2.0
    retry_backoff_max_s: float = 60.0
    max_lost: int = 3  # a task whose worker died this many times fails instead of looping
    in_flight: int = 32  # reports whose tasks are out at once
    work_storage: str = "shared"  # "shared" (the show folder on a shared disk) or "s3"
    work_bucket: str = ""  # "" : [storage] bucket; never a public one
    work_prefix: str = "fieldreports-work/"  # private: recordings carry GPS tags and names


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowConfig:
    """A whole show folder's settings; paths are absolute."""

    show_dir: Path
    show: ShowInfo
    audio: AudioSettings = field(default_factory=AudioSettings)
    transcription: TranscriptionSettings = field(default_factory=TranscriptionSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    geotag: GeotagSettings = field(default_factory=GeotagSettings)
    map: MapSettings = field(default_factory=MapSettings)
    uploads: UploadSettings = field(default_factory=UploadSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    station: StationSettings = field(default_factory=StationSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)

    @property
    def inbox_dir(self) -> Path:
        return self.show_dir / "inbox"

    @property
    def tracks_dir(self) -> Path:
        return self.show_dir / "tracks"

    @property
    def state_dir(self) -> Path:
        return self.show_dir / ".fieldreports"

    @property
    def quarantine_dir(self) -> Path:
        return self.show_dir / "quarantine"

    @property
    def public_dir(self) -> Path:
        """The local publishing folder (used when storage.kind is "local")."""
        return self.show_dir / self.storage.path


_TABLES: dict[str, type] = {
    "show": ShowInfo,
    "audio": AudioSettings,
    "transcription": TranscriptionSettings,
    "storage": StorageSettings,
    "geotag": GeotagSettings,
    "map": MapSettings,
    "uploads": UploadSettings,
    "catalog": CatalogSettings,
    "queue": QueueSettings,
    "station": StationSettings,
    "notify": NotifySettings,
}

# The URL schemes libpq accepts; "" is the embedded SQLite file.
CATALOG_SCHEMES = ("postgresql://", "postgres://")


def load_config(show_dir: Path) -> ShowConfig:
    """Read `SHOW_DIR/show.toml`; raise SetupError with the file and key on any mistake."""
    show_dir = show_dir.resolve()
    path = show_dir / CONFIG_NAME
    if not path.is_file():
        raise SetupError(
            f"{path} not found: a show folder needs a show.toml with at least a [show] table "
            'holding title and base_url (see README, "show.toml").'
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SetupError(f"{path}: not valid TOML ({exc}).") from exc
    return parse_config(data, show_dir=show_dir, source=path)


def parse_config(data: dict[str, Any], *, show_dir: Path, source: Path) -> ShowConfig:
    """Build a ShowConfig from parsed TOML, checking every table and key."""
    for table in data:
        if table not in _TABLES:
            raise SetupError(
                f'{source}: unknown table "[{table}]"{did_you_mean(table, _TABLES)} '
                f"(known tables: {', '.join(_TABLES)})."
            )
    if "show" not in data:
        raise SetupError(f"{source}: missing the [show] table with title and base_url.")
    sections = {
        name: _build(cls, data.get(name, {}), table=name, source=source)
        for name, cls in _TABLES.items()
    }
    config = ShowConfig(show_dir=show_dir, **sections)
    _check(config, source)
    return config


def _build(cls: type, values: Any, *, table: str, source: Path) -> Any:
    if not isinstance(values, dict):
        raise SetupError(f'{source}: "{table}" must be a table, like [{table}].')
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key, value in values.items():
        if key not in known:
            raise SetupError(
                f'{source}: unknown key "{key}" in [{table}]{did_you_mean(key, known)}'
            )
        expected = hints[key]
        if typing.get_origin(expected) is tuple:  # a list of text in TOML: webhooks = ["..."]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SetupError(
                    f"{source}: [{table}] {key} = {clip(repr(value))} should be a list of text, "
                    f'like {key} = ["https://example.org/hook"].'
                )
            values = {**values, key: tuple(value)}
            continue
        ok_types = (
            typing.get_args(expected) if isinstance(expected, types.UnionType) else (expected,)
        )
        if float in ok_types and isinstance(value, int) and not isinstance(value, bool):
            values = {**values, key: float(value)}
        elif isinstance(value, float) and not math.isfinite(value):
            raise SetupError(f"{source}: [{table}] {key} = {value} must be a finite number.")
        elif not isinstance(value, ok_types) or (isinstance(value, bool) and bool not in ok_types):
            names = " or ".join(t.__name__ for t in ok_types)
            raise SetupError(
                f"{source}: [{table}] {key} = {clip(repr(value))} should be a {names}."
            )
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in values
    ]
    if missing:
        raise SetupError(f"{source}: [{table}] needs {', '.join(missing)}.")
    return cls(**values)


# Numbers that must be at least this, or nothing sensible can happen ((table, key): minimum).
_MINIMUMS: dict[tuple[str, str], float] = {
    ("storage", "workers"): 1,
    ("storage", "max_attempts"): 1,
    ("storage", "multipart_threshold_mb"): 5,  # S3 refuses smaller parts
    ("storage", "connect_timeout_s"): 0.1,
    ("storage", "read_timeout_s"): 0.1,
    ("storage", "feed_max_age_s"): 0,
    ("storage", "media_max_age_s"): 0,
    ("audio", "podcast_bitrate_kbps"): 32,
    ("audio", "podcast_sample_rate_hz"): 8000,
    ("audio", "master_sample_rate_hz"): 8000,
    ("audio", "highpass_hz"): 0,
    ("audio", "trim_keep_s"): 0,
    ("transcription", "beam_size"): 1,
    ("transcription", "batch_size"): 1,
    ("transcription", "window_minutes"): 1,
    ("transcription", "batched_from_speech_s"): 0,
    ("audio", "max_gain_db"): 0,
    ("transcription", "cpu_threads"): 0,
    ("geotag", "max_gap_minutes"): 0,
    ("geotag", "coarsen_town_population"): 0,
    ("map", "excerpt_chars"): 0,
    ("map", "cluster_min_stops"): 0,
    ("map", "max_zoom"): 1,
    ("map", "area_radius_km"): 0.1,
    ("map", "popup_width_px"): 100,
    ("uploads", "max_size_mb"): 1,
    ("uploads", "expire_partial_hours"): 0.1,
    ("uploads", "read_timeout_s"): 0.1,
    ("uploads", "max_connections"): 1,
    ("catalog", "pool_size"): 1,
    ("catalog", "timeout_s"): 0.1,
    ("queue", "visibility_timeout_s"): 10,
    ("queue", "time_limit_s"): 1,
    ("queue", "time_limit_per_audio_s"): 0,
    ("queue", "hard_limit_extra_s"): 1,
    ("queue", "max_retries"): 0,
    ("queue", "retry_backoff_s"): 0.1,
    ("queue", "retry_backoff_max_s"): 0.1,
    ("queue", "max_lost"): 1,
    ("queue", "in_flight"): 1,
    ("station", "notes_wait_s"): 0,
    ("station", "scan_interval_s"): 0,
    ("station", "requests_per_minute"): 1,
    ("station", "burst"): 1,
    ("station", "retry_s"): 1,
    ("notify", "max_attempts"): 1,
    ("notify", "first_retry_s"): 0.1,
    ("notify", "timeout_s"): 0.1,
}


def _check(config: ShowConfig, source: Path) -> None:
    for (table, key), minimum in _MINIMUMS.items():
        value = getattr(getattr(config, table), key)
        if value < minimum:
            raise SetupError(f"{source}: [{table}] {key} = {value:g} must be at least {minimum:g}.")
    try:
        check_audio_settings(config.audio)
    except SetupError as exc:
        raise SetupError(f"{source}: {exc}") from None
    zone(config.show.timezone)
    _check_public_dir(config, source)
    if not config.show.base_url.startswith(("http://", "https://")):
        raise SetupError(
            f'{source}: [show] base_url = "{config.show.base_url}" must be an absolute http(s) URL, '
            'where the published site will live (e.g. "https://example.org/border-reached/").'
        )
    if config.storage.kind not in ("local", "s3"):
        raise SetupError(
            f'{source}: [storage] kind must be "local" or "s3", not "{config.storage.kind}".'
        )
    if config.storage.kind == "s3" and not config.storage.bucket:
        raise SetupError(f'{source}: [storage] kind = "s3" needs a bucket.')
    if config.geotag.coarsen_km < 1:
        # A finer grid would publish a sensitive report almost exactly where it was made.
        raise SetupError(
            f"{source}: [geotag] coarsen_km = {config.geotag.coarsen_km:g} is too fine to protect "
            "anyone; use 1 or more (default 10)."
        )
    _check_uploads(config.uploads, source)
    _check_catalog(config.catalog, source)
    _check_queue(config, source)
    _check_station(config, source)
    if config.transcription.engine not in ("faster-whisper", "openai-whisper"):
        raise SetupError(
            f'{source}: [transcription] engine must be "faster-whisper" or "openai-whisper", '
            f'not "{config.transcription.engine}".'
        )


def _check_public_dir(config: ShowConfig, source: Path) -> None:
    """The published folder is a folder of its own inside the show: served or copied whole, it
    must never hold the catalog (exact places), the inbox (originals), quarantine or show.toml."""
    if config.storage.kind != "local":
        return
    public = config.public_dir.resolve()
    private = (config.state_dir, config.inbox_dir, config.quarantine_dir, config.tracks_dir)
    inside = public.is_relative_to(config.show_dir) and public != config.show_dir
    if not inside or any(public.is_relative_to(p) or p.is_relative_to(public) for p in private):
        raise SetupError(
            f'{source}: [storage] path = "{config.storage.path}" must name a folder of its own '
            'inside the show folder, like "public": the published site must not hold the '
            "catalog, the inbox, quarantine/ or tracks/, nor sit inside them."
        )


def _check_catalog(catalog: CatalogSettings, source: Path) -> None:
    url = catalog.url
    if url and not url.startswith(CATALOG_SCHEMES):
        # Only the scheme is echoed: the rest may hold a password.
        shown = f'"{url.split("://", 1)[0]}://..."' if "://" in url else "a path or name"
        raise SetupError(
            f'{source}: [catalog] url must be "" (the SQLite file in .fieldreports/) or a '
            f'PostgreSQL URL like "postgresql://user@host:5432/db", not {shown}.'
        )


# Brokers whose semantics docs/scaling.md describes (visibility timeout, unacked messages).
BROKER_SCHEMES = ("redis://", "rediss://")


def _check_queue(config: ShowConfig, source: Path) -> None:
    queue, storage = config.queue, config.storage
    if queue.broker and not queue.broker.startswith(BROKER_SCHEMES):
        shown = f'"{queue.broker.split("://", 1)[0]}://..."' if "://" in queue.broker else "that"
        raise SetupError(
            f'{source}: [queue] broker must be "" (every stage in this process) or a Redis URL '
            f'like "redis://localhost:6379/0", not {shown}.'
        )
    if queue.retry_backoff_max_s >= queue.visibility_timeout_s:
        # A retry waits on its worker unacknowledged: past the visibility timeout it would be
        # handed to a second worker as well.
        raise SetupError(
            f"{source}: [queue] retry_backoff_max_s = {queue.retry_backoff_max_s:g} must be "
            f"shorter than visibility_timeout_s = {queue.visibility_timeout_s:g}."
        )
    if queue.work_storage not in ("shared", "s3"):
        raise SetupError(
            f'{source}: [queue] work_storage must be "shared" (the show folder on a shared '
            f'disk) or "s3" (a private prefix of a bucket), not "{queue.work_storage}".'
        )
    if queue.work_storage != "s3":
        return
    bucket = queue.work_bucket or storage.bucket
    work = queue.work_prefix.strip("/")
    if not bucket:
        raise SetupError(
            f'{source}: [queue] work_storage = "s3" needs work_bucket (or [storage] bucket).'
        )
    if bucket == storage.bucket and storage.kind == "s3":
        public = storage.prefix.strip("/")
        overlap = (
            not public
            or not work
            or work == public
            or work.startswith(public + "/")
            or public.startswith(work + "/")
        )
        if overlap:
            raise SetupError(
                f'{source}: [queue] work_prefix = "{queue.work_prefix}" would put recordings, '
                f"whose GPS tags and file names are private, inside the published site "
                f"(s3://{bucket}/{storage.prefix}). Give the work a bucket of its own "
                "(work_bucket) or a prefix outside [storage] prefix."
            )


def with_broker(config: ShowConfig, broker: str) -> ShowConfig:
    """`config` with `[queue] broker` set from the command line (`--broker URL`), checked."""
    changed = dataclasses.replace(config, queue=dataclasses.replace(config.queue, broker=broker))
    _check_queue(changed, Path("--broker"))
    return changed


def mask_password(url: str) -> str:
    """The URL as it may be shown: any password replaced by ***.

    >>> mask_password("postgresql://news:s3cret@db.example:5432/reports")
    'postgresql://news:***@db.example:5432/reports'
    >>> mask_password("postgresql://news@db.example/reports?password=s3cret&sslmode=require")
    'postgresql://news@db.example/reports?password=***&sslmode=require'
    >>> mask_password("redis://:s3cret@redis.example:6379/0")
    'redis://:***@redis.example:6379/0'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = urlencode(
        [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)], safe="*"
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _check_station(config: ShowConfig, source: Path) -> None:
    """Web addresses are absolute http(s); the webhooks' secret file is never published."""
    urls = [
        ("station", "url", config.station.url),
        ("show", "websub_hub", config.show.websub_hub),
        *(("notify", "webhooks", url) for url in config.notify.webhooks),
    ]
    for table, key, url in urls:
        if url and not url.startswith(("http://", "https://")):
            raise SetupError(
                f'{source}: [{table}] {key}: "{clip(url)}" must be an absolute http(s) URL, '
                'like "https://example.org/hook".'
            )
    if config.notify.secret_file and config.storage.kind == "local":
        secret = (config.show_dir / config.notify.secret_file).resolve()
        if secret.is_relative_to(config.public_dir.resolve()):
            raise SetupError(
                f'{source}: [notify] secret_file = "{config.notify.secret_file}" lies in the '
                "published folder, where anyone could read it; keep it outside, e.g. in "
                ".fieldreports/ or /etc."
            )


def _check_uploads(uploads: UploadSettings, source: Path) -> None:
    origins = uploads.allowed_origins
    if not origins or ("*" in origins and len(origins) > 1):
        raise SetupError(
            f'{source}: [uploads] cors_origins must be "*" or a list of web origins like '
            '"https://newsroom.example.org, https://desk.example.org".'
        )
    for origin in origins:
        if origin != "*" and (
            not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]
        ):
            raise SetupError(
                f'{source}: [uploads] cors_origins: "{origin}" is not a web origin; write '
                'scheme and host only, like "https://newsroom.example.org".'
            )


def check_audio_settings(settings: AudioSettings) -> None:
    """SetupError for an [audio] value no encoder can make."""
    if settings.podcast_channels not in (1, 2):
        raise SetupError(
            f"[audio] podcast_channels must be 1 or 2, not {settings.podcast_channels}."
        )
    if settings.master_channels not in (1, 2):
        # 0 once meant "as the source": a show then sent partners a mix of mono and stereo.
        raise SetupError(
            f"[audio] master_channels must be 1 (mono, for speech) or 2 (stereo), not "
            f"{settings.master_channels}: every master of a show has one layout, so a radio "
            "partner's playout never gets a mix."
        )
    if settings.master_bit_depth not in (16, 24, 32):
        raise SetupError(
            f"[audio] master_bit_depth must be 16, 24 or 32, not {settings.master_bit_depth}."
        )
    if settings.max_gain_db < 0:
        raise SetupError(
            f"[audio] max_gain_db = {settings.max_gain_db:g} must be 0 or more (default 20)."
        )
    for key in ("podcast_true_peak_dbtp", "master_true_peak_dbtp"):
        if getattr(settings, key) > 0:
            raise SetupError(f"[audio] {key} must be at or below 0 dBTP.")


def user_cache_dir() -> Path:
    """The per-user cache shared by every show: $XDG_CACHE_HOME/fieldreports, else
    ~/.cache/fieldreports. Whisper weights go in its models/, the gazetteer index beside them."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fieldreports"
