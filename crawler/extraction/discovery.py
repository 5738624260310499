"""Where article links come from: RSS/Atom feeds (and the feeds a page
announces), sitemaps (with Google News extensions), robots.txt, links that
look like articles, and the dates of a listing page. Pure functions over
response bodies and pages; the spiders only follow what they return.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urljoin, urlsplit

from lxml import etree
from parsel import Selector

from crawler.extraction.dates import parse_date
from crawler.extraction.page import Page
from crawler.extraction.rules import first_texts
from crawler.sites.definitions import FieldRule, Site

MAX_UNCOMPRESSED = 50 * 1024 * 1024  # the sitemap protocol's own limit
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, recover=True, remove_comments=True, huge_tree=False
)


@dataclass(frozen=True)
class Entry:
    """One link from a feed or a sitemap, with the date it carries (aware UTC)."""

    url: str
    published: datetime | None = None
    is_news: bool = False  # a news sitemap entry or a feed item: surely an article


def _xml_root(body: bytes) -> etree._Element | None:
    if body[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(body)) as f:
                body = f.read(MAX_UNCOMPRESSED + 1)
        except (OSError, EOFError):
            return None
        if len(body) > MAX_UNCOMPRESSED:
            return None
    try:
        return etree.fromstring(body.lstrip(), parser=_PARSER)
    except etree.XMLSyntaxError:
        return None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(el: etree._Element, *names: str) -> str | None:
    for child in el.iter():
        if _local(child.tag) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def _date(text: str | None, timezone: str) -> datetime | None:
    return parse_date(text, [], timezone) if text else None


def parse_feed(body: bytes, base_url: str, timezone: str = "UTC") -> list[Entry]:
    """Items of an RSS 0.9x/1.0/2.0 or Atom feed."""
    root = _xml_root(body)
    if root is None:
        return []
    entries = []
    for item in root.iter():
        name = _local(item.tag)
        if name == "item":  # RSS
            link = _child_text(item, "link")
            if not link:
                guid = next((c for c in item if _local(c.tag) == "guid"), None)
                if guid is not None and guid.get("isPermaLink", "true") != "false":
                    link = (guid.text or "").strip()
            when = _child_text(item, "pubdate", "date", "published", "updated")
        elif name == "entry":  # Atom
            link = None
            for child in item:
                if _local(child.tag) == "link" and child.get("rel", "alternate") == "alternate":
                    link = child.get("href")
                    break
            when = _child_text(item, "published", "updated", "issued", "modified")
        else:
            continue
        if link:
            entries.append(Entry(urljoin(base_url, link.strip()), _date(when, timezone), True))
    return entries


def parse_sitemap(
    body: bytes, base_url: str, timezone: str = "UTC"
) -> tuple[list[Entry], list[Entry]]:
    """``(pages, sitemaps)`` of a sitemap: a ``urlset`` gives pages, a
    ``sitemapindex`` gives further sitemaps; each with its date."""
    root = _xml_root(body)
    if root is None:
        return [], []
    pages: list[Entry] = []
    sitemaps: list[Entry] = []
    kind = _local(root.tag)
    for el in root:
        name = _local(el.tag)
        if name not in ("url", "sitemap"):
            continue
        loc = next((c.text.strip() for c in el if _local(c.tag) == "loc" and c.text), None)
        if not loc:
            continue
        news = next((c for c in el if _local(c.tag) == "news"), None)
        when = _child_text(news, "publication_date") if news is not None else None
        when = when or next(
            (c.text.strip() for c in el if _local(c.tag) == "lastmod" and c.text), None
        )
        entry = Entry(urljoin(base_url, loc), _date(when, timezone), news is not None)
        (sitemaps if kind == "sitemapindex" or name == "sitemap" else pages).append(entry)
    return pages, sitemaps


def sitemaps_in_robots(text: str, base_url: str) -> list[str]:
    return [
        urljoin(base_url, m.group(1).strip())
        for m in re.finditer(r"(?im)^\s*sitemap\s*:\s*(\S+)", text)
    ]


# Path segments that name lists, people and site furniture rather than stories.
_NOT_ARTICLE_SEGMENTS = frozenset(
    """tag tags topic topics category categories author authors page search login logout
    register account subscribe subscription newsletter newsletters about contact privacy
    terms cookies feed rss atom sitemap archive archives section sections live-tv weather
    horoscope games podcasts podcast jobs advertise shop""".split()
)
_NOT_ARTICLE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".svg",
    ".pdf",
    ".css",
    ".js",
    ".xml",
    ".rss",
    ".zip",
    ".mp3",
    ".mp4",
    ".json",
    ".ico",
)


_DATE_ARCHIVE = re.compile(
    r"^(/[^/]+)?/(19|20)\d\d(/(0?[1-9]|1[0-2])(/(0?[1-9]|[12]\d|3[01]))?)?/?$"
)
# Query parameters that carry a story's id in older CMSs (``article.php?id=1234``).
_ARTICLE_ID_PARAMS = frozenset(
    "id aid artid article articleid story storyid newsid nid itemid sid contentid".split()
)


def looks_like_article_url(url: str) -> bool:
    """A URL shaped like a story: a dated path, a long numeric id, a long
    slug, or a script given a story's id (``article.php?id=1234``)."""
    parts = urlsplit(url)
    path = parts.path.lower()
    if path.endswith(_NOT_ARTICLE_EXTENSIONS):
        return False
    segments = [s for s in path.split("/") if s]
    stems = [re.sub(r"\.(s?html?|php\d?|aspx?|jsp|cfm)$", "", s) for s in segments]
    if any(s in _NOT_ARTICLE_SEGMENTS for s in stems):
        return False
    if segments and segments[-1] != stems[-1] and _has_article_id(parts.query):
        return True
    if not segments:
        return False
    last = segments[-1]
    if _DATE_ARCHIVE.match(path):
        return False  # a year, month or day archive: no story after the date
    if re.search(r"/(19|20)\d\d/(0?[1-9]|1[0-2])/", path + "/"):
        return True
    if re.search(r"\d{5,}", last) or (len(segments) >= 2 and re.fullmatch(r"\d{4,}", last)):
        return True
    slug = re.sub(r"\.(s?html?|php|aspx?)$", "", last)
    return slug.count("-") + slug.count("_") >= 3


def _has_article_id(query: str) -> bool:
    return any(
        name.lower() in _ARTICLE_ID_PARAMS and value.isdigit()
        for name, value in parse_qsl(query, keep_blank_values=True)
    )


def announced_feeds(selector: Selector, base_url: str) -> list[str]:
    """The feeds a page announces (``<link rel="alternate">`` of a feed type), absolute."""
    hrefs = selector.xpath(
        "//link[@rel='alternate'][contains($types, @type)]/@href", types=" ".join(FEED_TYPES)
    ).getall()
    return [urljoin(base_url, href.strip()) for href in hrefs if href.strip()]


def newest_listing_date(page: Page, rules: list[FieldRule], site: Site) -> datetime | None:
    """The newest date a listing page shows, by the first of ``rules`` (the
    listing's ``dates``) that finds any it can read; None when none does."""
    for rule in rules:
        values, _ = first_texts(page, [rule])
        if not values:
            continue
        zone = rule.timezone or site.timezone
        dates = [parse_date(v, rule.format, zone, [site.language]) for v in values]
        known = [d for d in dates if d is not None]
        return max(known) if known else None
    return None
