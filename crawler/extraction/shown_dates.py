"""The publication time a page shows its readers, to the minute.

Metadata often carries only a date (or none), while the page prints the
time beside the headline: ``September 20, 2021 - 14:35 AMT``,
``20.09.2021, 14:35 Uhr``. :func:`shown_date` finds that text: the ``<time>``
elements first, then the short texts nearest the first ``<h1>`` that hold
both a year and a time of day (nearest the element showing the headline
on a page without ``<h1>``), read in the site's languages. It returns the
date text as found (cleaning reads it with the site's time zone), never a
date without a time.

Pure functions over a parsed :class:`~crawler.extraction.page.Page`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from crawler.extraction.dates import read_date
from crawler.extraction.page import Page
from crawler.extraction.text import SKIP_TAGS, normalize_text

_TIME = re.compile(
    r"(?<![\d.:])(?:[01]?\d|2[0-3])(?::|h)[0-5]\d(?![\d])(?:\s*(?:[ap]\.?m\.?|uhr|h)\b)?"
    r"|(?<![\d.:])\d{1,2}(?:[.:]\d{2})?\s*(?:[ap]\.?m\.?|uhr)(?!\w)",
    re.IGNORECASE,
)
_DATE = re.compile(r"(?<!\d)(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|(?:19|20)\d{2})(?!\d)")
_ZONE_AFTER = re.compile(r"\s*(?:[A-Z]{2,5}|GMT[+-]\d{1,2}|UTC[+-]\d{1,2})\b")
MAX_TEXT = 120  # a date line is short; longer texts are running text
NEAR_HEADLINE = 250  # elements before and after the <h1> looked at
MAX_WORDS_BEFORE = 4  # words before the year or time that may belong to the date


def shows_time(text: str) -> bool:
    """Does the text hold a time of day?"""
    return bool(_TIME.search(text))


def shown_date(
    page: Page, languages: list[str] | None = None, headline: str | None = None
) -> str | None:
    """The date-and-time text the page shows for its publication, or None."""
    found = shown_date_line(page, languages, headline)
    return found[1] if found else None


def shown_date_line(
    page: Page, languages: list[str] | None = None, headline: str | None = None
) -> tuple[str, str] | None:
    """The short text that shows the publication's date and time, and that
    date-and-time part of it (``01 May 2024, 10:35 · Jane Doe``,
    ``01 May 2024, 10:35``), or None. Without an ``<h1>``, the element
    whose text is ``headline`` (the page's headline found elsewhere, say in
    ``<title>``) is where the page's date line is looked for."""
    for text in _candidates(page, headline):
        found = _date_in(text, languages)
        if found:
            return text, found
    return None


def date_lines(page: Page, headline: str | None = None) -> Iterator[str]:
    """The short texts that may show the publication's date, nearest the
    headline first (``<time>`` elements, then texts with a year and a time
    of day), unread."""
    return _candidates(page, headline)


def _candidates(page: Page, headline: str | None) -> Iterator[str]:
    root = page.selector.root
    for el in root.iter("time"):
        yield _short_text(el)
    elements = [el for el in root.iter() if isinstance(el.tag, str) and el.tag not in SKIP_TAGS]
    at = next((i for i, el in enumerate(elements) if el.tag == "h1"), None)
    if at is None and headline:
        at = next(
            (
                i
                for i, el in enumerate(elements)
                if el.tag not in ("a", "title") and _short_text(el) == headline
            ),
            None,
        )
    if at is None:
        return
    nearest = sorted(
        range(max(0, at - NEAR_HEADLINE), min(len(elements), at + NEAR_HEADLINE)),
        key=lambda i: (abs(i - at), i < at),
    )
    for i in nearest:
        text = _short_text(elements[i])
        if text and _DATE.search(text) and _TIME.search(text):
            yield text


def _short_text(el: Any) -> str:
    """The element's text when it is short, else ``""``."""
    parts: list[str] = []
    size = 0
    for part in el.itertext():
        size += len(part)
        if size > 4 * MAX_TEXT:
            return ""
        parts.append(part)
    text = normalize_text(" ".join(parts))
    return text if len(text) <= MAX_TEXT else ""


def _date_in(text: str, languages: list[str] | None) -> str | None:
    """The part of a short text that reads as a date with a time of day."""
    time, date = _TIME.search(text), _DATE.search(text)
    if time is None or date is None:
        return None
    start, end = min(time.start(), date.start()), max(time.end(), date.end())
    zone = _ZONE_AFTER.match(text, end)
    ends = [zone.end(), end] if zone else [end]
    words = list(re.finditer(r"\S+", text[:start]))
    # A label ("Posted:", "erstellt:") ends what may belong to the date.
    labels = [i for i, w in enumerate(words) if w.group().endswith(":")]
    words = words[labels[-1] + 1 :] if labels else words
    starts = [w.start() for w in words][-MAX_WORDS_BEFORE:]
    if not date.group().isdigit():
        # A whole numeric date (14.01.2024): the words before it (a label, a
        # weekday) add nothing to it.
        starts = []
    for left in [*starts, start]:
        for right in ends:
            candidate = text[left:right].strip(" ,|-–—:")
            parsed = read_date(candidate, languages=languages)
            if parsed is not None and not parsed.date_only and _year_agrees(parsed, candidate):
                return candidate
    return None


def _year_agrees(parsed: Any, text: str) -> bool:
    """A reading that kept the text's year (dateparser guesses freely)."""
    years = {int(y) for y in re.findall(r"(?<!\d)(?:19|20)\d{2}(?!\d)", text)}
    # Read as UTC, the first hours of a year may be the last of the one before.
    return not years or any(abs(parsed.value.year - y) <= 1 for y in years)
