"""Benchmark: what is published says what was said. Models side by side, and a whole run.

    .venv/bin/python benchmarks/fidelity.py models --models base small     # words, per language
    .venv/bin/python benchmarks/fidelity.py run                            # the example show

`models` builds a mixed-language set once into --work: one espeak-ng passage each in Dutch (dry
and in a reverberant room, as sox's `reverb` makes it), German (Klatt voice: Whisper takes
espeak's default German for Latin), English, Italian, French and Polish; an English notice
followed by the same in German; and the real `tests/data/jfk.flac`. Each model transcribes every
clip through our stage (language detected per stretch of speech, as in a run) and the table
gives, per clip and model, the language(s) heard, the word error rate against the text spoken
(WER: substitutions, deletions and insertions over the words spoken, case and punctuation
ignored) the same with the notes' language given (`language: nl`, or `[en, de]` for the mixed clip), and
the seconds taken (language detected). A model that cannot be loaded says why.

`run` times raw faster-whisper (one process: load the model, transcribe each recording of the
example show with its own VAD, as `WhisperModel.transcribe` does) against `fieldreports run` on a
fresh copy of the same show (mastering, transcripts, language per stretch, locating, feed, map),
both with the same model, fastest of --repeat runs, and prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "examples" / "border-reached"
JFK = ROOT / "tests" / "data" / "jfk.flac"
JFK_TEXT = (
    "And so my fellow Americans ask not what your country can do for you ask what you can do "
    "for your country"
)
# name: (espeak voice, words per minute, sox effects after it, language(s), text)
CLIPS: dict[str, tuple[str, int, tuple[str, ...], str, str]] = {
    "nl": (
        "nl",
        150,
        (),
        "nl",
        "Vanochtend kwamen er weer drie boten aan in de haven. De vrijwilligers deelden dekens "
        "en water uit, en een arts onderzocht de kinderen.",
    ),
    "nl, room reverb": (
        "nl",
        150,
        ("reverb", "70", "50", "100"),
        "nl",
        "Vanochtend kwamen er weer drie boten aan in de haven. De vrijwilligers deelden dekens "
        "en water uit, en een arts onderzocht de kinderen.",
    ),
    "de": (
        "de+klatt3",
        200,
        (),
        "de",
        "Guten Tag, liebe Leute. Das ist eine wichtige Mitteilung für alle, die heute angekommen "
        "sind. Der Bus zum Lager fährt um neun Uhr ab.",
    ),
    "en": (
        "en",
        150,
        (),
        "en",
        "The border crossing was closed this morning and nobody knew when it would open again. "
        "Families waited in the rain beside the railway station.",
    ),
    "it": (
        "it",
        150,
        (),
        "it",
        "Stamattina sono arrivate tre barche al porto di Lampedusa. I volontari hanno portato "
        "coperte, acqua e pane per tutti.",
    ),
    "fr": (
        "fr",
        150,
        (),
        "fr",
        "Les bateaux sont restés au port toute la semaine. Les pêcheurs disent que la mer est "
        "trop dangereuse pour sortir.",
    ),
    "pl": (
        "pl",
        150,
        (),
        "pl",
        "Na granicy czekaliśmy całą noc. Rano straż graniczna pozwoliła przejść tylko rodzinom "
        "z małymi dziećmi.",
    ),
}
MIXED_EN = "Please keep your papers with you. The bus to the camp leaves at nine o'clock."
MIXED_DE = (
    "Guten Tag, liebe Leute. Das ist eine wichtige Mitteilung für alle, die heute angekommen "
    "sind. Bitte behalten Sie Ihre Papiere bei sich."
)


def run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: edit distance over words, divided by the reference's length.

    >>> wer("ask not what your country", "ask what your county")
    0.4
    """
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[len(hyp)] / max(1, len(ref))


def build_clips(work: Path) -> dict[str, tuple[Path, str, str]]:
    """Each clip's file, its language(s) and what was said; made once into `work`."""
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str, str]] = {}
    for name, (voice, wpm, effects, language, text) in CLIPS.items():
        path = work / f"{re.sub(r'[^a-z]+', '-', name)}.wav"
        if not path.is_file():
            dry = work / "dry.wav"
            run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(dry), text])
            run(["sox", str(dry), str(path), *effects])
        out[name] = (path, language, text)
    mixed = work / "en-then-de.wav"
    if not mixed.is_file():
        run(["espeak-ng", "-v", "en", "-w", str(work / "m-en.wav"), MIXED_EN])
        run(["espeak-ng", "-v", "de+klatt3", "-s", "200", "-w", str(work / "m-de.wav"), MIXED_DE])
        run(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(work / "pause.wav"), "trim", "0", "3"])  # fmt: skip
        run(["sox", *(str(work / f) for f in ("m-en.wav", "pause.wav", "m-de.wav")), str(mixed)])
    out["en, then de"] = (mixed, "en+de", f"{MIXED_EN} {MIXED_DE}")
    out["jfk.flac (real)"] = (JFK, "en", JFK_TEXT)
    return out


def models_case(args: argparse.Namespace) -> None:
    from fieldreports.config import TranscriptionSettings
    from fieldreports.errors import SetupError
    from fieldreports.transcription.whisper import load_engine, transcribe

    clips = build_clips(args.work)
    results: dict[str, dict[str, tuple[str, float, float, float]]] = {}
    notes: dict[str, str] = {}
    for model in args.models:
        settings = TranscriptionSettings(model=model, cpu_threads=args.threads)
        try:
            started = time.perf_counter()
            engine = load_engine(settings)
            notes[model] = f"loaded in {time.perf_counter() - started:.1f} s"
        except SetupError as exc:
            notes[model] = f"unavailable: {exc}"
            continue
        results[model] = {}
        for name, (path, language, text) in clips.items():
            started = time.perf_counter()
            result = transcribe(path, engine)
            took = time.perf_counter() - started
            heard = "+".join(dict.fromkeys(s.language for s in result.segments)) or "-"
            # The same with the notes' language given (what `language: nl` does), where one is.
            hinted = (
                wer(text, transcribe(path, engine, language=language).text)
                if "+" not in language
                else wer(text, transcribe(path, engine, languages=language.split("+")).text)
            )
            results[model][name] = (heard, wer(text, result.text), hinted, took)
    header = ["clip", "spoken"] + [
        f"{m}: heard / WER / WER with the notes' language / s" for m in results
    ]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    totals = {m: [0.0, 0.0, 0.0] for m in results}
    for name, (_path, language, _text) in clips.items():
        cells = [name, language]
        for model in results:
            heard, error, hinted, took = results[model][name]
            totals[model][0] += error
            totals[model][1] += hinted
            totals[model][2] += took
            cells.append(f"{heard} / {error:.0%} / {hinted:.0%} / {took:.1f}")
        print(" | ".join(cells))
    cells = ["mean WER, total s (detected)", ""]
    for model in results:
        n = len(clips)
        cells.append(
            f"{totals[model][0] / n:.0%} / {totals[model][1] / n:.0%} / {totals[model][2]:.1f}"
        )
    print(" | ".join(cells))
    for model, note in notes.items():
        print(f"{model}: {note}")


RAW = """
import sys, time
from pathlib import Path
from faster_whisper import WhisperModel
from fieldreports.transcription.models import default_cache_dir, locate
files = locate(sys.argv[1], default_cache_dir())
model = WhisperModel(str(files.directory), device="cpu", compute_type="int8", local_files_only=True)
for path in sys.argv[2:]:
    segments, info = model.transcribe(
        path, beam_size=5, temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        compression_ratio_threshold=2.4, no_speech_threshold=0.6,
        condition_on_previous_text=False, vad_filter=True,
    )
    text = " ".join(s.text.strip() for s in segments)
    print(Path(path).name, info.language, len(text.split()), file=sys.stderr)
"""


def timed(argv: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, with children) of one process."""
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{argv[0]} failed; see {log}")
    return wall, usage.ru_utime + usage.ru_stime


def run_case(args: argparse.Namespace) -> None:
    recordings = sorted(
        str(p)
        for p in (EXAMPLE / "inbox").iterdir()
        if p.suffix in (".m4a", ".wav", ".ogg", ".mp3", ".flac", ".amr")
    )
    exe = Path(sys.executable).with_name("fieldreports")
    rows: dict[str, list[tuple[float, float]]] = {"raw": [], "run": [], "other": []}
    for attempt in range(args.repeat):
        rows["raw"].append(
            timed([sys.executable, "-c", RAW, args.model, *recordings], args.work / "raw.log")
        )
        show = args.work / "show"
        shutil.rmtree(show, ignore_errors=True)
        shutil.copytree(EXAMPLE, show, ignore=shutil.ignore_patterns("public", ".fieldreports"))
        if args.model != "base":
            toml = show / "show.toml"
            toml.write_text(
                toml.read_text().replace('model = "base"', f'model = "{args.model}"'),
                encoding="utf-8",
            )
        rows["run"].append(timed([str(exe), "run", str(show)], args.work / "run.log"))
        print(f"attempt {attempt + 1}: raw {rows['raw'][-1]}, run {rows['run'][-1]}")
        if args.against:
            # The same run with another checkout's code (e.g. `git archive main`), same venv.
            shutil.rmtree(show / ".fieldreports", ignore_errors=True)
            shutil.rmtree(show / "public", ignore_errors=True)
            start = "import sys; sys.argv = ['fieldreports', 'run', sys.argv[1]]; "
            argv = [sys.executable, "-c", start + "from pipeline import main; main()", str(show)]
            env = {**os.environ, "PYTHONPATH": str(args.against)}
            rows["other"].append(timed(argv, args.work / "other.log", env=env))
            print(f"attempt {attempt + 1}: {args.against}: run {rows['other'][-1]}")
    raw, ran = min(rows["raw"]), min(rows["run"])
    print(f"model {args.model}, {len(recordings)} recordings of the example show")
    print(f"raw faster-whisper: {raw[0]:.1f} s wall, {raw[1]:.1f} s CPU")
    print(f"fieldreports run:   {ran[0]:.1f} s wall, {ran[1]:.1f} s CPU")
    print(f"ratio: {ran[0] / raw[0]:.2f}x wall, {ran[1] / raw[1]:.2f}x CPU")
    if rows["other"]:
        other = min(rows["other"])
        print(f"{args.against} run: {other[0]:.1f} s wall, {other[1]:.1f} s CPU")
        print(f"ratio: {other[0] / raw[0]:.2f}x wall, {other[1] / raw[1]:.2f}x CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", choices=("models", "run"))
    parser.add_argument("--models", nargs="+", default=["base", "small"])
    parser.add_argument("--model", default="base", help="for `run`")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fr-fidelity")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="cpu_threads for `models`")
    parser.add_argument("--against", type=Path, help="`run`: also time this checkout's code")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    models_case(args) if args.case == "models" else run_case(args)


if __name__ == "__main__":
    main()
