"""The small static home page, public/index.html: title, artwork, subscribe link, latest episodes
with players, links to the map and the transcripts.

Links inside the site are relative, so the page works from `fieldreports serve`, a file:// copy
or any base URL; only the subscribe link is absolute, since podcast apps need the full feed URL.
Everything is escaped; the page loads nothing from elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from episodes.episode import Episode
from episodes.i18n import Interface, interface
from episodes.links import map_link
from episodes.markdown import markdown_html
from episodes.numbering import number_label
from fieldreports.config import ShowInfo

HOME_KEY = "index.html"
LATEST = 20

_CSS = """
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1b1b1b}
header{display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
header img{width:10rem;height:10rem;border-radius:.5rem}
h1{margin:.2rem 0}
a{color:#1d4ed8}
.subscribe a,.links a{margin-right:1rem}
article{border-top:1px solid #ddd;padding:1rem 0}
article h3{font-size:1.2rem;margin:.2rem 0}
.meta{color:#555;font-size:.9rem}
audio{width:100%;margin:.5rem 0}
.transcripts{font-size:.9rem}
"""


def render_home(
    episodes: Sequence[Episode],
    show: ShowInfo,
    *,
    artwork_url: str,
    feed_url: str,
    map_url: str = "",
    latest: int = LATEST,
) -> bytes:
    """The whole index.html, in the show's interface language (`episodes.i18n`)."""
    ui = interface(show.language)
    _ = ui.gettext
    ordered = sorted(episodes, key=lambda e: (e.published_at, e.slug), reverse=True)[:latest]
    words = {
        key: escape(value)
        for key, value in {
            "rss": _("RSS feed"),
            "map": _("Route map"),
            "partners": _("For radio partners"),
            "none": _("No episodes yet."),
            "artwork": _("{show} artwork").format(show=show.title),
            "by": _("by {author}").format(author=show.author),
            "subscribe": _("Subscribe:"),
            "copy": _("Copy the feed address into your podcast app:"),
            "latest": _("Latest episodes"),
        }.items()
    }
    links = [f'<a href="{escape(feed_url)}">{words["rss"]}</a>']
    if map_url:
        links.append(f'<a href="{escape(map_url)}">{words["map"]}</a>')
    links.append(f'<a href="partners.json">{words["partners"]}</a>')
    description = markdown_html(show.description)
    articles = "\n".join(_article(e, ui, map_url=map_url) for e in ordered)
    articles = articles or f"<p>{words['none']}</p>"
    page = f"""<!doctype html>
<html lang="{escape(ui.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(show.title)}</title>
<link rel="alternate" type="application/rss+xml" title="{escape(show.title)}"
 href="{escape(feed_url)}">
<style>{_CSS}</style>
</head>
<body>
<header>
<img src="{escape(artwork_url)}" alt="{words["artwork"]}">
<div>
<h1>{escape(show.title)}</h1>
<p class="meta">{words["by"]}</p>
<p class="subscribe">{words["subscribe"]} {" ".join(links)}</p>
<p class="meta">{words["copy"]}
<code>{escape(feed_url)}</code></p>
</div>
</header>
<main>
{description}
<h2>{words["latest"]}</h2>
{articles}
</main>
</body>
</html>
"""
    return page.encode("utf-8")


def _article(episode: Episode, ui: Interface, *, map_url: str) -> str:
    _ = ui.gettext
    when = ui.format_date(episode.recorded_at or episode.published_at)
    where = episode.location.name if episode.location else ""
    label = number_label(episode.season, episode.number)
    number = _("Episode {number}").format(number=label) if label else ""
    meta = " · ".join(
        escape(p) for p in (number, when, where, episode.journey, episode.reporter) if p
    )
    transcripts = " ".join(
        f'<a href="{escape(t.key)}" hreflang="{escape(t.language)}">'
        f"{escape(_transcript_name(t.fmt, t.language, t.translated, ui))}</a>"
        for t in episode.transcripts
    )
    lang = f' lang="{escape(episode.language)}"' if episode.language else ""
    excerpt = (
        f"<p{lang}>{escape(episode.transcript_excerpt)}</p>" if episode.transcript_excerpt else ""
    )
    on_map = map_link(episode, page=map_url) if map_url else None
    see = escape(_("On the map"))
    stop = f'<p><a href="{escape(on_map)}">{see}</a></p>' if on_map else ""
    listen = _("Listen: {title}").format(title=episode.title)
    heading, none_yet = escape(_("Transcripts:")), escape(_("none yet"))
    return f"""<article id="{escape(episode.slug)}">
<h3>{escape(episode.title)}</h3>
<p class="meta">{meta}</p>
<audio controls preload="none" src="{escape(episode.audio.key)}" aria-label="{escape(listen)}"></audio>
{excerpt}
{stop}
<p class="transcripts">{heading} {transcripts or none_yet}</p>
</article>"""


def _transcript_name(fmt: str, language: str, translated: bool, ui: Interface) -> str:
    """ "WebVTT (Italian)", "text (English, translation)", in the interface's language."""
    _ = ui.gettext
    kind = {"vtt": "WebVTT", "srt": "SRT", "json": "JSON", "txt": _("text")}.get(fmt, fmt)
    name = ui.language_name(language)
    if translated:
        return _("{format} ({language}, translation)").format(format=kind, language=name)
    return _("{format} ({language})").format(format=kind, language=name)
