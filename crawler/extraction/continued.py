"""An article the page cuts into several containers of one kind.

Some pages break the article's text into several containers, one after the
other, with an advertisement, a video or a related story between them
(``<div class="body articleBody">`` three times, each in its own row). A
news extractor that takes the best container reads the first and stops
there. :func:`with_continuation` finds the rest: the paragraphs of the
same element and class as the extracted ones, with the headings among
them, in the later containers of the same kind.

Pure functions over paragraph strings and the parsed page (lxml); imports
only ``crawler.extraction.text``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from crawler.extraction.text import elements_by_text, normalize_text

MIN_MATCHED = 3  # extracted paragraphs found in one container, to know the article's kind
HEADINGS = frozenset({"h2", "h3", "h4"})


def with_continuation(paragraphs: list[str], root: Any) -> list[str]:
    """``paragraphs`` with those of the later containers of the same kind
    inserted after the last one read from the first container.

    The extracted paragraphs must be, three or more of them, the text of
    elements of one tag and class in one container; the later containers
    are elements of the container's tag sharing a class with it that hold
    elements of that tag and class as children. Their paragraphs of that
    kind and their headings (``h2``–``h4`` sharing a class with the
    paragraphs) are added, those already read excepted, up to an ``<h1>``
    (the next story a page appends below)."""
    own = set(paragraphs)
    found = elements_by_text(root, ("p",), own)
    matched = [p for p in found.values() if p.get("class")]
    if len(matched) < MIN_MATCHED:
        return paragraphs
    kind, _ = Counter((p.tag, p.get("class")) for p in matched).most_common(1)[0]
    container, count = Counter(p.getparent() for p in matched if _kind(p) == kind).most_common(1)[0]
    if count < MIN_MATCHED or not container.get("class"):
        return paragraphs
    classes = set(container.get("class").split())
    headlines = len(container.xpath("preceding::h1"))
    extra = []
    for other in container.xpath("following::*[name() = $tag][@class]", tag=container.tag):
        if not classes & set(other.get("class").split()):
            continue
        if len(other.xpath("preceding::h1")) != headlines:
            break  # another story's headline came first: the page appends the next story
        if not any(_kind(child) == kind for child in other):
            continue
        extra += [
            text
            for child in other
            if _kind(child) == kind or _heading_of(child, kind)
            if (text := _text(child)) and text not in own
        ]
    if not extra:
        return paragraphs
    in_first = [i for i, p in enumerate(paragraphs) if p in found and found[p] in container]
    last = in_first[-1] if in_first else len(paragraphs) - 1
    return [*paragraphs[: last + 1], *extra, *paragraphs[last + 1 :]]


def _kind(element: Any) -> tuple[str, str | None]:
    return (element.tag, element.get("class")) if isinstance(element.tag, str) else ("", None)


def _heading_of(element: Any, kind: tuple[str, str | None]) -> bool:
    if element.tag not in HEADINGS or not kind[1]:
        return False
    return bool(set(kind[1].split()) & set((element.get("class") or "").split()))


def _text(element: Any) -> str:
    return normalize_text("".join(element.itertext()))
