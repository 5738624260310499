"""Authors read without rules: the names in what a page declares as its byline.

Pages put more than names in their author fields: an e-mail address, a
user number, photo credits, a description after the name, a label
("Autor", "By").
:func:`author_names` keeps the names of people from one source's values:

- a value is split at commas and semicolons, except a ``Last, First`` pair
  of single words (``Brazil, Rachel``), which is turned round;
- a leading label (``By``, ``Von``, ``Autor:``, ``Par``, ...) and trailing
  initials in parentheses (``Elena Oberholzer (obe)``) are removed;
- addresses, numbers, credits (``(Image: ...)``) and descriptions of more
  than six words are dropped.

Generic extraction takes the first source whose values keep a name; when
they are only the publication's own names (``STERN.de``, ``LTO``), the
people of the page's visible byline (:func:`byline_names`), if it names any.
"""

from __future__ import annotations

import re

from crawler.extraction.datelines import name_key
from crawler.extraction.page import Page
from crawler.extraction.text import normalize_text

_LABEL = re.compile(
    r"^(?:(?:written by|by|von|autor(?:in)?|author|autoren|par|por|door|av|af)\s*:?\s+"
    r"|(?:text|texte|de)\s*:\s*)",
    re.IGNORECASE,
)
_INITIALS = re.compile(r"\s*\([^()]{1,12}\)\.?$")
_LAST_FIRST = re.compile(r"^\s*([^\s,]+),\s*([^\s,]+)\s*$")
_NOT_A_NAME = re.compile(
    r"@|https?:|www\.|^\W*\d[\d\W]*$|^\(|\b(?:image|photo|foto|bild)\s*:", re.IGNORECASE
)
MAX_WORDS = 6


def _parts(value: str) -> list[str]:
    if match := _LAST_FIRST.match(value):
        return [f"{match.group(2)} {match.group(1)}"]
    return re.split(r"\s*[,;]\s*", value)


def author_names(values: list[str]) -> list[str]:
    """The names in one source's author values."""
    names: list[str] = []
    for value in values:
        for part in _parts(normalize_text(value)):
            name = _INITIALS.sub("", _LABEL.sub("", part)).strip(" -–—|:")
            if name and not _NOT_A_NAME.search(name) and len(name.split()) <= MAX_WORDS:
                names.append(name)
    return list(dict.fromkeys(names))


# Elements a page marks as its byline; comment and quote authors are not.
_BYLINE_XPATH = (
    '//*[@rel="author" or @itemprop="author" or contains(translate(@class, "AB", "ab"), "author")'
    ' or contains(translate(@class, "B", "b"), "byline")]'
    '[not(contains(@class, "omment") or contains(@class, "uote") or contains(@class, "teaser")'
    ' or contains(@class, "contact") or contains(@class, "soc") or contains(@class, "share"))]'
)
MAX_BYLINE = 60  # characters: a longer text is more than a byline
_CJK_NAME = re.compile(r"^[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]{2,6}$")


def _looks_like_person(name: str) -> bool:
    words = name.split()
    if _CJK_NAME.match(name):
        return True
    # Capitalised words (particles such as "von", "de", "van" aside), letters only.
    return (
        2 <= len(words) <= 4
        and all(w[:1].isupper() or len(w) <= 3 for w in words)
        and words[-1][:1].isupper()
        and not re.search(r"[^\w\s.'’-]|\d", name)
    )


def byline_names(page: Page, publication: list[str]) -> list[str]:
    """The people a page's visible byline names, its publication's names left
    out; empty unless the first name is a person's (two to four words)."""
    keys = {k for k in (name_key(n) for n in publication) if len(k) >= 3}
    for el in page.selector.xpath(_BYLINE_XPATH)[:20]:
        text = normalize_text(" ".join(el.root.itertext()))
        if not text or len(text) > MAX_BYLINE:
            continue
        names = [n for n in author_names([text]) if not any(k in name_key(n) for k in keys)]
        if names and _looks_like_person(names[0]):
            return names
    return []
