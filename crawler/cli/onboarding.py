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

import yaml
from w3lib.encoding import html_to_unicode

from crawler import __version__
from crawler.extraction.cleaning import clean_article
from crawler.extraction.discovery import (
    announced_feeds,
    looks_like_article_url,
    sitemaps_in_robots,
)
from crawler.extraction.generic import JSONLD_PATHS, META_NAMES, GenericPage
from crawler.extraction.page import Page
from crawler.extraction.rules import extract_article, extract_links, rule_paragraphs, rule_texts
from crawler.extraction.text import element_paragraphs, normalize_text
from crawler.sites.definitions import FieldRule, Site
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
    # As the articles spider keeps a listing's links (crawler/spiders/articles.py).
    include, exclude = (
        compile_pattern(pattern, key, stage="discover") if pattern else None
        for key, pattern in (
            ("article_url_pattern", listing.article_url_pattern),
            ("exclude_url_pattern", listing.exclude_url_pattern),
        )
    )
    if include is not None:
        links = [u for u in links if include.search(u)]
    elif listing.discover:
        links = [u for u in links if looks_like_article_url(u)]
    if exclude is not None:
        links = [u for u in links if not exclude.search(u)]
    nxt = extract_links(
        page.selector, listing.next_page, final, first_rule_only=True, where="next_page"
    )
    return final, html, links, nxt[0] if nxt else None


# ---------------------------------------------------------------------- drafting
#
# A draft proposes only rules the crawl itself would read the same way: each
# field's sources are those of generic extraction (crawler/extraction/generic.py:
# its JSON-LD paths and <meta> names, in its order, and the element it reads),
# and each proposed rule is tried with the crawl's own rule functions
# (crawler/extraction/rules.py) before it is written.

MIN_BODY_SCORE = 0.6
_CSS_NAME = re.compile(r"^[A-Za-z_][\w-]*$")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _overlap(text: str, reference: set[str]) -> float:
    """How well ``text`` covers the words of ``reference`` and nothing else (F1)."""
    words = _words(text)
    if not words or not reference:
        return 0.0
    common = len(words & reference)
    precision, recall = common / len(words), common / len(reference)
    return 2 * precision * recall / (precision + recall) if common else 0.0


def _rule(spec: str | dict[str, str]) -> FieldRule:
    """A rule as a definition writes it (a string is a CSS selector), validated."""
    return FieldRule.model_validate({"css": spec} if isinstance(spec, str) else spec)


def _finds(page: Page, spec: str | dict[str, str], field: str) -> bool:
    return bool(rule_texts(page, _rule(spec), where=field))


def structured_rule(page: Page, field: str) -> dict[str, str] | None:
    """The first JSON-LD path or ``<meta>`` name that generic extraction reads
    for ``field`` and that finds a value on this page, as a rule."""
    candidates = [{"jsonld": path} for path in JSONLD_PATHS.get(field, ())]
    candidates += [{"meta": name} for name in META_NAMES.get(field, ())]
    return next((c for c in candidates if _finds(page, c, field)), None)


def element_selector(page: Page, element: Any) -> str | None:
    """A CSS selector whose first match on the page is ``element``, the most
    specific first: its ``itemprop``, its id, its tag and a class, its tag in
    an article, its tag alone; one that matches nothing else if there is one."""
    tag = element.tag if isinstance(element.tag, str) else ""
    options = []
    if element.get("itemprop"):
        options.append(f'[itemprop="{element.get("itemprop")}"]')
    if _CSS_NAME.match(element.get("id") or ""):
        options.append(f"#{element.get('id')}")
    options += [f"{tag}.{c}" for c in (element.get("class") or "").split() if _CSS_NAME.match(c)]
    if any(a.tag == "article" for a in element.iterancestors()):
        options.append(f"article {tag}")
    options.append(tag)
    first = [(css, len(found)) for css in options if tag and (found := page.selector.css(css))]
    first = [(css, count) for css, count in first if page.selector.css(css)[0].root is element]
    unique = [css for css, count in first if count == 1]
    return (unique or [css for css, _ in first] or [None])[0]


def _title_rules(page: Page) -> list[str | dict[str, str]]:
    """The page's headline element, where generic extraction reads a title
    when the structured data has none (its first ``h1``), then the structured
    source generic extraction reads first."""
    rules: list[str | dict[str, str]] = []
    h1 = page.selector.xpath("//h1")
    heading = element_selector(page, h1[0].root) if h1 else None
    if heading and _finds(page, heading, "title"):
        rules.append(heading)
    structured = structured_rule(page, "title")
    if structured:
        rules.append(structured)
    return rules


def _body_rule(page: Page, generic: GenericPage) -> str | None:
    """A selector for the element whose text is the body generic extraction
    finds (the outermost, when several hold the same text), if one is close
    enough, as the crawl reads a body rule."""
    found = generic.body()
    reference = _words(found.value) if found else set()
    if not reference:
        return None
    best, best_score = None, 0.0
    least = len(found.value) / 2 if found else 0
    for element in page.selector.root.iter("article", "main", "section", "div", "td"):
        if len(element.text_content()) < least:
            continue
        score = _overlap(" ".join(element_paragraphs(element)), reference)
        if score > best_score + 0.02 and (css := element_selector(page, element)):
            best, best_score = css, score
    if best is None or best_score < MIN_BODY_SCORE:
        return None
    text = " ".join(rule_paragraphs(page, _rule(best), where="body"))
    return best if _overlap(text, reference) >= MIN_BODY_SCORE else None


def _published_rule(page: Page) -> dict[str, str] | None:
    """The first source generic extraction reads a date from: structured
    data, then the ``datetime`` of a ``<time>`` (in an article first)."""
    structured = structured_rule(page, "published")
    if structured:
        return structured
    for css in ("article time", "time"):
        rule = {"css": css, "attr": "datetime"}
        if _finds(page, rule, "published"):
            return rule
    return None


def _author_rule(page: Page, generic: GenericPage) -> str | dict[str, str] | None:
    """The structured source generic extraction reads a byline from; else the
    element holding the byline generic extraction finds (the tightest one)."""
    structured = structured_rule(page, "author")
    if structured:
        return structured
    found = generic.author()
    if found is None:
        return None
    name = found.value.split(",")[0].strip()
    holders = [
        el
        for el in page.selector.root.iter()
        if isinstance(el.tag, str)
        and el.tag not in ("html", "body", "head", "script", "style", "meta", "title")
        and name in (text := normalize_text(el.text_content()))
        and len(text) <= len(name) + 40
    ]
    for element in sorted(holders, key=lambda el: len(normalize_text(el.text_content()))):
        css = element_selector(page, element)
        if css and any(name in t for t in rule_texts(page, _rule(css), where="author")):
            return css
    return None


def _flow(value: Any) -> str:
    """A rule or a list of rules as one line of YAML."""
    text = yaml.safe_dump([value], default_flow_style=True, sort_keys=False, width=10**6)
    return text.strip()[1:-1]


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
    feeds = announced_feeds(page.selector, final)
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
    lines += ["", "article:"] + (
        _sample_article_rules(links, pattern, notes) or ["  {}  # generic extraction only"]
    )
    return "\n".join(lines) + "\n", notes


def _sample_article_rules(links: list[str], pattern: str | None, notes: list[str]) -> list[str]:
    """The article rules drafted from the first article link (that fits the
    URL pattern), as YAML lines; none when there is no such link."""
    sample = next((u for u in links if not pattern or re.search(pattern, u)), None)
    if not sample:
        return []
    try:
        sample_final, sample_html = fetch(sample)
    except FetchError as exc:
        notes.append(str(exc))
        return []
    rules = _article_rules(Page(sample_html, sample_final), sample_html, notes)
    notes.append(f"article rules tried on {sample_final}")
    return rules


def _article_rules(page: Page, html: str, notes: list[str]) -> list[str]:
    rules: list[str] = []
    generic = GenericPage(page, html)
    if title := _title_rules(page):
        rules.append(f"  title: {_flow(title)}")
    body = _body_rule(page, generic)
    if body:
        rules.append(f"  body: {_flow(body)}")
    else:
        notes.append("no body selector matched the article text well: generic extraction is used")
    if published := _published_rule(page):
        rules.append(f"  published: {_flow(published)}")
    if author := _author_rule(page, generic):
        rules.append(f"  author: {_flow(author)}")
    return rules
