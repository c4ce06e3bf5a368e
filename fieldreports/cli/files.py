"""Single stages on loose files: `normalise` and `transcribe`, outside any show folder."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fieldreports.cli.console import load
from fieldreports.config import AudioSettings, TranscriptionSettings
from fieldreports.errors import ReportError, SetupError


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


@click.command("normalise")
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
    from fieldreports.audio.master import normalise

    settings = load(show_dir).audio if show_dir else AudioSettings()
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


@click.command("transcribe")
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
    from fieldreports.transcription.formats import FORMATS, render
    from fieldreports.transcription.whisper import load_engine, transcribe

    _check_outputs(audio, output_dir, tuple(suffix for suffix, _ in FORMATS.values()))
    settings = TranscriptionSettings(engine=engine, model=model, word_timestamps=word_timestamps)
    try:
        loaded = load_engine(settings)
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
        for fmt, (suffix, _mime) in FORMATS.items():
            (output_dir / f"{path.stem}{suffix}").write_text(render(result, fmt), encoding="utf-8")
        console.print(
            f"{path.name}: {result.language} "
            f"({result.language_probability:.0%}), {len(result.segments)} segment(s)"
        )
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
