"""Authors read without rules: the names in what a page declares as its byline.

Pages put more than names in their author fields: an e-mail address, a
user number, photo credits, a description after the name, a label
("Autor", "By").
:func:`author_names` keeps the names of people from one source's values:

- a value is split at commas and semicolons, except a ``Last, First`` pair
  of single words (``Brazil, Rachel``), which is turned round;
- a leading label (``By``, ``Von``, ``Autor:``, ``Par``, ...), trailing
  initials in parentheses (``Elena Oberholzer (obe)``) and a trailing role
  in Korean, Japanese or Chinese (``김하늘 기자``, "reporter") are removed;
- addresses, numbers, credits (``(Image: ...)``) and descriptions of more
  than six words are dropped.

Generic extraction takes the first source whose values keep a name, less
the publication's own names when people are named beside them
(``Harbour Gazette, Jo Lee``; a name whose initials are the publication's,
``Harbour Gazette`` on ``hg.example``, is one of them), with the people the
visible byline names beside the first of them (:func:`byline_siblings`).
When they are only the publication's names (``STERN.de``, ``LTO``), it
takes the people of the page's visible byline (:func:`byline_names`:
elements marked as a byline or an author, links to an author's page, a
byline label in its own element), if it names any, else names set apart in
bold at the start or the end of the body (:func:`body_byline`). A page
that declares no author at all may name one in the line that shows its
date beside the headline (:func:`date_line_names`).
"""

from __future__ import annotations

import re
from typing import Any

from crawler.extraction.datelines import name_key
from crawler.extraction.page import Page
from crawler.extraction.text import normalize_text, split_paragraphs

_LABEL = re.compile(
    r"^(?:(?:written by|by|von|autor(?:in)?(?:/autor(?:in)?)?|author|autoren|par|por|door|av|af)"
    r"\s*:?\s+"
    r"|(?:text|texte|de)\s*:\s*)",
    re.IGNORECASE,
)
_INITIALS = re.compile(r"\s*\([^()]{1,12}\)\.?$")
# A role after the name, in scripts that put it there: "신현주 기자" (reporter),
# "特派員" (correspondent).
_ROLE = re.compile(r"\s*(?:기자|특파원|선임기자|논설위원|記者|记者|特派員|特派员|編集委員)$")
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
            name = _ROLE.sub("", _INITIALS.sub("", _LABEL.sub("", part))).strip(" -–—|:")
            if name and not _NOT_A_NAME.search(name) and len(name.split()) <= MAX_WORDS:
                names.append(name)
    return list(dict.fromkeys(names))


def is_publication(name: str, keys: set[str]) -> bool:
    """Is this name one of the publication's (``keys``: their
    :func:`~crawler.extraction.datelines.name_key`), or a name of several
    words whose initials are one (``Harbour Gazette`` on ``hg.example``)?"""
    if name_key(name) in keys:
        return True
    words = name.split()
    return len(words) >= 2 and "".join(w[0] for w in words).casefold() in keys


# Elements a page marks as its byline, and links to an author's page;
# comment and quote authors are not.
_BYLINE_XPATH = (
    '//*[@rel="author" or @itemprop="author" or contains(translate(@class, "AB", "ab"), "author")'
    ' or contains(translate(@class, "B", "b"), "byline")'
    ' or (self::a and (contains(@href, "/author/") or contains(@href, "/authors/")'
    ' or contains(@href, "/autor/") or contains(@href, "/autoren/")))]'
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


# A label standing in its own element before the name ("<strong>Autor</strong> Jo Lee").
_LABEL_XPATH = (
    "//*[self::strong or self::b or self::dt or self::span or self::em]"
    '[re:test(normalize-space(.), "^(autor(in)?(/autor(in)?)?|autoren|author|authors|by|von|text'
    '|texte|par|por|door|av|af)\\s*:?$", "i")]/..'
)


def byline_names(page: Page, publication: list[str]) -> list[str]:
    """The people a page's visible byline names, its publication's names left
    out; empty unless the first name is a person's (two to four words).
    Elements marked as a byline come first, then an element whose first
    part is a byline label alone (``<strong>Autorin/Autor</strong>``)."""
    keys = {k for k in (name_key(n) for n in publication) if len(k) >= 3}
    for xpath in (_BYLINE_XPATH, _LABEL_XPATH):
        for el in page.selector.xpath(xpath)[:20]:
            text = normalize_text(" ".join(el.root.itertext()))
            if not text or len(text) > MAX_BYLINE:
                continue
            names = [n for n in author_names([text]) if not any(k in name_key(n) for k in keys)]
            if names and _looks_like_person(names[0]):
                return names
    return []


def byline_siblings(page: Page, names: list[str]) -> list[str]:
    """``names`` and the people beside them in the visible byline: when the
    first name is the whole text of a byline element, the people its
    siblings of the same tag and class name (one element per author, of
    which a page declared only the first)."""
    wanted = name_key(names[0])
    for found in page.selector.xpath(_BYLINE_CLASS_XPATH)[:30]:
        el = found.root
        if _is_byline_element(el) and name_key(" ".join(el.itertext())) == wanted:
            return _with_siblings(el, names)
    return names


_BYLINE_CLASS_XPATH = '//body//*[contains(@class, "yline") or contains(@class, "uthor")]'


def _is_byline_element(el: Any) -> bool:
    cls = (el.get("class") or "").lower()
    return ("byline" in cls or "author" in cls) and not any(
        word in cls for word in ("comment", "quote", "teaser")
    )


def _with_siblings(el: Any, names: list[str]) -> list[str]:
    parent = el.getparent()
    found = dict.fromkeys(names)
    for sibling in parent if parent is not None else []:
        same_kind = sibling.tag == el.tag and sibling.get("class") == el.get("class")
        if sibling is el or not same_kind:
            continue
        text = normalize_text(" ".join(sibling.itertext()))
        if len(text) <= MAX_BYLINE and _looks_like_person(text):
            found.setdefault(text)
    return list(found)


_NAME_SEPARATORS = re.compile(r"\s*[/,;&]\s*|\s+(?:and|und|et|y|e|og|och|en|ja|i)\s+")


# A paragraph set in bold or italics as a whole.
_EMPHASISED_LINE = (
    "//p[normalize-space(.)=$t]/*[self::strong or self::b or self::em or self::i]"
    "[normalize-space(.)=$t]"
)


def body_byline(page: Page, body: str) -> list[str]:
    """The people named alone in one of the first three paragraphs or the
    last paragraph of a body (``Jane Doe``, ``Jane Doe / John Roe``), set in
    bold or italics as a paragraph of its own, as many papers print the
    byline in the text, under the subheadings; empty when there is none.
    Only names written with spaces count here: a short line in Chinese or
    Japanese script is as often a heading."""
    paragraphs = split_paragraphs(body)
    for paragraph in paragraphs[:3] + paragraphs[-1:]:
        if len(paragraph) > MAX_BYLINE or paragraph[-1:] in ".!?:" or paragraph[:2] == "- ":
            continue
        names = [n for n in _NAME_SEPARATORS.split(_LABEL.sub("", paragraph)) if n]
        if not names or not all(" " in n and _looks_like_person(n) for n in names):
            continue
        if page.selector.xpath(_EMPHASISED_LINE, t=paragraph):
            return names
    return []


_LINE_PARTS = re.compile(r"\s*[·|•–—]\s*|\s+-\s+")


def date_line_names(line: str) -> list[str]:
    """The people a date line names beside its date
    (``01 May 2024, 10:35 · By Jane Doe``): the first part between
    separators, without digits, that is only people's names."""
    for part in _LINE_PARTS.split(line):
        if re.search(r"\d", part):
            continue
        names = [n for n in _NAME_SEPARATORS.split(_LABEL.sub("", part.strip())) if n]
        if names and all(_looks_like_person(n) for n in names):
            return names
    return []
