"""The map's files: the page and everything it loads, all served from the site itself.

Listing them imports nothing heavy, so publishing an unchanged map never loads folium.
"""

from __future__ import annotations

from pathlib import Path

from episodes.site.files import CACHE_PAGE, MAP_PAGE_KEY, SiteFile, content_type_for

VENDOR_DIR = Path(__file__).parent / "vendor"
STATIC_DIR = Path(__file__).parent / "static"  # our own assets
ICON = "icon.svg"
PAGE_KEY = MAP_PAGE_KEY
# The vendored paths carry their version, so a browser may keep them for a year.
_ASSET_CACHE = "public, max-age=31536000, immutable"
_NOT_PUBLISHED = {"README.md", "make_borders.py"}


def map_files(page: bytes) -> tuple[SiteFile, ...]:
    """The map page `map/index.html` and its assets under `map/`."""
    index = SiteFile(
        key=PAGE_KEY, content_type="text/html; charset=utf-8", cache_control=CACHE_PAGE, data=page
    )
    icon = SiteFile(
        key=f"map/{ICON}",
        content_type="image/svg+xml",
        cache_control="public, max-age=86400",
        source=STATIC_DIR / ICON,
    )
    return (index, icon, *vendored_files())


def vendored_files() -> tuple[SiteFile, ...]:
    """Every vendored asset (and its licence) as a site file under `map/vendor/`."""
    files = []
    for path in sorted(VENDOR_DIR.rglob("*")):
        if not path.is_file() or path.name in _NOT_PUBLISHED or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(VENDOR_DIR).as_posix()
        files.append(
            SiteFile(
                key=f"map/vendor/{relative}",
                content_type=content_type_for(path.name),
                cache_control=_ASSET_CACHE,
                source=path,
            )
        )
    return tuple(files)
