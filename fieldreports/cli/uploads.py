"""Reports from the field: `receive` takes resumable uploads, `upload` sends them."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, TaskID, TextColumn, TransferSpeedColumn
from rich.progress import Progress as Progress_

from fieldreports.cli.console import listen_options, load
from fieldreports.errors import FieldReportsError


@click.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@listen_options(
    port=8001, host_help="Address to listen on (0.0.0.0 to take uploads from the network)."
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
    from fieldreports.intake.serving import listen, serve
    from fieldreports.intake.tus import receiving_app

    config = load(show_dir)
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


@click.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--to",
    "server_url",
    required=True,
    help="The station or upload server, e.g. https://desk.example.org/ (uploads go to its "
    "/files/).",
)
@click.option(
    "--token",
    envvar="FIELDREPORTS_UPLOAD_TOKEN",
    default="",
    help="Your upload key from the station (`reporters add`), or `receive`'s shared secret "
    "(or set FIELDREPORTS_UPLOAD_TOKEN).",
)
@click.option(
    "--replace", is_flag=True, help="Overwrite files of the same name (e.g. edited notes)."
)
@click.pass_obj
def upload(
    console: Console, files: tuple[Path, ...], server_url: str, token: str, replace: bool
) -> None:
    """Send recordings and notes to a station (or a `receive` server), resuming where they stopped.

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
