"""publish: put the site into storage in an order that never exposes a broken reference.

`build_site` gathers every file (media, transcripts and chapters, the map, the pages, the feed)
into a `Site`; `publish` writes them in that order, each whole. The feed goes last, so podcast
apps see a new episode only once its audio, transcripts and chapters are in place. If a write
fails part-way, the exception stops the run before the feed: the previous feed stays live and
points only at files that exist, and the next run skips what is already there and finishes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from episodes.episode import Episode, join_url, rebase
from episodes.feed.chapters import render_chapters
from episodes.feed.journeys import JOURNEYS_PREFIX, Journey, group_journeys
from episodes.feed.podcast_ns import RemoteFeed, podcast_guid
from episodes.feed.rss import FEED_KEY, render_feed
from episodes.pages.artwork import Artwork, artwork_job, prepare_artwork
from episodes.pages.home import (
    PAGES_PREFIX,
    SEARCH_INDEX_KEY,
    SEARCH_JS,
    SEARCH_SCRIPT_KEY,
    HomeLinks,
    episode_pages,
    render_home_pages,
    search_index,
)
from episodes.pages.partners import (
    PARTNERS_KEY,
    PARTNERS_PAGE_KEY,
    render_partners,
    render_partners_page,
)
from episodes.site.files import CACHE_PAGE, CHAPTERS_TYPE, MAP_PAGE_KEY, Site, SiteFile
from episodes.site.storage import Storage, public_base_url
from fieldreports.config import ShowConfig, ShowInfo
from fieldreports.digest import file_sha256

log = logging.getLogger(__name__)


# Folders publish manages; pruning never touches anything else the bucket or folder holds.
MANAGED_PREFIXES = (
    "episodes/", "masters/", "images/", "transcripts/", "chapters/", "map/",
    JOURNEYS_PREFIX, PAGES_PREFIX,
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishReport:
    uploaded: tuple[str, ...]
    unchanged: tuple[str, ...]
    deleted: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return len(self.uploaded) + len(self.unchanged)


def _text_type(mime: str) -> str:
    """Text types are sent with their charset, so browsers show accents right.

    >>> _text_type("text/vtt")
    'text/vtt; charset=utf-8'
    >>> _text_type("application/json")
    'application/json'
    """
    return f"{mime}; charset=utf-8" if mime.startswith("text/") and "charset" not in mime else mime


def build_site(
    episodes: Sequence[Episode],
    config: ShowConfig,
    *,
    map_files: Sequence[SiteFile],
    artwork: Artwork | None = None,
) -> Site:
    """Every file of the published site, grouped in publishing order.

    URLs are recomputed against the storage's public base URL, so episodes made before a
    move to S3 still point at the right place. `artwork` is the ARTWORK stage's result (prepared
    now when not given).
    """
    base_url = public_base_url(config)
    episodes = tuple(rebase(e, base_url) for e in episodes)
    show = config.show
    if artwork is None:
        artwork = prepare_artwork(artwork_job(config), work_dir=config.state_dir / "artwork")
    artwork_url = join_url(base_url, artwork.url) if artwork.file else artwork.url
    feed_url = join_url(base_url, FEED_KEY)
    addresses = episode_pages(episodes)

    media_cache = f"public, max-age={config.storage.media_max_age_s}"
    media: list[SiteFile] = []
    for episode in episodes:
        for item in (episode.audio, episode.master, *((episode.image,) if episode.image else ())):
            media.append(
                SiteFile(
                    key=item.key,
                    content_type=item.content_type,
                    cache_control=media_cache,
                    source=item.source,
                )
            )
    if artwork.file is not None:
        media.append(replace(artwork.file, cache_control=media_cache))

    transcripts: list[SiteFile] = []
    for episode in episodes:
        transcripts.extend(
            SiteFile(
                key=t.key,
                content_type=_text_type(t.content_type),
                cache_control=CACHE_PAGE,
                data=t.data,
            )
            for t in episode.transcripts
        )
        transcripts.append(
            SiteFile(
                key=episode.chapters_key,
                content_type=CHAPTERS_TYPE,
                cache_control=CACHE_PAGE,
                data=render_chapters(
                    episode,
                    podcast_name=show.title,
                    url=join_url(base_url, addresses[episode.slug]),
                ),
            )
        )

    journeys = group_journeys(episodes)
    journey_urls = tuple((j, join_url(base_url, j.feed_key)) for j in journeys)
    has_map = any(f.key == MAP_PAGE_KEY for f in map_files)
    links = HomeLinks(
        feed_url=feed_url,
        # Relative when we publish the artwork, so the pages also work from `serve`.
        artwork_url=artwork.file.key if artwork.file else artwork.url,
        map_url=MAP_PAGE_KEY if has_map else "",
        journeys=journey_urls,
    )
    html = "text/html; charset=utf-8"
    pages = (
        *(
            SiteFile(key=key, content_type=html, cache_control=CACHE_PAGE, data=data)
            for key, data in render_home_pages(episodes, show, links).items()
        ),
        SiteFile(
            key=SEARCH_INDEX_KEY,
            content_type="application/json",
            cache_control=CACHE_PAGE,
            data=search_index(episodes),
        ),
        SiteFile(
            key=SEARCH_SCRIPT_KEY,
            content_type="text/javascript; charset=utf-8",
            cache_control=CACHE_PAGE,
            data=SEARCH_JS.encode("utf-8"),
        ),
        SiteFile(
            key=PARTNERS_PAGE_KEY,
            content_type=html,
            cache_control=CACHE_PAGE,
            data=render_partners_page(episodes, config),
        ),
        SiteFile(
            key=PARTNERS_KEY,
            content_type="application/json",
            cache_control=CACHE_PAGE,
            data=render_partners(episodes, config),
        ),
    )

    def feed_file(key: str, data: bytes) -> SiteFile:
        return SiteFile(
            key=key,
            content_type="application/rss+xml; charset=utf-8",
            cache_control=f"public, max-age={config.storage.feed_max_age_s}",
            data=data,
        )

    # Journey feeds before the main feed, whose podroll names them.
    feeds = [
        feed_file(
            journey.feed_key,
            render_feed(
                journey.episodes,
                journey_show(show, journey),
                artwork_url=artwork_url,
                feed_url=url,
                base_url=base_url,
                links=addresses,
            ),
        )
        for journey, url in journey_urls
    ]
    feeds.append(
        feed_file(
            FEED_KEY,
            render_feed(
                episodes,
                show,
                artwork_url=artwork_url,
                feed_url=feed_url,
                base_url=base_url,
                links=addresses,
                podroll=tuple(
                    RemoteFeed(feed_guid=podcast_guid(url), feed_url=url)
                    for _j, url in journey_urls
                ),
            ),
        )
    )
    return Site(
        media=tuple(media),
        transcripts=tuple(transcripts),
        map=tuple(map_files),
        pages=pages,
        feed=tuple(feeds),
    )


def journey_show(show: ShowInfo, journey: Journey) -> ShowInfo:
    """The show as one journey's feed presents it: its own title and description."""
    return replace(
        show,
        title=f"{show.title}: {journey.name}",
        description=f"{journey.name}: the reports of one journey from {show.title}. "
        + show.description.strip(),
    )


def publish(
    site: Site,
    storage: Storage,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    prune: bool | None = None,
    hash_file: Callable[[Path], tuple[str, int]] = file_sha256,
) -> PublishReport:
    """Media and transcripts first, then the map and pages, the feed last.

    Within one group files go up `workers` at a time (default: the storage's own `workers`,
    8 for S3 where each file costs a round trip, 1 for a local folder); a group starts only when
    the one before it is complete. `on_progress(done, total)` counts files. A storage error
    propagates once the files already in flight have finished; no later group, and so not the
    feed, is written. With `prune` (default: the storage's `[storage] prune`), files under the
    managed folders that the site no longer has are deleted once the feed is up.
    """
    site = site.with_digests(hash_file)  # here, in this thread: the uploads may run in others
    files = site.in_order()
    keys = [f.key for f in files]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"two site files share the key {duplicates[0]}")
    workers = max(1, workers or int(getattr(storage, "workers", 1)))
    groups = (site.media, site.transcripts, site.map, site.pages, site.feed)
    uploaded: list[str] = []
    unchanged: list[str] = []
    done = 0

    def record(file: SiteFile, written: bool) -> None:
        nonlocal done
        (uploaded if written else unchanged).append(file.key)
        if written:
            log.debug("published %s", file.key)
        done += 1
        if on_progress is not None:
            on_progress(done, len(files))

    for group in groups:
        if workers == 1 or len(group) < 2:
            for file in group:
                record(file, storage.put(file))
            continue
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="publish") as pool:
            futures = {pool.submit(storage.put, file): file for file in group}
            try:
                for future in as_completed(futures):
                    record(futures[future], future.result())
            except BaseException:
                for future in futures:
                    future.cancel()  # files not yet started stay unwritten
                raise
    deleted: tuple[str, ...] = ()
    if prune if prune is not None else bool(getattr(storage, "prune", False)):
        deleted = prune_stale(site, storage)
    log.info(
        "published %d files, %d unchanged, %d deleted", len(uploaded), len(unchanged), len(deleted)
    )
    return PublishReport(uploaded=tuple(uploaded), unchanged=tuple(unchanged), deleted=deleted)


def prune_stale(site: Site, storage: Storage) -> tuple[str, ...]:
    """Delete stored files under the managed folders that the site no longer has.

    Runs after the feed is written, so the live feed never points at a deleted file (a client
    holding the old feed for its cache lifetime may briefly miss a withdrawn episode's audio,
    which is what withdrawing means).
    """
    wanted = set(site.keys())
    stale = tuple(
        key for key in storage.list_keys() if key.startswith(MANAGED_PREFIXES) and key not in wanted
    )
    for key in stale:
        storage.delete(key)
        log.info("deleted %s (no longer in the show)", key)
    return stale
