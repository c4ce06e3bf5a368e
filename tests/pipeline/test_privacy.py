"""A sensitive report's exact place never leaves the private catalog, however its files arrive.

One show receives sensitive reports every way the field produces them: notes first and the
recording a run later, the recording first and its notes a run later, a place known only from
the phone's GPS tag, a notes file spelt differently from its recording, notes that say
`sensitive` twice, and a show that is sensitive by default. After each run, and after
publishing the same show to S3, every published byte (files, their ID3 and WAV chunks, S3 keys
and metadata) is searched for the exact coordinates, to three decimals, and for the original
file names. One report is `sensitive: false`: its exact point must be found, which proves the
search can see a leak.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from fieldreports.catalog.sqlite import open_catalog
from fieldreports.config import load_config
from pipeline import run_show
from tests.support.audio import convert, run, speak
from tests.support.s3 import BUCKET, Moto, moto_server

moto = moto_server  # the fixture

# name on the phone -> (notes' file name or None, exact lat, lon, how the place is known)
SAFEHOUSE = ("Via Roma 12 safehouse.m4a", "via-roma-12-safehouse.md", 45.81934, 19.66287)
HARBOUR = ("Harbour Talk.m4a", "harbour-talk.md", 52.07183, 23.61472)  # GPS tag only
CAMP = ("Camp Nord.m4a", "Camp Nord.md", 35.50742, 12.59318)  # recording first, GPS tag
SHELTER = ("forest-shelter.wav", "forest-shelter.md", 43.85531, 18.39817)  # notes first
CROSSING = ("river-crossing.wav", "river-crossing.md", 41.12944, 22.50783)  # sensitive twice
SILENT = ("market.wav", "market.md", 37.03961, 27.42587)  # notes silent, show sensitive
OPEN = ("open-square.wav", "open-square.md", 38.72417, 20.64152)  # sensitive: false
HIDDEN = (SAFEHOUSE, HARBOUR, CAMP, SHELTER, CROSSING, SILENT)
NAMES = ("via roma", "via-roma", "via_roma", "safehouse", "harbour talk", "harbour-talk",
         "camp nord", "camp-nord", "forest-shelter", "river-crossing")  # fmt: skip


def _notes(title: str, body: str = "") -> str:
    return f"---\ntitle: {title}\n{body}---\nA report.\n"


def _recording(root: Path, name: str, gps: tuple[float, float] | None = None) -> Path:
    (root / "speech").mkdir(exist_ok=True)
    wav = speak("We are waiting here. It is cold.", root / "speech" / f"{Path(name).stem}.wav")
    out = root / "recordings" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    if gps is None:
        return convert(wav, out)
    lat, lon = gps
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac",
         "-metadata", f"location={lat:+.5f}{lon:+09.5f}/", str(out)])  # fmt: skip
    return out


def _drop(show: Path, source: Path) -> None:
    shutil.copy(source, show / "inbox" / source.name)


def _write(show: Path, name: str, text: str) -> None:
    (show / "inbox" / name).write_text(text, encoding="utf-8")


def _needles(points: Iterator[tuple[str, str, str, float, float]]) -> set[bytes]:
    """Each exact coordinate to three decimals, rounded and cut, as published text would show it."""
    found = set()
    for *_names, lat, lon in points:
        for value in (lat, lon):
            found.add(f"{value:.3f}".encode())
            found.add(f"{int(value * 1000) / 1000:.3f}".encode())
    return found


def _leaks(blobs: dict[str, bytes]) -> list[str]:
    """Every exact coordinate or original file name found in a published name or content."""
    needles = _needles(iter(HIDDEN))
    leaks = []
    for name, data in blobs.items():
        lowered = data.lower()
        leaks += [f"{name}: {n.decode()}" for n in needles if n in data or n in name.encode()]
        leaks += [f"{name}: {n}" for n in NAMES if n.encode() in lowered or n in name.lower()]
    return leaks


def _published(show: Path) -> dict[str, bytes]:
    public = show / "public"
    return {str(p.relative_to(public)): p.read_bytes() for p in public.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("privacy")
    show = root / "show"
    (show / "inbox").mkdir(parents=True)
    (show / "show.toml").write_text(
        '[show]\ntitle = "Privacy"\nbase_url = "https://e.org/p/"\nsensitive_by_default = true\n'
        '[transcription]\nmodel = "tiny.en"\n[map]\ntiles = "none"\n',
        encoding="utf-8",
    )
    coords = "lat: {lat}\nlon: {lon}\n"
    # Run 1: the field sends what it sends, in any order and spelling.
    _drop(show, _recording(root, SAFEHOUSE[0]))
    _write(
        show,
        SAFEHOUSE[1],
        _notes(
            "Night talk", "sensitive: true\n" + coords.format(lat=SAFEHOUSE[2], lon=SAFEHOUSE[3])
        ),
    )
    _drop(show, _recording(root, HARBOUR[0], gps=HARBOUR[2:]))
    _write(show, HARBOUR[1], _notes("At the water", "sensitive: true\n"))
    _drop(show, _recording(root, CAMP[0], gps=CAMP[2:]))  # its notes come next run
    _write(
        show,
        SHELTER[1],
        _notes("In the woods", "sensitive: true\n" + coords.format(lat=SHELTER[2], lon=SHELTER[3])),
    )
    _drop(show, _recording(root, CROSSING[0]))
    _write(
        show,
        CROSSING[1],
        _notes(
            "Crossing",
            "sensitive: true\n"
            + coords.format(lat=CROSSING[2], lon=CROSSING[3])
            + "sensitive: false\n",
        ),
    )
    _drop(show, _recording(root, SILENT[0]))
    _write(show, SILENT[1], _notes("Market day", coords.format(lat=SILENT[2], lon=SILENT[3])))
    _drop(show, _recording(root, OPEN[0]))
    _write(show, OPEN[1], _notes("Open square", "sensitive: false\n" + coords.format(lat=OPEN[2], lon=OPEN[3])))  # fmt: skip
    return show


def test_run_one_publishes_nothing_exact_and_no_file_name(show: Path) -> None:
    summary = run_show(load_config(show))
    assert [f.report_id for f in summary.failures] == ["river-crossing"]
    assert "given twice" in summary.failures[0].reason
    assert "untitled report" in b" ".join(_published(show).values()).lower().decode(
        "utf-8", "replace"
    )
    assert _leaks(_published(show)) == []
    # The search sees a leak when there is one: the open report's exact point is published.
    published = b" ".join(_published(show).values())
    assert any(needle in published for needle in _needles(iter([OPEN])))


def test_run_two_with_late_notes_and_late_recordings(show: Path) -> None:
    root = show.parent
    _write(show, CAMP[1], _notes("Tents", "sensitive: true\n"))
    _drop(show, _recording(root, SHELTER[0]))
    summary = run_show(load_config(show))
    assert {f.report_id for f in summary.failures} == {"river-crossing"}
    assert len(summary.episodes) == 6
    assert _leaks(_published(show)) == []
    # The exact points are known, privately: the catalog has them.
    with open_catalog(show / ".fieldreports") as catalog:
        stored = {r.id: r.summary for r in catalog.reports() if r.status == "published"}
    assert stored["via-roma-12-safehouse"]["lat"] == SAFEHOUSE[2]
    assert stored["harbour-talk"]["sensitive"] is True
    # from its GPS tag, which MP4 keeps to four decimals
    assert stored["harbour-talk"]["lat"] == pytest.approx(HARBOUR[2], abs=1e-4)
    assert stored["harbour-talk"]["lon"] == pytest.approx(HARBOUR[3], abs=1e-4)


def test_publishing_to_s3_leaks_nothing_in_keys_metadata_or_bodies(show: Path, moto: Moto) -> None:
    toml = show / "show.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8") + f'[storage]\nkind = "s3"\nbucket = "{BUCKET}"\n'
        f'endpoint_url = "{moto.endpoint}"\naddressing_style = "path"\n',
        encoding="utf-8",
    )
    run_show(load_config(show))
    client = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1")
    blobs: dict[str, bytes] = {}
    for item in client.list_objects_v2(Bucket=BUCKET)["Contents"]:
        head = client.head_object(Bucket=BUCKET, Key=item["Key"])
        body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        blobs[item["Key"]] = body + repr(head.get("Metadata", {})).encode()
    assert len(blobs) > 50
    assert _leaks(blobs) == []


@pytest.mark.parametrize("kind", ["serve", "station"])
def test_serve_hands_out_nothing_private(show: Path, kind: str) -> None:
    """Even when a symlink in the published folder points at the catalog or the inbox; the same
    for the station's site."""
    import urllib.error
    import urllib.request

    from tests.support.station import serving_site

    public = show / "public"
    public.mkdir(exist_ok=True)
    (public / "catalog").unlink(missing_ok=True)
    (public / "catalog").symlink_to(show / ".fieldreports")
    (public / ".hidden").write_text("secret", encoding="utf-8")
    with serving_site(kind, public) as base:
        for path in (
            "catalog/catalog.sqlite3",
            ".hidden",
            "catalog/",
            "episodes/",
            "%2e%2e/show.toml",
        ):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=5)
            assert refused.value.code == 404, path
    (public / "catalog").unlink()
    (public / ".hidden").unlink()


@pytest.mark.parametrize("path", [".", "/", "inbox", ".fieldreports", "..", "public/../inbox"])
def test_a_published_folder_that_would_hold_private_files_is_refused(
    tmp_path: Path, path: str
) -> None:
    from fieldreports.errors import SetupError

    (tmp_path / "show.toml").write_text(
        f'[show]\ntitle = "T"\nbase_url = "https://e.org/"\n[storage]\npath = "{path}"\n',
        encoding="utf-8",
    )
    with pytest.raises(SetupError, match=re.escape("[storage] path")):
        load_config(tmp_path)
