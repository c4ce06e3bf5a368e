"""The station: how long from a recording's last byte to "published" in its reporter's status.

    .venv/bin/python benchmarks/station.py [--reports 5] [--show examples/border-reached]

Starts `fieldreports station` (a real process, Whisper tiny.en, map tiles "none") on a copy of
the show (or an empty one with `--show ""`), adds a reporter, and sends `--reports` reports one
after another as the upload page does (notes, then the recording: espeak speech, about 6 s) with
tuspy. For each, times the wait from the moment the recording's upload returns until
`/api/reports/<id>` says "published", polling every 0.1 s. Prints median, min and max, with the
machine's load. Results go in docs/benchmarks.md ("Station").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SENTENCES = (
    "The queue at the border is long this morning and the wind is cold.",
    "Volunteers hand out tea and blankets to the families by the fence.",
    "A bus arrives from the south and everyone gets up to look.",
    "The children play football in the car park next to the camp.",
    "Nobody knows when the gate will open again; people wait and talk.",
    "At night the harbour is quiet and the lights of the boats are far away.",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(show: Path | None, work: Path, port: int) -> Path:
    target = work / "show"
    if show:
        shutil.copytree(show, target, ignore=shutil.ignore_patterns("public", ".fieldreports"))
    else:
        (target / "inbox").mkdir(parents=True)
    toml = target / "show.toml"
    text = toml.read_text("utf-8") if toml.exists() else '[show]\ntitle = "Bench"\n'
    overridden = ("base_url", "model", "tiles")  # set below
    lines = [ln for ln in text.splitlines() if not ln.startswith(overridden)]
    text = "\n".join(lines).replace("[show]", f'[show]\nbase_url = "http://127.0.0.1:{port}/"', 1)
    for table, body in (("transcription", 'model = "tiny.en"'), ("map", 'tiles = "none"')):
        text = (
            text.replace(f"[{table}]", f"[{table}]\n{body}", 1)
            if f"[{table}]" in text
            else (text + f"\n[{table}]\n{body}\n")
        )
    # Polled every 0.1 s here: far above what a phone asks, so the per-key limit is lifted.
    text += "\n[station]\nrequests_per_minute = 6000\nburst = 600\n"
    toml.write_text(text + "\n", encoding="utf-8")
    return target


def api_state(port: int, key: str, report_id: str) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/reports/{report_id}",
        headers={"Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(json.load(response)["state"])
    except urllib.error.HTTPError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--show", default=str(ROOT / "examples" / "border-reached"))
    args = parser.parse_args()
    from tusclient import client as tus_client

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        show = prepare(Path(args.show) if args.show else None, work, port)
        fieldreports = str(BIN / "fieldreports")
        made = subprocess.run(
            [fieldreports, "reporters", "add", str(show), "Bench", "--json"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        key = json.loads(made.stdout)["key"]
        station = subprocess.Popen(
            [fieldreports, "station", str(show), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            started = time.perf_counter()
            while True:  # the station starting: the upload page answers once it listens
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/upload", timeout=5).close()
                    break
                except OSError:
                    time.sleep(0.2)
            uploads = tus_client.TusClient(
                f"http://127.0.0.1:{port}/files/", headers={"Authorization": f"Bearer {key}"}
            )
            waits = []
            for index in range(args.reports):
                stem = f"bench-{index}"
                notes = work / f"{stem}.md"
                notes.write_text(f'---\ntitle: "Bench {index}"\n---\n', encoding="utf-8")
                audio = work / f"{stem}.wav"
                text = SENTENCES[index % len(SENTENCES)] + f" Report {index}."
                subprocess.run(["espeak-ng", "-w", str(audio), text], check=True)
                for path in (notes, audio):
                    uploads.uploader(str(path), metadata={"filename": path.name}).upload()
                sent = time.perf_counter()
                while api_state(port, key, stem) not in ("published", "failed"):
                    time.sleep(0.1)
                waits.append(time.perf_counter() - sent)
                print(f"report {index}: {waits[-1]:.1f} s ({api_state(port, key, stem)})")
            print(
                f"{args.reports} reports, show {args.show or '(empty)'}, load "
                f"{os.getloadavg()[0]:.1f}: last byte to published median "
                f"{statistics.median(waits):.1f} s (min {min(waits):.1f}, max {max(waits):.1f}); "
                f"whole session {time.perf_counter() - started:.0f} s"
            )
        finally:
            station.terminate()
            station.wait(30)


if __name__ == "__main__":
    main()
