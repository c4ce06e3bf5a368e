"""The home page and its archive: every episode with its player, duration, notes and
transcripts; a search box; the journeys' feeds; links to the map and the partners' page.

    index.html          the newest episodes (`page_size` of them), the journeys, the search box
    pages/<n>.html      the archive, oldest first in pages of `page_size`: an episode's page never
                        changes as new ones arrive, so `pages/<n>.html#<slug>` is its lasting
                        address (the feed's item links and the chapters point at it)
    search.json         the prebuilt index: title, place, journey, date, notes and transcript
                        text of each episode, with its address
    search.js           a small script (no library, nothing from elsewhere) that loads
                        search.json on the first keystroke and lists matching episodes

Search needs the pages served over HTTP (any static host, `fieldreports serve`): browsers do not
let a page opened from disk read search.json, and the box then says so. Everything else works
from disk too: links inside the site are relative; only the subscribe links are absolute, since
podcast apps need the full feed URL. Everything from the field is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from episodes.episode import Episode
from episodes.feed.journeys import Journey
from episodes.i18n import Interface, interface
from episodes.links import map_link
from episodes.markdown import markdown_html, markdown_text
from episodes.numbering import number_label
from fieldreports.config import ShowInfo
from fieldreports.times import format_duration

HOME_KEY = "index.html"
SEARCH_INDEX_KEY = "search.json"
SEARCH_SCRIPT_KEY = "search.js"
PAGES_PREFIX = "pages/"
PAGE_SIZE = 20


def page_text(ui: Interface) -> dict[str, str]:
    """The pages' fixed text in the show's language (`episodes.i18n`), by key."""
    _ = ui.gettext
    return {
        "by": _("by {author}"),
        "subscribe": _("Subscribe:"),
        "rss": _("RSS feed"),
        "map": _("Route map"),
        "on_map": _("On the map"),
        "partners": _("For radio partners"),
        "copy_feed": _("Copy the feed address into your podcast app:"),
        "journeys": _("Follow one journey"),
        "latest": _("Latest episodes"),
        "archive": _("All episodes"),
        "archive_page": _("Episodes {first}–{last}"),
        "page_nav": _("Pages of episodes"),
        "page": _("Page {number}"),
        "search": _("Search titles, places and transcripts"),
        "search_button": _("Search"),
        "search_hint": _("Type at least two letters."),
        "search_none": _("No episode matches."),
        "search_found": _("{count} episodes match."),
        "search_found_one": _("1 episode matches."),
        "search_offline": _(
            "Search works when the site is served over the web, not opened from disk."
        ),
        "episode": _("Episode {label}"),
        "duration": _("Duration {duration}"),
        "transcripts": _("Transcripts:"),
        "no_transcripts": _("none yet"),
        "no_episodes": _("No episodes yet."),
        "home": _("Home"),
    }


def _journey_feed(ui: Interface, journey: Journey) -> str:
    count = len(journey.episodes)
    text = ui.ngettext(
        "{journey} (feed, {count} episode)", "{journey} (feed, {count} episodes)", count
    )
    return text.format(journey=journey.name, count=count)


def transcript_name(fmt: str, language: str, translated: bool, ui: Interface) -> str:
    """A transcript link's text: "WebVTT (Italian)", "text (English, translation)"."""
    _ = ui.gettext
    kind = {"vtt": "WebVTT", "srt": "SRT", "json": "JSON", "txt": _("text")}.get(fmt, fmt)
    name = ui.language_name(language)
    if translated:
        return _("{format} ({language}, translation)").format(format=kind, language=name)
    return _("{format} ({language})").format(format=kind, language=name)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1b1b1b;background:#fff}
a{color:#0b57a4}
header{display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
header img{width:10rem;height:10rem;border-radius:.5rem}
h1{margin:.2rem 0}
.subscribe a,.links a{margin-right:1rem}
article{border-top:1px solid #ccc;padding:1rem 0}
article h3{font-size:1.2rem;margin:.2rem 0}
article img{width:6rem;height:6rem;float:right;margin:0 0 .5rem 1rem;border-radius:.3rem}
.meta{color:#4a4a4a;font-size:.9rem}
audio{width:100%;margin:.5rem 0}
.transcripts{font-size:.9rem;clear:both}
nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1rem}
#search{margin:1rem 0}
#search input{font-size:1rem;padding:.3rem;width:min(100%,24rem)}
#search-results li{margin:.4rem 0}
"""

# The search script: plain JavaScript, no library. It folds case and accents the same way
# `fold` does in Python, so "roszke" finds "Röszke".
SEARCH_JS = """\
(function () {
  "use strict";
  var form = document.getElementById("search");
  if (!form) { return; }
  var input = document.getElementById("search-q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var root = form.getAttribute("data-root") || "";
  var entries = null;
  var loading = null;
  function fold(text) {
    return (text || "").normalize("NFKD").replace(/[\\u0300-\\u036f]/g, "").toLowerCase();
  }
  function load() {
    if (!loading) {
      loading = fetch(root + "search.json").then(function (r) {
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      }).then(function (data) {
        entries = data.episodes.map(function (e) {
          e.haystack = fold([e.title, e.place, e.journey, e.date, e.notes, e.text].join(" "));
          return e;
        });
      });
    }
    return loading;
  }
  function snippet(entry, word) {
    var text = entry.text || entry.notes || "";
    var at = fold(text).indexOf(word);
    if (at < 0) { return ""; }
    var start = Math.max(0, at - 60);
    return (start ? "…" : "") + text.slice(start, at + 100) + "…";
  }
  function show() {
    var words = fold(input.value).split(/\\s+/).filter(Boolean);
    list.textContent = "";
    if (fold(input.value).replace(/\\s/g, "").length < 2) {
      status.textContent = form.getAttribute("data-hint");
      return;
    }
    var found = entries.filter(function (e) {
      return words.every(function (w) { return e.haystack.indexOf(w) >= 0; });
    });
    status.textContent = found.length === 1 ? form.getAttribute("data-found-one")
      : found.length ? form.getAttribute("data-found").replace("{count}", found.length)
      : form.getAttribute("data-none");
    found.slice(0, 50).forEach(function (e) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = root + e.url;
      link.textContent = e.title;
      item.appendChild(link);
      var meta = [e.date, e.place, e.journey].filter(Boolean).join(" · ");
      item.appendChild(document.createTextNode(meta ? " (" + meta + ")" : ""));
      var said = snippet(e, words[0]);
      if (said) {
        var quote = document.createElement("div");
        quote.className = "meta";
        quote.textContent = said;
        item.appendChild(quote);
      }
      list.appendChild(item);
    });
  }
  function run(event) {
    if (event) { event.preventDefault(); }
    load().then(show, function () {
      status.textContent = form.getAttribute("data-offline");
    });
  }
  form.addEventListener("submit", run);
  input.addEventListener("input", function () { run(); });
})();
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeLinks:
    """Where the pages point: the feed (absolute), the artwork, the map, the journeys' feeds."""

    feed_url: str
    artwork_url: str  # relative to the site root, or absolute
    map_url: str = ""  # relative to the site root; "" when the show has no map
    journeys: tuple[tuple[Journey, str], ...] = ()  # each journey and its feed's absolute URL


def archive_key(number: int) -> str:
    """
    >>> archive_key(3)
    'pages/3.html'
    """
    return f"{PAGES_PREFIX}{number}.html"


def oldest_first(episodes: Sequence[Episode]) -> list[Episode]:
    return sorted(episodes, key=lambda e: (e.published_at, e.slug))


def episode_pages(episodes: Sequence[Episode], page_size: int = PAGE_SIZE) -> dict[str, str]:
    """Each episode's lasting address in the archive, by slug: `pages/<n>.html#<slug>`.

    >>> import types
    >>> eps = [types.SimpleNamespace(published_at=i, slug=f"e{i}") for i in range(5)]
    >>> episode_pages(eps, page_size=2)["e4"]
    'pages/3.html#e4'
    """
    return {
        e.slug: f"{archive_key(i // page_size + 1)}#{e.slug}"
        for i, e in enumerate(oldest_first(episodes))
    }


def render_home_pages(
    episodes: Sequence[Episode],
    show: ShowInfo,
    links: HomeLinks,
    *,
    page_size: int = PAGE_SIZE,
) -> dict[str, bytes]:
    """index.html and every archive page, by key, in the show's language."""
    ui = interface(show.language)
    t = page_text(ui)
    oldest = oldest_first(episodes)
    chunks = [oldest[i : i + page_size] for i in range(0, len(oldest), page_size)]
    newest = sorted(episodes, key=lambda e: (e.published_at, e.slug), reverse=True)[:page_size]
    pages = {HOME_KEY: _page(newest, show, links, ui, root="", number=0, pages=len(chunks),
                             heading=t["latest"], first_number=0)}  # fmt: skip
    for number, chunk in enumerate(chunks, start=1):
        first = (number - 1) * page_size + 1
        heading = t["archive_page"].format(first=first, last=first + len(chunk) - 1)
        pages[archive_key(number)] = _page(
            list(reversed(chunk)), show, links, ui, root="../", number=number, pages=len(chunks),
            heading=heading, first_number=first,
        )  # fmt: skip
    return pages


def render_home(
    episodes: Sequence[Episode],
    show: ShowInfo,
    *,
    artwork_url: str,
    feed_url: str,
    map_url: str = "",
) -> bytes:
    """index.html alone (the newest episodes)."""
    links = HomeLinks(feed_url=feed_url, artwork_url=artwork_url, map_url=map_url)
    return render_home_pages(episodes, show, links)[HOME_KEY]


def _page(
    shown: Sequence[Episode],
    show: ShowInfo,
    links: HomeLinks,
    ui: Interface,
    *,
    root: str,
    number: int,
    pages: int,
    heading: str,
    first_number: int,
) -> bytes:
    def local(url: str) -> str:
        return url if "://" in url else root + url

    t = page_text(ui)
    map_page = local(links.map_url) if links.map_url else ""

    subscribe = [f'<a href="{escape(links.feed_url)}">{escape(t["rss"])}</a>']
    if links.map_url:
        subscribe.append(f'<a href="{escape(local(links.map_url))}">{escape(t["map"])}</a>')
    subscribe.append(f'<a href="{root}partners/index.html">{escape(t["partners"])}</a>')
    description = markdown_html(show.description) if number == 0 else ""
    journeys = ""
    if links.journeys and number == 0:
        items = "".join(
            f'<li><a href="{escape(url)}" type="application/rss+xml">'
            f"{escape(_journey_feed(ui, j))}</a></li>"
            for j, url in links.journeys
        )
        journeys = f'<section aria-labelledby="journeys"><h2 id="journeys">{escape(t["journeys"])}</h2><ul>{items}</ul></section>'
    articles = (
        "\n".join(_article(e, root, ui, map_page=map_page) for e in shown)
        or f"<p>{escape(t['no_episodes'])}</p>"
    )
    title = show.title if number == 0 else f"{show.title}: {t['page'].format(number=number)}"
    nav = _nav(root, number, pages, t)
    home = f'<p><a href="{root}index.html">{escape(t["home"])}</a></p>\n' if number else ""
    feeds = "".join(
        f'\n<link rel="alternate" type="application/rss+xml" title="{escape(f"{show.title}: {j.name}")}" href="{escape(url)}">'
        for j, url in links.journeys
    )
    search = f"""<form id="search" role="search" data-root="{root}"
 data-hint="{escape(t["search_hint"])}" data-none="{escape(t["search_none"])}"
 data-found="{escape(t["search_found"])}" data-found-one="{escape(t["search_found_one"])}"
 data-offline="{escape(t["search_offline"])}">
<label for="search-q">{escape(t["search"])}</label>
<input type="search" id="search-q" name="q" autocomplete="off">
<button type="submit">{escape(t["search_button"])}</button>
<p id="search-status" class="meta" role="status" aria-live="polite"></p>
<ol id="search-results"></ol>
</form>"""
    page = f"""<!doctype html>
<html lang="{escape(ui.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="alternate" type="application/rss+xml" title="{escape(show.title)}"
 href="{escape(links.feed_url)}">{feeds}
<style>{_CSS}</style>
</head>
<body>
<header>
<img src="{escape(local(links.artwork_url))}" alt="">
<div>
{home}<h1>{escape(title)}</h1>
<p class="meta">{escape(t["by"].format(author=show.author))}</p>
<p class="subscribe">{escape(t["subscribe"])} {" ".join(subscribe)}</p>
<p class="meta">{escape(t["copy_feed"])}
<code>{escape(links.feed_url)}</code></p>
</div>
</header>
<main>
{description}
{search}
{journeys}
<h2>{escape(heading)}</h2>
{articles}
{nav}
</main>
<script src="{root}{SEARCH_SCRIPT_KEY}" defer></script>
</body>
</html>
"""
    return page.encode("utf-8")


def _nav(root: str, number: int, pages: int, t: dict[str, str]) -> str:
    if not pages:
        return ""
    items = []
    for n in range(1, pages + 1):
        label = escape(t["page"].format(number=n))
        if n == number:
            items.append(
                f'<li><a aria-current="page" href="{root}{archive_key(n)}">{label}</a></li>'
            )
        else:
            items.append(f'<li><a href="{root}{archive_key(n)}">{label}</a></li>')
    return (
        f'<nav aria-labelledby="archive"><h2 id="archive">{escape(t["archive"])}</h2>'
        f"<ul>{''.join(items)}</ul></nav>"
    )


def _article(episode: Episode, root: str, ui: Interface, *, map_page: str) -> str:
    t = page_text(ui)
    when = ui.format_date(episode.recorded_at or episode.published_at)
    where = episode.location.name if episode.location else ""
    label = number_label(episode.season, episode.number)
    number = t["episode"].format(label=label) if label else ""
    duration = t["duration"].format(duration=format_duration(episode.duration_s))
    meta = " · ".join(
        escape(p) for p in (number, when, duration, where, episode.journey, episode.reporter) if p
    )
    transcripts = " ".join(
        f'<a href="{root}{escape(f.key)}" hreflang="{escape(f.language)}">'
        f"{escape(transcript_name(f.fmt, f.language, f.translated, ui))}</a>"
        for f in episode.transcripts
    )
    notes = markdown_html(episode.notes_markdown)
    lang = f' lang="{escape(episode.language)}"' if episode.language else ""
    excerpt = (
        f"<p{lang}>{escape(episode.transcript_excerpt)}</p>"
        if episode.transcript_excerpt and not notes
        else ""
    )
    stop = map_link(episode, page=map_page) if map_page else None
    on_map = f'<p><a href="{escape(stop)}">{escape(t["on_map"])}</a></p>' if stop else ""
    image = f'<img src="{root}{escape(episode.image.key)}" alt="">' if episode.image else ""
    heading_id = f"t-{episode.slug}"
    return f"""<article id="{escape(episode.slug)}" aria-labelledby="{escape(heading_id)}">
{image}<h3 id="{escape(heading_id)}">{escape(episode.title)}</h3>
<p class="meta">{meta}</p>
<audio controls preload="none" src="{root}{escape(episode.audio.key)}" aria-labelledby="{escape(heading_id)}"></audio>
{notes}
{excerpt}
{on_map}
<p class="transcripts">{escape(t["transcripts"])} {transcripts or escape(t["no_transcripts"])}</p>
</article>"""


def search_index(episodes: Sequence[Episode], *, page_size: int = PAGE_SIZE) -> bytes:
    """search.json: what the search box looks through, newest first, with each one's address."""
    addresses = episode_pages(episodes, page_size)
    ordered = sorted(episodes, key=lambda e: (e.published_at, e.slug), reverse=True)
    entries = []
    for e in ordered:
        spoken = next((t for t in e.transcripts if t.fmt == "txt" and not t.translated), None)
        english = next((t for t in e.transcripts if t.fmt == "txt" and t.translated), None)
        text = " ".join(
            t.data.decode("utf-8", "replace").strip() for t in (spoken, english) if t is not None
        )
        entries.append(
            {
                "title": e.title,
                "place": e.location.name if e.location else "",
                "journey": e.journey,
                "date": (e.recorded_at or e.published_at).date().isoformat(),
                "url": addresses[e.slug],
                "notes": " ".join(markdown_text(e.notes_markdown).split()),
                "text": " ".join(text.split()),
            }
        )
    document = {"version": 1, "episodes": entries}
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
