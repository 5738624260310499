"""Is a page one article or a listing of many? The page's own signals,
weighed together: what it says it is (``og:type``, JSON-LD ``@type``, the
CMS's ``<body class>``), the shape of its URL, and its structure (how many
headline-teaser blocks it has, how long its longest run of text is, how much
of its text sits inside links). docs/sites.md lists the signals and weights.

A listing page (an archive, a category, tag, author, search or date page, a
collection of teasers) is followed for its links and never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from crawler.extraction.page import Page, is_article_object

Kind = Literal["article", "listing", "unknown"]

# A score at or above LISTING is a listing; at or below ARTICLE, an article.
LISTING = 3.0
ARTICLE = -2.0

LISTING_TYPES = frozenset(
    {"CollectionPage", "ItemList", "SearchResultsPage", "ProfilePage", "Blog", "MediaGallery"}
)
# WordPress and most themes derived from it mark the page's template on <body>.
LISTING_BODY_CLASSES = frozenset(
    "archive category tag author search search-results date blog home paged "
    "tax-category term-archive post-type-archive".split()
)
ARTICLE_BODY_CLASSES = frozenset("single single-post single-article article-page".split())
_POSTID = re.compile(r"^postid-\d+$")
_LISTING_PATH = re.compile(
    r"/(category|categories|tag|tags|topic|topics|author|authors|archive|archives|search)(/|$)"
    r"|/page/\d+/?$"
    r"|^/(19|20)\d\d(/(0?[1-9]|1[0-2])(/(0?[1-9]|[12]\d|3[01]))?)?/?$"
)
_LISTING_QUERY = re.compile(r"(^|&)(s|q|search|tag|cat|category|author|paged)=", re.IGNORECASE)
_HEADINGS = "self::h2 or self::h3 or self::h4"
_OUTSIDE_FURNITURE = "not(ancestor::nav or ancestor::footer or ancestor::aside)"
_TEXT = "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"


@dataclass
class Verdict:
    kind: Kind
    score: float
    signals: list[str] = field(default_factory=list)  # what weighed, as "name:+2"


def _types(page: Page) -> set[str]:
    found: set[str] = set()
    for obj in page.jsonld:
        kinds = obj.get("@type")
        for t in kinds if isinstance(kinds, list) else [kinds]:
            if isinstance(t, str):
                found.add(t)
    return found


def declared_signals(page: Page) -> list[tuple[str, float]]:
    """What the page says it is: Open Graph, JSON-LD and ``<body class>``."""
    signals: list[tuple[str, float]] = []
    og = (page.selector.xpath('//meta[@property="og:type"]/@content').get() or "").strip().lower()
    if og == "article":
        signals.append(("og:type=article", -2))
    elif og in ("website", "profile", "blog"):
        signals.append((f"og:type={og}", 0.5))
    types = _types(page)
    if any(is_article_object(o) for o in page.jsonld):
        signals.append(("jsonld:article", -3))
    if types & LISTING_TYPES:
        signals.append((f"jsonld:{sorted(types & LISTING_TYPES)[0]}", 3))
    classes = set((page.selector.xpath("//body/@class").get() or "").lower().split())
    if classes & LISTING_BODY_CLASSES:
        signals.append((f"body:{sorted(classes & LISTING_BODY_CLASSES)[0]}", 3))
    if classes & ARTICLE_BODY_CLASSES or any(_POSTID.match(c) for c in classes):
        signals.append(("body:single", -3))
    return signals


def url_signals(url: str) -> list[tuple[str, float]]:
    """A URL shaped like a list: ``/category/``, ``/tag/``, ``/author/``,
    ``/page/N/``, a year, month or day with no slug after it, a search."""
    parts = urlsplit(url)
    if _LISTING_PATH.search(parts.path.lower()) or _LISTING_QUERY.search(parts.query):
        return [("url:listing", 2)]
    return []


def teaser_count(page: Page) -> int:
    """Headline-teaser blocks: headings that link elsewhere (or links that
    hold a heading), outside navigation, footers and sidebars; by distinct link."""
    hrefs = page.selector.xpath(
        f"//*[{_HEADINGS}][{_OUTSIDE_FURNITURE}]//a/@href"
        f" | //a[.//*[{_HEADINGS}]][{_OUTSIDE_FURNITURE}]/@href"
    ).getall()
    here = urlsplit(page.url)._replace(fragment="").geturl()
    return len({h.strip() for h in hrefs if h.strip() and not h.startswith("#")} - {here})


def excerpt_blocks(page: Page) -> int:
    """Teasers without headings: blocks (up to three levels above a link of
    four or more words) that hold that one headline link and an excerpt of
    at least 80 characters outside links; by distinct link."""
    found: set[str] = set()
    for link in page.selector.xpath(f"//a[@href][{_OUTSIDE_FURNITURE}]"):
        if len(link.xpath("normalize-space(.)").get("").split()) < 4:
            continue
        block = link
        for _ in range(3):
            block = block.xpath("..")
            if not block:
                break
            block = block[0]
            headlines = [
                a
                for a in block.xpath(".//a")
                if len(a.xpath("normalize-space(.)").get("").split()) >= 4
            ]
            if len(headlines) > 1:
                break
            if _own_text(block.root) >= 80:
                found.add(link.attrib.get("href", "").strip())
                break
    return len(found)


def longest_text(page: Page) -> int:
    """The longest run of text outside links in one block: the paragraphs
    of one element together, or the text of an element written with
    ``<br>`` between its paragraphs."""
    root = page.selector.root
    if not hasattr(root, "iter"):
        return 0
    totals: dict[object, int] = {}
    for p in root.iter("p"):
        parent = p.getparent()
        if parent is not None:
            totals[parent] = totals.get(parent, 0) + _own_text(p)
    for br in root.iter("br"):
        parent = br.getparent()
        if parent is not None and parent not in totals:
            totals[parent] = _own_text(parent)
    return max(totals.values(), default=0)


def _own_text(element: object) -> int:
    """Characters of an element's text that are not inside links."""
    text = "".join(element.xpath(".//text()[not(ancestor::a)]"))  # type: ignore[attr-defined]
    return len(" ".join(text.split()))


def link_share(page: Page) -> float:
    """The share of the page's visible text that is link text."""
    total = len(" ".join(" ".join(page.selector.xpath(_TEXT).getall()).split()))
    linked = " ".join(
        page.selector.xpath("//body//a//text()[not(ancestor::script or ancestor::style)]").getall()
    )
    return len(" ".join(linked.split())) / total if total else 0.0


def structure_signals(page: Page) -> list[tuple[str, float]]:
    signals: list[tuple[str, float]] = []
    teasers = max(teaser_count(page), excerpt_blocks(page))
    if teasers >= 10:
        signals.append((f"teasers:{teasers}", 3))
    elif teasers >= 6:
        signals.append((f"teasers:{teasers}", 2))
    elif teasers <= 2:
        signals.append((f"teasers:{teasers}", -1))
    text = longest_text(page)
    if text >= 800:
        signals.append((f"text:{text}", -2))
    elif text < 300:
        signals.append((f"text:{text}", 1))
    share = link_share(page)
    if share > 0.5:
        signals.append((f"links:{share:.2f}", 1))
    elif share < 0.25:
        signals.append((f"links:{share:.2f}", -1))
    return signals


def page_kind(page: Page) -> Verdict:
    """``listing``, ``article`` or, when the signals do not agree enough, ``unknown``."""
    weighed = declared_signals(page) + url_signals(page.url) + structure_signals(page)
    score = sum(weight for _, weight in weighed)
    kind: Kind = "listing" if score >= LISTING else "article" if score <= ARTICLE else "unknown"
    return Verdict(kind, score, [f"{name}:{weight:+g}" for name, weight in weighed])
