"""A stop's popup as HTML that is safe where folium puts it.

Text from the field (titles, places, reporters, notes) is hostile until proven otherwise. It lands
in two contexts at once: HTML inside the popup, and a JavaScript template literal inside a
`<script>` element, because folium writes every popup as

    var html_1 = $(`<div ...>POPUP HTML</div>`)[0];

HTML escaping alone is not enough there: `${alert(2)}` survives it and runs as JavaScript, a
backtick ends the literal, a backslash starts a JS escape (`\\x3c` becomes `<`), and the HTML
parser ends the script at the first `</script` whatever the JavaScript thinks. So every popup goes
through `for_template_literal()` last, which turns those characters into HTML character
references: the browser's HTML parser (via jQuery) turns them back into the same text, and
JavaScript never sees them.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import quote

from episodes.episode import Episode, TranscriptFile
from episodes.markdown import markdown_html

# Preferred order for the "full transcript" link: readable in any browser first.
_TRANSCRIPT_ORDER = ("txt", "vtt", "srt", "json")


def text(value: str) -> str:
    """Plain text as HTML text or attribute value, with no braces left for Jinja.

    >>> text('<script>alert(1)</script> & "quotes"')
    '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;'
    >>> text("{{ 7*7 }}")
    '&#123;&#123; 7*7 &#125;&#125;'
    """
    return no_braces(html.escape(value, quote=True))


def no_braces(markup: str) -> str:
    """HTML with `{` and `}` as character references.

    branca (under folium) compiles each rendered script as a Jinja template and renders it
    again, so `{{ ... }}`, `{% ... %}` or `{# ...` in field text would be evaluated by Jinja
    at render time (Python, on the machine that builds the site) or break the render. The
    browser reads `&#123;` back as `{`.

    >>> no_braces('<a href="x">{% if 1 %}{# c #}</a>')
    '<a href="x">&#123;% if 1 %&#125;&#123;# c #&#125;</a>'
    """
    return markup.replace("{", "&#123;").replace("}", "&#125;")


def for_template_literal(markup: str) -> str:
    """HTML made safe to sit inside a JS template literal inside a <script> element.

    Only characters that mean something to JavaScript or end the script are replaced, by
    character references that the HTML parser reads back as the same characters.

    >>> for_template_literal("<p>${alert(2)} `x` \\\\u0041</p>")
    '<p>&#36;&#123;alert(2)&#125; &#96;x&#96; &#92;u0041<\\\\/p>'
    >>> "</script" in for_template_literal("<b>a</b></script>")
    False
    """
    markup = markup.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")
    markup = no_braces(markup)
    # "</" cannot end the script once written "<\/", which the literal reads back as "</";
    # "<!--" would switch the HTML parser into its script-escape state, so split it the same way.
    markup = markup.replace("</", "<\\/").replace("<!--", "<\\!--")
    # folium turns newlines into spaces; keep the ones inside <pre> as character references.
    return markup.replace("\r\n", "&#10;").replace("\n", "&#10;")


def relative_url(key: str) -> str:
    """The URL of a site file as seen from `map/index.html` (one level below the site root).

    >>> relative_url("episodes/lampedusa harbour.mp3")
    '../episodes/lampedusa%20harbour.mp3'
    """
    return "../" + quote(key.lstrip("/"), safe="/")


def shorten(value: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis.

    >>> shorten("ask not what your country can do for you", 20)
    'ask not what your…'
    >>> shorten("short", 20)
    'short'
    """
    value = " ".join(value.split())
    if limit <= 0 or len(value) <= limit:
        return value
    cut = value[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def format_date(when: dt.datetime | None) -> str:
    """The recording time in its own offset, the local time where the reporter was.

    >>> tz = dt.timezone(dt.timedelta(hours=1))
    >>> format_date(dt.datetime(2022, 3, 14, 9, 40, tzinfo=tz))
    '14 March 2022, 09:40'
    """
    if when is None:
        return ""
    return f"{when.day} {when:%B %Y, %H:%M}"


def _transcript_links(transcripts: tuple[TranscriptFile, ...]) -> list[tuple[str, TranscriptFile]]:
    def best(candidates: list[TranscriptFile]) -> TranscriptFile | None:
        ranked = sorted(
            candidates,
            key=lambda t: _TRANSCRIPT_ORDER.index(t.fmt) if t.fmt in _TRANSCRIPT_ORDER else 99,
        )
        return ranked[0] if ranked else None

    links = []
    original = best([t for t in transcripts if not t.translated])
    if original is not None:
        links.append(("Full transcript", original))
    english = best([t for t in transcripts if t.translated])
    if english is not None:
        links.append(("English translation", english))
    return links


def popup_html(episode: Episode, *, number: int, excerpt_chars: int) -> str:
    """The popup for one stop, safe for HTML and for folium's template literal."""
    parts = [f'<article class="fr-popup" lang="{text(episode.language or "")}">']
    parts.append(f'<h3 class="fr-title">{number}. {text(episode.title)}</h3>')
    meta = []
    if episode.recorded_at is not None:
        meta.append(
            f'<time datetime="{text(episode.recorded_at.isoformat())}">'
            f"{text(format_date(episode.recorded_at))}</time>"
        )
    if episode.location is not None and episode.location.name:
        place = text(episode.location.name)
        if episode.location.sensitive:
            place += " (approximate area)"
        meta.append(f'<span class="fr-place">{place}</span>')
    if episode.reporter:
        meta.append(f'<span class="fr-reporter">{text(episode.reporter)}</span>')
    if meta:
        parts.append(f'<p class="fr-meta">{" · ".join(meta)}</p>')
    parts.append(
        f'<audio controls preload="none" src="{text(relative_url(episode.audio.key))}">'
        f'<a href="{text(relative_url(episode.audio.key))}">Download the recording</a></audio>'
    )
    excerpt = shorten(episode.transcript_excerpt, excerpt_chars)
    if excerpt:
        parts.append(f'<blockquote class="fr-excerpt">{text(excerpt)}</blockquote>')
    links = _transcript_links(episode.transcripts)
    if links:
        anchors = [
            f'<a href="{text(relative_url(t.key))}" hreflang="{text(t.language)}">{label}</a>'
            for label, t in links
        ]
        parts.append(f'<p class="fr-links">{" · ".join(anchors)}</p>')
    notes = markdown_html(episode.notes_markdown)
    if notes:
        parts.append(f'<div class="fr-notes">{notes}</div>')
    parts.append("</article>")
    return for_template_literal("".join(parts))


def tooltip_html(episode: Episode, *, number: int) -> str:
    """The hover label: number and title, as safe as the popup."""
    return for_template_literal(f"{number}. {text(episode.title)}")


_SCRIPT_OPEN = re.compile(r"<script\b", re.IGNORECASE)
_SCRIPT_CLOSE = re.compile(r"</script", re.IGNORECASE)


def check_scripts(page: str) -> None:
    """Refuse a page where something other than a script element opens or ends a script.

    A last guard behind the escaping above: field text can never add a `<script` or `</script`.

    >>> check_scripts("<script>var a = 1;</script>")
    >>> check_scripts("<script>var a = `</script>`;</script>")
    Traceback (most recent call last):
    ...
    RuntimeError: the map page has 1 <script> but 2 </script>: refusing to publish it
    """
    opened, closed = len(_SCRIPT_OPEN.findall(page)), len(_SCRIPT_CLOSE.findall(page))
    if opened != closed:
        raise RuntimeError(
            f"the map page has {opened} <script> but {closed} </script>: refusing to publish it"
        )
