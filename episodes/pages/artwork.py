"""Show artwork: the show's own image checked against Apple's rules, or a generated default.

Apple asks for a square JPEG or PNG of 1400 to 3000 pixels in RGB. A show without artwork gets
a 1400 px PNG drawn here (title, author and a route line on a colour taken from the title), so
a new show is accepted by directories on its first run. The drawing uses Pillow's built-in font
and no randomness: the same show gives the same bytes, so it is not re-uploaded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from episodes.site.files import CACHE_MEDIA, SiteFile
from fieldreports.catalog.serialise import NOT_IN_KEY
from fieldreports.config import ShowConfig, ShowInfo
from fieldreports.digest import file_sha256
from fieldreports.errors import SetupError
from fieldreports.stages import Stage

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

log = logging.getLogger(__name__)

MIN_PX = 1400
MAX_PX = 3000
DEFAULT_PX = 1400


@dataclass(frozen=True, slots=True, kw_only=True)
class Artwork:
    """The artwork to publish (`file`), or only a URL when the show points at an image online.

    `url` is the file's key (relative) until `build_site` joins it to the public base URL."""

    url: str
    file: SiteFile | None = None


def default_artwork(show: ShowInfo, *, size_px: int = DEFAULT_PX) -> bytes:
    """A square PNG with the show's title and author."""
    from PIL import Image, ImageDraw, ImageFont

    seed = hashlib.sha256(show.title.encode("utf-8")).digest()
    # A dark, saturated background from the title, so two shows look different.
    background = (20 + seed[0] % 60, 40 + seed[1] % 70, 70 + seed[2] % 80)
    image = Image.new("RGB", (size_px, size_px), background)
    draw = ImageDraw.Draw(image)
    scale = size_px / DEFAULT_PX

    # A route: a polyline of stops across the lower third.
    points = [
        (int((120 + i * 290) * scale), int((1060 + (seed[3 + i] % 160) - 80) * scale))
        for i in range(5)
    ]
    draw.line(points, fill=(255, 214, 102), width=int(14 * scale), joint="curve")
    for x, y in points:
        r = int(26 * scale)
        draw.ellipse(
            (x - r, y - r, x + r, y + r),
            fill=(255, 255, 255),
            outline=(255, 214, 102),
            width=int(10 * scale),
        )

    title_font, lines, line_px = _fit_title(
        draw, show.title, max_width_px=int(1180 * scale), scale=scale
    )
    small_font = ImageFont.load_default(size=int(60 * scale))
    y = int(160 * scale)
    for line in lines:
        draw.text((int(110 * scale), y), line, font=title_font, fill=(255, 255, 255))
        y += line_px
    draw.text(
        (int(110 * scale), y + int(30 * scale)), show.author, font=small_font, fill=(230, 230, 230)
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _fit_title(
    draw: ImageDraw.ImageDraw, title: str, *, max_width_px: int, scale: float
) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, list[str], int]:
    """The largest font (200 px down to 90 px at 1400) at which the title fits in four lines,
    the lines, and the line height in pixels."""
    from PIL import ImageFont

    for size_px in (200, 170, 140, 120, 100, 90):
        font = ImageFont.load_default(size=int(size_px * scale))
        # Characters per line from the average glyph width at this size.
        glyph_px = max(1.0, draw.textlength("abcdefghij", font=font) / 10)
        lines = textwrap.wrap(title, width=max(4, int(max_width_px / glyph_px))) or [""]
        if len(lines) <= 4 and all(draw.textlength(ln, font=font) <= max_width_px for ln in lines):
            break
    return font, lines[:4], int(size_px * scale * 1.2)


def check_image(data: bytes) -> list[str]:
    """What stops an image from meeting Apple's artwork rules; empty when it does."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            problems = []
            if image.format not in ("JPEG", "PNG"):
                problems.append(f"format {image.format} (needs JPEG or PNG)")
            width, height = image.size
            if width != height:
                problems.append(f"{width}×{height} is not square")
            if min(width, height) < MIN_PX or max(width, height) > MAX_PX:
                problems.append(f"{width}×{height} is outside {MIN_PX}–{MAX_PX} px")
            if image.mode != "RGB":
                problems.append(f"colour mode {image.mode} (needs RGB)")
            return problems
    except OSError as exc:
        return [f"not an image Pillow can read ({exc})"]


def conform(data: bytes) -> bytes:
    """The image made square (centre crop), RGB and 1400–3000 px, as PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    side = min(rgb.size)
    left = (rgb.width - side) // 2
    top = (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    target = min(max(side, MIN_PX), MAX_PX)
    if target != side:
        square = square.resize((target, target), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    square.save(out, format="PNG", optimize=True)
    return out.getvalue()


def conform_photo(data: bytes) -> tuple[bytes, str]:
    """A reporter's photo as episode artwork: turned upright, centre-cropped square, scaled into
    1400–3000 px and re-encoded, so nothing of the camera's file survives (EXIF, GPS, maker
    notes, ICC, PNG text chunks). A PNG stays PNG; anything else becomes a JPEG.

    Returns the bytes and their suffix; OSError when Pillow cannot read the image.
    """
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        png = image.format == "PNG"
        upright = ImageOps.exif_transpose(image).convert("RGB")
    side = min(upright.size)
    left, top = (upright.width - side) // 2, (upright.height - side) // 2
    square = upright.crop((left, top, left + side, top + side))
    target = min(max(side, MIN_PX), MAX_PX)
    if target != side:
        square = square.resize((target, target), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if png:
        square.save(out, format="PNG", optimize=True)
        return out.getvalue(), ".png"
    square.save(out, format="JPEG", quality=88, optimize=True)
    return out.getvalue(), ".jpg"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtworkJob:
    """The show's artwork setting and, for a local file, its content."""

    show: ShowInfo
    path: Path | None = field(default=None, metadata=NOT_IN_KEY)  # the local file, if any
    sha256: str = ""


def artwork_job(config: ShowConfig) -> ArtworkJob:
    """The job for `[show] artwork`; SetupError when it names a file that is not there."""
    show = config.show
    if not show.artwork or show.artwork.startswith(("http://", "https://")):
        return ArtworkJob(show=show)
    path = (config.show_dir / show.artwork).resolve()
    if not path.is_file():
        raise SetupError(
            f'[show] artwork = "{show.artwork}": no such file in {config.show_dir}; '
            "give a path to a square JPEG or PNG, or remove the key for a generated one."
        )
    return ArtworkJob(show=show, path=path, sha256=file_sha256(path)[0])


def prepare_artwork(
    job: ArtworkJob,
    *,
    work_dir: Path,
    on_progress: Callable[[float, float], None] | None = None,
) -> Artwork:
    """The artwork as a site file (checked, fixed if needed, or drawn), or an outside URL.

    Its URL is relative to the site root (`artwork.png`); `publish.build_site` makes it whole.
    """
    show = job.show
    if show.artwork.startswith(("http://", "https://")):
        # Hosted elsewhere: we cannot check it here, and must not fetch it.
        return Artwork(url=show.artwork)
    if job.path is None:
        return _artwork_file(default_artwork(show), "artwork.png", work_dir)
    data = job.path.read_bytes()
    problems = check_image(data)
    if not problems:
        suffix = ".jpg" if data[:3] == b"\xff\xd8\xff" else ".png"
        return _artwork_file(data, f"artwork{suffix}", work_dir)
    log.warning("%s: %s; publishing a corrected copy", job.path.name, "; ".join(problems))
    try:
        fixed = conform(data)
    except OSError as exc:
        raise SetupError(
            f"{job.path}: artwork is not an image ({exc}); use a JPEG or PNG."
        ) from exc
    return _artwork_file(fixed, "artwork.png", work_dir)


def _artwork_file(data: bytes, key: str, work_dir: Path) -> Artwork:
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / key).write_bytes(data)
    file = SiteFile(
        key=key,
        content_type="image/jpeg" if key.endswith(".jpg") else "image/png",
        cache_control=CACHE_MEDIA,
        source=work_dir / key,
    )
    return Artwork(url=key, file=file)


ARTWORK: Stage[ArtworkJob, Artwork] = Stage(
    name="artwork",
    version=1,
    job=ArtworkJob,
    result=Artwork,
    run=prepare_artwork,
    outputs=lambda a: (a.file.source,) if a.file and a.file.source else (),
)
