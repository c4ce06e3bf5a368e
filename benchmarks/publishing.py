"""Publishing benchmark: feed rendering, site building and publishing (local folder and S3).

    .venv/bin/python benchmarks/publishing.py [--episodes 10,100,1000] [--s3-episodes 100]
                                              [--big-mb 64]

- feed: render_feed for N episodes (time, feed size);
- site: build_site for N episodes (chapters, pages, partners.json, feed);
- local: publish N episodes to a folder, first run and an unchanged re-run;
- s3: the same against moto's standalone server on localhost (HTTP, no network latency, so
  this measures our per-file overhead: one HEAD per file, one PUT per changed file);
- big: one large master (random bytes) to S3 in parts, then the unchanged re-run (hashing only).

Episodes are clones of three real tiny episodes (1.5 s tones) under new slugs, so file counts
match a real show while audio bytes stay small. Results go in docs/benchmarks.md ("Publishing").
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import boto3  # noqa: E402
import episodes_fixtures as fx  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from episodes.episode import Episode, rebase  # noqa: E402
from episodes.feed.rss import render_feed  # noqa: E402
from episodes.site.files import SiteFile  # noqa: E402
from episodes.site.publish import build_site, publish  # noqa: E402
from episodes.site.storage import open_storage  # noqa: E402
from fieldreports.config import ShowConfig  # noqa: E402


def clones(base: tuple[Episode, ...], n: int) -> tuple[Episode, ...]:
    out = []
    for i in range(n):
        src = base[i % len(base)]
        slug = f"{src.slug}-{i:04d}"
        ep = dataclasses.replace(
            src,
            slug=slug,
            report_id=slug,
            guid=f"urn:uuid:{i:032x}",
            title=f"{src.title} {i}",
            number=i + 1,
            audio=dataclasses.replace(src.audio, key=f"episodes/{slug}.mp3"),
            master=dataclasses.replace(src.master, key=f"masters/{slug}.wav"),
            transcripts=tuple(
                dataclasses.replace(t, key=t.key.replace(src.slug, slug)) for t in src.transcripts
            ),
        )
        out.append(rebase(ep, fx.BASE_URL))
    return tuple(out)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", default="10,100,1000")
    parser.add_argument("--s3-episodes", type=int, default=100)
    parser.add_argument("--big-mb", type=int, default=64)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    rows: list[tuple[str, int, int, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = fx.show_config(tmp / "show")
        base = fx.make_show_episodes(config, tmp / "work")
        for n in (int(x) for x in args.episodes.split(",")):
            eps = clones(base, n)
            seconds, feed = timed(
                lambda eps=eps: render_feed(eps, config.show, artwork_url=fx.BASE_URL + "a.png")
            )
            rows.append(("render_feed", n, 1, seconds, f"{len(feed) / 1024:.0f} KiB"))
            seconds, site = timed(lambda eps=eps: build_site(eps, config, map_files=()))
            files = len(site.in_order())
            rows.append(("build_site", n, files, seconds, ""))
            local = fx.show_config(tmp / f"local{n}")
            storage = open_storage(local)
            seconds, report = timed(lambda s=site, st=storage: publish(s, st))
            rows.append(
                ("publish local, first", n, files, seconds, f"{len(report.uploaded)} written")
            )
            seconds, report = timed(lambda s=site, st=storage: publish(s, st))
            rows.append(
                ("publish local, unchanged", n, files, seconds, f"{len(report.uploaded)} written")
            )

        port = fx.free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            endpoint = f"http://127.0.0.1:{port}"
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
                Bucket="bench"
            )
            s3: ShowConfig = fx.show_config(
                tmp / "s3",
                storage={
                    "kind": "s3",
                    "bucket": "bench",
                    "region": "us-east-1",
                    "endpoint_url": endpoint,
                    "addressing_style": "path",
                    "public_base_url": f"{endpoint}/bench/",
                },
            )
            eps = clones(base, args.s3_episodes)
            site = build_site(eps, s3, map_files=())
            files = len(site.in_order())
            storage = open_storage(s3)
            seconds, report = timed(lambda: publish(site, storage))
            rows.append(
                (
                    "publish S3 (moto), first",
                    len(eps),
                    files,
                    seconds,
                    f"{len(report.uploaded)} uploaded",
                )
            )
            seconds, report = timed(lambda: publish(site, storage))
            rows.append(
                (
                    "publish S3 (moto), unchanged",
                    len(eps),
                    files,
                    seconds,
                    f"{len(report.uploaded)} uploaded",
                )
            )
            big = tmp / "big.wav"
            big.write_bytes(os.urandom(args.big_mb * 1024 * 1024))
            file = SiteFile(key="masters/big.wav", content_type="audio/wav", source=big)
            seconds, _ = timed(lambda: storage.put(file))
            rows.append(
                (
                    f"S3 multipart put {args.big_mb} MiB",
                    1,
                    1,
                    seconds,
                    f"{args.big_mb / seconds:.0f} MiB/s",
                )
            )
            seconds, _ = timed(lambda: storage.put(file))
            rows.append(
                (
                    f"S3 unchanged {args.big_mb} MiB (hash+HEAD)",
                    1,
                    1,
                    seconds,
                    f"{args.big_mb / seconds:.0f} MiB/s",
                )
            )
        finally:
            server.stop()

    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    print(f"| {'step':<38} | {'episodes':>8} | {'files':>6} | {'seconds':>8} | note |")
    print(f"|{'-' * 40}|{'-' * 10}:|{'-' * 7}:|{'-' * 9}:|------|")
    for step, n, files, seconds, note in rows:
        print(f"| {step:<38} | {n:>8} | {files:>6} | {seconds:>8.3f} | {note} |")


if __name__ == "__main__":
    main()
