"""Plain text out of HTML: paragraphs from elements, and text normalisation.

Pure functions over lxml elements and strings, shared by extraction and the
clean pipeline.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from lxml import etree

# Elements whose end or start is a paragraph break in running text.
BLOCK_TAGS = frozenset(
    """address article aside blockquote body caption center dd details dialog div dl dt
    fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre
    section summary table tbody td tfoot th thead tr ul""".split()
)
# Elements whose content is never article text.
SKIP_TAGS = frozenset(
    "script style noscript template iframe object embed svg canvas button select textarea".split()
)

_DELETE_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalize_text(value: str) -> str:
    """NFC-normalise, drop zero-width characters, collapse whitespace, trim.

    Text from lxml has its entities decoded already; decoding again would turn
    a literal "&amp;copy;" into "©".
    """
    if not value.isascii():  # ASCII text is NFC and has no zero-width characters
        value = value.translate(_DELETE_ZERO_WIDTH)
        value = unicodedata.normalize("NFC", value)
    # str.split() splits at every Unicode space (no-break and thin spaces too).
    return " ".join(value.split())


def element_paragraphs(element: etree._Element) -> list[str]:
    """The paragraphs of an element's text: block elements and ``<br>`` pairs break it."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = normalize_text("".join(current))
        if text:
            blocks.append(text)
        current.clear()

    def walk(el: etree._Element) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.rsplit("}", 1)[-1].lower()
        if tag in SKIP_TAGS or not isinstance(el.tag, str):
            # Comments and processing instructions carry no text, but their tail does.
            if el.tail:
                current.append(el.tail)
            return
        is_block = tag in BLOCK_TAGS
        if is_block:
            flush()
        if tag == "br":
            # One <br> is a line break inside a paragraph, two or more end it.
            nxt = el.getnext()
            if nxt is not None and nxt.tag == "br" and not (el.tail or "").strip():
                flush()
            else:
                current.append("\n")
        if el.text:
            current.append(el.text)
        for child in el:
            walk(child)
        if is_block:
            flush()
        if el.tail:
            current.append(el.tail)

    # The element's own tail is outside it.
    tail, element.tail = element.tail, None
    try:
        walk(element)
    finally:
        element.tail = tail
    flush()
    return blocks


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    return "\n\n".join(p for p in paragraphs if p)


def split_paragraphs(body: str) -> list[str]:
    return [p for p in (normalize_text(p) for p in re.split(r"\n\s*\n", body)) if p]


def elements_by_text(root: etree._Element, tags: tuple[str, ...], texts: Iterable[str]) -> dict:
    """The first element of ``tags`` under ``root`` whose whole text
    (normalised) is each of ``texts``, keyed by that text. An element whose
    own text starts with a word that no text starts with is passed over
    without reading the rest."""
    wanted = set(texts)
    first_words = {t.split(" ", 1)[0] for t in wanted}
    found: dict = {}
    for element in root.iter(*tags):
        # A first word followed by more of the element's own text is whole.
        words = (element.text or "").split(None, 1)
        if len(words) == 2 and words[0] not in first_words:
            continue
        # Whitespace collapsed only (page text is nearly always NFC already):
        # an element with zero-width characters or another normal form is missed.
        text = " ".join("".join(element.itertext()).split())
        if text in wanted and text not in found:
            found[text] = element
    return found
