"""Episode artwork from the notes' `image`: checked, turned upright, squared into Apple's
1400–3000 px, re-encoded with nothing of the camera's file (no EXIF, no GPS), used by the feed
and the MP3; a bad `image` line is named."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from mutagen.id3 import ID3
from PIL import Image

from episodes.feed.rss import render_feed
from fieldreports.errors import ReportError
from fieldreports.intake.notes import read_notes
from tests.support.episodes import LAMPEDUSA, build_episode, mastered, show_config, transcript


def photo(path: Path, size: tuple[int, int], *, fmt: str = "JPEG") -> Path:
    """A camera photo: EXIF with the maker, the exact GPS point, and 'rotate 90° to view'."""
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((40, 40, 200), (0, 0, size[0], size[1] // 4))  # a blue band on top, as shot
    exif = Image.Exif()
    exif[0x010F] = "ZoomCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (46.0, 11.0, 14.4), 3: "E", 4: (20.0, 2.0, 19.0)}  # GPSInfo
    image.save(path, format=fmt, exif=exif.tobytes())
    return path


def notes_with(tmp_path: Path, image_line: str) -> Path:
    notes = tmp_path / "harbour.md"
    notes.write_text(f"---\ntitle: Harbour\n{image_line}\n---\nBoats.\n", encoding="utf-8")
    return notes


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    work = tmp_path_factory.mktemp("image")
    inbox = work / "inbox"
    inbox.mkdir()
    source = photo(inbox / "harbour.jpg", (2000, 1500))
    notes = read_notes(notes_with(inbox, "image: harbour.jpg"), default_title="x")
    config = show_config(work / "show")
    episode = build_episode(
        notes,
        mastered(work / "audio", "harbour"),
        (transcript("en", "Boats."),),
        LAMPEDUSA,
        guid="g-image",
        published_at=dt.datetime(2022, 5, 1, tzinfo=dt.UTC),
        show=config.show,
        work_dir=work / "made",
        image=inbox / notes.image,
    )
    return episode, source, config


def test_the_photo_is_squared_upright_and_stripped(made) -> None:
    episode, source, _config = made
    assert b"ZoomCam" in source.read_bytes()  # the camera's file says it all
    assert episode.image is not None
    assert episode.image.key == f"images/{episode.slug}.jpg"
    data = episode.image.source.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size == (1500, 1500)
        assert dict(image.getexif()) == {} and "exif" not in image.info
        # Turned upright: the band shot on top is now on the right, as the camera meant.
        assert image.getpixel((1480, 750))[2] > 150 and image.getpixel((20, 750))[0] > 150
    assert b"ZoomCam" not in data and b"GPS" not in data


def test_feed_and_mp3_use_the_episode_artwork(made) -> None:
    episode, _source, config = made
    feed = render_feed([episode], config.show, artwork_url=config.show.site_url + "artwork.png")
    assert f'<itunes:image href="{episode.image.url}"/>'.encode() in feed
    (cover,) = ID3(episode.audio.source).getall("APIC")
    assert cover.data == episode.image.source.read_bytes()


def test_a_small_png_is_scaled_up_and_stays_png(tmp_path: Path) -> None:
    from episodes.pages.artwork import conform_photo

    small = io.BytesIO()
    Image.new("RGBA", (800, 600), (0, 0, 0, 0)).save(small, format="PNG")
    data, suffix = conform_photo(small.getvalue())
    with Image.open(io.BytesIO(data)) as image:
        assert (suffix, image.format, image.size, image.mode) == (
            ".png",
            "PNG",
            (1400, 1400),
            "RGB",
        )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("image: ../secret/harbour.jpg", "must be the name of a photo beside the notes"),
        ("image: harbour.gif", "must be a .jpg or .png"),
        ("image: missing.jpg", "no such file beside the notes"),
        ("imgae: harbour.jpg", 'did you mean "image"'),
    ],
)
def test_a_bad_image_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "harbour.gif").write_bytes(b"GIF89a")
    with pytest.raises(ReportError, match=message):
        read_notes(notes_with(tmp_path, line), default_title="x")
