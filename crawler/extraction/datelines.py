"""The publication's own name, and a body's leading dateline that is only that name.

Many sites open every story with their own name ("PanARMENIAN.Net - U.S.
Secretary of State ..."), which is no part of the text. A page names its
publication in several places: ``og:site_name``, the JSON-LD ``publisher``,
the ``<title>`` after the headline ("Headline - DemoNews") and the host
(``www.panarmenian.net``). A leading dateline whose words are one of those
names is removed; any other dateline, such as a place and an agency
(``KATHMANDU, April 25 (Reuters) -``), is part of the text and stays.

Pure functions over a parsed :class:`~crawler.extraction.page.Page`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from crawler.extraction.page import Page, jsonld_values
from crawler.extraction.text import normalize_text

# "NAME - ", "(NAME) — ", "NAME: ", "NAME | " at the very start of the body.
_LEADING_NAME = re.compile(r"^\(?(?P<name>[^\s()][^()\n]{0,58}?)\)?\s*(?:-|–|—|:|\|)\s+")
_TITLE_SEPARATOR = re.compile(r"\s+(?:\||–|—|-|::|·|•)\s+")
_MIN_KEY = 3  # shorter names ("AP") are too easily a word of the text


def name_key(name: str) -> str:
    """A name reduced to its letters and digits, case-folded: ``PanARMENIAN.Net``
    and ``panarmenian.net`` are the same name."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def publication_names(page: Page, headline: str | None = None) -> list[str]:
    """The names the page gives its publication, best first."""
    sel = page.selector
    names = [sel.xpath('//meta[@property="og:site_name"]/@content').get() or ""]
    names += jsonld_values(page, "publisher.name")
    names.append(_title_suffix(sel.xpath("//title/text()").get() or "", headline))
    host = (urlsplit(page.url).hostname or "").lower().removeprefix("www.")
    if host and not host.replace(".", "").isdigit():  # an address is no name
        names += [host, *host.split(".")[:-1]]  # panarmenian.net, panarmenian
    return list(dict.fromkeys(n for n in (normalize_text(x) for x in names) if n))


def _title_suffix(title: str, headline: str | None) -> str:
    """``Headline - Site`` -> ``Site``: what follows the headline, else the last
    part after a separator."""
    title = normalize_text(title)
    headline = normalize_text(headline or "")
    if headline and title.startswith(headline) and len(title) > len(headline):
        rest = title[len(headline) :]
        if match := _TITLE_SEPARATOR.match(rest):
            return rest[match.end() :]
    parts = _TITLE_SEPARATOR.split(title)
    return parts[-1] if len(parts) > 1 else ""


def without_own_dateline(body: str, names: list[str]) -> str:
    """The body without a leading dateline that is one of the publication's names."""
    keys = {k for k in (name_key(n) for n in names) if len(k) >= _MIN_KEY}
    match = _LEADING_NAME.match(body)
    if not keys or match is None or name_key(match.group("name")) not in keys:
        return body
    rest = body[match.end() :]
    return rest if rest.strip() else body
