"""Catalog speed on both backends: what one call costs, and several processes writing at once.

Run: .venv/bin/python benchmarks/catalog.py [--ops N] [--processes N]
Starts its own PostgreSQL 15 (as the tests do, tests/support/postgres.py: fsync off, so its
writes are cheaper than on a durable server) beside a SQLite file on the local disk (WAL,
default synchronous=FULL). Prints one table; numbers go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldreports.catalog import Catalog, open_catalog  # noqa: E402
from fieldreports.config import CatalogSettings  # noqa: E402
from fieldreports.transcription import Segment, Transcript  # noqa: E402
from tests.support.postgres import running_postgres  # noqa: E402

FEED = "https://example.org/feed.xml"
# A 10-minute report's transcript: about 120 segments, 30 kB of JSON.
TRANSCRIPT = Transcript(
    engine="faster-whisper",
    model="base",
    task="transcribe",
    language="en",
    language_probability=0.98,
    duration_s=600.0,
    segments=tuple(
        Segment(start_s=i * 5.0, end_s=i * 5.0 + 5.0, text=" We waited at the harbour " * 8)
        for i in range(120)
    ),
)


def per_call_ms(fn: Callable[[int], object], ops: int) -> float:
    """The median of `ops` calls, in milliseconds."""
    times = []
    for i in range(ops):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(catalog: Catalog, ops: int) -> dict[str, float]:
    for i in range(ops):
        catalog.guid_for(f"known-{i}", feed_url=FEED)
    for i in range(100):
        catalog.put("transcript", f"many-{i}", TRANSCRIPT)
    key = catalog.add_reporter("Amal")
    run = catalog.start_run()
    many = [f"many-{i}" for i in range(100)]
    return {
        "guid_for, new report": per_call_ms(
            lambda i: catalog.guid_for(f"new-{i}", feed_url=FEED), ops
        ),
        "guid_for, known report": per_call_ms(
            lambda i: catalog.guid_for(f"known-{i}", feed_url=FEED), ops
        ),
        "put transcript (30 kB)": per_call_ms(
            lambda i: catalog.put("transcript", f"t-{i}", TRANSCRIPT), ops
        ),
        "get transcript": per_call_ms(
            lambda i: catalog.get("transcript", f"t-{i}", Transcript), ops
        ),
        "get x 100, one by one": per_call_ms(
            lambda i: [catalog.get("transcript", k, Transcript) for k in many], max(3, ops // 20)
        ),
        "get_many, 100 keys": per_call_ms(
            lambda i: catalog.get_many("transcript", many, Transcript), max(3, ops // 20)
        ),
        "log_work": per_call_ms(lambda i: catalog.log_work(run, f"r{i}", "normalise", 1.0), ops),
        "reporter_for_key": per_call_ms(lambda i: catalog.reporter_for_key(key), ops),
    }


def _writer(where: tuple[Path, CatalogSettings], worker: int, ops: int, start: Any) -> None:
    with open_catalog(*where) as catalog:
        start.wait()
        for i in range(ops):
            catalog.guid_for(f"w{worker}-{i}", feed_url=FEED)
            catalog.log_work(1, f"w{worker}-{i}", "normalise", 1.0)


def writes_per_s(where: tuple[Path, CatalogSettings], processes: int, ops: int) -> float:
    """Processes each making `ops` new reports (two writes each) at once: writes per second."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes + 1)
    workers = [
        context.Process(target=_writer, args=(where, n, ops, start)) for n in range(processes)
    ]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    return processes * ops * 2 / (time.perf_counter() - began)


def open_ms(where: tuple[Path, CatalogSettings]) -> float:
    start = time.perf_counter()
    open_catalog(*where).close()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, running_postgres() as server:
        places = {
            "SQLite": (Path(tmp) / "state", CatalogSettings()),
            "PostgreSQL": (Path(tmp), CatalogSettings(url=server.create_database("bench"))),
        }
        for name, where in places.items():
            fresh = open_ms(where)
            again = open_ms(where)
            with open_catalog(*where) as catalog:
                rows[name] = measure(catalog, args.ops)
            rows[name]["open, migrating a new catalog"] = fresh
            rows[name]["open, up to date"] = again
            rows[name][f"writes/s, {args.processes} processes at once"] = writes_per_s(
                where, args.processes, args.ops
            )
    print(f"| median ms per call ({args.ops} calls) | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for label in rows["SQLite"]:
        print(f"| {label} | " + " | ".join(f"{r[label]:.2f}" for r in rows.values()) + " |")


if __name__ == "__main__":
    main()
