"""Radio partners: partners.json for their systems, partners/index.html for their editors, and
expiring links for partners without bucket access.

Each episode is described so a partner can write an intro and schedule it without opening the
feed: title, journey, the public place, the date, duration, the master's layout and loudness
(EBU R 128 figures as the master's bext chunk holds them), its checksum and URL, the podcast
MP3's URL, the reporter's notes as text, and links to the transcripts (and the English
translation where there is one).

Both are published with the site, with plain URLs. `presign_masters` reads the published
partners.json back from storage and returns a copy whose master URLs expire: S3 presigned links
(SigV4), or for a local folder links signed with the show's key (`episodes.site.signing`), which
`fieldreports serve --signed` and the station check. Links live at most seven days. The copy is
printed for the editor to send, never published.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from episodes.episode import Episode, join_url
from episodes.i18n import Interface, interface
from episodes.markdown import markdown_html, markdown_text
from episodes.pages.home import transcript_name
from episodes.site.storage import MAX_PRESIGN_S, Storage, open_storage, public_base_url
from fieldreports.config import ShowConfig
from fieldreports.errors import SetupError
from fieldreports.times import format_duration

log = logging.getLogger(__name__)

PARTNERS_KEY = "partners.json"
PARTNERS_PAGE_KEY = "partners/index.html"

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def page_text(ui: Interface) -> dict[str, str]:
    """The page's fixed text in the show's language (`episodes.i18n`), by key."""
    _ = ui.gettext
    return {
        "title": _("{show}: for radio partners"),
        "intro": _(
            "Broadcast masters of every episode, with what you need to introduce and schedule "
            "them. The same list for your systems: {json}."
        ),
        "format": _(
            "Masters: Broadcast Wave (BWF with loudness in its bext chunk), {rate} kHz, "
            "{bits}-bit, {layout}, {lufs} LUFS integrated, true peak at most {peak} dBTP "
            "(EBU R 128)."
        ),
        "mono": _("mono"),
        "stereo": _("stereo"),
        "facts": _("Facts about this episode"),
        "journey": _("Journey"),
        "place": _("Place"),
        "date": _("Recorded"),
        "duration": _("Duration"),
        "layout": _("Channels"),
        "loudness": _("Loudness"),
        "loudness_value": _("{lufs} LUFS, true peak {peak} dBTP, range {lra} LU"),
        "sha256": "SHA-256",
        "master": _("Download the broadcast master (WAV, {size})"),
        "mp3": _("Podcast MP3"),
        "transcripts": _("Transcripts"),
        "notes": _("Reporter's notes"),
        "none": _("No episodes yet."),
        "back": _("Back to the home page"),
    }


def parse_expiry(text: str) -> int:
    """Seconds in "90s", "30m", "12h", "7d", "1w" or a bare number of seconds.

    >>> parse_expiry("7d")
    604800
    >>> parse_expiry("90")
    90
    >>> parse_expiry("soon")
    Traceback (most recent call last):
    ...
    fieldreports.errors.SetupError: expiry "soon" not understood; write it like 12h, 7d or 3600.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise SetupError(f'expiry "{text}" not understood; write it like 12h, 7d or 3600.')
    return int(match.group(1)) * _UNITS_S[match.group(2) or "s"]


def _loudness(value: float | None) -> float | None:
    """A loudness figure for JSON: None when unknown or not finite (JSON has no infinity)."""
    return round(value, 1) if value is not None and math.isfinite(value) else None


def render_partners(episodes: Sequence[Episode], config: ShowConfig) -> bytes:
    """partners.json: one entry per episode, newest first, with everything an intro needs."""
    base_url = public_base_url(config)
    ordered = sorted(episodes, key=lambda e: (e.published_at, e.slug), reverse=True)
    audio = config.audio
    document: dict[str, Any] = {
        "show": config.show.title,
        "feed_url": join_url(base_url, "feed.xml"),
        "page_url": join_url(base_url, PARTNERS_PAGE_KEY),
        "masters": {
            "format": "Broadcast Wave Format (EBU Tech 3285 v2, PCM)",
            "sample_rate_hz": audio.master_sample_rate_hz,
            "bit_depth": audio.master_bit_depth,
            "channels": audio.master_channels,
            "target_lufs": audio.master_lufs,
            "max_true_peak_dbtp": audio.master_true_peak_dbtp,
            "standard": "EBU R 128",
        },
        "episodes": [_entry(e, base_url) for e in ordered],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _entry(episode: Episode, base_url: str) -> dict[str, Any]:
    master = episode.master_loudness
    return {
        "guid": episode.guid,
        "slug": episode.slug,
        "title": episode.title,
        "journey": episode.journey,
        "season": episode.season,
        "episode": episode.number,
        "reporter": episode.reporter,
        "place": episode.location.name if episode.location else "",
        "language": episode.language,
        "date": (episode.recorded_at or episode.published_at).date().isoformat(),
        "recorded_at": episode.recorded_at.isoformat() if episode.recorded_at else None,
        "published_at": episode.published_at.isoformat(),
        "duration_s": round(episode.duration_s, 3),
        "channels": episode.master_channels or None,
        "sample_rate_hz": episode.master_sample_rate_hz or None,
        "bit_depth": episode.master_bit_depth or None,
        "integrated_lufs": round(master.integrated_lufs, 1),
        "true_peak_dbtp": round(master.true_peak_dbtp, 1),
        "loudness_range_lu": round(master.range_lu, 1),
        "max_momentary_lufs": _loudness(master.max_momentary_lufs),
        "max_short_term_lufs": _loudness(master.max_short_term_lufs),
        "size_bytes": episode.master.size_bytes,
        "sha256": episode.master.sha256,
        "master_key": episode.master.key,
        "master_url": join_url(base_url, episode.master.key),
        "mp3_url": join_url(base_url, episode.audio.key),
        "image_url": join_url(base_url, episode.image.key) if episode.image else None,
        "notes": markdown_text(episode.notes_markdown),
        "transcripts": [
            {
                "language": t.language,
                "format": t.fmt,
                "content_type": t.content_type,
                "translated": t.translated,
                "url": join_url(base_url, t.key),
            }
            for t in episode.transcripts
        ],
    }


def render_partners_page(episodes: Sequence[Episode], config: ShowConfig) -> bytes:
    """partners/index.html: the same facts for a person, with relative links."""
    audio, show = config.audio, config.show
    ui = interface(show.language)
    words = page_text(ui)
    ordered = sorted(episodes, key=lambda e: (e.published_at, e.slug), reverse=True)
    title = words["title"].format(show=show.title)
    layout = words["mono"] if audio.master_channels == 1 else words["stereo"]
    intro = words["intro"].format(json=f'<a href="../{PARTNERS_KEY}">{PARTNERS_KEY}</a>')
    fmt = words["format"].format(
        rate=f"{audio.master_sample_rate_hz / 1000:g}",
        bits=audio.master_bit_depth,
        layout=layout,
        lufs=f"{audio.master_lufs:g}",
        peak=f"{audio.master_true_peak_dbtp:g}",
    )
    articles = "\n".join(_article(e, ui) for e in ordered) or f"<p>{escape(words['none'])}</p>"
    page = f"""<!doctype html>
<html lang="{escape(ui.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1b1b1b;background:#fff}}
a{{color:#0b57a4}}
article{{border-top:1px solid #ccc;padding:1rem 0}}
h2{{font-size:1.25rem;margin:.2rem 0}}
dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}}
dt{{font-weight:600}}
dd{{margin:0;overflow-wrap:anywhere}}
code{{font-size:.85rem}}
</style>
</head>
<body>
<header>
<p><a href="../index.html">{escape(words["back"])}</a></p>
<h1>{escape(title)}</h1>
<p>{intro}</p>
<p>{escape(fmt)}</p>
</header>
<main>
{articles}
</main>
</body>
</html>
"""
    return page.encode("utf-8")


def _article(episode: Episode, ui: Interface) -> str:
    words = page_text(ui)
    loud = episode.master_loudness
    when = episode.recorded_at or episode.published_at
    layout = {1: words["mono"], 2: words["stereo"]}.get(episode.master_channels, "")
    rows = [
        (words["journey"], escape(episode.journey)),
        (words["place"], escape(episode.location.name if episode.location else "")),
        (words["date"], escape(ui.format_date(when))),
        (words["duration"], escape(format_duration(episode.duration_s))),
        (
            words["layout"],
            escape(
                f"{layout}, {episode.master_sample_rate_hz / 1000:g} kHz, "
                f"{episode.master_bit_depth}-bit"
            )
            if layout
            else "",
        ),  # fmt: skip
        (
            words["loudness"],
            escape(
                words["loudness_value"].format(
                    lufs=f"{loud.integrated_lufs:.1f}",
                    peak=f"{loud.true_peak_dbtp:.1f}",
                    lra=f"{loud.range_lu:.1f}",
                )
            ),
        ),
        (words["sha256"], f"<code>{escape(episode.master.sha256)}</code>"),
    ]
    facts = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows if v)
    size = f"{episode.master.size_bytes / 1e6:.1f} MB"
    transcripts = " ".join(
        f'<a href="../{escape(t.key)}" hreflang="{escape(t.language)}">'
        f"{escape(transcript_name(t.fmt, t.language, t.translated, ui))}</a>"
        for t in episode.transcripts
    )
    notes = markdown_html(episode.notes_markdown)
    transcripts_label, notes_label = escape(words["transcripts"]), escape(words["notes"])
    transcripts_line = f"<p>{transcripts_label}: {transcripts}</p>" if transcripts else ""
    notes_block = f"<h3>{notes_label}</h3>{notes}" if notes else ""
    heading_id = f"p-{episode.slug}"
    return f"""<article id="{escape(episode.slug)}" aria-labelledby="{escape(heading_id)}">
<h2 id="{escape(heading_id)}">{escape(episode.title)}</h2>
<dl aria-label="{escape(words["facts"])}">{facts}</dl>
<p><a href="../{escape(episode.master.key)}" download>{escape(words["master"].format(size=size))}</a>
· <a href="../{escape(episode.audio.key)}">{escape(words["mp3"])}</a></p>
{transcripts_line}
{notes_block}
</article>"""


def presign_masters(
    config: ShowConfig,
    *,
    expires_s: int,
    storage: Storage | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The published partners.json with each master URL expiring after `expires_s` seconds:
    presigned by S3, or signed with the show's key for a local folder."""
    storage = storage or open_storage(config)
    published = storage.get(PARTNERS_KEY)
    if published is None:
        raise SetupError(
            f"no {PARTNERS_KEY} in the show's storage yet; run `fieldreports run "
            f"{config.show_dir}` first."
        )
    if not 1 <= expires_s <= MAX_PRESIGN_S:
        raise SetupError(f"--expires must be between 1 s and 7 days; {expires_s} s asked.")
    document = json.loads(published)
    now = now or dt.datetime.now(dt.UTC)
    document["expires_at"] = (now + dt.timedelta(seconds=expires_s)).isoformat(timespec="seconds")
    for entry in document.get("episodes", ()):
        entry["master_url"] = storage.presign(entry["master_key"], expires_s=expires_s)
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
