"""fieldreports' pipeline: one report's path from the inbox to the listeners, stage by stage.

    discover    inbox/ -> FieldReports: recordings paired with their notes    fieldreports.intake
    normalise   FieldReport -> MasteredAudio: podcast MP3 + broadcast master    fieldreports.audio
    transcribe  FieldReport -> Transcript (and its English translation)       fieldreports.transcription
    locate      every report and transcript -> Placements (private)           fieldreports.geo
    number      every episode, kept ones too -> season, number, slug          episodes.numbering
    episode     EpisodeJob -> Episode: public only, MP3 tagged                 episodes.episode
    map         Episodes -> the route map's page                               maps
    publish     Episodes + map -> the site, media first and the feed last      episodes.site

Each stage is a function from a frozen job to a frozen result (`fieldreports.stages`), run by an
executor that looks the job up in the catalog first: an unchanged show does no audio, Whisper,
gazetteer or map work, and a crash loses only the report in flight. A report that fails a stage
is recorded with its reason and left out (an undecodable recording is moved to quarantine/),
its last published episode stays up, and the others go on; a show-wide problem (SetupError)
stops the run before anything is published. Below the pipeline, the thin click commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as Bars
from rich.progress import TaskID
from rich.table import Table

from episodes.commands import partners, serve
from episodes.episode import EPISODE, Episode, summarise
from episodes.jobs import episode_jobs
from episodes.numbering import number_label
from episodes.pages.artwork import ARTWORK, artwork_job
from episodes.site.publish import PublishReport, build_site, publish
from episodes.site.storage import feed_url, open_storage
from episodes.station.commands import reporters, station_command
from fieldreports.audio import master_job
from fieldreports.catalog import Catalog, open_catalog, serialise
from fieldreports.catalog.lock import run_lock
from fieldreports.catalog.summary import ReportSummary
from fieldreports.cli.console import console_setup, load, stage_bars
from fieldreports.cli.files import normalise_command, transcribe_command
from fieldreports.cli.show import init
from fieldreports.cli.uploads import receive, upload
from fieldreports.cli.worker import worker
from fieldreports.config import ShowConfig
from fieldreports.digest import remembered
from fieldreports.errors import FieldReportsError, ReportError, SetupError, StageTimeout
from fieldreports.executor import Executor, open_executor
from fieldreports.geo import LocateJob, ReportToLocate, locate_job
from fieldreports.geo.gpx import tracks_fingerprint
from fieldreports.intake.inbox import Failure, FieldReport, discover
from fieldreports.intake.quarantine import quarantined, set_aside
from fieldreports.stages import LOCATE, NORMALISE, TRANSCRIBE, Heard
from fieldreports.times import format_duration
from fieldreports.transcription import Transcript, transcription_job
from fieldreports.transcription.chapters import chapter_starts
from maps import MAP, MapJob, map_files, page_sha256

log = logging.getLogger("fieldreports")


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
    """What `run_show` did: the published episodes by report id, failures, the work done."""

    episodes: Mapping[str, Episode]
    failures: tuple[Failure, ...]
    warnings: tuple[str, ...]
    work: Mapping[str, int]
    published: PublishReport | None = None
    # Report ids whose place was too doubtful to pin, with the warning that says so.
    doubts: Mapping[str, str] = field(default_factory=dict)
    # Report ids whose episode from before stays up because their report fails now.
    kept: tuple[str, ...] = ()


def run_show(
    config: ShowConfig, *, on_progress: ProgressFn | None = None, hold: Collection[str] = ()
) -> RunSummary:
    """The whole pipeline on one show folder, in the order of the module docstring. Reports in
    `hold` (never published yet) wait for a later run: the station's recordings awaiting notes."""
    with run_lock(config.state_dir), open_catalog(config.state_dir, config.catalog) as catalog:
        run_id = catalog.start_run()
        hash_file = remembered(catalog)
        executor = open_executor(config, catalog, run_id=run_id, hash_file=hash_file)
        try:
            found = discover(config.inbox_dir, hash_file=hash_file)
            failures = list(found.failures)
            heard: list[Heard] = []
            reports = [r for r in found.reports if r.id not in hold]
            for report in reports:
                catalog.guid_for(report.id, feed_url=feed_url(config))

            def hear_one(item: tuple[int, FieldReport]) -> Heard | Failure:
                tick = _ticker(on_progress, item[1].id, item[0], len(reports))
                return hear(executor, config, item[1], tick)

            # One report after another here; on workers, every report's tasks out at once.
            outcomes = executor.map(hear_one, enumerate(reports))
            for report, outcome in zip(reports, outcomes, strict=True):
                if isinstance(outcome, Failure):
                    failures.append(set_aside(report, outcome, config.quarantine_dir))
                else:
                    heard.append(outcome)
            placements = executor.run(LOCATE, _locate_job(config, heard)).by_report()
            jobs = episode_jobs(catalog, config, heard, placements, failures)
            episodes = {rid: executor.run(EPISODE, job, report_id=rid) for rid, job in jobs.items()}
            page = executor.run(MAP, _map_job(config, episodes.values()))
            artwork = executor.run(ARTWORK, artwork_job(config))
            site = build_site(
                list(episodes.values()),
                config,
                map_files=map_files(page.page.read_bytes()),
                artwork=artwork,
            )
            # Never prune while a report fails: its published files must stay until it is fixed.
            storage = open_storage(config, hash_file=hash_file)
            prune = False if failures else None
            published = publish(site, storage, prune=prune, hash_file=hash_file)
            if not failures:
                executor.prune(
                    keep=(p for j in jobs.values() for p in NORMALISE.outputs(j.mastered))
                )
        finally:
            executor.close()
        for failure in failures:
            _record_failure(catalog, config, failure)
        for report_id, job in jobs.items():
            if any(h.report.id == report_id for h in heard):
                catalog.put("episode-job", report_id, job)
                summary = summarise(job, episodes[report_id])
                catalog.record(report_id, status="published", summary=summary)
        work = catalog.work_done(run_id)
        catalog.finish_run(run_id, "failed" if failures else "ok")
    kept = tuple(sorted(set(jobs) - {h.report.id for h in heard}))
    doubts = {k: p.location.doubt for k, p in placements.items() if p.location and p.location.doubt}
    warnings = (
        *found.warnings,
        *(w for r in found.reports for w in r.warnings),
        *(w for h in heard for w in h.mastered.warnings),
        *(w for h in heard for t in h.transcripts for w in t.warnings),
        *doubts.values(),
        *(f"{episodes[k].title}: this run failed, so the version published before stays up" for k in kept),
    )  # fmt: skip
    return RunSummary(
        episodes=episodes, failures=tuple(failures), warnings=warnings, work=work,
        published=published, doubts=doubts, kept=kept,
    )  # fmt: skip


def hear(
    executor: Executor,
    config: ShowConfig,
    report: FieldReport,
    tick: Callable[[str], Callable[[float, float], None]],
) -> Heard | Failure:
    """Master one report in the background while Whisper transcribes (and translates) it."""
    job = master_job(report, config.audio)
    stage = "normalise"
    try:
        if executor.cached(NORMALISE, job) is None:
            from fieldreports.audio.decode import probe

            probe(report.audio_path)  # refuse what is not audio before Whisper loads
        mastering = executor.start(NORMALISE, job, report_id=report.id, on_progress=tick(stage))
        try:
            stage = "transcribe"
            transcripts = transcribe_report(executor, config, report, tick)
        except ReportError as exc:
            transcribing: ReportError | None = exc
        else:
            transcribing = None
        finally:
            stage = "normalise"
            mastering.settle()  # keep a finished master even when the run is being stopped
        mastered = mastering.result()
        if transcribing is not None:
            stage = "transcribe"
            raise transcribing
    except SetupError:
        raise  # a show-wide problem (settings, a missing program): stop before publishing
    except ReportError as exc:
        return Failure(
            report_id=report.id,
            path=exc.path or report.audio_path,
            stage=stage,
            reason=exc.message,
            # A recording that is not usable; not one that took its worker too long.
            set_aside=stage == "normalise" and not isinstance(exc, StageTimeout),
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
    return Heard(report=report, mastered=mastered, transcripts=transcripts)


def transcribe_report(
    executor: Executor,
    config: ShowConfig,
    report: FieldReport,
    tick: Callable[[str], Callable[[float, float], None]],
) -> tuple[Transcript, ...]:
    """The transcript, and its English translation when [transcription] translate asks."""
    settings = config.transcription
    heard = executor.run(
        TRANSCRIBE,
        transcription_job(report, settings),
        report_id=report.id,
        on_progress=tick("transcribe"),
    )
    if not (settings.translate and heard.segments and heard.language != "en"):
        return (heard,)
    job = transcription_job(
        report, settings, task="translate", language=heard.language, languages=heard.languages
    )
    return (
        heard,
        executor.run(TRANSCRIBE, job, report_id=report.id, on_progress=tick("translate")),
    )


def _locate_job(config: ShowConfig, heard: Iterable[Heard]) -> LocateJob:
    items = []
    for item in heard:
        spoken = item.transcripts[0]
        segments = tuple((s.start_s, s.end_s, s.text) for s in spoken.segments)
        items.append(
            ReportToLocate(
                report=item.report,
                transcript_text=spoken.text,
                chapter_starts_s=tuple(start for start, _ in chapter_starts(segments)),
            )
        )
    return locate_job(
        items,
        tracks_dir=config.tracks_dir,
        settings=config.geotag,
        timezone=config.show.timezone,
        sensitive_by_default=config.show.sensitive_by_default,
    )


def _map_job(config: ShowConfig, episodes: Iterable[Episode]) -> MapJob:
    return MapJob(
        episodes=tuple(sorted(episodes, key=lambda e: (e.published_at, e.slug))),
        tracks_dir=config.tracks_dir,
        tracks_sha256=tracks_fingerprint(config.tracks_dir),
        show=config.show,
        settings=config.map,
        page_sha256=page_sha256(config.show.language),
    )


def _ticker(
    on_progress: ProgressFn | None, report_id: str, index: int, total: int
) -> Callable[[str], Callable[[float, float], None]]:
    def for_stage(stage: str) -> Callable[[float, float], None]:
        def tick(done_s: float, total_s: float) -> None:
            if on_progress is not None:
                on_progress(Progress(report_id=report_id, index=index, total=total,
                                     stage=stage, done_s=done_s, total_s=total_s))  # fmt: skip

        return tick

    return for_stage


def _record_failure(catalog: Catalog, config: ShowConfig, failure: Failure) -> None:
    catalog.guid_for(failure.report_id, feed_url=feed_url(config))
    catalog.record(
        failure.report_id,
        status="quarantined" if failure.set_aside else "failed",
        stage=failure.stage,
        reason=failure.reason,
    )


# -- command line ---------------------------------------------------------------------------


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
    ctx.obj = console_setup(verbose)


@cli.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--broker", metavar="URL", help="Send mastering and transcription to "
              "`fieldreports worker`s through this Redis broker (overrides [queue] broker).")  # fmt: skip
@click.pass_obj
def run(console: Console, show_dir: Path, broker: str | None) -> None:
    """Run the whole pipeline on SHOW_DIR and publish it.

    Reads SHOW_DIR/show.toml, masters, transcribes and locates every report in SHOW_DIR/inbox,
    then publishes media, transcripts, the map and the feed (local folder SHOW_DIR/public by
    default). Unchanged reports are not processed again. Exits with status 1 when any report
    failed, naming each one and why. With a broker, workers do the mastering and transcribing
    (docs/scaling.md); the result is the same.
    """
    config = load(show_dir, broker=broker)
    with stage_bars(console) as bars:
        try:
            summary = run_show(config, on_progress=_draw(bars))
        except FieldReportsError as exc:
            raise click.ClickException(str(exc)) from exc
    _print_summary(console, config, summary)
    if summary.failures:
        raise SystemExit(1)


def _draw(bars: Bars) -> ProgressFn:
    """One bar for the reports, one per stage (mastering and transcription run side by side)."""
    reports = bars.add_task("reports", total=None, detail="")
    stages: dict[str, TaskID] = {}

    def on_progress(p: Progress) -> None:
        bars.update(reports, total=p.total, completed=p.index,
                    description=f"report {p.index + 1}/{p.total}", detail=p.report_id)  # fmt: skip
        if p.stage not in stages:
            stages[p.stage] = bars.add_task(f"  {p.stage}", total=None, detail="")
        detail = f"{p.done_s:.0f}/{p.total_s:.0f} s of audio" if p.total_s else ""
        bars.update(stages[p.stage], total=p.total_s or None, completed=p.done_s, detail=detail)

    return on_progress


def _print_summary(console: Console, config: ShowConfig, summary: RunSummary) -> None:
    table = Table(title=f"{config.show.title}: {len(summary.episodes)} episode(s) published")
    for column in ("#", "episode", "length", "podcast LUFS", "master LUFS", "language", "place"):
        table.add_column(column)
    for e in sorted(summary.episodes.values(), key=lambda e: (e.season or 0, e.number or 0)):
        place = f"{e.location.name} ({e.location.source})" if e.location else "off the map"
        table.add_row(number_label(e.season, e.number), e.title, format_duration(e.duration_s),
                      f"{e.podcast_loudness.integrated_lufs:.1f}",
                      f"{e.master_loudness.integrated_lufs:.1f}", e.language, place)  # fmt: skip
    console.print(table)
    done = ", ".join(f"{stage} x{n}" for stage, n in sorted(summary.work.items())) or "nothing new"
    console.print(f"Work done this run: {done}")
    if summary.published:
        p = summary.published
        console.print(f"Published: {len(p.uploaded)} file(s) written, "
                      f"{len(p.unchanged)} unchanged, {len(p.deleted)} removed")  # fmt: skip
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, markup=True)
    for report_id, e in summary.episodes.items():
        if e.location is None and report_id not in summary.doubts:
            console.print(f"[yellow]off the map:[/] {e.title}: no coordinates, GPX point or "
                          "known place; add lat/lon or a place to its notes", highlight=False)  # fmt: skip
    for f in summary.failures:
        console.print(f"[red]failed ({f.stage}):[/] {f.path.name}: {f.reason}", highlight=False)


@cli.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_obj
def status(console: Console, show_dir: Path) -> None:
    """Show each report's state, number, loudness, language and place from the catalog."""
    config = load(show_dir)
    try:
        with open_catalog(config.state_dir, config.catalog) as catalog:
            records = catalog.reports()
    except SetupError as exc:
        raise click.ClickException(str(exc)) from exc
    table = Table("report", "#", "status", "length", "source LUFS / dBTP / LRA",
                  "gain podcast / master", "podcast / master LUFS, dBTP", "language", "place",
                  "reason")  # fmt: skip
    for r in records:
        cells = [""] * 7
        if r.status == "published" and "title" in r.summary:
            s = serialise.from_data(ReportSummary, r.summary)
            cells = [
                number_label(s.season, s.number),
                format_duration(s.duration_s),
                f"{s.source_lufs} / {s.source_true_peak_dbtp} / {s.source_range_lu}",
                f"{s.podcast_gain_db:+} / {s.master_gain_db:+} dB",
                f"{s.podcast_lufs}, {s.podcast_true_peak_dbtp} / "
                f"{s.master_lufs}, {s.master_true_peak_dbtp}",
                s.language,
                f"{s.place} ({s.location_source})" if s.location_source != "none" else "",
            ]
        reason = f"{r.stage}: {r.reason}" if r.reason else ""
        table.add_row(r.id, cells[0], r.status, *cells[1:], reason)
    console.print(table)
    for r in records:
        for warning in r.summary.get("warnings", ()) if r.status == "published" else ():
            console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, markup=True)
    for name, reason in quarantined(config.quarantine_dir):
        console.print(f"[red]quarantined:[/] {name}: {reason}", highlight=False)


for command in (init, normalise_command, transcribe_command, serve, partners, receive, upload,
                worker, reporters, station_command(run_show)):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
