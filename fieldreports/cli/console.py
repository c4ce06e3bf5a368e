"""The command line's skin: the console, logging through it, progress bars, plain errors.

Library code never prints; commands use these so that logs never tear a progress bar and every
library error reaches the user as one sentence, without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from fieldreports.config import ShowConfig, load_config, with_broker
from fieldreports.errors import SetupError

F = TypeVar("F", bound=Callable[..., object])


def listen_options(*, port: int, host_help: str) -> Callable[[F], F]:
    """`--port` and `--host` for a command that serves (serve, receive, station): local by default."""

    def decorate(command: F) -> F:
        command = click.option("--host", default="127.0.0.1", show_default=True, help=host_help)(
            command
        )
        return click.option(
            "--port", default=port, show_default=True, help="TCP port to listen on."
        )(command)

    return decorate


def console_setup(verbose: bool) -> Console:
    """A console on stderr, with every log record drawn through it."""
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


def load(show_dir: Path, *, broker: str | None = None) -> ShowConfig:
    """The show's config (with `--broker` when given), or a plain error naming the file and key."""
    try:
        config = load_config(show_dir)
        return config if broker is None else with_broker(config, broker)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from exc


def stage_bars(console: Console) -> Progress:
    """Bars for long work: one for the reports, one per stage, in seconds of audio."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
