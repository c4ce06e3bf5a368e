"""The command line: every command has help text and is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import cli
from tests.support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(cli.commands)


def test_readme_opens_with_the_two_commands() -> None:
    first_lines = [line.strip() for line in README.splitlines()[1:6] if line.strip()]
    assert first_lines[0].startswith("make demo")
    assert first_lines[1].startswith("make test")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_documented(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 3
    assert re.search(rf"`fieldreports {command}\b", README), f"README does not document {command}"


def test_top_level_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "normalise", "transcribe", "serve", "status"):
        assert command in result.output


def test_missing_show_toml_is_a_plain_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(tmp_path)])
    assert result.exit_code == 1
    assert "show.toml" in result.output and "base_url" in result.output
    assert "Traceback" not in result.output


def test_every_setting_is_documented() -> None:
    import dataclasses

    from fieldreports.config import _TABLES

    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for table, cls in _TABLES.items():
        section = reference.split(f"[{table}]\n", 1)
        assert len(section) == 2, f"[{table}] missing from docs/configuration.md"
        body = section[1].split("```", 1)[0]
        for field in dataclasses.fields(cls):
            assert re.search(rf"^{field.name} = ", body, re.M), (
                f"[{table}] {field.name} undocumented"
            )


def test_init_starts_a_show_that_loads(tmp_path: Path) -> None:
    show = tmp_path / "new show"
    args = ["init", str(show), "--title", 'Border "Reached"', "--base-url", "https://e.org/br/"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (show / "inbox").is_dir() and (show / "tracks").is_dir()
    from fieldreports.config import load_config

    assert load_config(show).show.title == 'Border "Reached"'
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "exists already" in again.output
