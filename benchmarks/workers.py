"""One Celery worker against two, on this machine, against a local run: `fieldreports run` on the
same fresh show of N reports each time.

    .venv/bin/python benchmarks/workers.py [--reports 6] [--words 80] [--model tiny.en]

Makes N espeak recordings (about --words words each), starts its own redis-server on a free
port, then times, each on a fresh copy of the show (nothing cached): a local run; a run with one
worker (`--concurrency 1`); a run with two workers of one process each. Prints wall seconds side
by side, with the load average before each. Results go in docs/benchmarks.md ("Workers").
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TEXT = (
    "The queue at the crossing is long and the night is cold. Trucks wait with their engines "
    "running while the drivers talk about the road ahead and the families they left at home. "
)
WORDS = TEXT.split()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_show(root: Path, *, reports: int, words: int, model: str, broker: str) -> Path:
    show = root / "show"
    (show / "inbox").mkdir(parents=True)
    for n in range(reports):
        text = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(words))
        subprocess.run(["espeak-ng", "-w", str(show / "inbox" / f"report-{n}.wav"), text],
                       check=True)  # fmt: skip
        (show / "inbox" / f"report-{n}.md").write_text(
            f"---\ntitle: Report {n}\nrecorded_at: 2022-03-{n + 1:02d}T10:00:00+01:00\n---\n"
        )
    queue = f'[queue]\nbroker = "{broker}"\nvisibility_timeout_s = 3600\n' if broker else ""
    (show / "show.toml").write_text(
        '[show]\ntitle = "Bench"\nbase_url = "https://bench.example.org/"\n'
        f'[transcription]\nmodel = "{model}"\n[map]\ntiles = "none"\n{queue}'
    )
    return show


def timed_run(show: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "fieldreports"), "run", str(show)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def with_workers(show: Path, count: int) -> float:
    procs = []
    for n in range(count):
        log = (show / f"worker-{n}.log").open("wb")
        procs.append(subprocess.Popen(
            [str(BIN / "fieldreports"), "worker", str(show), "--concurrency", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
    try:
        for n in range(count):
            deadline = time.monotonic() + 60
            while b"ready" not in (show / f"worker-{n}.log").read_bytes():
                if time.monotonic() > deadline:
                    raise RuntimeError("worker not ready")
                time.sleep(0.1)
        return timed_run(show)
    finally:
        for proc in procs:
            os.killpg(proc.pid, 15)
        for proc in procs:
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=6)
    parser.add_argument("--words", type=int, default=80)
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                                  "--appendonly", "no", "--dir", tmp],
                                 stdout=subprocess.DEVNULL)  # fmt: skip
        broker = f"redis://127.0.0.1:{port}/0"
        rows = []
        try:
            time.sleep(0.5)
            for name, count in (("local run", 0), ("1 worker", 1), ("2 workers", 2)):
                root = Path(tmp) / name.replace(" ", "-")
                show = make_show(root, reports=args.reports, words=args.words, model=args.model,
                                 broker=broker if count else "")  # fmt: skip
                load = os.getloadavg()[0]
                wall = timed_run(show) if not count else with_workers(show, count)
                rows.append((name, wall, load))
                print(f"{name}: {wall:.1f} s", file=sys.stderr)
                shutil.rmtree(root, ignore_errors=True)
        finally:
            redis.terminate()
            redis.wait()
    local = rows[0][1]
    print(f"\n{args.reports} reports of ~{args.words} words, Whisper {args.model}, "
          f"{os.cpu_count()} cores\n")  # fmt: skip
    print("| set-up | wall s | vs local run | load average before |")
    print("|---|---|---|---|")
    for name, wall, load in rows:
        print(f"| {name} | {wall:.1f} | {wall / local:.2f}x | {load:.1f} |")


if __name__ == "__main__":
    main()
