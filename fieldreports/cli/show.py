"""`init`: a new show folder whose show.toml loads."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from fieldreports.cli.console import load

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


@click.command()
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
    load(show_dir)  # the template must pass the same checks as a hand-written file
    console.print(
        f"Created {show_dir}/show.toml, inbox/ and tracks/. Put each recording in inbox/ with "
        f"a notes file of the same name (.md), then run `fieldreports run {show_dir}`."
    )
