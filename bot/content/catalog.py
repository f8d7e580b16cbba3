"""Gettext catalogs of the content pack, loaded straight from their .po files."""

from __future__ import annotations

import gettext
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


def read_catalog(path: Path, lang: str) -> Catalog:
    """The catalog in a .po file; `lang` may be a code Babel has no data for."""
    with path.open("rb") as fh:
        try:
            return read_po(fh, locale=lang)
        except UnknownLocaleError:
            fh.seek(0)
            return read_po(fh)


def translations(catalog: Catalog) -> gettext.NullTranslations:
    """Gettext translations built in memory from a catalog (no compiled .mo needed)."""
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf)


def missing(catalog: Catalog, msgids: set[str]) -> list[str]:
    """The message ids of `msgids` that a catalog lacks, leaves empty or marks fuzzy."""
    out = []
    for msgid in sorted(msgids):
        message = catalog.get(msgid)
        strings = () if message is None else (
            message.string if isinstance(message.string, tuple) else (message.string,))
        if message is None or message.fuzzy or not all(strings):
            out.append(msgid)
    return out


def autonym(lang: str, fallback: str = "") -> str:
    """A language's name in itself ("Español"), from CLDR where Babel knows it."""
    try:
        name = Locale.parse(lang).get_display_name(lang) or ""
    except (UnknownLocaleError, ValueError):
        name = ""
    name = name or fallback or lang
    return name[:1].upper() + name[1:]


def formatting_locale(lang: str, fallback: str) -> str:
    """The locale Babel formats dates with: `lang`, or `fallback` where Babel lacks it."""
    try:
        Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return fallback
    return lang
