"""One number per episode everywhere: feed, MP3 tags, map, home page and status agree, even
when a report in the middle of a journey is off the map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from mutagen.id3 import ID3

from pipeline import cli
from tests.support.audio import speak

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
REPORTS = (  # recorded in this order; the middle one names no place and is not located
    ("a-harbour", "At the harbour", "2023-05-01T09:00:00+02:00", "place: Lampedusa\n"),
    ("b-nowhere", "Somewhere at sea", "2023-05-02T09:00:00+02:00", ""),
    ("c-sfax", "Empty boats", "2023-05-03T09:00:00+02:00", "place: Sfax\n"),
)


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory) -> Path:
    show = tmp_path_factory.mktemp("show")
    (show / "show.toml").write_text(
        '[show]\ntitle = "Numbers"\nbase_url = "https://e.org/n/"\n'
        '[transcription]\nmodel = "tiny.en"\n[map]\ntiles = "none"\n',
        encoding="utf-8",
    )
    inbox = show / "inbox"
    inbox.mkdir()
    # Written out of order: numbering follows the recording time, not the file names.
    for name, title, when, place in reversed(REPORTS):
        speak(f"{title}. A short report.", inbox / f"{name}.wav")
        (inbox / f"{name}.md").write_text(
            f"---\ntitle: {title}\njourney: Mediterranean 2023\nrecorded_at: {when}\n{place}---\n",
            encoding="utf-8",
        )
    result = CliRunner().invoke(cli, ["run", str(show)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return show


def test_feed_tags_map_home_and_status_give_one_number(show: Path) -> None:
    public = show / "public"
    feed = etree.parse(str(public / "feed.xml"))
    numbers = {
        item.findtext("title"): (
            item.findtext(f"{ITUNES}season"),
            item.findtext(f"{ITUNES}episode"),
        )
        for item in feed.iter("item")
    }
    assert numbers == {
        "At the harbour": ("1", "1"),
        "Somewhere at sea": ("1", "2"),
        "Empty boats": ("1", "3"),
    }

    for mp3 in (public / "episodes").glob("*.mp3"):
        tags = ID3(mp3)
        assert numbers[str(tags["TIT2"])] == (str(tags["TPOS"]), str(tags["TRCK"]))

    page = (public / "map" / "index.html").read_text(encoding="utf-8")
    stops = re.findall(r'<a href="#([^"]+)" data-stop="\d+">([^<]+)</a>', page)
    # the unlocated report is a gap, not a renumbering
    assert stops == [
        ("mediterranean-2023/1", "1. At the harbour"),
        ("mediterranean-2023/3", "3. Empty boats"),
    ]

    home = (public / "index.html").read_text(encoding="utf-8")
    for title, (season, number) in numbers.items():
        article = re.search(rf"<h3 id=\"[^\"]*\">{title}</h3>\s*<p class=\"meta\">([^<]*)", home)
        assert article and f"Episode {season}.{number}" in article.group(1), title

    status = CliRunner().invoke(cli, ["status", str(show)], env={"COLUMNS": "300"})
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in status.output.splitlines() if line.count("│") > 3}  # fmt: skip
    assert rows["a-harbour"] == "1.1" and rows["b-nowhere"] == "1.2" and rows["c-sfax"] == "1.3"


def test_published_names_come_from_date_and_title(show: Path) -> None:
    names = sorted(p.name for p in (show / "public" / "episodes").iterdir())
    assert names == [
        "2023-05-01-at-the-harbour.mp3",
        "2023-05-02-somewhere-at-sea.mp3",
        "2023-05-03-empty-boats.mp3",
    ]
