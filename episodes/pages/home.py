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
from episodes.markdown import markdown_html
from fieldreports.config import ShowInfo

HOME_KEY = "index.html"
LATEST = 20

_LABELS = {"vtt": "WebVTT", "srt": "SRT", "json": "JSON", "txt": "text"}

_CSS = """
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1b1b1b}
header{display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
header img{width:10rem;height:10rem;border-radius:.5rem}
h1{margin:.2rem 0}
.subscribe a,.links a{margin-right:1rem}
article{border-top:1px solid #ddd;padding:1rem 0}
article h2{font-size:1.2rem;margin:.2rem 0}
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
    """The whole index.html."""
    ordered = sorted(episodes, key=lambda e: (e.published_at, e.slug), reverse=True)[:latest]
    links = [f'<a href="{escape(feed_url)}">RSS feed</a>']
    if map_url:
        links.append(f'<a href="{escape(map_url)}">Route map</a>')
    links.append('<a href="partners.json">For radio partners</a>')
    description = markdown_html(show.description)
    articles = "\n".join(_article(e) for e in ordered) or "<p>No episodes yet.</p>"
    page = f"""<!doctype html>
<html lang="{escape(show.language)}">
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
<img src="{escape(artwork_url)}" alt="{escape(show.title)} artwork">
<div>
<h1>{escape(show.title)}</h1>
<p class="meta">by {escape(show.author)}</p>
<p class="subscribe">Subscribe: {" ".join(links)}</p>
<p class="meta">Copy the feed address into your podcast app:
<code>{escape(feed_url)}</code></p>
</div>
</header>
{description}
<main>
<h2>Latest episodes</h2>
{articles}
</main>
</body>
</html>
"""
    return page.encode("utf-8")


def _article(episode: Episode) -> str:
    when = (episode.recorded_at or episode.published_at).strftime("%-d %B %Y")
    where = episode.location.name if episode.location else ""
    meta = " · ".join(escape(p) for p in (when, where, episode.journey, episode.reporter) if p)
    transcripts = " ".join(
        f'<a href="{escape(t.key)}" hreflang="{escape(t.language)}">'
        f"{escape(_LABELS.get(t.fmt, t.fmt))} ({escape(t.language)}"
        f"{', translation' if t.translated else ''})</a>"
        for t in episode.transcripts
    )
    excerpt = f"<p>{escape(episode.transcript_excerpt)}</p>" if episode.transcript_excerpt else ""
    return f"""<article id="{escape(episode.slug)}">
<h2>{escape(episode.title)}</h2>
<p class="meta">{meta}</p>
<audio controls preload="none" src="{escape(episode.audio.key)}"></audio>
{excerpt}
<p class="transcripts">Transcripts: {transcripts or "none yet"}</p>
</article>"""
