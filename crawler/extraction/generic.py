"""Generic extraction: every article field without selectors.

When a site definition gives no rule for a field, or its rules find nothing,
a field is filled from, in order: the page's structured data (JSON-LD
``NewsArticle``/``Article`` objects), its ``<meta>`` tags and microdata
(OpenGraph, ``article:*``, Dublin Core, ``itemprop``), then extractors made
for news pages (trafilatura for the body and metadata, htmldate for dates).
Each value comes with its source: ``jsonld``, ``meta`` or ``generic``.
A body loses a leading dateline that is the publication's own name
(``datelines``) and is led by the standfirst the page shows apart from it
(its metadata's description, when an element of the page has that text);
a date without a time of day gives way to the time the page shows beside
its headline (``shown_dates``).
"""

from __future__ import annotations

import html
import logging
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from typing import Any

from lxml import etree

from crawler.extraction.bylines import (
    author_names,
    body_byline,
    byline_names,
    byline_siblings,
    date_line_names,
    is_publication,
)
from crawler.extraction.continued import with_continuation
from crawler.extraction.datelines import name_key, publication_names, without_own_dateline
from crawler.extraction.dates import read_date
from crawler.extraction.page import Page, is_article_object, jsonld_values
from crawler.extraction.pruning import prune_body, without_furniture, without_head_meta
from crawler.extraction.scripted import scripted_paragraphs
from crawler.extraction.shown_dates import date_lines, shown_date
from crawler.extraction.text import (
    element_paragraphs,
    join_paragraphs,
    normalize_text,
    split_paragraphs,
)
from crawler.extraction.titles import choose_headline, part_shown

# Candidate <meta> names/properties (and itemprops) per field, best first.
META_NAMES: dict[str, tuple[str, ...]] = {
    "title": ("og:title", "twitter:title", "headline", "dc.title", "DC.title", "parsely-title"),
    "published": (
        "article:published_time",
        "og:article:published_time",
        "datePublished",
        "pubdate",
        "publishdate",
        "publish-date",
        "date",
        "dc.date",
        "DC.date.issued",
        "dcterms.created",
        "sailthru.date",
        "parsely-pub-date",
        "dateCreated",
    ),
    "author": (
        "author",
        "article:author",
        "dc.creator",
        "DC.creator",
        "parsely-author",
        "sailthru.author",
        "byl",
    ),
    "section": ("article:section", "articleSection", "parsely-section", "section", "category"),
    "tags": ("article:tag", "news_keywords", "keywords", "parsely-tags", "sailthru.tags"),
}
JSONLD_PATHS: dict[str, tuple[str, ...]] = {
    "title": ("headline", "name", "alternativeHeadline"),
    "body": ("articleBody", "text"),
    "published": ("datePublished", "dateCreated", "uploadDate"),
    "author": ("author.name", "author", "creator.name"),
    "section": ("articleSection",),
    "tags": ("keywords",),
}
MIN_JSONLD_BODY = 200
MIN_GENERIC_BODY = 50  # shorter "bodies" are a menu or a caption
MAX_LINE_WORDS = 12  # a paragraph this short before the main block is a menu item or a date line
# Whole paragraphs that are page furniture, not article text, in any layout.
BOILERPLATE = re.compile(
    r"^(advertisement|advertising|anzeige|publicité|реклама|sponsored|"
    r"(read|see) (more|also)\b.{0,120}|related( articles| stories)?:?.{0,120}|"
    r"comments?\s*\(\d+\)|\d+ comments?|comments are (open|closed)\b.{0,160}|"
    r"share (this|on)\b.{0,40}|"
    r"(sign up|subscribe)\b.{0,160}|follow us\b.{0,80}|click here\b.{0,80}|"
    r"(photo|image|picture)( credit)?:.{0,120}|©.{0,120})$",
    re.IGNORECASE,
)


@dataclass
class Found:
    value: Any
    source: str


class _PageTrouble(logging.Filter):
    """trafilatura and htmldate log at ERROR what is, for a crawl, a page they
    cannot read ("empty HTML tree", "lxml parsing failed"). The crawl reports
    such a page itself (a rejected item with its reason, extraction health), so
    their records are logged as warnings and do not count among the run's
    errors (``crawl_runs.errors``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_PAGE_TROUBLE = _PageTrouble()
_LIBRARIES = ("trafilatura", "htmldate", "justext", "courlan")
_loggers_seen = 0


def _library_errors_as_warnings() -> None:
    """Put the filter on every logger of those libraries, once each (their
    modules create loggers as they are imported)."""
    global _loggers_seen
    names = logging.root.manager.loggerDict
    if len(names) == _loggers_seen:
        return
    _loggers_seen = len(names)
    for name in list(names):
        if name.split(".")[0] in _LIBRARIES:
            logging.getLogger(name).addFilter(_PAGE_TROUBLE)  # no-op when already there


class GenericPage:
    """Generic field finders over one :class:`~crawler.extraction.page.Page`."""

    def __init__(self, page: Page, html: str, languages: list[str] | None = None) -> None:
        self.page = page
        self.html = html
        self.languages = languages  # the site's, for date texts

    # ------------------------------------------------------------------ sources

    def jsonld(self, field: str) -> list[str]:
        for path in JSONLD_PATHS[field]:
            values = [v for v in jsonld_values(self.page, path, articles_only=True) if v.strip()]
            if values:
                return values
        return []

    @cached_property
    def _meta_values(self) -> dict[str, list[str]]:
        return meta_values(self.page.selector.root)

    def meta(self, field: str) -> list[str]:
        for name in META_NAMES[field]:
            values = self._meta_values.get(name, [])
            values = [normalize_text(v) for v in values if v and v.strip()]
            if field == "author":
                values = [v for v in values if not v.startswith(("http://", "https://"))]
            if values:
                return values
        return []

    @cached_property
    def trafilatura_metadata(self) -> Any:
        import trafilatura

        _library_errors_as_warnings()
        try:
            return trafilatura.extract_metadata(self.html, default_url=self.page.url)
        except Exception:  # noqa: BLE001 - a third-party parser on hostile input
            return None

    @cached_property
    def trafilatura_body(self) -> str | None:
        """trafilatura's text read for recall (its default mode, not
        ``favor_precision``, which leaves out leads and whole sections),
        then pruned of page furniture (crawler/extraction/pruning.py)."""
        import trafilatura

        _library_errors_as_warnings()
        try:
            text = trafilatura.extract(
                self.html,
                url=self.page.url,
                include_comments=False,
                include_tables=False,
                include_images=False,
                # Its deduplication remembers text across calls: results would
                # depend on the pages extracted before.
                deduplicate=False,
            )
        except Exception:  # noqa: BLE001
            return None
        if not text:
            return None
        paragraphs = [p for p in (normalize_text(x) for x in text.split("\n")) if p]
        root = self.page.selector.root
        body = _clean_paragraphs(prune_body(with_continuation(paragraphs, root), root))
        return body if body and len(body) >= MIN_GENERIC_BODY else None

    @cached_property
    def densest_blocks(self) -> list[Any]:
        """The element holding most of the page's running text, with its
        siblings of the same kind that hold text too (:func:`densest_blocks`)."""
        return densest_blocks(self.page.selector.root)

    @cached_property
    def densest_block_body(self) -> str | None:
        """The text of :attr:`densest_blocks`, paragraphs of links left out,
        with its continuation in later blocks of the same kind."""
        paragraphs = [
            p
            for block in self.densest_blocks
            for p in element_paragraphs(block)
            if not _mostly_links(block, p)
        ]
        body = _clean_paragraphs(with_continuation(paragraphs, self.page.selector.root))
        return body if body and len(body) >= MIN_GENERIC_BODY else None

    # ------------------------------------------------------------------ fields

    def title(self) -> Found | None:
        """The headline (crawler/extraction/titles.py): JSON-LD, ``og:title``,
        ``twitter:title``, the first ``<h1>``, ``<title>``, site names removed."""
        return self._title

    @cached_property
    def _title(self) -> Found | None:
        sel = self.page.selector
        candidates: list[tuple[str, str]] = [(v, "jsonld") for v in self.jsonld("title")[:1]]
        for name in ("og:title", "twitter:title"):
            value = sel.xpath("//meta[@property=$n or @name=$n]/@content", n=name).get()
            candidates += [(value, "meta")] if value else []
        h1 = sel.xpath("//h1")
        if h1:
            candidates.append((" ".join(element_paragraphs(h1[0].root)), "generic"))
        candidates.append((sel.xpath("//title/text()").get() or "", "generic"))
        candidates = [(normalize_text(v), k) for v, k in candidates if normalize_text(v)]
        if len(candidates) == 1 and (shown := part_shown(candidates[0][0], self._shows)):
            return Found(shown, "generic")
        chosen = choose_headline([v for v, _ in candidates], publication_names(self.page))
        if chosen is None:
            return None
        source = next((k for v, k in candidates if v.startswith(chosen)), "generic")
        return Found(chosen, source)

    def _shows(self, text: str) -> bool:
        """Is ``text`` the whole text of an element of the page's body (not a link)?"""
        xpath = "//body//*[not(self::a)][normalize-space(.)=$t]"
        return bool(self.page.selector.xpath(xpath, t=text))

    def body(self) -> Found | None:
        return self._final_body

    @cached_property
    def _final_body(self) -> Found | None:
        found = self._body()
        if found is None:
            return None
        headline = self.title()
        names = publication_names(self.page, headline.value if headline else None)
        body = with_standfirst(without_own_dateline(found.value, names), self.page)
        if found.source == "generic":  # the page's own text, furniture and all
            body = "\n\n".join(without_head_meta(body.split("\n\n")))
        return Found(body, found.source)

    def _body(self) -> Found | None:
        declared = next((v for v in self.jsonld("body") if len(v) >= MIN_JSONLD_BODY), None)
        extracted = self.trafilatura_body
        if not extracted or len(extracted) < MIN_JSONLD_BODY:
            extracted = self.densest_block_body or extracted
        if declared:
            own = declared_paragraphs(declared)
            paragraphs = without_furniture(own, self.page.selector.root) or own
            declared_text = "\n\n".join(paragraphs)
            if extracted is None or len(declared_text) >= 0.6 * len(extracted):
                # The publisher's own text; when it has no paragraph breaks and the
                # extractor's text is the same words, take the extractor's paragraphs.
                if len(paragraphs) == 1 and extracted and _same_words(declared_text, extracted):
                    return Found(paragraphs_agreeing(extracted, declared_text), "jsonld")
                return Found(with_lead(declared_text, extracted), "jsonld")
        if extracted and self.densest_block_body and extracted != self.densest_block_body:
            extracted = without_trailing(extracted, self.densest_block_body)
        return Found(extracted, "generic") if extracted else scripted_body(self.page.selector.root)

    def published(self) -> Found | None:
        """The declared date (JSON-LD, metadata, ``<time datetime>``, else
        htmldate's find); when it has no time of day, the date and time the
        page shows beside its headline, if that is the same day."""
        found = self._declared_published() or htmldate_published(self.html, self.page.url)
        if found is not None and not _without_time(found.value):
            return found
        headline = self.title()
        shown = shown_date(self.page, self.languages, headline.value if headline else None)
        if shown and (found is None or _same_day(shown, found.value, self.languages)):
            return Found(shown, "generic")
        return found

    def _declared_published(self) -> Found | None:
        if values := self.jsonld("published"):
            return Found(values[0], "jsonld")
        if values := self.meta("published"):
            return Found(values[0], "meta")
        time_attr = self.page.selector.xpath("//article//time/@datetime | //time/@datetime").get()
        if time_attr and time_attr.strip():
            return Found(time_attr.strip(), "generic")
        return None

    def author(self) -> Found | None:
        """The names given by the first source that gives any, the
        publication's own names left out when people are named too; the
        people of the visible byline when the source names only the
        publication (crawler/extraction/bylines.py)."""
        for source in ("jsonld", "meta", "generic"):
            if names := author_names(self._author_values(source)):
                publication = publication_names(self.page)
                keys = {name_key(n) for n in publication}
                if people := [n for n in names if not is_publication(n, keys)]:
                    return Found(", ".join(byline_siblings(self.page, people)), source)
                if visible := byline_names(self.page, publication) or self._body_byline():
                    return Found(", ".join(visible), "generic")
                return Found(names[0], source)
        if in_body := self._body_byline() or self._date_line_byline():
            return Found(", ".join(in_body), "generic")
        return None

    def _date_line_byline(self) -> list[str]:
        headline = self.title()
        lines = date_lines(self.page, headline.value if headline else None)
        return next((names for line in islice(lines, 3) if (names := date_line_names(line))), [])

    def _body_byline(self) -> list[str]:
        body = self.body()
        return body_byline(self.page, body.value) if body is not None else []

    def _author_values(self, source: str) -> list[str]:
        if source != "generic":
            return self.jsonld("author") if source == "jsonld" else self.meta("author")
        meta = self.trafilatura_metadata
        return [meta.author.replace(";", ",")] if meta is not None and meta.author else []

    def section(self) -> Found | None:
        if values := self.jsonld("section"):
            return Found(normalize_text(values[0]), "jsonld")
        if values := self.meta("section"):
            return Found(values[0], "meta")
        meta = self.trafilatura_metadata
        if meta is not None and meta.categories:
            return Found(normalize_text(meta.categories[0]), "generic")
        return None

    def tags(self) -> Found | None:
        for values, source in ((self.jsonld("tags"), "jsonld"), (self.meta("tags"), "meta")):
            if values:
                split = [t.strip() for t in values[0].split(",")] if len(values) == 1 else values
                return Found([normalize_text(t) for t in split if t.strip()], source)
        meta = self.trafilatura_metadata
        if meta is not None and meta.tags:
            return Found([normalize_text(t) for t in meta.tags if t.strip()], "generic")
        return None

    def looks_like_article(self) -> bool:
        """``og:type=article``, a JSON-LD article, or a long extracted body."""
        og_type = self.page.selector.xpath('//meta[@property="og:type"]/@content').get() or ""
        if og_type.strip().lower() == "article":
            return True
        if any(is_article_object(o) for o in self.page.jsonld):
            return True
        body = self.trafilatura_body
        return bool(body and len(body) >= 500)


MIN_STANDFIRST = 40  # characters: a shorter description is a tagline
DESCRIPTION_NAMES = ("og:description", "description", "twitter:description")


def with_standfirst(body: str, page: Page) -> str:
    """The body led by the page's standfirst when it leaves it out: the
    description of its metadata (``og:description``, ``description``,
    ``twitter:description``, else the JSON-LD article's) when the page shows
    it as the whole text of an element of its own (a lead set apart in
    ``<p class="standfirst">``, ``<h2 class="subtitle">``) and the body does
    not hold its beginning."""
    sel = page.selector
    values = [
        sel.xpath("//meta[@property=$n or @name=$n]/@content", n=n).get() for n in DESCRIPTION_NAMES
    ]
    values += jsonld_values(page, "description", articles_only=True)[:1]
    description = next(
        (d for d in (normalize_text(v or "") for v in values) if len(d) >= MIN_STANDFIRST), None
    )
    if description is None or description[:60].casefold() in body.casefold():
        return body
    if not _shows_whole(page.selector.root, description):
        return body
    return join_paragraphs([description, *split_paragraphs(body)])


def _shows_whole(root: Any, text: str) -> bool:
    """Is ``text`` the whole text of an element of the page's ``<body>``
    (not a link)? Looked for from the text nodes holding its first words."""
    start = " ".join(text.split()[:4])
    for node in root.xpath("//body//text()[contains(., $s)]", s=start):
        element = node.getparent()
        for _ in range(3):
            if element is None or element.tag in ("a", "body"):
                break
            if normalize_text("".join(element.itertext())) == text:
                return True
            element = element.getparent()
    return False


def scripted_body(root: Any) -> Found | None:
    """The article's HTML held in a script's JSON, for a page whose markup
    has no text of it (crawler/extraction/scripted.py)."""
    body = _clean_paragraphs(without_furniture(scripted_paragraphs(root), root))
    return Found(body, "generic") if body and len(body) >= MIN_GENERIC_BODY else None


def meta_values(root: Any) -> dict[str, list[str]]:
    """Every ``<meta>``'s content by its ``property``, ``name`` and
    ``itemprop``, in page order, then the ``datetime`` of other elements by
    their ``itemprop``: read in one pass for all the fields."""
    index: dict[str, list[str]] = {}
    for meta in root.iter("meta"):
        content = meta.get("content")
        if content is not None:
            for key in {meta.get("property"), meta.get("name"), meta.get("itemprop")} - {None}:
                index.setdefault(key, []).append(content)
    for element in root.xpath("//*[@itemprop][@datetime][not(self::meta)]"):
        index.setdefault(element.get("itemprop"), []).append(element.get("datetime"))
    return index


def htmldate_published(html: str, url: str) -> Found | None:
    """The publication date htmldate finds in the page, if any."""
    from htmldate import find_date

    _library_errors_as_warnings()

    try:
        found = find_date(
            html,
            url=url,
            original_date=True,
            outputformat="%Y-%m-%dT%H:%M:%S",
            extensive_search=False,
        )
    except Exception:  # noqa: BLE001
        found = None
    # htmldate writes a date it found without a time as midnight.
    return Found(found.removesuffix("T00:00:00"), "generic") if found else None


_MIDNIGHT = re.compile(r"[T ]00:00(:00(\.0+)?)?(Z|[+-]00:?00)?$")


def densest_blocks(root: Any) -> list[Any]:
    """The element of ``root`` holding most of the page's running text, with
    its siblings of the same kind that hold text too.

    Old table layouts put the story in a ``<td>`` or ``<font>`` with
    ``<br>`` breaks, where news extractors made for modern markup find
    nothing: score every block of text by its length and commas, credit
    it and, at three quarters, its parent (so that several paragraphs
    outweigh one), and take the best element. An article cut into
    several ``<section>``s (or divs of one class), each under its
    heading, is all of them: the best one's siblings of the same tag and
    class that score at least a quarter of it.
    """
    from crawler.extraction.text import SKIP_TAGS

    scores: dict[Any, float] = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in SKIP_TAGS or el.tag == "a":
            continue
        for text in (el.text, *(child.tail for child in el)):
            if not text or len(text) < 25:  # normalising only shortens it
                continue
            chunk = normalize_text(text)
            if len(chunk) < 25:
                continue
            score = 1 + chunk.count(",") + min(len(chunk) / 100, 3)
            scores[el] = scores.get(el, 0) + score
            parent = el.getparent()
            if parent is not None:
                scores[parent] = scores.get(parent, 0) + score * 0.75
    if not scores:
        return []
    best = max(scores, key=scores.get)
    parent = best.getparent()
    if parent is None:
        return [best]
    like = [
        el
        for el in parent
        if el is best
        or (
            el.tag == best.tag
            and el.get("class") == best.get("class")
            and scores.get(el, 0) >= scores[best] / 4
        )
    ]
    return like


def _without_time(raw: str) -> bool:
    """A date with no time of day, or one written as midnight (which CMSs put
    for "no time")."""
    parsed = read_date(raw)
    return parsed is None or parsed.date_only or bool(_MIDNIGHT.search(raw.strip()))


def _same_day(shown: str, declared: str, languages: list[str] | None) -> bool:
    a, b = read_date(shown, languages=languages), read_date(declared)
    return a is not None and b is not None and abs((a.value - b.value).total_seconds()) < 36 * 3600


_MARKUP = re.compile(r"</?(p|br|div|h[1-6]|strong|em|a|span|figure|ul|li|b|i)\b[^>]*>", re.I)
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z]+\d?);", re.I)


def declared_paragraphs(declared: str) -> list[str]:
    """The paragraphs of a JSON-LD ``articleBody``. Some publishers put the
    article's HTML there, or escape its entities twice (``&amp;ccedil;``):
    markup is read as HTML, leftover entities decoded."""
    if _MARKUP.search(declared):
        import lxml.html

        try:
            fragment = lxml.html.fragment_fromstring(declared, create_parent="div")
        except (ValueError, etree.ParserError):
            fragment = None
        if fragment is not None:
            return [p for p in element_paragraphs(fragment) if not BOILERPLATE.match(p)]
    if _ENTITY.search(declared):
        declared = html.unescape(declared)
    return [p for p in (normalize_text(x) for x in re.split(r"\n\s*\n|\n", declared)) if p]


def _clean_paragraphs(paragraphs: list[str]) -> str | None:
    kept = [p for p in (normalize_text(x) for x in paragraphs) if p and not BOILERPLATE.match(p)]
    return "\n\n".join(kept) or None


def _mostly_links(element: Any, paragraph: str) -> bool:
    """Is this paragraph the text of links (a menu, a list of related stories)?"""
    link_text = " ".join(
        normalize_text("".join(a.itertext())) for a in element.iter("a") if a.text or len(a)
    )
    words = paragraph.split()
    if len(words) > 40:
        return False
    linked = sum(1 for w in words if w in link_text)
    return bool(words) and linked / len(words) > 0.6


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.casefold()))


def _covered(paragraph: str, words: Counter[str]) -> float:
    """The share of a paragraph's words found in ``words``."""
    own = _words(paragraph)
    total = sum(own.values())
    return sum((own & words).values()) / total if total else 1.0


def paragraphs_agreeing(extracted: str, declared: str) -> str:
    """The extractor's paragraphs that the publisher's ``articleBody`` (one
    block without breaks) also has, and those before the first of them (a
    lead or summary the publisher keeps apart); the extractor's text as it
    is when they do not give most of the declared words."""
    declared_words = _words(declared)
    paragraphs = split_paragraphs(extracted)
    inside = [_covered(p, declared_words) >= 0.8 for p in paragraphs]
    if not any(inside):
        return extracted
    first = inside.index(True)
    kept = paragraphs[:first] + [
        p for p, i in zip(paragraphs[first:], inside[first:], strict=True) if i
    ]
    found = _words(" ".join(kept)) & declared_words
    if sum(found.values()) < 0.9 * sum(declared_words.values()):
        return extracted
    return join_paragraphs(kept)


_CREDIT_MARK = re.compile(r"\b(?:bild|foto|photo|image|picture|credit)s?\s*:", re.IGNORECASE)


def with_lead(declared: str, extracted: str | None) -> str:
    """The publisher's ``articleBody`` with the lead it leaves out: the
    extractor's paragraphs of more than 12 words (captions aside) before the
    first one the declared text holds, which it does not hold."""
    if not extracted:
        return declared
    lead = []
    for paragraph in split_paragraphs(extracted):
        if paragraph[:80] in declared:
            return join_paragraphs([*lead, declared])
        if word_count(paragraph) > MAX_LINE_WORDS and not _CREDIT_MARK.search(paragraph):
            lead.append(paragraph)
    return declared


def without_trailing(extracted: str, dense: str) -> str:
    """The extractor's text without what follows the page's main block of
    text (an author's biography, teasers of other stories, comment forms),
    and without the short lines before it (menus, a date line, a byline),
    when that block holds at least half of its running text (paragraphs of
    more than 12 words). A longer paragraph before the block (a lead the
    page sets apart) is kept."""
    dense_words = _words(dense)
    paragraphs = split_paragraphs(extracted)
    # A line of one or two words ("Home", "More") is in the block by chance.
    inside = [word_count(p) > 2 and _covered(p, dense_words) >= 0.8 for p in paragraphs]
    if not any(inside):
        return extracted
    running = sum(len(p) for p in paragraphs if word_count(p) > MAX_LINE_WORDS)
    if sum(len(p) for p, i in zip(paragraphs, inside, strict=True) if i) < 0.5 * running:
        return extracted
    first = inside.index(True)
    last = len(inside) - 1 - inside[::-1].index(True)
    lead = [p for p in paragraphs[:first] if word_count(p) > MAX_LINE_WORDS]
    return join_paragraphs(lead + paragraphs[first : last + 1])


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def word_count(paragraph: str) -> int:
    """Words separated by spaces, and for Chinese, Japanese and Korean script
    (written without spaces, or with few) one word per two characters."""
    return len(paragraph.split()) + len(_CJK.findall(paragraph)) // 2


def _same_words(a: str, b: str) -> bool:
    wa, wb = set(re.findall(r"\w+", a.casefold())), set(re.findall(r"\w+", b.casefold()))
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= 0.8
