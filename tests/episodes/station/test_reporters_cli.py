"""`fieldreports reporters`: keys made, listed, rotated and revoked from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldreports.catalog import open_catalog
from fieldreports.config import load_config
from pipeline import cli


@pytest.fixture
def show(tmp_path: Path) -> Path:
    show = tmp_path / "show"
    show.mkdir()
    (show / "show.toml").write_text(
        '[show]\ntitle = "T"\nbase_url = "https://example.org/show/"\n'
        '[station]\nurl = "https://desk.example.org/"\n',
        encoding="utf-8",
    )
    return show


def invoke(*args: str) -> tuple[int, str]:
    """Exit code and output; with --json only standard output (logs go to standard error)."""
    result = CliRunner().invoke(cli, ["reporters", *args])
    return result.exit_code, result.stdout if "--json" in args else result.output


def holder(show: Path, key: str) -> str | None:
    config = load_config(show)
    with open_catalog(config.state_dir, config.catalog) as catalog:
        found = catalog.reporter_for_key(key)
    return found.name if found else None


def test_add_prints_the_key_once_in_a_link_that_keeps_it_out_of_server_logs(show: Path) -> None:
    code, output = invoke("add", str(show), "Amal", "--json")
    assert code == 0, output
    made = json.loads(output)
    assert made["name"] == "Amal" and made["editor"] is False
    assert made["upload_url"] == f"https://desk.example.org/upload#key={made['key']}"
    assert holder(show, made["key"]) == "Amal"
    # Stored only as a hash: the key is nowhere in the catalog's file.
    catalog_bytes = (show / ".fieldreports" / "catalog.sqlite3").read_bytes()
    assert made["key"].encode() not in catalog_bytes

    code, output = invoke("add", str(show), "Desk", "--editor")
    assert code == 0, output
    assert "upload#key=" in output and "█" in output  # the link, and its QR code


def test_a_name_is_never_given_twice(show: Path) -> None:
    assert invoke("add", str(show), "Amal")[0] == 0
    code, output = invoke("add", str(show), "Amal")
    assert code == 1 and "already exists" in output


def test_list_shows_roles_and_states_but_never_keys(show: Path) -> None:
    amal = json.loads(invoke("add", str(show), "Amal", "--json")[1])["key"]
    invoke("add", str(show), "Desk", "--editor")
    invoke("revoke", str(show), "Amal")
    code, output = invoke("list", str(show), "--json")
    assert code == 0, output
    rows = {row["name"]: row for row in json.loads(output)}
    assert rows["Amal"]["revoked_at"] and not rows["Amal"]["editor"]
    assert rows["Desk"]["editor"] and rows["Desk"]["revoked_at"] is None
    code, table = invoke("list", str(show))
    assert code == 0 and "revoked" in table and "editor" in table
    assert amal not in output + table


def test_revoke_refuses_the_key_and_rotate_gives_a_new_one(show: Path) -> None:
    old = json.loads(invoke("add", str(show), "Amal", "--json")[1])["key"]
    code, output = invoke("revoke", str(show), "Amal")
    assert code == 0 and "Revoked" in output
    assert holder(show, old) is None
    code, output = invoke("rotate", str(show), "Amal", "--json")
    assert code == 0, output
    new = json.loads(output)["key"]
    assert new != old and holder(show, new) == "Amal" and holder(show, old) is None


def test_unknown_reporters_are_named_plainly(show: Path) -> None:
    invoke("add", str(show), "Amal")
    code, output = invoke("revoke", str(show), "Amel")
    assert code == 1 and 'no reporter named "Amel"' in output and "Traceback" not in output
    code, output = invoke("rotate", str(show), "Nobody")
    assert code == 1 and "add them first" in output
