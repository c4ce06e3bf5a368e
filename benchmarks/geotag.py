"""Geotagging speed: gazetteer start-up, look-ups, GPX reading and locating a batch.

Run: .venv/bin/python benchmarks/geotag.py [--reports N] [--track-points N]
Prints one table; numbers go into docs/benchmarks.md with the conditions of the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldreports.config import GeotagSettings  # noqa: E402
from fieldreports.geo.gazetteer import _load_index, load_gazetteer  # noqa: E402
from fieldreports.geo.gpx import read_tracks  # noqa: E402
from fieldreports.geo.locate import Geotagger  # noqa: E402
from fieldreports.intake.inbox import FieldReport  # noqa: E402
from fieldreports.intake.notes import Notes  # noqa: E402

PLACES = ("Lampedusa", "Röszke", "Bialowieza", "Terespol", "Idomeni", "Horgos", "Lesvos", "Samos")
TEXT = (
    "We left Subotica before dawn and reached the fence near Röszke by nine. Nobody in Horgoš "
    "would say where the buses go. "
) * 20


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def write_track(path: Path, points: int) -> None:
    start = dt.datetime(2022, 3, 14, 6, 0, tzinfo=dt.UTC)
    rows = []
    for i in range(points):
        when = (start + dt.timedelta(seconds=5 * i)).isoformat().replace("+00:00", "Z")
        rows.append(
            f'<trkpt lat="{46.0 + i * 1e-5:.6f}" lon="{19.9 + i * 1e-5:.6f}"><time>{when}</time></trkpt>'
        )
    path.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="bench" '
        'xmlns="http://www.topografix.com/GPX/1/1"><trk><name>bench</name><trkseg>'
        + "".join(rows)
        + "</trkseg></trk></gpx>",
        encoding="utf-8",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--track-points", type=int, default=20_000)
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as cache:
        build_s = timed(lambda: load_gazetteer(Path(cache)))
        gazetteer = load_gazetteer(Path(cache))
        (index,) = Path(cache).glob("gazetteer-*.marshal")
        countries = {c: gazetteer.country_name(c) for c in ("PL", "HU", "RS")}
        gc.disable()  # as load_gazetteer does
        cached_s = timed(lambda: _load_index(index, countries))
        gc.enable()
    rows.append(("gazetteer build, no cached index", f"{build_s:.2f} s, {len(gazetteer)} places"))
    rows.append(("gazetteer from the cached index", f"{cached_s:.2f} s"))
    rows.append(
        (
            "peak memory after build",
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        )
    )
    lookup_s = timed(lambda: [gazetteer.lookup(p) for p in PLACES], repeat=200) / len(PLACES)
    rows.append(("name look-up", f"{lookup_s * 1e6:.1f} µs"))
    nearest_s = timed(lambda: gazetteer.nearest(52.07, 23.60), repeat=500)
    rows.append(("nearest place", f"{nearest_s * 1e6:.0f} µs"))
    words = len(TEXT.split())
    mentions_s = timed(lambda: gazetteer.mentions(TEXT, countries=["HU", "RS"]), repeat=5)
    rows.append(
        ("place names in text", f"{mentions_s / words * 1000 * 1000:.1f} ms per 1000 words")
    )

    with tempfile.TemporaryDirectory() as folder:
        write_track(Path(folder) / "long.gpx", args.track_points)
        read_s = timed(lambda: read_tracks(Path(folder)))
        tracks = read_tracks(Path(folder))
    rows.append((f"read a GPX track of {args.track_points} points", f"{read_s:.2f} s"))

    tagger_s = timed(
        lambda: Geotagger(tracks=tracks, settings=GeotagSettings(), gazetteer=gazetteer)
    )
    rows.append(("Geotagger start (track countries)", f"{tagger_s * 1000:.0f} ms"))
    tagger = Geotagger(
        tracks=tracks, settings=GeotagSettings(countries="HU, RS"), gazetteer=gazetteer
    )
    base = dt.datetime(2022, 3, 14, 7, 0, tzinfo=dt.UTC)
    reports = [
        FieldReport(
            id=f"r{i}",
            audio_path=Path(f"/nonexistent/r{i}.wav"),
            notes_path=None,
            notes=Notes(
                title=f"report {i}",
                recorded_at=base + dt.timedelta(minutes=i) if i % 3 == 0 else None,
                place=PLACES[i % len(PLACES)] if i % 3 == 1 else "",
                lat=46.19 if i % 3 == 2 else None,
                lon=20.04 if i % 3 == 2 else None,
                sensitive=i % 5 == 0,
            ),
            audio_sha256="",
            size_bytes=1,
        )
        for i in range(args.reports)
    ]
    batch_s = timed(lambda: tagger.locate_all(reports))
    rows.append((f"locate_all, {args.reports} reports (gpx/place/notes)", f"{batch_s:.2f} s"))

    print(f"Python {platform.python_version()}, {platform.machine()}, {dt.date.today()}")
    width = max(len(r[0]) for r in rows)
    print(f"| {'what'.ljust(width)} | result |")
    print(f"| {'-' * width} | ------ |")
    for what, result in rows:
        print(f"| {what.ljust(width)} | {result} |")


if __name__ == "__main__":
    main()
