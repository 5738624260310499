"""Extraction: (HTML, URL, site definition) -> items, with no crawling involved.

Pure functions over page text, so every rule can be tested on saved HTML in
milliseconds. Spiders only navigate and hand pages here; pipelines then clean
and validate what comes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree
from parsel import Selector

from crawler.extraction.generic import GenericPage
from crawler.extraction.page import Page, jsonld_values
from crawler.extraction.text import element_paragraphs, normalize_text
from crawler.items import Article, TopStoriesSnapshot, TopStory
from crawler.sites.definitions import ArticleRules, FieldRule, Site, TopStoriesRules
from crawler.sites.patterns import compile_pattern

Match = str | Selector


def drop_elements(page: Page, rules: Iterable[FieldRule]) -> None:
    """Remove the elements rules match from a page (their tail text stays in place)."""
    for rule in rules:
        for match in _matches(page, rule):
            if isinstance(match, Selector):
                _remove_keep_tail(match.root)


def source_of(rule: FieldRule) -> str:
    """The ``sources`` name of what a rule reads: selector, jsonld or meta."""
    return "selector" if rule.kind in ("css", "xpath") else rule.kind


def _remove_keep_tail(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _matches(page: Page, rule: FieldRule, scope: Selector | None = None) -> list[Match]:
    """What one rule finds: strings (text, attributes, metadata) or elements."""
    kind = rule.kind
    if kind == "jsonld":
        return list(jsonld_values(page, rule.expression))
    if kind == "meta":
        name = rule.expression
        return page.selector.xpath(
            "//meta[@property=$n or @name=$n or @itemprop=$n]/@content", n=name
        ).getall()
    root = scope if scope is not None else page.selector
    found = root.xpath(rule.expression) if kind == "xpath" else root.css(rule.expression)
    out: list[Match] = []
    for sel in found:
        if isinstance(sel.root, etree._Element):
            if rule.attr:
                value = sel.root.get(rule.attr)
                if value is not None:
                    out.append(value)
            else:
                out.append(sel)
        else:
            out.append(str(sel.root))
    return out


def _apply_regex(rule: FieldRule, values: Iterable[str], where: str) -> list[str]:
    """The rule's ``regex`` on each value, bounded in time (crawler/sites/patterns.py):
    a value that takes too long raises PatternTimeout naming ``where``."""
    if rule.regex is None:
        return list(values)
    pattern = compile_pattern(rule.regex, where)
    out = []
    for value in values:
        m = pattern.search(value)
        if m is None:
            continue
        if "value" in pattern.groupindex:
            out.append(m.group("value") or "")
        elif pattern.groups:
            out.append(m.group(1) or "")
        else:
            out.append(m.group(0))
    return out


def _outermost(matches: list[Match]) -> list[Match]:
    """Drop matched elements nested inside another matched element."""
    elements = {id(m.root) for m in matches if isinstance(m, Selector)}
    out = []
    for m in matches:
        if isinstance(m, Selector):
            parent = m.root.getparent()
            nested = False
            while parent is not None:
                if id(parent) in elements:
                    nested = True
                    break
                parent = parent.getparent()
            if nested:
                continue
        out.append(m)
    return out


def rule_texts(
    page: Page, rule: FieldRule, scope: Selector | None = None, where: str = "a field rule"
) -> list[str]:
    """One rule's values as single-line texts. ``where``: the rule's key, for messages."""
    texts = []
    for m in _outermost(_matches(page, rule, scope)):
        raw = " ".join(element_paragraphs(m.root)) if isinstance(m, Selector) else m
        texts.append(raw)
    return [t for t in (normalize_text(v) for v in _apply_regex(rule, texts, where)) if t]


def rule_paragraphs(page: Page, rule: FieldRule, where: str = "a field rule") -> list[str]:
    """One rule's values as paragraphs: each matched element split at block elements."""
    paragraphs: list[str] = []
    for m in _outermost(_matches(page, rule)):
        if isinstance(m, Selector):
            paragraphs.extend(element_paragraphs(m.root))
        else:
            paragraphs.extend(p for p in (normalize_text(x) for x in re.split(r"\n\s*\n", m)) if p)
    if rule.regex is not None:
        paragraphs = [normalize_text(p) for p in _apply_regex(rule, paragraphs, where)]
    return [p for p in paragraphs if p]


def first_texts(
    page: Page, rules: list[FieldRule], where: str = "a field rule"
) -> tuple[list[str], str | None]:
    """The values of the first rule that finds any, and that rule's source."""
    for rule in rules:
        values = rule_texts(page, rule, where=where)
        if values:
            return values, source_of(rule)
    return [], None


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def extract_article(
    html: str | bytes,
    url: str,
    site: Site,
    fetched_at: datetime | None = None,
    page: Page | None = None,
) -> Article:
    """Turn one article page into an :class:`Article` by the site's rules.

    ``page``: the same HTML already parsed (a spider parses once); ``drop``
    rules change it in place.
    """
    page = page if page is not None else Page(html, url)
    rules = site.article
    page.jsonld  # read before `drop`, which may remove <script> elements  # noqa: B018
    drop_elements(page, rules.drop)
    article = Article(url=url, site=site.name, language=site.language, fetched_at=fetched_at)

    _title_and_body(article, page, rules)
    _published(article, page, rules, site)
    _byline_section_tags(article, page, rules)
    if rules.fallback:
        fill_from_page(article, page, html if isinstance(html, str) else page.text, site)
    return article


def _title_and_body(article: Article, page: Page, rules: ArticleRules) -> None:
    # A definition that gives no title rules reads the headline generically
    # (fill_from_page), from all the headlines a page gives; the default rules
    # are used only when that finds none.
    title_rules = rules.title if "title" in rules.model_fields_set or not rules.fallback else []
    _titles(article, page, title_rules)
    for rule in rules.body:
        paragraphs = rule_paragraphs(page, rule, where="body")
        if paragraphs:
            article.body = "\n\n".join(paragraphs)
            article.sources["body"] = source_of(rule)
            break


def _titles(article: Article, page: Page, rules: list[FieldRule]) -> None:
    for rule in rules:
        for value in rule_texts(page, rule, where="title"):
            if value not in article.title_candidates:
                article.title_candidates.append(value)
                article.title_candidate_kinds.append(source_of(rule))
    if article.title_candidates:
        article.title = article.title_candidates[0]
        article.sources["title"] = article.title_candidate_kinds[0]


def _published(article: Article, page: Page, rules: ArticleRules, site: Site) -> None:
    """The date text as found, with what reading it needs (cleaning reads it)."""
    for date_rule in rules.published:
        values = rule_texts(page, date_rule, where="published")
        if values:
            article.published_raw = values[0]
            article.published_format = list(date_rule.format)
            article.published_timezone = date_rule.timezone or site.timezone
            article.sources["published_at"] = source_of(date_rule)
            return


def _byline_section_tags(article: Article, page: Page, rules: ArticleRules) -> None:
    authors, kind = first_texts(page, rules.author, "author")
    if authors:
        article.author = ", ".join(_unique(authors))
        article.sources["author"] = kind or ""
    sections, kind = first_texts(page, rules.section, "section")
    if sections:
        article.section = sections[0]
        article.sources["section"] = kind or ""
    tags, kind = first_texts(page, rules.tags, "tags")
    if tags:
        # One value is a list in a string ("a, b, c": keywords); several values
        # are one tag each, commas and all.
        split = [t.strip() for t in tags[0].split(",")] if len(tags) == 1 else tags
        article.tags = _unique(t for t in split if t)
        article.sources["tags"] = kind or ""


def fill_from_page(article: Article, page: Page, html: str, site: Site) -> None:
    """Fill the fields the site's rules left empty from the page's structured
    data, metadata and a news extractor (see crawler/extraction/generic.py)."""
    generic = GenericPage(page, html, [site.language] if site.language else None)
    found = None
    if not article.title_candidates and (found := generic.title()):
        article.title_candidates.append(found.value)
        article.title_candidate_kinds.append(found.source)
        article.title = found.value
        article.sources["title"] = found.source
        if "title" in site.article.model_fields_set:
            article.fallbacks.append("title")
    if not article.title_candidates:
        _titles(article, page, site.article.title)
    if not article.body and (found := generic.body()):
        paragraphs = found.value.split("\n\n")
        if article.title and paragraphs and paragraphs[0] == article.title:
            paragraphs = paragraphs[1:]  # extractors often keep the headline
        article.body, article.sources["body"] = "\n\n".join(paragraphs) or None, found.source
        article.fallbacks.append("body")
    if not article.published_raw and (found := generic.published()):
        article.published_raw, article.sources["published_at"] = found.value, found.source
        article.published_timezone = site.timezone
        article.fallbacks.append("published_at")
    if not article.author and (found := generic.author()):
        article.author, article.sources["author"] = found.value, found.source
        article.fallbacks.append("author")
    if not article.section and (found := generic.section()):
        article.section, article.sources["section"] = found.value, found.source
        article.fallbacks.append("section")
    if not article.tags and (found := generic.tags()):
        article.tags, article.sources["tags"] = _unique(found.value), found.source
        article.fallbacks.append("tags")


def extract_links(
    selector: Selector,
    rules: list[FieldRule],
    base_url: str,
    *,
    first_rule_only: bool = False,
    where: str = "a link rule",
) -> list[str]:
    """Absolute http(s) URLs found by link rules: attribute values, or the
    ``href`` of matched elements (or of the links inside them)."""
    page_stub = _SelectorPage(selector)
    urls: list[str] = []
    for rule in rules:
        found: list[str] = []
        for m in _matches(page_stub, rule):
            if isinstance(m, Selector):
                href = m.root.get("href")
                found.extend([href] if href else m.xpath(".//a/@href").getall())
            else:
                found.append(m)
        found = _apply_regex(rule, found, where)
        for href in found:
            absolute = urljoin(base_url, href.strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                urls.append(absolute.split("#", 1)[0])
        if found and first_rule_only:
            break
    return _unique(urls)


class _SelectorPage(Page):
    """A :class:`Page` over an already parsed selector (a Scrapy response's)."""

    def __init__(self, selector: Selector) -> None:  # noqa: D107 - no re-parse
        self.url = ""
        self.text = ""
        self.selector = selector


def extract_top_stories(
    html: str | bytes, url: str, site: Site, captured_at: datetime
) -> TopStoriesSnapshot:
    """The ranked entries of one top-stories page."""
    rules: TopStoriesRules | None = site.top_stories
    snapshot = TopStoriesSnapshot(site=site.name, page_url=url, captured_at=captured_at)
    if rules is None:
        return snapshot
    page = Page(html, url)
    seen: set[str] = set()
    for entry in _entries(page, rules.entries):
        link = _entry_link(page, entry, rules.link)
        title = _entry_title(page, entry, rules.title)
        if not link or not title:
            continue
        absolute = urljoin(url, link).split("#", 1)[0]
        if absolute in seen:
            continue
        seen.add(absolute)
        snapshot.entries.append(TopStory(rank=len(snapshot.entries) + 1, title=title, url=absolute))
        if rules.max_entries and len(snapshot.entries) >= rules.max_entries:
            break
    return snapshot


def _entries(page: Page, rules: list[FieldRule]) -> list[Selector]:
    """The elements of the first entries rule that finds any."""
    for rule in rules:
        found = [m for m in _matches(page, rule) if isinstance(m, Selector)]
        if found:
            return found
    return []


def _entry_link(page: Page, entry: Selector, rules: list[FieldRule]) -> str | None:
    for rule in rules:
        values = [
            (m.root.get("href") or "") if isinstance(m, Selector) else m
            for m in _matches(page, rule, scope=entry)
        ]
        values = [v.strip() for v in _apply_regex(rule, values, "top_stories.link") if v.strip()]
        if values:
            return values[0]
    if isinstance(entry.root, etree._Element):
        href = entry.root.get("href") or entry.xpath(".//a/@href").get()
        return href.strip() if href else None
    return None


def _entry_title(page: Page, entry: Selector, rules: list[FieldRule]) -> str | None:
    for rule in rules:
        values = rule_texts(page, rule, scope=entry, where="top_stories.title")
        if values:
            return values[0]
    if isinstance(entry.root, etree._Element):
        text = normalize_text(" ".join(element_paragraphs(entry.root)))
        return text or None
    return normalize_text(str(entry.root)) or None
