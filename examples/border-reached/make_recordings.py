#!/usr/bin/env python3
"""Make the example show's recordings: espeak-ng speech, sox room noise, six phone/recorder formats.

Run from anywhere: `python3 examples/border-reached/make_recordings.py`. Needs espeak-ng, sox and
ffmpeg. The output is committed, so the demo does not depend on this script; it is here so anyone
can see (and redo) how the example audio was made. The speech is synthetic; the places are real.
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
INBOX = HERE / "inbox"
TRACKS = HERE / "tracks"

# stem, espeak voice, text, noise level (dBFS), gain (dB), encoder argv, suffix
RECORDINGS = [
    (
        "2022-03-02-terespol-crossing",
        "pl",
        "Jesteśmy na przejściu granicznym w Terespolu. Kolejka ciężarówek ciągnie się na kilka "
        "kilometrów. Ludzie czekają tu od wczoraj, bez jedzenia i bez informacji.",
        -48,
        -6,
        [
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-ar",
            "44100",
            "-metadata",
            "creation_time=2022-03-02T09:30:00Z",
            "-metadata",
            "location=+52.0770+023.6040/",
            "-metadata",
            "make=FieldPhone",
            "-metadata",
            "model=Recorder 3",
        ],
        ".m4a",
    ),
    (
        "2022-03-03-bialowieza-forest",
        "en-gb",
        "This is the Białowieża forest, on the border between Poland and Belarus. The new fence "
        "runs right through the trees. At night, volunteers bring water, food and dry clothes to "
        "people who are hiding in the forest.",
        -42,
        0,
        ["-c:a", "pcm_s16le"],
        ".wav",
    ),
    (
        "2022-06-14-lampedusa-harbour",
        "it",
        "Siamo al porto di Lampedusa. Questa mattina sono arrivate tre barche con più di duecento "
        "persone. La guardia costiera dice che il mare è ancora agitato.",
        -45,
        -14,
        ["-c:a", "libopus", "-b:a", "32k"],
        ".ogg",
    ),
    (
        "2022-06-18-sfax-port",
        "fr-fr",
        "Nous sommes au port de Sfax, en Tunisie. Les pêcheurs racontent qu'ils trouvent chaque "
        "semaine des bateaux vides au large.",
        -40,
        4,
        ["-c:a", "libmp3lame", "-q:a", "5"],
        ".mp3",
    ),
    (
        "2022-09-20-roszke-fence",
        "nl",
        "We staan bij het grenshek in Röszke, aan de grens tussen Hongarije en Servië. Het is "
        "koud en er wachten nog steeds gezinnen met kleine kinderen.",
        -44,
        -3,
        ["-c:a", "flac", "-ar", "48000"],
        ".flac",
    ),
    (
        "2022-09-22-idomeni-railway",
        "en-us",
        "Calling from Idomeni, near the border with North Macedonia. The old camp by the railway "
        "is empty now, but people still walk along the tracks at night.",
        -38,
        0,
        None,
        ".amr",
    ),
    (
        "2022-09-25-bihac-squat",
        "en-gb",
        "Bihać, in the north west of Bosnia. Many people sleep in abandoned buildings outside the "
        "town before they try what they call the game: the crossing into Croatia.",
        -46,
        -8,
        ["-c:a", "libmp3lame", "-b:a", "96k", "-ac", "2"],
        ".mp3",
    ),
]


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def make_recording(
    stem: str,
    voice: str,
    text: str,
    noise_dbfs: float,
    gain_db: float,
    encoder: list[str] | None,
    suffix: str,
    work: Path,
) -> Path:
    speech = work / f"{stem}-speech.wav"
    run("espeak-ng", "-v", voice, "-s", "150", "-w", str(speech), text)
    # Half a second of room tone before and after, as a handheld recorder would catch.
    padded = work / f"{stem}-padded.wav"
    run("sox", str(speech), str(padded), "pad", "0.6", "0.8")
    seconds = subprocess.run(
        ["soxi", "-D", str(padded)], check=True, capture_output=True, text=True
    ).stdout.strip()
    rate = subprocess.run(
        ["soxi", "-r", str(padded)], check=True, capture_output=True, text=True
    ).stdout.strip()
    room = work / f"{stem}-room.wav"
    run(
        "sox",
        "-n",
        "-r",
        rate,
        "-c",
        "1",
        "-b",
        "16",
        str(room),
        "synth",
        seconds,
        "pinknoise",
        "vol",
        f"{noise_dbfs}dB",
    )
    mixed = work / f"{stem}-mixed.wav"
    run("sox", "-m", str(padded), str(room), str(mixed), "gain", str(gain_db))
    out = INBOX / f"{stem}{suffix}"
    if (
        encoder is None
    ):  # AMR-NB at 8 kHz, as an old phone records it: sox encodes it, ffmpeg cannot.
        run("sox", str(mixed), "-r", "8000", "-c", "1", "-t", "amr-nb", str(out))
    else:
        run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(mixed), *encoder, str(out))
    return out


def make_track() -> Path:
    """A GPX track along the Polish side of the border, Terespol to Białowieża, one point a minute."""
    start = dt.datetime(2022, 3, 2, 8, 0, tzinfo=dt.UTC)
    # (minutes after start, lat, lon): a drive north along the Bug river.
    legs = [
        (0, 51.9500, 23.5800),
        (90, 52.0770, 23.6040),
        (150, 52.0770, 23.6040),
        (300, 52.4100, 23.7200),
        (420, 52.7000, 23.8700),
    ]
    points = []
    for (m0, la0, lo0), (m1, la1, lo1) in zip(legs, legs[1:], strict=False):
        for minute in range(m0, m1):
            f = (minute - m0) / (m1 - m0)
            wobble = 0.0004 * math.sin(minute / 7)
            points.append(
                (
                    start + dt.timedelta(minutes=minute),
                    la0 + f * (la1 - la0) + wobble,
                    lo0 + f * (lo1 - lo0),
                )
            )
    rows = "\n".join(
        f'      <trkpt lat="{lat:.6f}" lon="{lon:.6f}"><time>{t:%Y-%m-%dT%H:%M:%SZ}</time></trkpt>'
        for t, lat, lon in points
    )
    out = TRACKS / "2022-03-02-bug-river.gpx"
    out.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="fieldreports example" xmlns="http://www.topografix.com/GPX/1/1">\n'
        "  <trk><name>Terespol to Białowieża</name><trkseg>\n"
        f"{rows}\n"
        "  </trkseg></trk>\n</gpx>\n",
        encoding="utf-8",
    )
    return out


def main() -> None:
    INBOX.mkdir(exist_ok=True)
    TRACKS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for row in RECORDINGS:
            print(make_recording(*row, work=Path(work)))
    print(make_track())


if __name__ == "__main__":
    main()
