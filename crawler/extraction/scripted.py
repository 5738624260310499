"""An article's text that a page holds only inside a script.

Pages rendered in the reader's browser (React, Next.js, Nuxt, Vue apps) may
ship the article as data: a JSON payload inside an inline ``<script>``
(``window.__STATE__ = {...}``, ``self.__next_f.push(...)``, a dehydrated
query cache) whose string values hold the article's HTML, while the markup
sent holds no paragraph of it. :func:`scripted_html` finds that HTML: the
longest JSON string literal of the page's inline scripts that is HTML with
paragraphs (``<p>`` elements or ``<br>`` breaks);
:func:`scripted_paragraphs` reads its paragraphs, pictures' captions left
out (``<figure>``, ``<figcaption>``, an element of class ``*caption*``).

Pure functions over the parsed page (lxml); imports only
``crawler.extraction.text``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import lxml.html
from lxml import etree

from crawler.extraction.text import element_paragraphs

MIN_SCRIPTED_HTML = 500  # characters: shorter HTML in a script is a teaser or a caption
MIN_PARAGRAPH_TAGS = 2
# A JSON string literal: quotes around characters that are not quotes or
# backslashes, or are escaped.
_JSON_STRING = re.compile(rf'"((?:[^"\\]|\\.){{{MIN_SCRIPTED_HTML},}})"', re.DOTALL)
_PARAGRAPH_TAG = re.compile(r"<p[\s>]|<br\s*/?>", re.IGNORECASE)
_ESCAPED_TAG = re.compile(r"\\u003c(?:p|br)\b|<(?:p|br)\b", re.IGNORECASE)


def scripted_paragraphs(root: Any) -> list[str]:
    """The paragraphs of :func:`scripted_html`, captions left out."""
    held = scripted_html(root)
    if held is None:
        return []
    try:
        fragment = lxml.html.fragment_fromstring(held, create_parent="div")
    except (ValueError, etree.ParserError):
        return []
    captions = fragment.xpath(
        ".//figure | .//figcaption | .//*[contains(translate(@class, 'CAPTION', 'caption'),"
        " 'caption')]"
    )
    for element in captions:
        element.drop_tree()
    return element_paragraphs(fragment)


def scripted_html(root: Any) -> str | None:
    """The longest HTML with paragraphs held in a JSON string of an inline
    script of ``root``, decoded; ``None`` when there is none."""
    best: str | None = None
    for script in root.iter("script"):
        if script.get("src") or not script.text or not _ESCAPED_TAG.search(script.text):
            continue
        if (script.get("type") or "").lower() in ("text/css", "text/template"):
            continue
        for match in _JSON_STRING.finditer(script.text):
            value = _decoded(match.group(0))
            if value is None or len(_PARAGRAPH_TAG.findall(value)) < MIN_PARAGRAPH_TAGS:
                continue
            if best is None or len(value) > len(best):
                best = value
    return best


def _decoded(literal: str) -> str | None:
    try:
        value = json.loads(literal)
    except ValueError:
        return None
    return value if isinstance(value, str) else None
