"""The interface's language: French or English, through the standard library's gettext.

Messages are written in English in the source and wrapped: ``_("…")`` (``ngettext`` for a
count, ``pgettext`` for a word that means different things in different places, ``N_`` to mark
a text that is translated later, where it is shown). The French catalog is compiled in the
package (``locale/fr/LC_MESSAGES/ctg_exchange.mo``, built by ``tools/catalog.py``, which a test
keeps current and complete), so nothing but :mod:`gettext` runs at start-up.

The language is ``CTG_LANG`` (``fr`` or ``en``) when set, else the locale's (``LC_ALL``, then
``LC_MESSAGES``, then ``LANG``, as POSIX reads them): French when it starts with ``fr``,
English otherwise. It is read at each call, so one process can answer in both. Inside
:func:`in_language` it is the one given: a server answers each call in its caller's language
(``Accept-Language``), and a text that is signed into the log is made in English whatever the
locale, so that two copies of the tool in two languages make the same bytes.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import os
from collections.abc import Iterator
from contextvars import ContextVar

DOMAIN = "ctg_exchange"
LOCALE_DIR = os.path.join(os.path.dirname(__file__), "locale")  # os.path: pathlib costs --help
LANGUAGES = ("en", "fr")


_CHOSEN: ContextVar[str | None] = ContextVar("ctg_language", default=None)


@contextlib.contextmanager
def in_language(lang: str) -> Iterator[None]:
    """Messages in ``lang`` (``fr`` or ``en``) within the block, in this thread or task."""
    assert lang in LANGUAGES, lang
    token = _CHOSEN.set(lang)
    try:
        yield
    finally:
        _CHOSEN.reset(token)


def accepted(header: str | None) -> str | None:
    """The language an ``Accept-Language`` header prefers among ours, or None: the first
    listed with a weight above zero (``fr-FR,fr;q=0.9,en;q=0.5`` -> ``fr``)."""
    ranked = []
    for position, item in enumerate((header or "").split(",")):
        tag, _sep, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else None


def language() -> str:
    """``fr`` or ``en``: the one :func:`in_language` set, else ``CTG_LANG`` if it names one,
    else the locale's."""
    chosen = _CHOSEN.get() or os.environ.get("CTG_LANG", "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


CLICK = "click"  # click's own messages (usage errors, prompts), in a catalog of their own


_LOADED: set[tuple[str, str]] = set()


@functools.cache
def catalog(lang: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: the messages as written)."""
    if lang == "en":
        return gettext.NullTranslations()
    _LOADED.add((lang, domain))
    return gettext.translation(domain, LOCALE_DIR, languages=[lang], fallback=True)


def loaded(lang: str, domain: str = DOMAIN) -> bool:
    """Whether this process has read ``lang``'s catalog: until then no text in it was made."""
    return (lang, domain) in _LOADED


def _(message: str) -> str:
    return catalog(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalog(language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return catalog(language()).pgettext(context, message)


def click_gettext(message: str) -> str:
    """A message click writes itself (``Usage:``, ``No such option``…) in the current language."""
    return catalog(language(), CLICK).gettext(message)


def click_ngettext(singular: str, plural: str, n: int) -> str:
    return catalog(language(), CLICK).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the name extraction tools look for
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


def is_french() -> bool:
    return language() == "fr"


_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


def date_text(day: object) -> str:
    """A date as a sentence shows it: ``2026-12-07`` in English, ``7 décembre 2026`` in
    French (``1er`` for the first of a month). ``day`` is a :class:`datetime.date` or an ISO
    date ``YYYY-MM-DD``; anything else is shown as given."""
    import datetime as dt

    if isinstance(day, dt.datetime):
        day = day.date()
    if isinstance(day, str):
        try:
            day = dt.date.fromisoformat(day)
        except ValueError:
            return str(day)
    if not isinstance(day, dt.date):
        return str(day)
    if not is_french():
        return day.isoformat()
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS[day.month - 1]} {day.year}"


def short_date(day: object) -> str:
    """A date as a table column shows it: ``2026-12-07``, or ``07/12/2026`` in French."""
    import datetime as dt

    if isinstance(day, str):
        try:
            day = dt.date.fromisoformat(day)
        except ValueError:
            return str(day)
    if isinstance(day, dt.datetime):
        day = day.date()
    if not isinstance(day, dt.date):
        return str(day)
    return f"{day:%d/%m/%Y}" if is_french() else day.isoformat()
