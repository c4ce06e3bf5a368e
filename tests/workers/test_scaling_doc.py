"""docs/scaling.md, followed as written: its show.toml tables and its commands, with only the
example hosts swapped for the servers the tests start (Redis, PostgreSQL, moto's S3)."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import boto3

from tests.support import ROOT
from tests.support.s3 import moto_server  # noqa: F401 - a fixture
from tests.support.workers import (
    BASE_URL,
    FIELDREPORTS,
    started_workers,
    worker_show,
    write_show_toml,
)

DOC = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
REPORTS = {
    "harbour-queue": "We are waiting at the harbour. The boats arrive at night.",
    "fence-line": "The fence runs along the river for many kilometres.",
}


def section(title: str) -> tuple[list[str], list[list[str]]]:
    """The section's TOML blocks and its shell commands (each an argv)."""
    body = DOC.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    tomls = re.findall(r"```toml\n(.*?)```", body, re.S)
    commands = [
        shlex.split(line.split("#", 1)[0])
        for block in re.findall(r"```sh\n(.*?)```", body, re.S)
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return tomls, commands


def swap(text: str, swaps: dict[str, str]) -> str:
    for example, real in swaps.items():
        text = text.replace(example, real)
    return text


def follow(
    tomls: list[str], commands: list[list[str]], *, show: Path, machine: Path, swaps: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Write the doc's tables into show.toml (and the worker machine's copy), then run its
    commands: servers are the fixtures', workers start in the background, the run last."""
    settings: dict[str, dict[str, Any]] = tomllib.loads((show / "show.toml").read_text())
    for block in tomls:
        for table, values in tomllib.loads(swap(block, swaps)).items():
            settings.setdefault(table, {}).update(values)
    write_show_toml(show, settings)
    if machine != show:
        machine.mkdir()
        write_show_toml(machine, settings)  # "copy show.toml into a folder on each machine"
    names = {"border-reached": str(show), "worker-machine": str(machine)}
    argvs = [[names.get(arg, swap(arg, swaps)) for arg in argv] for argv in commands]
    argvs = [a for a in argvs if a[0] != "redis-server"]  # the session's Redis stands in
    worker_args = [a for a in argvs if a[:2] == ["fieldreports", "worker"]]
    (run_args,) = [a for a in argvs if a[:2] == ["fieldreports", "run"]]
    for argv in argvs:
        if argv[0] not in ("fieldreports",):
            subprocess.run(argv, check=True, capture_output=True, text=True)
    ((_, _, folder, *options),) = worker_args
    with started_workers(
        Path(folder),
        args=tuple(o for o in options if o != "--concurrency" and not o.isdigit()),  # fmt: skip
        concurrency=int(options[options.index("--concurrency") + 1]),
    ):
        return subprocess.run(
            [str(FIELDREPORTS), *run_args[1:]], capture_output=True, text=True, timeout=300
        )


def test_one_machine_as_the_doc_says(tmp_path: Path, redis) -> None:
    show = worker_show(tmp_path / "border-reached", REPORTS)
    tomls, commands = section("One machine, or a shared disk")
    assert commands[0][0] == "redis-server"
    done = follow(tomls, commands, show=show, machine=show,
                  swaps={"redis://redis.example:6379/0": redis.url(5)})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (show / "public" / "feed.xml").read_bytes().count(b"<item>") == 2


def test_several_machines_as_the_doc_says(tmp_path: Path, redis, postgres, moto_server) -> None:  # noqa: F811
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="border-reached-work")
    show = worker_show(tmp_path / "border-reached", REPORTS)
    tomls, commands = section("Several machines: PostgreSQL and a private S3 prefix")
    swaps = {
        "redis://redis.example:6379/0": redis.url(6),
        "postgresql://news@db.example:5432/border_reached": postgres.url("border_reached"),
        "--host db.example": f"--host 127.0.0.1 --port {postgres.port}",
        "--username news": "--username fieldreports",
        "https://s3.example": moto_server.endpoint,
    }
    commands = [shlex.split(swap(shlex.join(c), swaps)) for c in commands]
    done = follow(tomls, commands, show=show, machine=tmp_path / "worker-machine", swaps=swaps)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (show / "public" / "feed.xml").read_bytes().count(b"<item>") == 2
    # The workers' results came back into the run's cache through the bucket ...
    assert len(list((show / ".fieldreports" / "cache" / "normalise").glob("*/master.wav"))) == 2
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="border-reached-work").get("Contents", ())]
    # ... the recordings the run sent are gone, and what is left is private and named by hashes.
    assert keys and all(k.startswith("fieldreports-work/results/") for k in keys), keys
    assert not any("harbour" in k or "fence" in k for k in keys)
    for key in keys:
        grants = s3.get_object_acl(Bucket="border-reached-work", Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], grants
        assert "URI" not in grants[0]["Grantee"]  # no AllUsers, no AuthenticatedUsers
    # The worker machine kept nothing of the recordings.
    scratch = tmp_path / "worker-machine" / ".fieldreports" / "worker"
    assert not any(p.is_file() for p in scratch.rglob("*"))
    assert BASE_URL in (show / "public" / "feed.xml").read_text()
