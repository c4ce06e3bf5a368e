"""An unchanged re-run: what `fieldreports run` costs when nothing in the show has changed.

    .venv/bin/python benchmarks/rerun.py [--show examples/border-reached] [--repeats 7]

Copies the show to a temporary folder, runs it once (mastering, Whisper...), then times
`fieldreports run` again and again with nothing changed, beside two yardsticks: the Python
interpreter starting and exiting, and `fieldreports --help` (start-up and imports). Prints wall
and CPU seconds (median, min, max) and peak memory, with the machine's load. Results go in
docs/benchmarks.md ("Unchanged re-run").
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak MiB of one run of `argv`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def row(name: str, runs: list[tuple[float, float, float]]) -> str:
    walls, cpus, peaks = zip(*runs, strict=True)
    return (
        f"| {name:<34} | {statistics.median(walls):6.3f} ({min(walls):.3f}–{max(walls):.3f}) "
        f"| {statistics.median(cpus):6.3f} | {max(peaks):6.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=Path, default=ROOT / "examples" / "border-reached")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        show = Path(tmp) / "show"
        shutil.copytree(args.show, show, ignore=shutil.ignore_patterns("public", ".fieldreports"))
        fieldreports = str(BIN / "fieldreports")
        print("first run (masters, transcribes, locates)...", file=sys.stderr)
        subprocess.run([fieldreports, "run", str(show)], check=True, capture_output=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "fieldreports --help": [fieldreports, "--help"],
            "fieldreports run (unchanged)": [fieldreports, "run", str(show)],
        }
        results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in commands}
        for _ in range(args.repeats):
            for name, argv in commands.items():  # interleaved, so drift hits all alike
                results[name].append(timed(argv))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores, "
          f"{args.repeats} runs each")  # fmt: skip
    print("| command                            | wall s median (min–max) | CPU s | peak MiB |")
    print("| ---------------------------------- | ----------------------- | ----- | -------- |")
    for name, runs in results.items():
        print(row(name, runs))


if __name__ == "__main__":
    main()
