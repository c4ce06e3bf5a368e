"""A stop's content and every other piece of field text on the map, escaped for where it lands.

Text from the field (titles, places, reporters, journeys, notes) is hostile until proven
otherwise. On the map page it lands in three contexts:

- HTML: the list of stops and each stop's `<template>` (`stop_html`). `text()` escapes it.
- Jinja: branca, under folium, compiles every element it renders as a Jinja template, and the
  scripts a second time, so `{{ ... }}` in a title would run. `text()` and `no_braces()` write
  every brace as a character reference.
- A JavaScript template literal inside a `<script>` element: folium writes a journey's name
  (the layer control's label) as `` `NAME` ``. HTML escaping is not enough there: `${alert(2)}`
  survives it and runs, a backtick ends the literal, a backslash starts a JS escape, and the HTML
  parser ends the script at the first `</script` whatever the JavaScript thinks. So such text
  goes through `for_template_literal()` last, which turns those characters into HTML character
  references that the browser reads back as the same text.

The map's own script (`maps/static/story.js`) reads field text back from the page as text
(`textContent`) and never writes it as HTML.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from episodes.episode import Episode, TranscriptFile
from episodes.i18n import Interface
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


def _transcript_links(
    transcripts: tuple[TranscriptFile, ...], ui: Interface
) -> list[tuple[str, TranscriptFile]]:
    def best(candidates: list[TranscriptFile]) -> TranscriptFile | None:
        ranked = sorted(
            candidates,
            key=lambda t: _TRANSCRIPT_ORDER.index(t.fmt) if t.fmt in _TRANSCRIPT_ORDER else 99,
        )
        return ranked[0] if ranked else None

    _ = ui.gettext
    links = []
    original = best([t for t in transcripts if not t.translated])
    if original is not None:
        links.append((_("Full transcript"), original))
    english = best([t for t in transcripts if t.translated])
    if english is not None:
        links.append((_("English translation"), english))
    return links


def timed_transcript(episode: Episode) -> TranscriptFile | None:
    """The Podcasting 2.0 JSON transcript in the spoken language: its times drive the
    interactive transcript (words, when Whisper gave word times; else segments)."""
    return next(
        (t for t in episode.transcripts if t.fmt == "json" and not t.translated and t.data), None
    )


def stop_html(episode: Episode, ui: Interface, *, label: str, excerpt_chars: int) -> str:
    """One stop's content, shown when the stop opens: when and where, the player, the
    transcript (interactive once the script has its timings), links and notes.

    Plain HTML for a `<template>` element, every field text escaped and every brace a character
    reference (branca renders the page through Jinja). `label` ("3. Title", escaped here) names
    the player for screen readers. The excerpt and transcript carry the report's own language;
    the rest is in the interface's.
    """
    _ = ui.gettext
    parts = []
    meta = []
    if episode.recorded_at is not None:
        meta.append(
            f'<time datetime="{text(episode.recorded_at.isoformat())}">'
            f"{text(ui.format_datetime(episode.recorded_at))}</time>"
        )
    if episode.location is not None and episode.location.name:
        place = episode.location.name
        if episode.location.sensitive:
            place = _("{place} (approximate area)").format(place=place)
        meta.append(f'<span class="fr-place">{text(place)}</span>')
    if episode.reporter:
        meta.append(f'<span class="fr-reporter">{text(episode.reporter)}</span>')
    if meta:
        parts.append(f'<p class="fr-meta">{" · ".join(meta)}</p>')
    audio_url = text(relative_url(episode.audio.key))
    listen = text(_("Listen: {title}").format(title=label))
    download = text(_("Download the recording"))
    parts.append(
        f'<audio controls preload="none" src="{audio_url}" aria-label="{listen}">'
        f'<a href="{audio_url}">{download}</a></audio>'
    )
    lang = f' lang="{text(episode.language)}"' if episode.language else ""
    excerpt = shorten(episode.transcript_excerpt, excerpt_chars)
    timed = timed_transcript(episode)
    if timed is not None or excerpt:
        # The script swaps the excerpt for the whole transcript, word by word, when it can
        # fetch the JSON (not from a file:// copy, where browsers refuse).
        source = f' data-src="{text(relative_url(timed.key))}"' if timed is not None else ""
        parts.append(f'<section class="fr-transcript"{source}>')
        if timed is not None:
            heading, hint = _("Transcript"), _("Select a sentence to listen from there.")
            parts.append(
                f'<h3 class="fr-transcript-title">{text(heading)}</h3>'
                f'<p class="fr-hint" hidden>{text(hint)}</p>'
            )
        if excerpt:
            parts.append(f'<blockquote class="fr-excerpt"{lang}>{text(excerpt)}</blockquote>')
        parts.append(f'<div class="fr-words"{lang} hidden></div></section>')
    links = _transcript_links(episode.transcripts, ui)
    if links:
        anchors = [
            f'<a href="{text(relative_url(t.key))}" hreflang="{text(t.language)}">{text(name)}</a>'
            for name, t in links
        ]
        parts.append(f'<p class="fr-links">{" · ".join(anchors)}</p>')
    notes = demote_headings(markdown_html(episode.notes_markdown), below=2)
    if notes:
        parts.append(f'<div class="fr-notes">{no_braces(notes)}</div>')
    return "".join(parts)


def stop_label(episode: Episode, number: int) -> str:
    """How a stop is named in the list, on its marker and over its content: "3. Title"."""
    return f"{number}. {episode.title}"


_HEADING = re.compile(r"<(/?)h([1-6])\b")


def demote_headings(markup: str, *, below: int) -> str:
    """Headings in the notes moved under the page's own, so the outline stays in order.

    >>> demote_headings("<h1>Harbour</h1><h5>x</h5>", below=2)
    '<h3>Harbour</h3><h6>x</h6>'
    """
    return _HEADING.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + below, 6)}", markup)


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
