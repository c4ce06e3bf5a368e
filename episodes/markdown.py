"""A reporter's Markdown as sanitised HTML: one parser, one sanitiser, two sets of tags.

Notes are typed in the field and are hostile until proven otherwise. Raw HTML is shown as text
(markdown-it escapes it before nh3 sees it), an image becomes its alt text (a remote image would
be a third-party request from every visitor), and only http(s) and mailto links survive. The
feed's show notes keep the few tags Apple renders; pages and the map keep a few more.
"""

from __future__ import annotations

import functools
import html
import re

import nh3
from markdown_it import MarkdownIt

# Tags Apple Podcasts renders in show notes (everything else would be shown as text or dropped).
FEED_TAGS = frozenset({"p", "ol", "ul", "li", "a", "em", "strong", "b", "i", "br"})
# Tags for our own pages and the map's popups.
PAGE_TAGS = frozenset({
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "del", "s", "table", "thead", "tbody", "tr", "th", "td",
})  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
_URL_SCHEMES = {"http", "https", "mailto"}


@functools.cache
def _parser() -> MarkdownIt:
    """One parser for the whole run: building it costs more than rendering a note."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )
    md.add_render_rule(
        "image",
        lambda self, tokens, idx, options, env: html.escape(
            self.renderInlineAsText(tokens[idx].children or [], options, env)
        ),
    )
    return md


def markdown_html(markdown: str, *, tags: frozenset[str] = PAGE_TAGS) -> str:
    """Markdown rendered and sanitised to `tags`; "" for blank text.

    >>> markdown_html("Hello *world* <script>alert(1)</script>")
    '<p>Hello <em>world</em> &lt;script&gt;alert(1)&lt;/script&gt;</p>'
    >>> markdown_html("[x](javascript:alert(1)) ![i](https://example.org/i.png)")
    '<p>[x](javascript:alert(1)) i</p>'
    >>> markdown_html("## Harbour\\n**Hi** [there](https://example.org)", tags=FEED_TAGS)
    'Harbour\\n<p><strong>Hi</strong> <a href="https://example.org" rel="noopener noreferrer nofollow">there</a></p>'
    """
    if not markdown.strip():
        return ""
    return nh3.clean(
        _parser().render(markdown),
        tags=set(tags),
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    ).strip()


def plain_text(markup: str) -> str:
    """HTML reduced to its text, on one line.

    >>> plain_text("<p>One <em>two</em></p>\\n<p>three</p>")
    'One two three'
    """
    return " ".join(nh3.clean(markup, tags=set()).split())


def markdown_text(markdown: str) -> str:
    """Markdown as plain text, one paragraph a line: for an intro read out, or a search index.

    >>> markdown_text("Boats arrive at **dawn**.\\n\\nSee [UNHCR](https://www.unhcr.org/).")
    'Boats arrive at dawn.\\nSee UNHCR.'
    """
    blocks = re.split(r"\n\s*\n", markdown.strip())
    return "\n".join(t for t in (plain_text(markdown_html(b)) for b in blocks) if t)
