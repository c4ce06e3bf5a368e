"""Benchmark: mastering 1-minute, 30-minute and 3-hour recordings, against ffmpeg's two-pass
loudnorm and pyloudnorm on the same files.

    .venv/bin/python benchmarks/audio.py            # 1 min, 30 min, 3 h (long: tens of minutes)
    .venv/bin/python benchmarks/audio.py --quick    # 1 min and 5 min only

Each run happens in a fresh child process so that its peak resident memory (ru_maxrss) is its
own; "RSS beyond the interpreter" subtracts a child that only imports the same modules. Every
output is measured with ffmpeg's ebur128 filter (an independent meter) and its error against the
target is printed. The recordings are espeak-ng speech in four voices at varied levels with a
room-noise bed, looped to length, as 48 kHz mono FLAC.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PODCAST_LUFS, MASTER_LUFS, CEILING_DBTP = -16.0, -23.0, -1.0

SENTENCES = (
    ("en", 0, "We reached the harbour at dawn, and the first boat was already in."),
    ("nl", -6, "De grens was gesloten, dus we wachtten de hele nacht in de kou."),
    ("it", 4, "Le barche arrivano una dopo l'altra, e i volontari distribuiscono coperte."),
    ("pl", -3, "Na granicy stoi wielu ludzi, a las jest zimny i ciemny."),
    ("en", 6, "Shouting across the fence, a man asks when the gate will open again."),
    ("en", -10, "Quietly, almost a whisper: we are fine, we are waiting."),
)


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True)


def make_clip(folder: Path) -> Path:
    """About a minute of speech: six sentences, varied voices and levels, pauses, a noise bed."""
    parts = []
    for index, (voice, gain_db, text) in enumerate(SENTENCES):
        raw = folder / f"s{index}.wav"
        run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(raw), text])
        part = folder / f"p{index}.wav"
        run(
            [
                "sox",
                str(raw),
                "-r",
                "48000",
                "-c",
                "1",
                "-b",
                "16",
                str(part),
                "gain",
                str(gain_db),
                "pad",
                "0.4",
                "1.8",
            ]
        )
        parts.append(str(part))
    speech = folder / "speech.wav"
    run(["sox", *parts, *parts, str(speech)])
    length = run(["soxi", "-D", str(speech)]).stdout.strip()
    bed = folder / "bed.wav"
    run(
        [
            "sox",
            "-n",
            "-r",
            "48000",
            "-c",
            "1",
            "-b",
            "16",
            str(bed),
            "synth",
            length,
            "pinknoise",
            "vol",
            "-52dB",
        ]
    )
    clip = folder / "clip.wav"
    run(["sox", "-m", str(speech), str(bed), str(clip)])
    return clip


def make_recording(clip: Path, seconds: float, out: Path) -> Path:
    if out.exists():
        return out
    clip_s = float(run(["soxi", "-D", str(clip)]).stdout)
    repeats = max(0, int(seconds // clip_s))
    run(["sox", str(clip), str(out), "repeat", str(repeats), "trim", "0", str(seconds)])
    return out


# -- the contestants, each run as a child process printing JSON ---------------------------------

OURS = """
import json, logging, sys, time, resource
from pathlib import Path
from fieldreports.audio.master import normalise, measure
from fieldreports.config import AudioSettings
class Count(logging.Handler):
    renders = 1
    def emit(self, record):
        Count.renders += "rendering again" in record.getMessage()
logging.getLogger("fieldreports.audio.master").addHandler(Count())
logging.getLogger("fieldreports.audio.master").setLevel(logging.INFO)
source, out = Path(sys.argv[1]), Path(sys.argv[2])
started = time.perf_counter(); cpu = time.process_time()
measure(source)
analysis_s, analysis_cpu_s = time.perf_counter() - started, time.process_time() - cpu
started = time.perf_counter()
result = normalise(source, out, AudioSettings())
print(json.dumps({"wall_s": time.perf_counter() - started, "analysis_s": analysis_s,
                  "analysis_cpu_s": analysis_cpu_s, "renders": Count.renders,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "outputs": [str(result.podcast_mp3), str(result.master_wav)]}))
"""

OURS_BASELINE = """
import json, resource
import numpy, scipy.signal, pydub, mutagen
import fieldreports.audio.master
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

PYLOUDNORM = """
import json, subprocess, sys, time, resource
import numpy as np, pyloudnorm
from pathlib import Path
source, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
started = time.perf_counter()
raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-f", "f32le", "-"],
                     check=True, capture_output=True).stdout
data = np.frombuffer(raw, dtype="<f4").astype(np.float64)
del raw
meter = pyloudnorm.Meter(48000)
loudness = meter.integrated_loudness(data)
analysis_s = time.perf_counter() - started
outputs = []
for target, name, codec in ((-16.0, "podcast.mp3", ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "96k"]),
                            (-23.0, "master.wav", ["-c:a", "pcm_s24le"])):
    normalised = pyloudnorm.normalize.loudness(data, loudness, target).astype("<f4")
    path = out / name
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", "48000", "-ac", "1",
                    "-i", "-", *codec, str(path)], input=normalised.tobytes(), check=True)
    del normalised
    outputs.append(str(path))
print(json.dumps({"wall_s": time.perf_counter() - started, "analysis_s": analysis_s,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "outputs": outputs}))
"""


def child(code: str, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [PYTHON, "-c", code, *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def loudnorm_two_pass(source: Path, out: Path) -> dict[str, object]:
    """ffmpeg's documented two-pass loudnorm: measure, then normalise linearly with the measurements.

    One measuring pass, then one rendering pass producing both outputs (asplit). Peak memory is
    the larger of the two ffmpeg processes (RUSAGE_CHILDREN after each).
    """
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    measured = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-nostats",
            "-i",
            str(source),
            "-af",
            f"loudnorm=I={PODCAST_LUFS}:TP={CEILING_DBTP}:LRA=11:print_format=json",
            "-f",
            "null",
            "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    stats = json.loads(measured[measured.rindex("{") : measured.rindex("}") + 1])
    analysis_s = time.perf_counter() - started

    def chain(target: float) -> str:
        return (
            f"loudnorm=I={target}:TP={CEILING_DBTP}:LRA=11:measured_I={stats['input_i']}:"
            f"measured_TP={stats['input_tp']}:measured_LRA={stats['input_lra']}:"
            f"measured_thresh={stats['input_thresh']}:offset={stats['target_offset']}:linear=true"
        )

    podcast, master = out / "podcast.mp3", out / "master.wav"
    graph = f"[0:a]asplit=2[a][b];[a]{chain(PODCAST_LUFS)}[p];[b]{chain(MASTER_LUFS)}[m]"
    run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(source),
            "-filter_complex",
            graph,
            "-map",
            "[p]",
            "-ar",
            "44100",
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "96k",
            str(podcast),
            "-map",
            "[m]",
            "-ar",
            "48000",
            "-c:a",
            "pcm_s24le",
            str(master),
        ]
    )
    return {
        "wall_s": time.perf_counter() - started,
        "analysis_s": analysis_s,
        "rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "outputs": [str(podcast), str(master)],
    }


# In its own child, so that RUSAGE_CHILDREN covers only its two ffmpeg processes.
LOUDNORM = """
import json, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from audio import loudnorm_two_pass
print(json.dumps(loudnorm_two_pass(Path(sys.argv[1]), Path(sys.argv[2]))))
"""


def ebur128(path: str) -> tuple[float, float]:
    err = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-i",
            path,
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    summary = err[err.rindex("Summary:") :]
    return (
        float(summary.split("I:")[1].split("LUFS")[0]),
        float(summary.split("Peak:")[1].split("dBFS")[0]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 min and 5 min only")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "fieldreports-bench",
        help="where recordings and outputs go (kept between runs)",
    )
    parser.add_argument(
        "--skip-pyloudnorm-over",
        type=float,
        default=3600.0,
        help="seconds above which pyloudnorm (which holds the file whole) is skipped",
    )
    args = parser.parse_args()
    lengths = (60.0, 300.0) if args.quick else (60.0, 1800.0, 10800.0)
    args.work.mkdir(parents=True, exist_ok=True)
    clip = make_clip(Path(tempfile.mkdtemp(dir=args.work)))
    baseline_kb = int(child(OURS_BASELINE)["rss_kb"])  # type: ignore[call-overload]
    print(
        f"# {platform.python_version()}, {platform.machine()}, ffmpeg "
        f"{run(['ffmpeg', '-version']).stdout.split()[2]}, interpreter+imports RSS "
        f"{baseline_kb / 1024:.0f} MB"
    )
    header = (
        "| length | tool | wall s | x real time | analysis x real time | peak RSS MB "
        "| podcast LUFS / dBTP | master LUFS / dBTP | worst error LU |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for seconds in lengths:
        source = make_recording(clip, seconds, args.work / f"speech-{int(seconds)}s.flac")
        label = f"{seconds / 60:g} min" if seconds < 3600 else f"{seconds / 3600:g} h"
        contestants: list[tuple[str, dict[str, object] | None]] = []
        contestants.append(("fieldreports", child(OURS, str(source), str(args.work / "ours"))))
        contestants.append(
            ("ffmpeg loudnorm 2-pass", child(LOUDNORM, str(source), str(args.work / "loudnorm")))
        )
        if seconds <= args.skip_pyloudnorm_over:
            contestants.append(
                ("pyloudnorm", child(PYLOUDNORM, str(source), str(args.work / "pyln")))
            )
        else:
            contestants.append(("pyloudnorm", None))
        for name, result in contestants:
            if result is None:
                print(
                    f"| {label} | {name} | not run: holds the whole file in memory "
                    f"(~{seconds * 48000 * 8 * 4 / 1e9:.0f} GB) | | | | | | |"
                )
                continue
            wall = float(result["wall_s"])  # type: ignore[arg-type]
            analysis = float(result["analysis_s"])  # type: ignore[arg-type]
            rss_mb = int(result["rss_kb"]) / 1024  # type: ignore[call-overload]
            analysis_rt = f"{seconds / analysis:.0f}"
            if name == "fieldreports":
                rss = f"{rss_mb:.0f} ({rss_mb - baseline_kb / 1024:.0f} beyond)"
                cpu = float(result["analysis_cpu_s"])  # type: ignore[arg-type]
                analysis_rt += f" ({seconds / cpu:.0f} per core)"
                if int(result["renders"]) > 1:  # type: ignore[call-overload]
                    name += f", MP3 rendered {result['renders']}x"
            else:
                rss = f"{rss_mb:.0f}"
            podcast, master = (ebur128(p) for p in result["outputs"])  # type: ignore[union-attr]
            error = max(abs(podcast[0] - PODCAST_LUFS), abs(master[0] - MASTER_LUFS))
            print(
                f"| {label} | {name} | {wall:.1f} | {seconds / wall:.0f} | {analysis_rt} "
                f"| {rss} | {podcast[0]:.1f} / {podcast[1]:.1f} | {master[0]:.1f} / {master[1]:.1f} "
                f"| {error:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
