from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fieldreports.errors import ReportError
from fieldreports.intake.inbox import discover
from fieldreports.intake.notes import read_notes


def notes(path: Path, front: str, body: str = "Body.") -> Path:
    path.write_text(f"---\n{front}---\n{body}\n", encoding="utf-8")
    return path


def test_front_matter_is_read_into_typed_notes(tmp_path: Path) -> None:
    path = notes(
        tmp_path / "a.md",
        "title: Waiting at the harbour\njourney: J\n"
        "recorded_at: 2022-03-14T09:40:00+01:00\nplace: Lampedusa\nlat: 35.5\nlon: 12.6\n"
        "language: IT\nreporter: R\ntags: [sea, arrivals]\nexplicit: false\n"
        "sensitive: true\n",
        body="Some *notes*.",
    )
    n = read_notes(path, default_title="x")
    assert n.title == "Waiting at the harbour"
    assert n.recorded_at == dt.datetime(2022, 3, 14, 8, 40, tzinfo=dt.UTC)
    assert n.recorded_at.utcoffset() == dt.timedelta(hours=1)
    assert (n.lat, n.lon, n.language, n.tags) == (35.5, 12.6, "it", ("sea", "arrivals"))
    assert n.sensitive and not n.explicit
    assert n.body == "Some *notes*."


def test_a_list_of_languages_is_read_strictly(tmp_path: Path) -> None:
    several = read_notes(notes(tmp_path / "a.md", "language: [EN, de, en]\n"), default_title="x")
    assert (several.language, several.languages) == ("", ("en", "de"))
    one = read_notes(notes(tmp_path / "b.md", "language: [nl]\n"), default_title="x")
    assert (one.language, one.languages) == ("nl", ())


def test_naive_time_and_missing_title(tmp_path: Path) -> None:
    path = notes(tmp_path / "a.md", "recorded_at: 2022-03-14 09:40\n")
    n = read_notes(path, default_title="From the file name")
    assert n.title == "From the file name"
    assert n.recorded_at == dt.datetime(2022, 3, 14, 9, 40) and n.recorded_at.tzinfo is None


@pytest.mark.parametrize(
    ("front", "message"),
    [
        (
            "title: T\nplase: Lampedusa\n",
            'unknown key "plase" in front matter; did you mean "place"?',
        ),
        ("title: T\nlat: 95\nlon: 10\n", "lat = 95 is out of range"),
        ("title: T\nlat: 12.6\n", "give both lat and lon"),
        ("title: T\nlon: 200\nlat: 10\n", "lon = 200 is out of range"),
        ("title: T\nrecorded_at: yesterday\n", "is not a date and time"),
        ("title: [unclosed\n", "not valid YAML"),
        ("title: T\nexplicit: maybe\n", "explicit must be true or false"),
        ("title: T\nlanguage: [en, 3]\n", "a list of codes (language: [en, de])"),
        ("title: T\nlanguage: {en: 1}\n", "language must be a language code"),
    ],
)
def test_bad_notes_name_the_file_and_the_problem(tmp_path: Path, front: str, message: str) -> None:
    path = notes(tmp_path / "report.md", front)
    with pytest.raises(ReportError) as info:
        read_notes(path, default_title="x")
    assert message in str(info.value)
    assert str(info.value).startswith("report.md: ")


def test_discover_pairs_recordings_with_notes(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "2022-03-14 Lampedusa.ogg").write_bytes(b"OggS fake but not empty")
    notes(inbox / "2022-03-14 Lampedusa.md", "title: Harbour\n")
    (inbox / "no-notes.wav").write_bytes(b"RIFF....")
    (inbox / "bad-notes.mp3").write_bytes(b"ID3....")
    notes(inbox / "bad-notes.md", "title: T\nwhere: here\n")
    (inbox / "half-uploaded.mp3.part").write_bytes(b"...")
    notes(inbox / "orphan.md", "title: Orphan\n")
    (inbox / "empty.m4a").write_bytes(b"")

    found = discover(inbox)

    by_id = {r.id: r for r in found.reports}
    assert set(by_id) == {"2022-03-14-lampedusa", "no-notes"}
    assert by_id["2022-03-14-lampedusa"].notes.title == "Harbour"
    assert by_id["no-notes"].notes.title == "Untitled report"  # nothing of the file name
    assert any("no notes file" in w for w in by_id["no-notes"].warnings)
    assert len(by_id["no-notes"].audio_sha256) == 64
    reasons = {f.report_id: f.reason for f in found.failures}
    assert 'unknown key "where"' in reasons["bad-notes"]
    assert "empty" in reasons["empty"]
    assert any("orphan.md" in w for w in found.warnings)


def test_photos_and_system_files_are_not_taken_for_recordings(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "camp.m4a").write_bytes(b"....ftypM4A audio")
    notes(inbox / "Camp.md", "title: Camp\nsensitive: true\n")  # case changed by a file share
    for name in ("camp.jpg", "Thumbs.db", "desktop.ini", "show.toml", "IMG_0001.HEIC"):
        (inbox / name).write_bytes(b"not audio")
    found = discover(inbox)
    assert [r.id for r in found.reports] == ["camp"] and not found.failures
    assert found.reports[0].notes.sensitive


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ntitle: T\nsensitive: true\nBody without a closing line\n", "never closes"),
        ("+++\ntitle = 'T'\n+++\nBody\n", "TOML front matter"),
        ("---\ntitle: T\ntags: [a, [b, c]]\n---\n", "tags must be a list of words"),
    ],
)
def test_front_matter_that_would_be_ignored_is_an_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "x.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReportError, match=message):
        read_notes(path, default_title="X")


def test_blank_lines_before_front_matter_and_yaml_end_marker(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_text("\n\n---\r\ntitle: T\r\nsensitive: true\r\n...\r\nBody\r\n", encoding="utf-8")
    n = read_notes(path, default_title="X")
    assert (n.title, n.sensitive, n.body) == ("T", True, "Body")


def test_two_recordings_with_one_name_both_wait(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.mp3").write_bytes(b"ID3 audio")
    (inbox / "a.wav").write_bytes(b"RIFF audio")
    notes(inbox / "a.md", "title: A\n")
    found = discover(inbox)
    assert found.reports == ()
    (failure,) = found.failures
    assert "a.mp3 and a.wav" in failure.reason


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    notes = tmp_path / "a.md"
    notes.write_text("---\ntitle: A\nsensitive: true\nplace: Röszke\nsensitive: false\n---\n")
    with pytest.raises(ReportError, match=r'"sensitive" is given twice, on lines 3 and 5'):
        read_notes(notes, default_title="A")


def test_an_alias_bomb_is_refused_small_and_fast(tmp_path: Path) -> None:
    """A 350-byte "billion laughs" made a 254 MB error message and stopped every run."""
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, prev in zip("bcdefgh", "abcdefg", strict=True):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    notes = tmp_path / "bomb.md"
    notes.write_text("---\n" + "\n".join(rows) + "\n---\n")
    assert notes.stat().st_size < 600
    with pytest.raises(ReportError) as refused:
        read_notes(notes, default_title="bomb")
    assert "aliases" in str(refused.value) and len(str(refused.value)) < 200


def test_notes_over_256_kb_are_refused_unread(tmp_path: Path) -> None:
    notes = tmp_path / "big.md"
    notes.write_text("---\ntitle: Big\n---\n" + "x" * (300 * 1024))
    with pytest.raises(ReportError, match="at most 256 KB"):
        read_notes(notes, default_title="big")


def test_notes_pair_by_report_id_whatever_the_spelling(tmp_path: Path) -> None:
    """`Harbour Talk.m4a` and `harbour-talk.md` are one report; its `sensitive` is not lost."""
    (tmp_path / "Harbour Talk.m4a").write_bytes(b"\x00" * 100)
    (tmp_path / "harbour-talk.md").write_text("---\ntitle: At the water\nsensitive: true\n---\n")
    (report,) = discover(tmp_path).reports
    assert report.id == "harbour-talk"
    assert report.notes_path == tmp_path / "harbour-talk.md"
    assert report.notes.sensitive is True
