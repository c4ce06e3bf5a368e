"""Commands for the station: `station` runs it, `reporters` manages who may send to it.

`station_command(run)` makes the command with the pipeline's run function, so this package never
imports `pipeline` (imports go one way: fieldreports <- episodes <- maps <- pipeline.py).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import quote

import click
from rich.console import Console
from rich.table import Table

from episodes.station.processor import RunShow
from fieldreports.catalog import open_catalog
from fieldreports.cli.console import listen_options, load
from fieldreports.config import ShowConfig
from fieldreports.errors import FieldReportsError

SHOW_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


def station_command(run: RunShow) -> click.Command:
    """`fieldreports station`, running `run` (pipeline.run_show) as reports arrive."""

    @click.command("station")
    @click.argument("show_dir", type=SHOW_DIR)
    @listen_options(
        port=8000,
        host_help="Address to listen on; keep 127.0.0.1 behind an HTTPS proxy (docs/station.md).",
    )
    @click.pass_obj
    def station(console: Console, show_dir: Path, port: int, host: str) -> None:
        """Run SHOW_DIR's station: uploads, the phone page, the status API, the site, and the
        pipeline as reports arrive, in one long-running process.

        Reporters send recordings and notes from /upload (or any tus client to /files/) with
        their own key (`fieldreports reporters add`); each report is mastered, transcribed,
        located and published by itself, and its reporter sees how it is doing. The published
        folder is served at /, masters only through signed links. Ctrl+C stops it.
        """
        from episodes.station.app import Station
        from fieldreports.intake.serving import listen, serve

        config = load(show_dir)
        try:
            sock = listen(host, port)
            with Station(config, run=run) as running:
                if not any(r.active for r in running.catalog.reporters()):
                    console.print(
                        "[yellow]No reporter can send yet:[/] add one with "
                        f"`fieldreports reporters add {show_dir} NAME`.",
                        highlight=False,
                    )
                console.print(
                    f"Station for {config.show.title} at http://{host}:{port}/ : uploads at "
                    f"/files/, the phone page at /upload, status at /api/reports (Ctrl+C stops)",
                    highlight=False,
                )
                serve(running.app, sock, settings=config.uploads)
        except FieldReportsError as exc:
            raise click.ClickException(str(exc)) from exc

    return station


def station_url(config: ShowConfig) -> str:
    """Where reporters reach the station: `[station] url`, else `[show] base_url`."""
    return (config.station.url or config.show.base_url).rstrip("/") + "/"


def upload_link(config: ShowConfig, key: str) -> str:
    """The link that opens the upload page with the key filled in. The key rides in the
    fragment (after #), which browsers never send: it stays out of every server's logs."""
    return f"{station_url(config)}upload#key={quote(key, safe='')}"


@click.group()
def reporters() -> None:
    """Manage who may send reports to the station: one key per reporter.

    A key is shown once, when it is made (`add`, `rotate`), and kept only as a hash. Revoke a
    lost phone's key at once; the others go on working.
    """


@reporters.command("add")
@click.argument("show_dir", type=SHOW_DIR)
@click.argument("name")
@click.option("--editor", is_flag=True, help="May see every report and replace any file.")
@click.option("--json", "as_json", is_flag=True, help="Print name, key and upload_url as JSON.")
@click.pass_obj
def add(console: Console, show_dir: Path, name: str, editor: bool, as_json: bool) -> None:
    """Give NAME a new upload key and print the link that opens the upload page with it.

    NAME is also the reporter published with their reports when their notes name nobody.
    """
    config = load(show_dir)
    try:
        with open_catalog(config.state_dir, config.catalog) as catalog:
            key = catalog.add_reporter(name, editor=editor)
    except FieldReportsError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_key(console, config, name.strip(), key, editor=editor, as_json=as_json)


@reporters.command("rotate")
@click.argument("show_dir", type=SHOW_DIR)
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print name, key and upload_url as JSON.")
@click.pass_obj
def rotate(console: Console, show_dir: Path, name: str, as_json: bool) -> None:
    """Give NAME a new key (a lost or shared phone); the old one is refused from now on."""
    config = load(show_dir)
    try:
        with open_catalog(config.state_dir, config.catalog) as catalog:
            key = catalog.rotate_key(name)
            editor = any(r.is_editor for r in catalog.reporters() if r.name == name)
    except FieldReportsError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_key(console, config, name, key, editor=editor, as_json=as_json)


@reporters.command("revoke")
@click.argument("show_dir", type=SHOW_DIR)
@click.argument("name")
@click.pass_obj
def revoke(console: Console, show_dir: Path, name: str) -> None:
    """Refuse NAME's key from now on: nothing it sends is stored. Their reports stay theirs."""
    config = load(show_dir)
    try:
        with open_catalog(config.state_dir, config.catalog) as catalog:
            catalog.revoke_reporter(name)
    except FieldReportsError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"Revoked {name}'s key: the station refuses it from now on.", highlight=False)


@reporters.command("list")
@click.argument("show_dir", type=SHOW_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def list_reporters(console: Console, show_dir: Path, as_json: bool) -> None:
    """Every reporter: editor or not, since when, revoked or active (never their keys)."""
    config = load(show_dir)
    try:
        with open_catalog(config.state_dir, config.catalog) as catalog:
            found = catalog.reporters()
            sent = {r.name: 0 for r in found}
            for upload in catalog.uploads():
                if upload.reporter in sent:
                    sent[upload.reporter] += 1
    except FieldReportsError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [
        {
            "name": r.name,
            "editor": r.is_editor,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            "files_sent": sent[r.name],
        }
        for r in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    table = Table("reporter", "role", "since", "key", "files sent")
    for row in rows:
        table.add_row(
            str(row["name"]),
            "editor" if row["editor"] else "reporter",
            str(row["created_at"])[:10],
            f"revoked {str(row['revoked_at'])[:10]}" if row["revoked_at"] else "active",
            str(row["files_sent"]),
        )
    console.print(table)


def _print_key(
    console: Console, config: ShowConfig, name: str, key: str, *, editor: bool, as_json: bool
) -> None:
    link = upload_link(config, key)
    if as_json:
        click.echo(json.dumps({"name": name, "key": key, "upload_url": link, "editor": editor}))
        return
    console.print(f"Upload key for {name} (shown this once; the catalog keeps only its hash):")
    click.echo(key)
    console.print("Send them this link (it opens the upload page with the key filled in):")
    click.echo(link)
    click.echo(_qr(link))


def _qr(text: str) -> str:
    """`text` as a QR code in the terminal, for a phone's camera."""
    import qrcode

    code = qrcode.QRCode(border=2)
    code.add_data(text)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()
