"""Shows and real `fieldreports worker` processes for the Celery tests.

    show = worker_show(tmp_path / "show", {"harbour": "Text to speak."}, queue={...})
    with started_workers(show, count=2) as workers:
        ...                         # workers[0].kill() is kill -9 of the worker and its pool

Each worker runs in a session of its own, so killing its process group takes the pool's
processes (and their ffmpeg) with it, as when a machine dies. Its log is a file in the show
folder, printed when a test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.audio import speak

FIELDREPORTS = Path(sys.executable).with_name("fieldreports")
BASE_URL = "https://workers.example.org/show/"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def write_show_toml(show: Path, tables: Mapping[str, Mapping[str, Any]]) -> None:
    lines = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
    (show / "show.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def worker_show(show: Path, reports: Mapping[str, str], **tables: Mapping[str, Any]) -> Path:
    """A show folder whose inbox holds one espeak recording (WAV) per report, with notes."""
    inbox = show / "inbox"
    inbox.mkdir(parents=True)
    for day, (name, text) in enumerate(reports.items(), start=1):
        speak(text, inbox / f"{name}.wav")
        (inbox / f"{name}.md").write_text(
            f"---\ntitle: {name.replace('-', ' ').title()}\njourney: Test\nlanguage: en\n"
            f"recorded_at: 2022-03-{day:02d}T10:00:00+01:00\n---\nNotes.\n",
            encoding="utf-8",
        )
    settings: dict[str, dict[str, Any]] = {
        "show": {"title": "Workers Test", "base_url": BASE_URL},
        "transcription": {"model": "tiny.en"},
        "map": {"tiles": "none"},
    }
    for table, values in tables.items():
        settings.setdefault(table, {}).update(values)
    write_show_toml(show, settings)
    return show


@dataclass(slots=True)
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """kill -9 the worker and every process of its session (its pool, their ffmpeg)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # a warm shutdown
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def started_workers(
    show: Path, *, count: int = 1, concurrency: int = 1, args: tuple[str, ...] = ()
) -> Iterator[list[Worker]]:
    """`count` worker processes for `show`, ready to take tasks; stopped when the block ends."""
    workers: list[Worker] = []
    try:
        for n in range(count):
            log = show / f"worker-{n}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [
                        str(FIELDREPORTS),
                        "worker",
                        str(show),
                        "--concurrency",
                        str(concurrency),
                        *args,
                    ],  # fmt: skip
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, "COLUMNS": "200"},
                )
            workers.append(Worker(proc=proc, log=log))
        for worker in workers:
            wait_for(lambda w=worker: "ready" in w.text() or w.proc.poll() is not None, 60)
            assert worker.proc.poll() is None, worker.text()
        yield workers
    finally:
        for worker in workers:
            worker.stop()
        for worker in workers:
            sys.stderr.write(f"--- {worker.log.name} ---\n{worker.text()[-6000:]}\n")


def wait_for(condition: Any, timeout_s: float, *, every_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout_s} s")
        time.sleep(every_s)


def run_command(show: Path, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """`fieldreports run SHOW` as its own process, as a user types it."""
    return subprocess.run(
        [str(FIELDREPORTS), "run", str(show), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "COLUMNS": "200"},
    )
