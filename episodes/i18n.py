"""The interface in the show's language: gettext catalogs, read with Babel, chosen by `[show] language`.

Every fixed text a visitor reads on a page we publish (the map's buttons and labels, the home
page's headings) is written in English in the code, wrapped in `_()`, and looked up in a gettext
catalog, one file per language:

    episodes/locale/<lang>/LC_MESSAGES/fieldreports.po

The `.po` files are read at run time with Babel (no compile step, nothing to build), once per
process. Dates are formatted by Babel in the same language. A page asks for its words like this:

    >>> ui = interface("nl")
    >>> _ = ui.gettext
    >>> _("Next")
    'Volgende'
    >>> ui.lang, interface("en").lang, interface("nl-BE").lang
    ('nl', 'en', 'nl-BE')
    >>> import datetime as dt
    >>> ui.format_date(dt.date(2022, 3, 14)), interface("en").format_date(dt.date(2022, 3, 14))
    ('14 maart 2022', '14 March 2022')

A show whose language has no catalog gets the English interface (and a warning); its `lang`
attributes then say "en", since that is the language of the words on the page.

Adding a language is one file: copy `episodes/locale/fieldreports.pot` to
`episodes/locale/<lang>/LC_MESSAGES/fieldreports.po`, fill in every `msgstr`, and set the header's
`Language` and `Plural-Forms`. `tests/episodes/test_i18n.py` checks that every catalog translates
every message the code uses. After changing the texts in the code, `make messages` (this
module's `update_catalogs()`) re-extracts them and merges them into every catalog.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

log = logging.getLogger(__name__)

DOMAIN = "fieldreports"
LOCALE_DIR = Path(__file__).parent / "locale"
SOURCE_LANGUAGE = "en"  # the language of the msgids in the code
# Where `update_catalogs` looks for messages: every package that renders a page.
SOURCE_DIRS = ("episodes", "maps")
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


@dataclass(frozen=True, slots=True)
class Interface:
    """The words and date formats of one interface language."""

    lang: str  # for lang="" attributes: a BCP 47 tag such as "nl" or "en-GB"
    locale: Locale  # Babel's, for dates and language names
    translations: Translations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def format_date(self, when: dt.date) -> str:
        """A day, written out: "14 March 2022", "14 maart 2022"."""
        return babel_format_date(when, format="long", locale=self.locale)

    def format_datetime(self, when: dt.datetime) -> str:
        """Day and time in `when`'s own offset (the local time where it was recorded).

        >>> tz = dt.timezone(dt.timedelta(hours=1))
        >>> interface("nl").format_datetime(dt.datetime(2022, 3, 14, 9, 40, tzinfo=tz))
        '14 maart 2022 om 09:40'
        """
        time = babel_format_time(when, format="short", tzinfo=when.tzinfo, locale=self.locale)
        return self.gettext("{date}, {time}").format(date=self.format_date(when), time=time)

    def language_name(self, code: str) -> str:
        """A language code as its name in this interface's language, or the code itself.

        >>> interface("nl").language_name("it"), interface("en").language_name("xx-nonsense")
        ('Italiaans', 'xx-nonsense')
        """
        try:
            locale = Locale.parse(code, sep="-" if "-" in code else "_")
        except (ValueError, UnknownLocaleError):
            return code
        return locale.get_display_name(self.locale) or code


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> tuple[str, ...]:
    """The languages with a catalog, e.g. ("en", "nl").

    >>> {"en", "nl"} <= set(languages())
    True
    """
    return tuple(
        sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    )


def _tag(language: str) -> tuple[str, str]:
    """`[show] language` as (catalog language, region): "nl-BE" -> ("nl", "BE").

    >>> _tag("nl-BE"), _tag("en_gb"), _tag(" NL "), _tag("")
    (('nl', 'BE'), ('en', 'GB'), ('nl', ''), ('', ''))
    """
    parts = re.split(r"[-_]", language.strip())
    base = parts[0].lower()
    region = parts[1].upper() if len(parts) > 1 and len(parts[1]) == 2 else ""
    return base, region


def catalog_language(language: str) -> str:
    """The catalog `[show] language` is read from: its own, else English.

    >>> catalog_language("nl-BE"), catalog_language("ar")
    ('nl', 'en')
    """
    base, _region = _tag(language)
    return base if base in languages() else SOURCE_LANGUAGE


@functools.cache
def interface(language: str) -> Interface:
    """The interface for `[show] language` ("nl", "en-GB"...), English when it has no catalog.

    A region in the tag ("nl-BE", "en-US") picks that region's date formats; a bare language
    takes the catalog's own (its header's `Language`, e.g. en_GB for English).
    """
    base, region = _tag(language)
    if base not in languages():
        if base:
            log.warning(
                "[show] language = %r has no interface catalog (%s): the map and pages are in "
                "English; add %s to translate them",
                language,
                ", ".join(languages()),
                catalog_path(base).relative_to(LOCALE_DIR.parent.parent),
            )
        base, region = SOURCE_LANGUAGE, ""
    catalog = _read(base)
    locale = catalog.locale or Locale.parse(base)
    if region:
        try:
            locale = Locale.parse(f"{base}_{region}")
        except (ValueError, UnknownLocaleError):
            region = ""
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as gettext does
    buffer.seek(0)
    return Interface(
        lang=f"{base}-{region}" if region else base,
        locale=locale,
        translations=Translations(fp=buffer, domain=DOMAIN),
    )


def _read(language: str) -> Catalog:
    with catalog_path(language).open("rb") as f:
        return read_po(f, locale=None, domain=DOMAIN)


# --- keeping the catalogs in step with the code (`make messages`, and the tests) -----------------


def extract_messages(root: Path = LOCALE_DIR.parent.parent) -> Catalog:
    """Every message the code passes to `_()`, `gettext()` or `ngettext()`, as a template."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    template = Catalog(domain=DOMAIN, project="fieldreports", fuzzy=False)
    for directory in SOURCE_DIRS:
        found = extract_from_dir(
            root / directory,
            method_map=[("**.py", "python")],
            keywords=DEFAULT_KEYWORDS,
            comment_tags=("Translators:",),
        )
        for filename, lineno, message, comments, context in found:
            template.add(
                message,
                None,
                [(f"{directory}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def placeholders(text: str) -> set[str]:
    """The `{name}` fields a message fills in, which every translation must keep.

    >>> sorted(placeholders("{position} of {count}"))
    ['count', 'position']
    """
    return set(_PLACEHOLDER.findall(text))


def catalog_messages(language: str) -> Iterator[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for every message in one catalog (not the header); a plural's
    forms are joined by newlines."""
    for message in _read(language):
        if message.id:
            yield _joined(message.id), _joined(message.string), message.fuzzy


def _joined(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return "\n".join(value) if all(value) else ""  # a plural counts when all its forms do
    return str(value or "")


def update_catalogs() -> list[Path]:
    """Re-extract the messages and merge them into the template and every catalog.

    New messages arrive untranslated (English gets its msgid as its translation); messages the
    code no longer uses are dropped. Returns the files written.
    """
    written = [LOCALE_DIR / f"{DOMAIN}.pot"]
    _write(written[0], extract_messages())
    for language in languages():
        catalog = _read(language)
        # A template of its own: update() adopts the template's message objects.
        catalog.update(extract_messages(), no_fuzzy_matching=True, update_creation_date=False)
        catalog.obsolete.clear()
        if language == SOURCE_LANGUAGE:
            for message in catalog:
                if message.id and not _joined(message.string):
                    message.string = message.id
        path = catalog_path(language)
        _write(path, catalog)
        written.append(path)
    return written


def _write(path: Path, catalog: Catalog) -> None:
    """Write a catalog, unless only its header's dates would change (no churn in git)."""
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=True, include_lineno=False)
    if not path.is_file() or _undated(path.read_bytes()) != _undated(buffer.getvalue()):
        path.write_bytes(buffer.getvalue())


def _undated(po: bytes) -> list[bytes]:
    return [
        line
        for line in po.splitlines()
        if not line.startswith((b'"POT-Creation-Date', b'"PO-Revision-Date'))
    ]


if __name__ == "__main__":  # `make messages`
    for written_path in update_catalogs():
        print(written_path)
