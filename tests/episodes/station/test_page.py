"""The upload page as the station renders it: the show's language, its settings, no way out of
its script block."""

from __future__ import annotations

import json
import re
from pathlib import Path

from episodes.station.page import render_page
from tests.support.episodes import show_config


def settings_of(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="settings">(.*?)</script>', html, re.S)
    assert block
    return dict(json.loads(block.group(1)))


def test_a_dutch_show_gets_a_dutch_page(tmp_path: Path) -> None:
    html = render_page(show_config(tmp_path / "s", show={"language": "nl"}))
    assert '<html lang="nl">' in html and "Een verslag sturen" in html
    assert settings_of(html)["text"]["state_published"] == "Gepubliceerd"
    assert '<option value="ar">Arabisch</option>' in html


def test_the_sensitive_switch_follows_the_show(tmp_path: Path) -> None:
    plain = render_page(show_config(tmp_path / "a"))
    careful = render_page(show_config(tmp_path / "b", show={"sensitive_by_default": True}))
    assert (
        'role="switch" aria-describedby' in plain
        and "checked" not in plain.split('id="sensitive"')[1][:60]
    )
    assert "checked" in careful.split('id="sensitive"')[1][:60]
    assert settings_of(careful)["sensitiveByDefault"] is True


def test_a_show_title_cannot_close_the_settings_script(tmp_path: Path) -> None:
    title = 'Border </script><script>alert(1)</script> "Reached"'
    html = render_page(show_config(tmp_path / "s", show={"title": title}))
    assert html.count("<script") == 3  # settings, tus-js-client, the page's own
    assert "alert(1)</script>" not in html


def test_published_journeys_are_offered_as_typed_before(tmp_path: Path) -> None:
    html = render_page(show_config(tmp_path / "s"), journeys=("Balkans 2024", 'Greece "2023"'))
    assert 'list="journeys"' in html
    datalist = html.split('<datalist id="journeys">')[1].split("</datalist>")[0]
    assert datalist == '<option value="Balkans 2024"><option value="Greece &quot;2023&quot;">'
