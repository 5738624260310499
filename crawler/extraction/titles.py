"""The headline of a page read without rules, from the several the page gives.

A page names its story in the JSON-LD ``headline``, ``og:title``,
``twitter:title``, the first ``<h1>`` and ``<title>``; they often differ (an
SEO headline, a kicker before a colon, the site's name after a separator).
The first found, in that order, is the headline, once a trailing site name
is removed from it: a separator (``|``, ``-``, ``–``, ``:``, ``｜``, ``：``, ...)
followed by a name of the publication (crawler/extraction/datelines.py), or
by anything when what precedes the separator is itself one of the page's
headlines. A headline cut short (``...``) gives way to a longer one that
starts with it. When ``<title>`` is the only candidate, the part of it the
page shows as a text of its own is the headline (:func:`part_shown`): an old
layout's ``Site - Headline`` with the headline in bold type and no ``<h1>``.

Pure functions over strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crawler.extraction.datelines import name_key
from crawler.extraction.text import normalize_text

# A separator between a headline and what a page appends to it.
_SEPARATOR = re.compile(r"\s+(?:\||-|–|—|·|•|\*|/|::)\s+|\s*(?:｜|：|\|)\s*|\s+--\s*|--")
_CUT = re.compile(r"\s*(\.\.\.|…)$")
_MIN_HEADLINE = 8  # characters: shorter heads are a kicker or a section name


def without_site_suffix(title: str, headlines: set[str], names: list[str]) -> str:
    """``Headline | Site`` -> ``Headline``; a title that appends nothing known is kept."""
    keys = [k for k in (name_key(n) for n in names) if len(k) >= 3]
    for match in _SEPARATOR.finditer(title):
        head, rest = title[: match.start()].strip(), title[match.end() :]
        if len(head) < _MIN_HEADLINE:
            continue
        rest_key = name_key(rest)
        if head in headlines or (rest_key and any(k in rest_key for k in keys)):
            return head
    return title


def choose_headline(candidates: list[str], names: list[str]) -> str | None:
    """The headline among a page's candidates, best source first."""
    found = [t for t in (normalize_text(c) for c in candidates) if t]
    if not found:
        return None
    headlines = set(found)
    cleaned = [without_site_suffix(t, headlines - {t}, names) for t in found]
    chosen = cleaned[0]
    stem = _CUT.sub("", chosen)
    # Cut short: a longer headline that goes on from it, mid-sentence, wins.
    for other in cleaned:
        rest = other[len(stem) :]
        if (
            other != chosen
            and other.startswith(stem)
            and (stem != chosen or rest[:2].strip().islower())
        ):
            return other
    return chosen


def part_shown(title: str, shown: Callable[[str], bool]) -> str | None:
    """Of a ``<title>`` cut by separators (``Site - Headline``), the longest
    part the page also shows as the whole text of an element: the headline,
    when the page has no other (no ``<h1>``, no metadata) and puts its name
    first. None when no part is shown."""
    parts = [p.strip() for p in _SEPARATOR.split(title)]
    parts = [p for p in parts if len(p) >= _MIN_HEADLINE]
    if len(parts) < 2:
        return None
    return next((p for p in sorted(parts, key=len, reverse=True) if shown(p)), None)
