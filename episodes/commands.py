"""Commands for what is published: `serve` the site, `partners` with expiring links."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from fieldreports.cli.console import listen_options, load
from fieldreports.errors import FieldReportsError


@click.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@listen_options(port=8000, host_help="Address to listen on (0.0.0.0 for the whole network).")
@click.option(
    "--signed",
    is_flag=True,
    help="Serve masters/ only through links signed by `fieldreports partners --expires`.",
)
@click.pass_obj
def serve(console: Console, show_dir: Path, port: int, host: str, signed: bool) -> None:
    """Serve SHOW_DIR's published folder over HTTP (with byte ranges, as podcast apps need).

    With --signed, a broadcast master is sent only for a link that `fieldreports partners
    --expires` signed and that has not expired; anything else gets 403.
    """
    from episodes.site.serve import serve as serve_directory
    from episodes.site.signing import load_secret

    config = load(show_dir)
    if not config.public_dir.is_dir():
        raise click.ClickException(
            f"{config.public_dir} does not exist yet: run `fieldreports run {show_dir}` first."
        )
    secret = load_secret(config.state_dir) if signed else None
    console.print(f"Serving {config.public_dir} at http://{host}:{port}/ (Ctrl+C stops)")
    if signed:
        console.print("Masters only through signed links (fieldreports partners --expires)")
    try:
        serve_directory(config.public_dir, host=host, port=port, signing_secret=secret)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}); is another server using it? "
            "Try --port with another number."
        ) from exc


@click.command()
@click.argument("show_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--expires",
    default="7d",
    show_default=True,
    help="How long the master links work: 90m, 12h, 7d (at most 7 days).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON to this file instead of printing it.",
)
@click.pass_obj
def partners(console: Console, show_dir: Path, expires: str, output: Path | None) -> None:
    """Print partners.json with expiring links to the broadcast masters.

    For a radio partner without access to the bucket: each master URL is signed and expires.
    On S3 they are presigned URLs; with local storage they carry an HMAC signature that
    `fieldreports serve --signed` (or the station) checks, made with the key in
    SHOW_DIR/.fieldreports/signing.key (or FIELDREPORTS_SIGNING_SECRET).
    """
    from episodes.pages.partners import parse_expiry, presign_masters

    config = load(show_dir)
    try:
        data = presign_masters(config, expires_s=parse_expiry(expires))
    except FieldReportsError as exc:
        raise click.ClickException(str(exc)) from exc
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        output.write_bytes(data)
        console.print(f"Wrote {output}")
