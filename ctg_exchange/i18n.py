"""The interface's language: French or English, through the standard library's gettext.

Messages are written in English in the source and wrapped: ``_("…")`` (``ngettext`` for a
count, ``pgettext`` for a word that means different things in different places, ``N_`` to mark
a text that is translated later, where it is shown). The French catalog is compiled in the
package (``locale/fr/LC_MESSAGES/ctg_exchange.mo``, built by ``tools/catalog.py``, which a test
keeps current and complete), so nothing but :mod:`gettext` runs at start-up.

The language is ``CTG_LANG`` (``fr`` or ``en``) when set, else the locale's (``LC_ALL``, then
``LC_MESSAGES``, then ``LANG``, as POSIX reads them): French when it starts with ``fr``,
English otherwise. It is read at each call, so one process can answer in both.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

DOMAIN = "ctg_exchange"
LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "fr")


def language() -> str:
    """``fr`` or ``en``: ``CTG_LANG`` if it names one, else the locale's."""
    chosen = os.environ.get("CTG_LANG", "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


@functools.cache
def catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: the messages as written)."""
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def _(message: str) -> str:
    return catalog(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalog(language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return catalog(language()).pgettext(context, message)


def N_(message: str) -> str:  # noqa: N802 - the name extraction tools look for
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


def is_french() -> bool:
    return language() == "fr"
