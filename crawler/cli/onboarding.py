"""Helping a user write a site definition: extract one page, check a site's
rules against its live pages, and draft a definition from a home page.

Used by ``newscrawl extract``, ``newscrawl sites check`` and ``newscrawl
sites new``. One page at a time over plain HTTP (no crawl), so the answers
come in seconds.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from w3lib.encoding import html_to_unicode

from crawler import __version__
from crawler.extraction.cleaning import clean_article
from crawler.extraction.discovery import FEED_TYPES, looks_like_article_url, sitemaps_in_robots
from crawler.extraction.generic import GenericPage
from crawler.extraction.page import Page
from crawler.extraction.rules import extract_article, extract_links
from crawler.extraction.text import element_paragraphs, normalize_text
from crawler.sites.definitions import Site
from crawler.sites.patterns import compile_pattern

FETCH_LIMIT = 10 * 1024 * 1024
FIELDS = ("title", "body", "published_at", "author", "section", "tags")
RULE_KEYS = {"published_at": "published"}


class FetchError(Exception):
    pass


def fetch(url: str, timeout: float = 30.0) -> tuple[str, str]:
    """GET a page: ``(final URL, text)``, decoded by its HTTP or HTML charset."""
    request = urllib.request.Request(
        url, headers={"User-Agent": f"newscrawl/{__version__} (site check)"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(FETCH_LIMIT + 1)
            final = response.geturl()
            content_type = response.headers.get("Content-Type")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from None
    if len(body) > FETCH_LIMIT:
        raise FetchError(f"{url} is larger than {FETCH_LIMIT // (1024 * 1024)} MB")
    _, text = html_to_unicode(content_type, body)
    return final, text


def generic_site(url: str) -> Site:
    """A site definition with no rules: every field from generic extraction."""
    host = urlsplit(url).hostname or "localhost"
    return Site.model_validate(
        {"name": "page", "base_url": f"{urlsplit(url).scheme or 'http'}://{host}/"}
    )


def extract_page(html: str, url: str, site: Site) -> dict[str, Any]:
    """Every field of one page, cleaned as it would be stored, with its source."""
    article = clean_article(extract_article(html, url, site), site)
    values = {
        "title": article.title,
        "body": article.body,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "author": article.author,
        "section": article.section,
        "tags": article.tags,
    }
    return {
        "url": url,
        "site": site.name,
        "fields": {
            name: {"value": values[name], "source": article.sources.get(name)} for name in FIELDS
        },
        "published_raw": article.published_raw,
    }


@dataclass
class FieldCheck:
    field: str
    value: Any
    source: str | None
    has_rules: bool
    rules_matched: bool

    @property
    def verdict(self) -> str:
        if self.has_rules and self.rules_matched:
            return "ok"
        if self.has_rules and self.value:
            return f"rules matched nothing; fell back to {self.source}"
        if self.has_rules:
            return "rules matched nothing; no value"
        if self.value:
            return f"no rules; found by {self.source}"
        return "no rules; no value"


def check_article(html: str, url: str, site: Site) -> list[FieldCheck]:
    strict = site.model_copy(
        update={"article": site.article.model_copy(update={"fallback": False})}
    )
    by_rules = extract_article(html, url, strict)
    full = clean_article(extract_article(html, url, site), site)
    checks = []
    for name in FIELDS:
        rules = getattr(site.article, RULE_KEYS.get(name, name))
        raw = by_rules.published_raw if name == "published_at" else getattr(by_rules, name)
        value = getattr(full, name)
        if name == "published_at" and value is not None:
            value = value.isoformat()
        checks.append(FieldCheck(name, value, full.sources.get(name), bool(rules), bool(raw)))
    return checks


def first_article_url(site: Site) -> tuple[str, str, list[str], str | None]:
    """Fetch the site's first listing page: ``(page URL, html, article links, next page)``."""
    listing = site.listing
    assert listing is not None
    if not listing.start_urls:
        raise FetchError("the site has no listing start_urls; give an article URL to check")
    final, html = fetch(listing.start_urls[0])
    page = Page(html, final)
    links = extract_links(page.selector, listing.article_links, final, where="article_links")
    pattern = (
        compile_pattern(listing.article_url_pattern, "article_url_pattern", stage="discover")
        if listing.article_url_pattern
        else None
    )
    if pattern is not None:
        links = [u for u in links if pattern.search(u)]
    elif listing.discover:
        links = [u for u in links if looks_like_article_url(u)]
    nxt = extract_links(
        page.selector, listing.next_page, final, first_rule_only=True, where="next_page"
    )
    return final, html, links, nxt[0] if nxt else None


# ---------------------------------------------------------------------- drafting

TITLE_CANDIDATES = ("h1.entry-title", "h1.headline", "article h1", "h1")
BODY_CANDIDATES = (
    '[itemprop="articleBody"]',
    "div.entry-content",
    "div.article-body",
    "div.article__body",
    "div.story-body",
    "div.post-content",
    "div.content-body",
    "article .body",
    "article",
    "main",
)
DATE_CANDIDATES = (
    {"css": "article time", "attr": "datetime"},
    {"css": "time", "attr": "datetime"},
    {"meta": "article:published_time"},
    {"jsonld": "datePublished"},
)
AUTHOR_CANDIDATES = ('a[rel="author"]', '[itemprop="author"]', ".byline", ".author")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _best_body_selector(page: Page, reference: str | None) -> str | None:
    """The body candidate whose text best matches the news extractor's."""
    best, best_score = None, 0.0
    ref = _words(reference or "")
    for css in BODY_CANDIDATES:
        found = page.selector.css(css)
        if not found:
            continue
        text = " ".join(element_paragraphs(found[0].root))
        words = _words(text)
        if not words or not ref:
            continue
        recall = len(words & ref) / len(ref)
        precision = len(words & ref) / len(words)
        score = 2 * precision * recall / (precision + recall) if precision + recall else 0
        if score > best_score + 0.02:
            best, best_score = css, score
    return best if best_score >= 0.6 else None


def _url_shape(url: str) -> str:
    path = urlsplit(url).path
    shape = re.sub(r"\d+", r"\\d+", path)
    segments = shape.split("/")
    segments = [r"[^/]+" if ("-" in s or "_" in s) and r"\d+" not in s else s for s in segments]
    return "/".join(segments)


def guess_url_pattern(urls: list[str]) -> str | None:
    shapes = Counter(_url_shape(u) for u in urls)
    if not shapes:
        return None
    shape, count = shapes.most_common(1)[0]
    if count < 2 and len(urls) > 2:
        return None
    return shape.rstrip("/") + "/?$" if shape.endswith("/") else shape + "$"


def draft_site(home_url: str, name: str | None = None) -> tuple[str, list[str]]:
    """A starting site definition (YAML text) for the site at ``home_url``, and notes."""
    notes: list[str] = []
    final, html = fetch(home_url)
    parts = urlsplit(final)
    base = f"{parts.scheme}://{parts.netloc}/"
    host = parts.hostname or ""
    page = Page(html, final)
    feeds = [
        urljoin(final, h)
        for h in page.selector.xpath(
            "//link[@rel='alternate'][contains($types, @type)]/@href", types=" ".join(FEED_TYPES)
        ).getall()
    ]
    try:
        _, robots = fetch(urljoin(base, "/robots.txt"))
        sitemaps = sitemaps_in_robots(robots, base)
    except FetchError:
        sitemaps = []
    links = [
        u
        for u in dict.fromkeys(
            urljoin(final, h) for h in page.selector.css("a::attr(href)").getall()
        )
        if urlsplit(u).hostname == host and looks_like_article_url(u)
    ]
    pattern = guess_url_pattern(links)
    lines = [
        "# Drafted by `newscrawl sites new`: check it with `newscrawl sites check`, then refine.",
        f"name: {name or re.sub(r'[^a-z0-9_-]', '-', host.removeprefix('www.').split('.')[0])}",
        f"base_url: {base}",
        f"allowed_domains: [{host}]",
        "timezone: UTC  # set the site's own time zone (IANA name)",
        "language: en",
        "",
        "listing:",
        f"  start_urls: [{final}]",
    ]
    if feeds:
        lines.append(f"  feeds: [{', '.join(feeds)}]")
    if sitemaps:
        lines.append(f"  sitemaps: [{', '.join(sitemaps)}]")
    if pattern:
        lines.append(f"  article_url_pattern: '{pattern}'")
    else:
        lines.append("  discover: true  # no common article URL shape found: links are guessed")
        notes.append("no common article URL shape on the home page")
    notes.append(f"{len(links)} article-like links, {len(feeds)} feeds, {len(sitemaps)} sitemaps")
    article_rules: list[str] = []
    sample = next((u for u in links if not pattern or re.search(pattern, u)), None)
    if sample:
        try:
            sample_final, sample_html = fetch(sample)
            article_rules = _article_rules(Page(sample_html, sample_final), sample_html, notes)
            notes.append(f"article rules tried on {sample_final}")
        except FetchError as exc:
            notes.append(str(exc))
    lines += ["", "article:"] + (article_rules or ["  {}  # generic extraction only"])
    return "\n".join(lines) + "\n", notes


def _article_rules(page: Page, html: str, notes: list[str]) -> list[str]:
    rules: list[str] = []
    generic = GenericPage(page, html)
    title = next((c for c in TITLE_CANDIDATES if page.selector.css(c)), None)
    if title:
        rules.append(f"  title: ['{title}', {{meta: 'og:title'}}]")
    body = _best_body_selector(page, generic.trafilatura_body)
    if body:
        rules.append(f"  body: '{body}'")
    else:
        notes.append("no body selector matched the article text well: generic extraction is used")
    for candidate in DATE_CANDIDATES:
        key, expr = next((k, v) for k, v in candidate.items() if k != "attr")
        if key == "css" and page.selector.css(expr).xpath(f"@{candidate['attr']}").get():
            rules.append(f"  published: {{css: '{expr}', attr: {candidate['attr']}}}")
            break
        if (
            key == "meta"
            and page.selector.xpath("//meta[@property=$n or @name=$n]/@content", n=expr).get()
        ):
            rules.append(f"  published: {{meta: '{expr}'}}")
            break
        if key == "jsonld" and generic.jsonld("published"):
            rules.append("  published: {jsonld: datePublished}")
            break
    author = next(
        (
            c
            for c in AUTHOR_CANDIDATES
            if normalize_text(" ".join(page.selector.css(c + " ::text").getall()))
        ),
        None,
    )
    if author:
        rules.append(f"  author: '{author}'")
    return rules
