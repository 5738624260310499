"""Helping a user write a site definition: extract one page, check a site's
rules against its live pages, and draft a definition from a home page.

Used by ``newscrawl extract``, ``newscrawl sites check`` and ``newscrawl
sites new``. Pages are fetched one at a time through Scrapy, as a crawl
fetches them (crawler/cli/fetching.py), so the answers come in seconds.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from crawler.cli import drafting
from crawler.cli.fetching import FetchError, PageFetcher
from crawler.exceptions import UndecodablePage
from crawler.extraction.cleaning import clean_article
from crawler.extraction.discovery import (
    announced_feeds,
    looks_like_article_url,
    sitemaps_in_robots,
)
from crawler.extraction.generic import JSONLD_PATHS, META_NAMES, GenericPage
from crawler.extraction.navigation import next_page
from crawler.extraction.page import Page
from crawler.extraction.reader import HTML_TYPES, decode
from crawler.extraction.rules import extract_article, extract_links, rule_paragraphs, rule_texts
from crawler.extraction.text import element_paragraphs, normalize_text
from crawler.sites.definitions import FieldRule, Site
from crawler.sites.patterns import compile_pattern
from crawler.sites.times import iso_time

FIELDS = ("title", "body", "published_at", "author", "section", "tags")
RULE_KEYS = {"published_at": "published"}


class NotAPage(FetchError):
    """Input that is no HTML page: binary data (an image, a compressed file),
    another type served, or bytes no charset decodes (exit status 2)."""


# The first bytes of the files most often given by mistake.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x1f\x8b", "gzip-compressed data (decompress it first: gunzip)"),
    (b"BZh", "bzip2-compressed data (decompress it first: bunzip2)"),
    (b"\xfd7zXZ\x00", "xz-compressed data (decompress it first: unxz)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data (decompress it first: unzstd)"),
    (b"\x7fELF", "a program"),
)


def binary_kind(body: bytes) -> str | None:
    """What binary data ``body`` is (``a PNG image``), or None for text: a
    byte-order mark means text (UTF-16 has NUL bytes); a known signature or a
    NUL byte in the first 8 KB means binary."""
    if read_bom(body)[0] is not None:
        return None
    kind = next((name for magic, name in SIGNATURES if body.startswith(magic)), None)
    if kind is None and b"\x00" in body[:8192]:
        kind = "binary data"
    return kind


def page_text(body: bytes, where: str, content_type: str | None = None) -> str:
    """A page's text from its bytes, decoded as a crawl decodes a page
    (crawler/extraction/reader.py: a byte-order mark, the HTTP charset, the
    page's ``<meta>`` charset, else UTF-8 or the charset detected from the
    bytes). :class:`NotAPage` for binary data or bytes no charset decodes;
    ``where`` names the input in its message."""
    kind = binary_kind(body)
    if kind is not None:
        raise NotAPage(f"{where} is {kind}, not an HTML page")
    declared = http_content_type_encoding(content_type) if content_type else None
    reader_log = logging.getLogger(decode.__module__)
    reader_log.disabled = True  # its warnings are a crawl's; the notes below are ours
    try:
        decoded = decode(body, declared or "", where)
    except UndecodablePage as exc:
        raise NotAPage(f"{where}: {exc}") from None
    finally:
        reader_log.disabled = False
    if decoded.mislabelled and (declared or html_body_declared_encoding(body)):
        print(f"note: {where} decoded as {decoded.charset}, not as declared", file=sys.stderr)
    if decoded.replaced:
        print(
            f"note: {where}: {decoded.replaced} bytes that are not {decoded.charset} "
            "kept as \ufffd",
            file=sys.stderr,
        )
    return decoded.text


def read_page_file(source: str) -> str:
    """The text of a saved page (a file, or ``-`` for standard input).
    :class:`NotAPage` for a missing or unreadable file and for one that is no
    page (binary, undecodable)."""
    if source == "-":
        return page_text(sys.stdin.buffer.read(), "standard input")
    path = Path(source)
    if not path.is_file():
        raise NotAPage(f"{source}: no such file")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise NotAPage(f"{source}: cannot read it: {exc.strerror or exc}") from None
    return page_text(body, source)


def fetch(url: str, fetcher: PageFetcher) -> tuple[str, str]:
    """GET a page through Scrapy (``fetcher``): ``(final URL, text)``, decoded
    as :func:`page_text` does. :class:`FetchError` when there is no page
    (robots.txt disallows it, an HTTP error after the retries, a download
    error), :class:`NotAPage` when the server sends something else than a page."""
    page = fetcher.get(url)
    mimetype = (page.content_type or "").split(";")[0].strip().lower()
    if mimetype not in HTML_TYPES and not mimetype.endswith("xml"):
        raise NotAPage(f"{page.url} is not an HTML page: the server sent {mimetype}")
    return page.url, page_text(page.body, page.url, page.content_type)


def robots_sitemaps(base: str, fetcher: PageFetcher) -> list[str]:
    """The sitemaps the site's robots.txt names (none when it has no robots.txt)."""
    try:
        robots = fetcher.get(urljoin(base, "/robots.txt"), robots=True)
    except FetchError:
        return []
    if robots.status != 200:
        return []
    return sitemaps_in_robots(robots.body.decode("utf-8", "replace"), base)


def generic_site(url: str) -> Site:
    """A site definition with no rules: every field from generic extraction."""
    host = urlsplit(url).hostname or "localhost"
    return Site.model_validate(
        {"name": "page", "base_url": f"{urlsplit(url).scheme or 'http'}://{host}/"}
    )


# Where a page read without a URL is said to be, for extraction only (relative
# links); ``extract --json`` reports the URL as null.
NO_URL = "http://localhost/"


def extract_page(html: str, url: str | None, site: Site | None) -> dict[str, Any]:
    """Every field of one page, cleaned as it would be stored, with its
    source. Without ``site``, generic extraction (``site`` is then null);
    ``url`` is where the page is from, null when not known."""
    rules = site or generic_site(url or NO_URL)
    article = clean_article(extract_article(html, url or NO_URL, rules), rules)
    values = {
        "title": article.title,
        "body": article.body,
        "published_at": iso_time(article.published_at),
        "author": article.author,
        "section": article.section,
        "tags": article.tags,
    }
    return {
        "url": url,
        "site": site.name if site is not None else None,
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
        if name == "published_at":
            value = iso_time(value)
        checks.append(FieldCheck(name, value, full.sources.get(name), bool(rules), bool(raw)))
    return checks


def first_article_url(site: Site, fetcher: PageFetcher) -> tuple[str, str, list[str], str | None]:
    """Fetch the site's first listing page: ``(page URL, html, article links, next page)``."""
    listing = site.listing
    assert listing is not None
    if not listing.start_urls:
        raise FetchError("the site has no listing start_urls; give an article URL to check")
    final, html = fetch(listing.start_urls[0], fetcher)
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


# Host name labels that name no site: a leading ``www.``, ``m.``..., and the
# second level of country domains (``co.uk``, ``com.au``).
HOST_PREFIXES = ("www", "www1", "www2", "m", "mobile", "amp")
SECOND_LEVELS = {"co", "com", "net", "org", "gov", "ac", "edu", "or", "ne", "go", "gv"}


def site_name_for(url: str) -> str:
    """The name a drafted definition gets: the site's domain without its
    top level, ``www.`` and the like (``www.gazette.example`` and
    ``news.gazette.co.uk`` give ``gazette``), as a valid site name."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    labels = [label for label in host.lower().split(".") if label]
    if not labels or all(label.isdigit() for label in labels):  # an IP address, or none
        return _valid_name("-".join(labels) or "site")
    while labels and labels[0] in HOST_PREFIXES and len(labels) > 2:
        labels.pop(0)
    if len(labels) > 1:
        labels.pop()  # the top level: .com, .example
    if len(labels) > 1 and labels[-1] in SECOND_LEVELS:
        labels.pop()
    return _valid_name(labels[-1])


def _valid_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:64].rstrip("-_")
    return name or "site"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a site, by the rule of site definitions
    (crawler/sites/definitions.py), or None when it can."""
    from pydantic import ValidationError

    try:
        Site.model_validate({"name": name, "base_url": "http://site.example/"})
    except ValidationError:
        return (
            "a site name is lower-case letters, digits, - and _, starts with a letter or "
            "a digit, and has at most 64 characters"
        )
    return None


def draft_site(
    home_url: str, fetcher: PageFetcher, name: str | None = None
) -> tuple[str, list[str]]:
    """A starting site definition (YAML text) for the site at ``home_url``,
    and notes, from pages ``fetcher`` fetches. Its name is ``name``, else
    :func:`site_name_for` the URL."""
    notes: list[str] = []
    final, html = fetch(home_url, fetcher)
    parts = urlsplit(final)
    base = f"{parts.scheme}://{parts.netloc}/"
    host = parts.hostname or ""
    page = Page(html, final)
    feeds = announced_feeds(page.selector, final)
    sitemaps = robots_sitemaps(base, fetcher)
    links = [
        u
        for u in dict.fromkeys(
            urljoin(final, h).split("#")[0] for h in page.selector.css("a::attr(href)").getall()
        )
        if urlsplit(u).hostname == host and looks_like_article_url(u)
    ]
    pattern = drafting.guess_url_pattern(links)
    lines = [
        "# Drafted by `newscrawl sites new`: check it with `newscrawl sites check`, then refine.",
        f"name: {name or site_name_for(home_url)}",
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
        rule = drafting.article_links_rule(page, pattern, element_selector)
        lines.append(f"  article_links: {_flow(rule)}")
        lines.append(f"  article_url_pattern: {_flow(pattern)}")
    else:
        lines.append("  discover: true  # no common article URL shape found: links are guessed")
        notes.append("no common article URL shape on the home page")
    lines += _pagination_lines(page, notes, fetcher)
    notes.append(f"{len(links)} article-like links, {len(feeds)} feeds, {len(sitemaps)} sitemaps")
    lines += ["", "article:"] + (
        _sample_article_rules(links, pattern, notes, fetcher) or ["  {}  # generic extraction only"]
    )
    return "\n".join(lines) + "\n", notes


def _pagination_lines(page: Page, notes: list[str], fetcher: PageFetcher) -> list[str]:
    """``next_page`` (or ``page_url_template``) lines: a rule that finds the
    page generic discovery goes to next, on the home page and on that page."""
    candidates = drafting.next_page_rules(page, element_selector)
    target = next_page(page.selector, page.url)
    if target is None:
        notes.append("no next page found on the home page: no pagination drafted")
        return []
    try:
        second_url, second_html = fetch(target, fetcher)
    except FetchError as exc:
        notes.append(f"the next page could not be fetched ({exc}): no pagination drafted")
        return []
    second = Page(second_html, second_url)
    for rule in candidates:
        if drafting.agrees_on_next(rule, second):
            notes.append(f"next_page tried on {page.url} and {second_url}")
            spec = {"xpath": rule.removeprefix("xpath:")} if rule.startswith("xpath:") else rule
            return [f"  next_page: {_flow(spec)}"]
    template = drafting.page_template(target)
    if template is not None:
        notes.append(f"no next-page rule fits both pages: numbered pages from {target}")
        return [
            f"  page_url_template: {_flow(template[0])}",
            f"  first_template_page: {template[1]}",
        ]
    notes.append("no next-page rule fits both the home page and the next: none drafted")
    return []


SAMPLE_ARTICLES = 3


def _sample_links(links: list[str], pattern: str | None) -> list[str]:
    """Up to SAMPLE_ARTICLES article links that fit the pattern, spread over the page."""
    fitting = [u for u in links if not pattern or re.search(pattern, u)]
    if len(fitting) <= SAMPLE_ARTICLES:
        return fitting
    step = len(fitting) / SAMPLE_ARTICLES
    return [fitting[int(i * step)] for i in range(SAMPLE_ARTICLES)]


def _sample_article_rules(
    links: list[str], pattern: str | None, notes: list[str], fetcher: PageFetcher
) -> list[str]:
    """The article rules drafted from several article pages: for each field,
    the first rule proposed on one of them that gives what generic
    extraction gives on every one of them; as YAML lines."""
    samples = []
    for url in _sample_links(links, pattern):
        try:
            final, html = fetch(url, fetcher)
        except FetchError as exc:
            notes.append(str(exc))
            continue
        samples.append((Page(html, final), GenericPage(Page(html, final), html)))
    if not samples:
        return []
    rules: list[str] = []
    for field, propose in (
        ("title", lambda p, g: _title_rules(p)),
        ("body", lambda p, g: [r] if (r := _body_rule(p, g)) else []),
        ("published", lambda p, g: [r] if (r := _published_rule(p)) else []),
        ("author", lambda p, g: [r] if (r := _author_rule(p, g)) else []),
    ):
        chosen = _agreeing_rule(field, samples, propose)
        if chosen is not None:
            rules.append(f"  {field}: {_flow(chosen)}")
            drop = _drop_rules(samples, chosen) if field == "body" else []
            if drop:
                rules.append(f"  drop: {_flow(drop)}")
        else:
            notes.append(f"no {field} rule agrees with generic extraction on every sample")
    urls = ", ".join(p.url for p, _ in samples)
    notes.append(f"article rules agree with generic extraction on {len(samples)} pages: {urls}")
    return rules


def _drop_rules(samples: list, body_css: Any) -> list[str]:
    """The blocks inside the body element that are not the article on any
    sample (drafting.drop_rules), against generic extraction's body."""
    if not isinstance(body_css, str):
        return []
    bodies = [(page, found.value if (found := generic.body()) else "") for page, generic in samples]
    return drafting.drop_rules(bodies, body_css)


def _agreeing_rule(field: str, samples: list, propose: Any) -> Any:
    expected = []
    for _, generic in samples:
        found = getattr(generic, field)()
        expected.append(found.value if found else None)
    for page, generic in samples:
        for spec in propose(page, generic):
            if all(
                drafting.agrees(p, field, spec, value)
                for (p, _), value in zip(samples, expected, strict=True)
            ):
                return spec
    return None


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
