"""`fieldreports worker`: a Celery worker for one show's remote stages (docs/scaling.md)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from fieldreports.cli.console import load
from fieldreports.errors import FieldReportsError


@click.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Stages at once on this machine, each in its own process with its own "
              "Whisper model in memory.")  # fmt: skip
@click.option("--broker", metavar="URL", help="The Redis broker (overrides [queue] broker).")
@click.pass_obj
def worker(console: Console, show_dir: Path, concurrency: int, broker: str | None) -> None:
    """Master and transcribe reports of SHOW_DIR sent by `fieldreports run` on any machine.

    Reads the broker, the catalog and the work storage from SHOW_DIR/show.toml ([queue],
    [catalog]); start as many workers as you like, here or on other machines. Runs until
    stopped with Ctrl+C; a worker killed outright loses nothing: its task goes to another.
    """
    config = load(show_dir, broker=broker)
    if not config.queue.broker:
        raise click.ClickException(
            f"{config.show_dir / 'show.toml'}: a worker needs a broker; set [queue] broker = "
            '"redis://HOST:6379/0" there, or pass --broker.'
        )
    try:
        from fieldreports.workers.tasks import serve
    except ImportError as exc:
        raise click.ClickException(
            f"Celery is not installed ({exc}); install it with: pip install 'fieldreports[workers]'"
        ) from exc
    try:
        serve(config, concurrency=concurrency)
    except FieldReportsError as exc:
        raise click.ClickException(str(exc)) from exc
