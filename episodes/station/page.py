"""`/upload`: the page a reporter opens on a phone to send a report and follow it.

The page records in the browser (MediaRecorder) or takes a file, asks for the notes (title,
place, journey, language, what happened, and "sensitive: hide the exact place"), writes them as
a notes file with YAML front matter, and sends notes first, then the recording, with
tus-js-client to the station's `/files/`. Everything it needs is served from here (`assets/`):
it makes no request to another site. What it keeps on the phone (IndexedDB: the recording and
the form until both files are sent; tus-js-client's upload URLs in localStorage) lets it resume
after a dropped connection, a reload or a night offline. Then it asks `/api/reports/<id>` how
the report is doing and shows it: received, mastering, transcribing, published (with links) or
failed (with the reason and what to do; a report that failed on its notes can have them fixed
and sent again alone, with `replace`).

The reporter's key comes in the link `reporters add` prints, after `#key=`: a fragment never
reaches a server or its logs. The page keeps it on the phone and removes it from the address bar.

Its fixed text is in the show's language: `page_text` looks it up in the message catalogs
(`episodes.i18n`), and the script gets the same words with its settings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from episodes.i18n import Interface, interface
from fieldreports.config import ShowConfig
from fieldreports.intake.notes import MAX_NOTES_BYTES

ASSETS = Path(__file__).parent / "assets"
TUS_CLIENT = "tus-js-client-4.3.1/tus.min.js"
# One tus PATCH carries this much: a chunk lost with a dropped connection costs little, and the
# server keeps whatever part of it arrived anyway.
CHUNK_BYTES = 256 * 1024

# Languages offered for the notes' `language` hint (Whisper's codes), named in the interface's
# language by Babel; the first choice, "", lets Whisper find out.
LANGUAGES = (
    "ar", "bg", "de", "el", "en", "es", "fa", "fr", "hr", "hu", "it", "ku", "nl", "pl", "ps",
    "ro", "ru", "so", "sr", "tr", "uk", "ur",
)  # fmt: skip


def page_text(ui: Interface) -> dict[str, str]:
    """The page's fixed text in the show's language (`episodes.i18n`), by key; the script
    gets it too."""
    _ = ui.gettext
    return {
        "page_title": _("Send a report"),
        "key_heading": _("Your upload key"),
        "key_intro": _(
            "Open the link the desk sent you, or paste the key from it here. It stays on "
            "this phone."
        ),
        "key_label": _("Upload key"),
        "key_save": _("Save the key"),
        "key_missing": _("This phone has no upload key yet: open the link the desk sent you."),
        "key_wrong": _(
            "The desk does not accept this key (wrong, or revoked). Ask the desk for a new link."
        ),
        "recording_legend": _("Recording"),
        "record": _("Record"),
        "stop": _("Stop recording"),
        "recording_now": _("Recording… {time}"),
        "recorded": _("Recorded {time}. Listen to it below, or record again."),
        "no_microphone": _("This browser cannot record here. Choose a file instead."),
        "microphone_refused": _(
            "The microphone was not allowed. Allow it in the browser's settings, or choose a file."
        ),
        "file_label": _("Or choose a recording"),
        "title_label": _("Title"),
        "title_help": _("What listeners see first, like “Waiting at the harbour”."),
        "place_label": _("Place"),
        "place_help": _("A town, border crossing or camp, like “Lampedusa”."),
        "journey_label": _("Journey"),
        "journey_help": _("The trip this report belongs to, like “Border Reached! 2022”."),
        "language_label": _("Language spoken"),
        "language_auto": _("Find out from the recording"),
        "notes_label": _("Notes"),
        "notes_help": _(
            "What happened, who speaks, anything the desk should know. Published with the episode."
        ),
        "sensitive_label": _("Sensitive: hide the exact place"),
        "sensitive_help": _(
            "On: the map and the feed give only the nearest town or a 10 km area. "
            "Leave it on when anyone could be put at risk."
        ),
        "send": _("Send the report"),
        "fix_notes": _("Fix the notes"),
        "send_fix": _("Send the fixed notes"),
        "cancel_fix": _("Cancel"),
        "fixing": _("Fixing the notes of “{title}”: the recording is at the desk already."),
        "need_recording": _("Record something or choose a recording first."),
        "need_title": _("Give the report a title."),
        "too_big": _("This recording is {size}; the desk takes at most {max}."),
        "notes_too_long": _("The notes are too long; keep them under {max}."),
        "reports_heading": _("Your reports"),
        "no_reports": _("No reports sent from here yet."),
        "offline": _("No connection. Reports are kept on this phone and sent when it is back."),
        "local_saved": _("Saved on this phone; sending soon."),
        "local_waiting": _("Waiting for a connection. Kept on this phone."),
        "local_station_says": _(
            "The station cannot take it now: {reason} Kept on this phone; it is sent again by "
            "itself."
        ),
        "local_sending_notes": _("Sending the notes…"),
        "local_sending": _("Sending the recording: {percent}%"),
        "local_refused": _("The desk refused it: {reason}"),
        "local_need_key": _("Waiting for a valid upload key (see above). Kept on this phone."),
        "local_unreadable": _(
            "The recording can no longer be read on this phone (moved or deleted?). Choose it "
            "again and send the report anew, then remove this one."
        ),
        "no_room": _(
            "This phone has no room left to keep the report until it is sent. Free some space, "
            "or send a shorter recording."
        ),
        "local_sent": _("Sent."),
        "state_received": _("Received"),
        "state_waiting-for-notes": _("Waiting for the notes"),
        "state_mastering": _("Mastering"),
        "state_transcribing": _("Transcribing"),
        "state_published": _("Published"),
        "state_failed": _("Failed"),
        "reason": _("Why: {reason}"),
        "what_to_do": _("What to do: {what}"),
        "link_episode": _("Listen to the episode"),
        "link_page": _("Its page"),
        "link_map": _("Its stop on the map"),
        "place_published": _("Shown as: {place}"),
        "retry": _("Try again now"),
        "remove": _("Remove from this list"),
    }


def settings_for(config: ShowConfig, ui: Interface) -> dict[str, Any]:
    """What the page's script needs to know, as JSON inside the page."""
    return {
        "endpoint": "files/",
        "api": "api/reports",
        "chunkSize": CHUNK_BYTES,
        "maxSizeBytes": config.uploads.max_size_bytes,
        "maxNotesBytes": MAX_NOTES_BYTES,
        "sensitiveByDefault": config.show.sensitive_by_default or config.geotag.sensitive,
        "pollSeconds": 5,
        "text": page_text(ui),
    }


def render_page(config: ShowConfig, *, journeys: Sequence[str] = ()) -> str:
    """The page's HTML in the show's language; its settings as JSON for the script. `journeys`
    (published ones, newest first) are offered as the journey field's suggestions."""
    ui = interface(config.show.language)
    t = {key: escape(value) for key, value in page_text(ui).items()}
    values = settings_for(config, ui)
    settings = json.dumps(values, ensure_ascii=False).replace("<", "\\u003c")
    checked = " checked" if values["sensitiveByDefault"] else ""
    named = sorted(((ui.language_name(code), code) for code in LANGUAGES), key=lambda n: n[0])
    options = f'<option value="">{t["language_auto"]}</option>' + "".join(
        f'<option value="{code}">{escape(name)}</option>' for name, code in named
    )
    suggestions = "".join(f'<option value="{escape(name)}">' for name in journeys)
    show = escape(config.show.title)
    return f"""<!doctype html>
<html lang="{escape(ui.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{t["page_title"]} · {show}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="upload/assets/upload.css">
<script type="application/json" id="settings">{settings}</script>
<script src="upload/assets/{TUS_CLIENT}" defer></script>
<script src="upload/assets/upload.js" defer></script>
</head>
<body>
<main>
<header>
<h1>{t["page_title"]}</h1>
<p class="show">{show}</p>
<p id="connection" class="connection" role="status" aria-live="polite"></p>
</header>

<section id="key-section" aria-labelledby="key-heading" hidden>
<h2 id="key-heading">{t["key_heading"]}</h2>
<p id="key-message" role="status">{t["key_intro"]}</p>
<form id="key-form">
<label for="key">{t["key_label"]}</label>
<input id="key" name="key" type="password" autocomplete="off" autocapitalize="off" spellcheck="false" required>
<button type="submit">{t["key_save"]}</button>
</form>
</section>

<form id="report-form" novalidate>
<p id="fixing" class="help" role="status" hidden></p>
<fieldset id="recording-fields">
<legend>{t["recording_legend"]}</legend>
<button type="button" id="record" class="record" aria-pressed="false">{t["record"]}</button>
<p id="record-status" class="help" aria-live="polite"></p>
<audio id="preview" controls hidden></audio>
<label for="file">{t["file_label"]}</label>
<input id="file" name="file" type="file" accept="audio/*,video/*,.m4a,.mp3,.wav,.ogg,.opus,.flac,.amr,.3gp,.aac,.webm">
</fieldset>

<label for="title">{t["title_label"]}</label>
<input id="title" name="title" type="text" maxlength="200" required aria-describedby="title-help">
<p id="title-help" class="help">{t["title_help"]}</p>

<label for="place">{t["place_label"]}</label>
<input id="place" name="place" type="text" maxlength="200" aria-describedby="place-help">
<p id="place-help" class="help">{t["place_help"]}</p>

<label for="journey">{t["journey_label"]}</label>
<input id="journey" name="journey" type="text" maxlength="200" list="journeys" aria-describedby="journey-help">
<datalist id="journeys">{suggestions}</datalist>
<p id="journey-help" class="help">{t["journey_help"]}</p>

<label for="language">{t["language_label"]}</label>
<select id="language" name="language">{options}</select>

<label for="notes">{t["notes_label"]}</label>
<textarea id="notes" name="notes" rows="6" aria-describedby="notes-help"></textarea>
<p id="notes-help" class="help">{t["notes_help"]}</p>

<div class="switch">
<input id="sensitive" name="sensitive" type="checkbox" role="switch"{checked} aria-describedby="sensitive-help">
<label for="sensitive">{t["sensitive_label"]}</label>
</div>
<p id="sensitive-help" class="help">{t["sensitive_help"]}</p>

<p id="form-error" class="error" role="alert"></p>
<button type="submit" id="send" class="send">{t["send"]}</button>
<button type="button" id="cancel-fix" class="secondary" hidden>{t["cancel_fix"]}</button>
</form>

<section aria-labelledby="reports-heading">
<h2 id="reports-heading">{t["reports_heading"]}</h2>
<p id="no-reports" class="help">{t["no_reports"]}</p>
<ol id="reports" class="reports"></ol>
</section>
</main>
</body>
</html>
"""


# What the page may load and where it may connect: its own origin only. `blob:` plays back a
# recording before it is sent.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}


def page_response(config: ShowConfig, *, journeys: Sequence[str] = ()) -> Response:
    return HTMLResponse(render_page(config, journeys=journeys), headers=PAGE_HEADERS)


_ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def asset_response(request: Request) -> Response:
    """One of the page's own files; the vendored ones never change under their versioned name."""
    name = request.path_params["name"]
    parts = name.split("/")
    path = ASSETS.joinpath(*parts)
    if any(p.startswith(".") or not p for p in parts) or path.suffix not in _ASSET_TYPES:
        return PlainTextResponse("File not found\n", status_code=404)
    if not path.is_file():
        return PlainTextResponse("File not found\n", status_code=404)
    cache = "public, max-age=31536000, immutable" if len(parts) > 1 else "no-cache"
    return FileResponse(
        path,
        media_type=_ASSET_TYPES[path.suffix],
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )
