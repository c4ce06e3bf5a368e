"""The interface catalogs: complete, in step with the code, and one file per language."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tomllib
from pathlib import Path

import pytest

from episodes import i18n
from episodes.i18n import (
    SOURCE_LANGUAGE,
    catalog_messages,
    extract_messages,
    interface,
    languages,
    placeholders,
)
from tests.support import ROOT


def test_english_and_dutch_ship() -> None:
    assert {"en", "nl"} <= set(languages())


@pytest.mark.parametrize("language", languages())
def test_every_catalog_translates_every_message_the_code_uses(language: str) -> None:
    used = {
        "\n".join(m.id) if isinstance(m.id, tuple) else m.id for m in extract_messages() if m.id
    }
    assert len(used) > 30
    catalog = {msgid: (msgstr, fuzzy) for msgid, msgstr, fuzzy in catalog_messages(language)}
    assert sorted(used - catalog.keys()) == [], "missing: run make messages, then translate"
    assert sorted(catalog.keys() - used) == [], "no longer used: run make messages"
    for msgid, (msgstr, fuzzy) in catalog.items():
        assert msgstr and not fuzzy, f"{language}: {msgid!r} is untranslated"
        assert placeholders(msgstr) == placeholders(msgid), f"{language}: {msgid!r} -> {msgstr!r}"


def test_the_dutch_catalog_is_dutch() -> None:
    same = {m for m, s, _ in catalog_messages("nl") if m == s}
    # only texts that read the same in both languages
    assert same == {"{format} ({language})", "mono", "stereo"}


def test_words_and_dates_in_the_show_language() -> None:
    when = dt.datetime(2022, 3, 14, 9, 40, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    nl, en = interface("nl"), interface("en")
    assert nl.gettext("Play the journey") == "Speel de reis af"
    assert nl.format_datetime(when) == "14 maart 2022 om 09:40"  # the recording's own offset
    assert en.format_datetime(when) == "14 March 2022, 09:40"
    assert interface("en-US").format_datetime(when) == "March 14, 2022, 9:40\u202fAM"
    assert interface("nl-BE").lang == "nl-BE" and interface("NL").lang == "nl"
    assert en.gettext("a text no catalog has") == "a text no catalog has"


def test_a_language_without_a_catalog_gets_english_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        ui = interface("ar")
    assert ui.lang == "en" and ui.gettext("Next") == "Next"
    assert "no interface catalog" in caplog.text and "ar/LC_MESSAGES/fieldreports.po" in caplog.text


def test_adding_a_language_is_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, locale)
    german = locale / "de" / "LC_MESSAGES" / "fieldreports.po"
    german.parent.mkdir(parents=True)
    template = (locale / "fieldreports.pot").read_text(encoding="utf-8")
    german.write_text(
        template.replace('"Language-Team', '"Language: de\\n"\n"Language-Team').replace(
            'msgid "Next"\nmsgstr ""', 'msgid "Next"\nmsgstr "Weiter"'
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    interface.cache_clear()
    try:
        assert "de" in languages()
        ui = interface("de")
        assert ui.lang == "de" and ui.gettext("Next") == "Weiter"
        assert ui.format_date(dt.date(2022, 3, 14)) == "14. März 2022"
        assert ui.gettext("Previous") == "Previous"  # untranslated: the English text
    finally:
        interface.cache_clear()


def test_the_catalogs_are_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["episodes"]
    base = ROOT / "episodes"
    shipped = {p for g in globs for p in base.glob(g)}
    for language in languages():
        assert i18n.catalog_path(language) in shipped
    assert i18n.LOCALE_DIR / "fieldreports.pot" in shipped
    assert SOURCE_LANGUAGE in languages()
