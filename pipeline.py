"""fieldreports' wiring and command line: stages in order, results cached, failures set aside.

The stages know nothing of each other or of this file; `run_show` feeds each one's typed result to
the next, and the click commands below are a thin skin over it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    DownloadColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as Progress_
from rich.table import Table

from episodes.episode import Episode, make_episode
from episodes.feed.chapters import chapter_starts
from episodes.site.publish import PublishReport, build_site, publish
from episodes.site.storage import open_storage, public_base_url
from fieldreports.audio.decode import probe, require_ffmpeg
from fieldreports.audio.master import MasteredAudio, normalise
from fieldreports.audio.master import check_settings as check_audio_settings
from fieldreports.catalog.sqlite import Catalog, cache_key, open_catalog
from fieldreports.config import AudioSettings, ShowConfig, TranscriptionSettings, load_config
from fieldreports.errors import FieldReportsError, ReportError, SetupError
from fieldreports.geo.gpx import Track, read_tracks
from fieldreports.geo.locate import Geotagger, Location, recording_time
from fieldreports.intake.inbox import Failure, FieldReport, discover
from fieldreports.transcription.formats import FORMATS as TRANSCRIPT_FORMATS
from fieldreports.transcription.formats import render as render_transcript
from fieldreports.transcription.whisper import (
    Engine,
    Transcript,
    cache_key_fields,
    load_engine,
    transcribe,
)
from maps.route import render_map

log = logging.getLogger("fieldreports")

# Bump when a stage's output changes for the same inputs, so caches made by older code are redone.
AUDIO_VERSION = 2
TRANSCRIPT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """One tick of a run, for whoever draws the bar: report `index` of `total`, `stage`, audio seconds."""

    report_id: str
    index: int
    total: int
    stage: str
    done_s: float = 0.0
    total_s: float = 0.0


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """What `run_show` did: the published episodes, what failed and why, and the work really done."""

    episodes: tuple[Episode, ...]
    failures: tuple[Failure, ...]
    warnings: tuple[str, ...]
    work: dict[str, int] = field(default_factory=dict)
    published: PublishReport | None = None

    @property
    def off_map(self) -> tuple[Episode, ...]:
        return tuple(e for e in self.episodes if not e.location.located)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Processed:
    report: FieldReport
    mastered: MasteredAudio
    transcripts: tuple[Transcript, ...]
    recorded_at: dt.datetime | None


class _Run:
    """One run's state: the config, the open catalog and the models, loaded only when needed."""

    def __init__(
        self, config: ShowConfig, catalog: Catalog, on_progress: ProgressFn | None
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.on_progress = on_progress or (lambda _p: None)
        self.run_id = catalog.start_run()
        self.cache_dir = config.state_dir / "cache"

    @cached_property
    def engine(self) -> Engine:
        # Loading Whisper costs seconds and memory: only when some report needs transcribing.
        return load_engine(self.config.transcription, cache_dir=models_dir())

    @cached_property
    def tracks(self) -> tuple[Track, ...]:
        return read_tracks(self.config.tracks_dir) if self.config.tracks_dir.is_dir() else ()

    @cached_property
    def geotagger(self) -> Geotagger:
        return Geotagger(
            tracks=self.tracks, settings=self.config.geotag, timezone=self.config.show.timezone
        )

    # -- stages with caching --------------------------------------------------------------

    def cached_master(self, report: FieldReport) -> tuple[str, MasteredAudio | None]:
        key = cache_key("audio", AUDIO_VERSION, report.audio_sha256, self.config.audio)
        cached = self.catalog.get("audio", key, MasteredAudio)
        if cached and cached.podcast_mp3.is_file() and cached.master_wav.is_file():
            return key, cached
        return key, None

    def render_master(
        self, report: FieldReport, key: str, tick: Callable[[float, float], None]
    ) -> tuple[MasteredAudio, float]:
        """normalise itself: no catalog here, as it runs beside Whisper in another thread."""
        started = time.perf_counter()
        mastered = normalise(
            report.audio_path,
            self.cache_dir / "audio" / key,
            self.config.audio,
            source_sha256=report.audio_sha256,
            on_progress=tick,
        )
        return mastered, time.perf_counter() - started

    def transcribe(
        self, report: FieldReport, *, language: str, task: str, tick: Callable[[float, float], None]
    ) -> Transcript:
        key = cache_key(
            "transcript",
            TRANSCRIPT_VERSION,
            report.audio_sha256,
            cache_key_fields(self.config.transcription, language=language, task=task),
        )
        cached = self.catalog.get("transcript", key, Transcript)
        if cached:
            return cached
        started = time.perf_counter()
        result = transcribe(
            report.audio_path, self.engine, language=language, task=task, on_progress=tick
        )
        self.catalog.put("transcript", key, result)
        self.catalog.log_work(
            self.run_id, report.id, f"transcribe:{task}", time.perf_counter() - started
        )
        return result

    def transcripts(
        self, report: FieldReport, ticker: Callable[[str], Callable[[float, float], None]]
    ) -> tuple[Transcript, ...]:
        """The transcript, and its English translation when [transcription] translate asks."""
        language = report.notes.language or self.config.transcription.language
        transcript = self.transcribe(
            report, language=language, task="transcribe", tick=ticker("transcribe")
        )
        if (
            self.config.transcription.translate
            and transcript.segments
            and transcript.language != "en"
        ):
            translation = self.transcribe(
                report, language=transcript.language, task="translate", tick=ticker("translate")
            )
            return (transcript, translation)
        return (transcript,)

    def process(self, report: FieldReport, index: int, total: int) -> _Processed | Failure:
        def ticker(stage: str) -> Callable[[float, float], None]:
            def tick(done_s: float, total_s: float) -> None:
                self.on_progress(
                    Progress(
                        report_id=report.id,
                        index=index,
                        total=total,
                        stage=stage,
                        done_s=done_s,
                        total_s=total_s,
                    )
                )

            return tick

        stage = "normalise"
        try:
            audio_key, mastered = self.cached_master(report)
            if mastered is None:
                probe(report.audio_path)  # refuse what is not audio before Whisper loads
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="normalise") as pool:
                # Mastering runs beside Whisper (which reads the original recording), so the
                # encoders and the meter use the core Whisper leaves idle.
                pending = (
                    pool.submit(self.render_master, report, audio_key, ticker(stage))
                    if mastered is None
                    else None
                )
                stage = "transcribe"
                transcription_error: ReportError | None = None
                try:
                    transcripts = self.transcripts(report, ticker)
                except ReportError as exc:
                    transcripts, transcription_error = (), exc
                finally:
                    # Keep a finished master even when the run is being stopped (Ctrl+C).
                    if pending is not None and pending.exception() is None:
                        mastered, seconds = pending.result()
                        self.catalog.put("audio", audio_key, mastered)
                        self.catalog.log_work(self.run_id, report.id, "normalise", seconds)
                stage = "normalise"
                if pending is not None:
                    pending.result()  # raises the mastering's ReportError, if it had one
            assert mastered is not None
            if transcription_error is not None:
                stage = "transcribe"
                raise transcription_error
            stage = "locate"
            recorded_at = recording_time(report, self.config.show.timezone)
        except SetupError:
            raise  # a show-wide problem (settings, a missing program): stop before publishing
        except ReportError as exc:
            return Failure(
                report_id=report.id,
                path=exc.path or report.audio_path,
                stage=stage,
                reason=exc.message,
                set_aside=stage == "normalise",
            )
        except Exception as exc:  # noqa: BLE001 - one report's bug must not sink the batch
            log.exception("%s: unexpected error in %s", report.audio_path.name, stage)
            return Failure(
                report_id=report.id,
                path=report.audio_path,
                stage=stage,
                reason=f"unexpected error ({type(exc).__name__}: {exc}); "
                "run with --verbose and report it, with the file if you can share it",
            )
        return _Processed(
            report=report,
            mastered=mastered,
            transcripts=transcripts,
            recorded_at=recorded_at,
        )


def models_dir() -> Path:
    """Where converted and joined Whisper weights are kept: shared by every show of this user."""
    return Path.home() / ".cache" / "fieldreports" / "models"


def run_show(config: ShowConfig, *, on_progress: ProgressFn | None = None) -> RunSummary:
    """The whole pipeline on one show folder: discover, master, transcribe, locate, publish."""
    require_ffmpeg()
    check_audio_settings(config.audio)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    with _run_lock(config.state_dir), open_catalog(config.state_dir) as catalog:
        run = _Run(config, catalog, on_progress)
        discovery = discover(config.inbox_dir)
        failures = list(discovery.failures)
        for failure in discovery.failures:
            _record_failure(catalog, config, failure)
        processed: list[_Processed] = []
        for index, report in enumerate(discovery.reports):
            catalog.guid_for(report.id, feed_url=feed_url(config))
            outcome = run.process(report, index, len(discovery.reports))
            if isinstance(outcome, Failure):
                outcome = _set_aside(config, report, outcome)
                failures.append(outcome)
                _record_failure(catalog, config, outcome)
            else:
                processed.append(outcome)
        episodes = _make_episodes(run, processed, failures)
        kept = _last_published(catalog, failures, episodes)
        site_dir = config.state_dir / "site"
        everything = sorted([*episodes, *kept], key=lambda e: (e.published_at, e.report_id))
        map_files = render_map(everything, config.show, tracks=run.tracks, settings=config.map)
        site = build_site(everything, config, map_files=map_files, staging_dir=site_dir)
        # Never prune while a report is failing: its published files must survive until it is fixed.
        published = publish(site, open_storage(config), prune=False if failures else None)
        for episode in episodes:
            catalog.put("episode", episode.report_id, episode)
            catalog.record(episode.report_id, status="published", summary=_summary(episode))
        work = catalog.work_done(run.run_id)
        catalog.finish_run(run.run_id, "failed" if failures else "ok")
    warnings = discovery.warnings + tuple(w for r in discovery.reports for w in r.warnings)
    warnings += tuple(w for p in processed for t in p.transcripts for w in t.warnings)
    warnings += tuple(
        f"{e.title}: this run failed, so the version published before stays up" for e in kept
    )
    return RunSummary(
        episodes=tuple(everything),
        failures=tuple(failures),
        warnings=warnings,
        work=work,
        published=published,
    )


@contextmanager
def _run_lock(state_dir: Path) -> Iterator[None]:
    """One run per show at a time: two would interleave their publishing and their catalog."""
    with (state_dir / "run.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SetupError(
                f"another fieldreports run is working on {state_dir.parent}; "
                "wait for it to finish, then run again."
            ) from None
        yield


def _last_published(
    catalog: Catalog, failures: Sequence[Failure], episodes: Sequence[Episode]
) -> list[Episode]:
    """A report that fails, or whose recording sits in quarantine, stays in the feed as it was
    last published: a typo in edited notes or a damaged re-copy must not withdraw an episode
    listeners have (nor let pruning delete its audio). Deleting a recording withdraws it."""
    current = {e.report_id for e in episodes}
    failing = {f.report_id for f in failures}
    held = failing | {r.id for r in catalog.reports() if r.status == "quarantined"}
    kept = []
    for report_id in sorted(held - current):
        previous = catalog.get("episode", report_id, Episode)
        if previous and previous.audio.source.is_file() and previous.master.source.is_file():
            kept.append(previous)
    return kept


def feed_url(config: ShowConfig) -> str:
    return public_base_url(config) + "feed.xml"


def _make_episodes(
    run: _Run, processed: Sequence[_Processed], failures: list[Failure]
) -> list[Episode]:
    """Locate every report (each journey's other stops settle ambiguous names), then number
    the located ones in recording order: one season per journey, episodes counted within it."""
    config = run.config
    batch = run.geotagger.locate_all(
        [p.report for p in processed],
        transcripts={p.report.id: p.transcripts[0].text for p in processed},
    )
    for report_id, exc in batch.errors.items():
        report = next(p.report for p in processed if p.report.id == report_id)
        failure = Failure(
            report_id=report_id,
            path=exc.path or report.audio_path,
            stage="locate",
            reason=exc.message,
        )
        failures.append(failure)
        _record_failure(run.catalog, config, failure)
    far_future = dt.datetime.max.replace(tzinfo=dt.UTC)
    ordered = sorted(
        (p for p in processed if p.report.id in batch.locations),
        key=lambda p: (p.recorded_at or far_future, p.report.id),
    )
    journeys: dict[str, list[_Processed]] = {}
    for item in ordered:
        journeys.setdefault(item.report.notes.journey, []).append(item)
    seasons = {name: n for n, name in enumerate((j for j in journeys if j), start=1)}
    episodes: list[Episode] = []
    for item in ordered:
        report = item.report
        location = batch.locations[report.id]
        try:
            episodes.append(_episode(run, item, location, seasons, journeys))
        except ReportError as exc:
            failure = Failure(
                report_id=report.id,
                path=exc.path or report.audio_path,
                stage="episode",
                reason=exc.message,
            )
            failures.append(failure)
            _record_failure(run.catalog, config, failure)
    return episodes


def _episode(
    run: _Run,
    item: _Processed,
    location: Location,
    seasons: dict[str, int],
    journeys: dict[str, list[_Processed]],
) -> Episode:
    config = run.config
    report = item.report
    journey = report.notes.journey
    segments = tuple((s.start_s, s.end_s, s.text) for s in item.transcripts[0].segments)
    offsets = (0.0, *(start for start, _title in chapter_starts(segments)))
    points = run.geotagger.route_points(report, location, offsets_s=offsets)
    first_seen = run.catalog.first_seen(report.id) or dt.datetime.now(dt.UTC)
    return make_episode(
        report,
        item.mastered,
        item.transcripts,
        location,
        guid=run.catalog.guid_for(report.id, feed_url=feed_url(config)),
        season=seasons.get(journey),
        number=journeys[journey].index(item) + 1,
        # Listeners follow the journey: an episode is dated when it was recorded.
        published_at=item.recorded_at or first_seen,
        show=config.show,
        staging_dir=config.state_dir / "site",
        recorded_at=item.recorded_at,
        artwork=_local_artwork(config),
        waypoints=tuple((o, lat, lon) for o, (lat, lon) in zip(offsets, points, strict=False)),
    )


def _local_artwork(config: ShowConfig) -> Path | None:
    """The show's artwork file, to embed in each MP3, when it is a local file."""
    artwork = config.show.artwork
    if not artwork or artwork.startswith(("http://", "https://")):
        return None
    path = config.show_dir / artwork
    return path if path.is_file() else None


def _set_aside(config: ShowConfig, report: FieldReport, failure: Failure) -> Failure:
    """Move a recording that cannot be used to quarantine/, the reason in a file beside it.

    Only the recording moves: its notes stay in the inbox, so a good copy of the recording
    dropped in again pairs with them (and their `sensitive: true`) at once. A file that grew
    while it was read is still being copied: it stays for the next run.
    """
    if not failure.set_aside:
        return failure
    audio = report.audio_path
    if audio.exists() and audio.stat().st_size != report.size_bytes:
        return dataclasses.replace(
            failure,
            set_aside=False,
            reason="the file changed while it was read (is it still being copied?); "
            "it is tried again on the next run",
        )
    target = config.quarantine_dir
    target.mkdir(parents=True, exist_ok=True)
    # A free name in quarantine/, so an earlier quarantined file of the same name is kept.
    moved, n = target / audio.name, 2
    while moved.exists():
        moved, n = target / f"{audio.stem}-{n}{audio.suffix}", n + 1
    shutil.move(str(audio), moved)
    (target / f"{moved.name}.reason.txt").write_text(f"{failure.reason}\n", encoding="utf-8")
    log.warning("%s set aside as %s: %s", audio.name, moved, failure.reason)
    return dataclasses.replace(
        failure, path=moved, reason=failure.reason + f" (moved to {target.name}/{moved.name})"
    )


def _record_failure(catalog: Catalog, config: ShowConfig, failure: Failure) -> None:
    catalog.guid_for(failure.report_id, feed_url=feed_url(config))
    catalog.record(
        failure.report_id,
        status="quarantined" if failure.set_aside else "failed",
        stage=failure.stage,
        reason=failure.reason,
    )


def _summary(episode: Episode) -> dict[str, object]:
    mastered, location = episode.mastered, episode.location
    transcript = next((t for t in episode.transcripts if not t.translated), None)
    return {
        "title": episode.title,
        "duration_s": round(mastered.duration_s, 1),
        "source_lufs": round(mastered.before.integrated_lufs, 1),
        "source_true_peak_dbtp": round(mastered.before.true_peak_dbtp, 1),
        "source_range_lu": round(mastered.before.range_lu, 1),
        "podcast_lufs": round(mastered.podcast.integrated_lufs, 1),
        "podcast_true_peak_dbtp": round(mastered.podcast.true_peak_dbtp, 1),
        "podcast_gain_db": round(mastered.podcast_gain_db, 1),
        "master_lufs": round(mastered.master.integrated_lufs, 1),
        "master_true_peak_dbtp": round(mastered.master.true_peak_dbtp, 1),
        "master_gain_db": round(mastered.master_gain_db, 1),
        "language": episode.language or (transcript.language if transcript else ""),
        "location_source": location.source,
        "place": location.name,
        # The exact point stays here, in the private catalog; only public_* is ever published.
        "lat": location.lat,
        "lon": location.lon,
        "public_lat": location.public_lat,
        "public_lon": location.public_lon,
        "sensitive": location.sensitive,
    }


# -- command line ---------------------------------------------------------------------------


def _console_setup(verbose: bool) -> Console:
    console = Console(stderr=True)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False, markup=False)],
        force=True,
    )
    # Third-party libraries are chatty at INFO; their debug output is there with --verbose.
    for name in ("faster_whisper", "botocore", "boto3", "urllib3", "numba", "matplotlib"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
    return console


def _load(show_dir: Path) -> ShowConfig:
    try:
        return load_config(show_dir)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fieldreports")
@click.option("-v", "--verbose", is_flag=True, help="Log every external command and decision.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Turn field recordings and notes into a podcast feed, broadcast masters, transcripts
    and a route map.

    A show folder holds show.toml, inbox/ (recordings + notes) and tracks/ (GPX). Start with
    `fieldreports run SHOW_DIR`.
    """
    ctx.obj = _console_setup(verbose)


@cli.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_obj
def run(console: Console, show_dir: Path) -> None:
    """Run the whole pipeline on SHOW_DIR and publish it.

    Reads SHOW_DIR/show.toml, masters, transcribes and locates every report in SHOW_DIR/inbox,
    then publishes media, transcripts, the map and the feed (local folder SHOW_DIR/public by
    default). Unchanged reports are not processed again. Exits with status 1 when any report
    failed, naming each one and why.
    """
    config = _load(show_dir)
    with Progress_(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        reports_task = bar.add_task("reports", total=None, detail="")
        # One bar per stage: mastering and transcription of a report run side by side.
        stage_tasks: dict[str, TaskID] = {}

        def on_progress(p: Progress) -> None:
            bar.update(
                reports_task,
                total=p.total,
                completed=p.index,
                description=f"report {p.index + 1}/{p.total}",
                detail=p.report_id,
            )
            if p.stage not in stage_tasks:
                stage_tasks[p.stage] = bar.add_task(f"  {p.stage}", total=None, detail="")
            bar.update(
                stage_tasks[p.stage],
                total=p.total_s or None,
                completed=p.done_s,
                detail=f"{p.done_s:.0f}/{p.total_s:.0f} s of audio" if p.total_s else "",
            )

        try:
            summary = run_show(config, on_progress=on_progress)
        except FieldReportsError as exc:
            raise click.ClickException(str(exc)) from exc
    _print_summary(console, config, summary)
    if summary.failures:
        raise SystemExit(1)


def _print_summary(console: Console, config: ShowConfig, summary: RunSummary) -> None:
    table = Table(title=f"{config.show.title}: {len(summary.episodes)} episode(s) published")
    for column in ("#", "episode", "length", "podcast LUFS", "master LUFS", "language", "place"):
        table.add_column(column)
    for e in sorted(summary.episodes, key=lambda e: (e.season or 0, e.number or 0)):
        place = f"{e.location.name} ({e.location.source})" if e.location.located else "off the map"
        number = f"{e.season}.{e.number}" if e.season else str(e.number or "")
        table.add_row(
            number,
            e.title,
            _duration(e.duration_s),
            f"{e.mastered.podcast.integrated_lufs:.1f}",
            f"{e.mastered.master.integrated_lufs:.1f}",
            e.language,
            place,
        )
    console.print(table)
    done = ", ".join(f"{stage} x{n}" for stage, n in sorted(summary.work.items())) or "nothing new"
    console.print(f"Work done this run: {done}")
    if summary.published:
        console.print(
            f"Published: {len(summary.published.uploaded)} file(s) written, "
            f"{len(summary.published.unchanged)} unchanged, "
            f"{len(summary.published.deleted)} removed"
        )
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, markup=True)
    for episode in summary.off_map:
        console.print(
            f"[yellow]off the map:[/] {episode.title}: "
            f"{episode.location.note or 'no coordinates, GPX point or known place'}; "
            "add lat/lon or a place to its notes",
            highlight=False,
        )
    for failure in summary.failures:
        console.print(
            f"[red]failed ({failure.stage}):[/] {failure.path.name}: {failure.reason}",
            highlight=False,
        )


def _duration(seconds: float) -> str:
    """
    >>> _duration(75.4)
    '1:15'
    >>> _duration(3725)
    '1:02:05'
    """
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _check_outputs(inputs: Sequence[Path], output_dir: Path, suffixes: Sequence[str]) -> None:
    """Refuse before any work when an output would overwrite an input or another output."""
    sources = {p.resolve() for p in inputs}
    seen: dict[Path, Path] = {}
    for path in inputs:
        for suffix in suffixes:
            out = (output_dir / f"{path.stem}{suffix}").resolve()
            if out in sources:
                raise click.ClickException(
                    f"{path.name}: the result would overwrite a recording ({out}); "
                    "choose another --output-dir."
                )
            if out in seen and seen[out] != path:
                raise click.ClickException(
                    f"{seen[out]} and {path} would both write {out.name}; "
                    "rename one or run them separately."
                )
            seen[out] = path


def _loose_files(command: Callable[..., None]) -> Callable[..., None]:
    """The AUDIO... arguments and -o/--output-dir option of the single-stage commands."""
    command = click.option(
        "-o",
        "--output-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="Where to write the results.",
    )(command)
    return click.argument(
        "audio",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )(command)


@cli.command("normalise")
@_loose_files
@click.option(
    "--show",
    "show_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Take [audio] settings from this show folder's show.toml.",
)
@click.pass_obj
def normalise_command(
    console: Console, audio: tuple[Path, ...], output_dir: Path, show_dir: Path | None
) -> None:
    """Master loose recordings: NAME.mp3 (podcast, -16 LUFS) and NAME.master.wav (-23 LUFS)."""
    settings = _load(show_dir).audio if show_dir else AudioSettings()
    _check_outputs(audio, output_dir, (".mp3", ".master.wav"))
    output_dir.mkdir(parents=True, exist_ok=True)
    table = Table("file", "before LUFS", "podcast LUFS / dBTP", "master LUFS / dBTP")
    failed = 0
    for path in audio:
        with tempfile.TemporaryDirectory(dir=output_dir) as work:
            try:
                result = normalise(path, Path(work), settings)
            except ReportError as exc:
                console.print(f"[red]failed:[/] {exc}", highlight=False)
                failed += 1
                continue
            shutil.move(str(result.podcast_mp3), output_dir / f"{path.stem}.mp3")
            shutil.move(str(result.master_wav), output_dir / f"{path.stem}.master.wav")
        table.add_row(
            path.name,
            f"{result.before.integrated_lufs:.1f}",
            f"{result.podcast.integrated_lufs:.1f} / {result.podcast.true_peak_dbtp:.1f}",
            f"{result.master.integrated_lufs:.1f} / {result.master.true_peak_dbtp:.1f}",
        )
    console.print(table)
    if failed:
        raise SystemExit(1)


@cli.command("transcribe")
@_loose_files
@click.option("--language", default="", help="Language code (nl, it, pl...); detected when absent.")
@click.option(
    "--model",
    default="base",
    show_default=True,
    help="Whisper model: base and tiny.en ship with fieldreports; others download.",
)
@click.option(
    "--engine",
    type=click.Choice(["faster-whisper", "openai-whisper"]),
    default="faster-whisper",
    show_default=True,
)
@click.option("--translate", is_flag=True, help="Translate into English instead.")
@click.option("--word-timestamps", is_flag=True, help="Add per-word times to the JSON.")
@click.pass_obj
def transcribe_command(
    console: Console,
    audio: tuple[Path, ...],
    output_dir: Path,
    language: str,
    model: str,
    engine: str,
    translate: bool,
    word_timestamps: bool,
) -> None:
    """Transcribe loose recordings into NAME.vtt, NAME.srt, NAME.json and NAME.txt."""
    _check_outputs(audio, output_dir, tuple(suffix for suffix, _ in TRANSCRIPT_FORMATS.values()))
    settings = TranscriptionSettings(engine=engine, model=model, word_timestamps=word_timestamps)
    try:
        loaded = load_engine(settings, cache_dir=models_dir())
    except SetupError as exc:
        raise click.ClickException(str(exc)) from exc
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in audio:
        try:
            result = transcribe(
                path, loaded, language=language, task="translate" if translate else "transcribe"
            )
        except ReportError as exc:
            raise click.ClickException(str(exc)) from exc
        for fmt, (suffix, _mime) in TRANSCRIPT_FORMATS.items():
            (output_dir / f"{path.stem}{suffix}").write_text(
                render_transcript(result, fmt), encoding="utf-8"
            )
        console.print(
            f"{path.name}: {result.language} "
            f"({result.language_probability:.0%}), {len(result.segments)} segment(s)"
        )
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)


_SHOW_TEMPLATE = """\
# {title}: settings for fieldreports. Every key but title and base_url has a default;
# docs/configuration.md lists them all.
[show]
title = {title_toml}
base_url = {base_url_toml}   # where the published site will be served
author = ""
description = ""
language = "en"
category = "News"
owner_email = ""             # Apple writes here to verify the show
timezone = "UTC"             # recorded_at without an offset is read in this zone

[storage]
kind = "local"               # or "s3", with bucket, endpoint_url... (docs/publishing.md)
"""


@cli.command()
@click.argument("show_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", required=True, help="The show's title, as podcast apps show it.")
@click.option("--base-url", required=True, help="Where the published site will be served.")
@click.pass_obj
def init(console: Console, show_dir: Path, title: str, base_url: str) -> None:
    """Start a show folder: show.toml, inbox/ for reports and tracks/ for GPX files."""
    if (show_dir / "show.toml").exists():
        raise click.ClickException(f"{show_dir / 'show.toml'} exists already; edit it instead.")
    text = _SHOW_TEMPLATE.format(
        title=title, title_toml=json.dumps(title), base_url_toml=json.dumps(base_url)
    )
    try:
        (show_dir / "inbox").mkdir(parents=True, exist_ok=True)
        (show_dir / "tracks").mkdir(exist_ok=True)
        (show_dir / "show.toml").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot create {show_dir}: {exc.strerror}.") from exc
    _load(show_dir)  # the template must pass the same checks as a hand-written file
    console.print(
        f"Created {show_dir}/show.toml, inbox/ and tracks/. Put each recording in inbox/ with "
        f"a notes file of the same name (.md), then run `fieldreports run {show_dir}`."
    )


@cli.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_obj
def status(console: Console, show_dir: Path) -> None:
    """Show each report's state, loudness, language and place from the catalog."""
    config = _load(show_dir)
    with open_catalog(config.state_dir) as catalog:
        records = catalog.reports()
    table = Table(
        "report",
        "status",
        "length",
        "source LUFS / dBTP / LRA",
        "gain podcast / master",
        "podcast / master LUFS, dBTP",
        "language",
        "place",
        "reason",
    )
    for r in records:
        s = r.summary
        loud = (
            f"{s['source_lufs']} / {s['source_true_peak_dbtp']} / {s['source_range_lu']}"
            if "source_lufs" in s
            else ""
        )
        gain = (
            f"{s['podcast_gain_db']:+} / {s['master_gain_db']:+} dB"
            if "podcast_gain_db" in s
            else ""
        )
        place = (
            f"{s.get('place', '')} ({s.get('location_source', '')})"
            if s.get("location_source")
            else ""
        )
        length = _duration(float(s["duration_s"])) if "duration_s" in s else ""
        outputs = (
            f"{s['podcast_lufs']}, {s['podcast_true_peak_dbtp']} / "
            f"{s['master_lufs']}, {s['master_true_peak_dbtp']}"
            if "podcast_lufs" in s
            else ""
        )
        table.add_row(
            r.id,
            r.status,
            length,
            loud,
            gain,
            outputs,
            str(s.get("language", "")),
            place,
            f"{r.stage}: {r.reason}" if r.reason else "",
        )
    console.print(table)
    if config.quarantine_dir.is_dir():
        for reason in sorted(config.quarantine_dir.glob("*.reason.txt")):
            console.print(
                f"[red]quarantined:[/] {reason.name.removesuffix('.reason.txt')}: "
                f"{reason.read_text(encoding='utf-8').strip()}",
                highlight=False,
            )


@cli.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--port", default=8000, show_default=True, help="TCP port to listen on.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 for the whole network).",
)
@click.pass_obj
def serve(console: Console, show_dir: Path, port: int, host: str) -> None:
    """Serve SHOW_DIR's published folder over HTTP (with byte ranges, as podcast apps need)."""
    from episodes.site.serve import serve as serve_directory

    config = _load(show_dir)
    if not config.public_dir.is_dir():
        raise click.ClickException(
            f"{config.public_dir} does not exist yet: run `fieldreports run {show_dir}` first."
        )
    console.print(f"Serving {config.public_dir} at http://{host}:{port}/ (Ctrl+C stops)")
    try:
        serve_directory(config.public_dir, host=host, port=port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}); is another server using it? "
            "Try --port with another number."
        ) from exc


@cli.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--port", default=8001, show_default=True, help="TCP port to listen on.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 to take uploads from the network).",
)
@click.option(
    "--token",
    envvar="FIELDREPORTS_UPLOAD_TOKEN",
    default="",
    help="Shared secret reporters must send (or set FIELDREPORTS_UPLOAD_TOKEN).",
)
@click.pass_obj
def receive(console: Console, show_dir: Path, port: int, host: str, token: str) -> None:
    """Take resumable uploads (tus 1.0) from reporters into SHOW_DIR/inbox.

    An upload resumes after a dropped connection, each chunk is checksummed, a file enters the
    inbox only whole, and a file sent twice lands once. Browsers (tus-js-client) may upload
    too; limits and allowed web pages are in show.toml's [uploads] table.
    """
    from fieldreports.intake.identity import anyone, shared_token
    from fieldreports.intake.tus import receiving_app
    from fieldreports.serving import listen, serve

    config = _load(show_dir)
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        raise click.ClickException(
            "refusing to take uploads from the network without a token: pass --token or set "
            "FIELDREPORTS_UPLOAD_TOKEN."
        )
    config.inbox_dir.mkdir(parents=True, exist_ok=True)
    app = receiving_app(
        config.inbox_dir,
        authenticate=shared_token(token) if token else anyone,
        settings=config.uploads,
    )
    try:
        sock = listen(host, port)
    except FieldReportsError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(
        f"Taking uploads into {config.inbox_dir} at http://{host}:{port}/files/ (Ctrl+C stops)"
    )
    serve(app, sock, settings=config.uploads)


@cli.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--to",
    "server_url",
    required=True,
    help="The upload server, e.g. https://desk.example.org:8001/ (uploads go to its /files/).",
)
@click.option(
    "--token",
    envvar="FIELDREPORTS_UPLOAD_TOKEN",
    default="",
    help="The shared secret (or set FIELDREPORTS_UPLOAD_TOKEN).",
)
@click.option(
    "--replace", is_flag=True, help="Overwrite files of the same name (e.g. edited notes)."
)
@click.pass_obj
def upload(
    console: Console, files: tuple[Path, ...], server_url: str, token: str, replace: bool
) -> None:
    """Send recordings and notes to a `fieldreports receive` server, resuming where they stopped.

    Run the same command again after a failure: finished files are not sent twice and a half-sent
    file continues from the last byte the server holds.
    """
    from fieldreports.intake.upload_client import upload_file

    if not server_url.startswith(("http://", "https://")):
        raise click.ClickException(
            f"--to {server_url}: give the server's whole address, like https://{server_url}"
        )
    with Progress_(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
    ) as bar:
        # Notes first: a recording must never wait in the inbox without them, where a run
        # would publish it before its notes could say `sensitive: true`.
        for path in sorted(files, key=lambda p: p.suffix.lower() != ".md"):
            task = bar.add_task(path.name, total=path.stat().st_size)

            def advance(done: int, _total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done)

            try:
                upload_file(path, server_url, token=token, replace=replace, on_progress=advance)
            except FieldReportsError as exc:
                raise click.ClickException(str(exc)) from exc
            bar.update(task, completed=path.stat().st_size)


@cli.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--expires",
    default="7d",
    show_default=True,
    help="How long the master links work: 90m, 12h, 7d (S3 allows at most 7 days).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON to this file instead of printing it.",
)
@click.pass_obj
def partners(console: Console, show_dir: Path, expires: str, output: Path | None) -> None:
    """Print partners.json with presigned links to the broadcast masters.

    For a radio partner without access to the bucket: each master URL is signed and expires.
    With local storage the URLs are the plain public ones.
    """
    from episodes.pages.partners import parse_expiry, presign_masters

    config = _load(show_dir)
    try:
        data = presign_masters(config, expires_s=parse_expiry(expires))
    except FieldReportsError as exc:
        raise click.ClickException(str(exc)) from exc
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        output.write_bytes(data)
        console.print(f"Wrote {output}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
