"""What both spiders share: the site definition, and turning an article page into an item."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from crawler.config import Site, get_site
from crawler.extraction import extract_article
from crawler.items import Article
from crawler.urls import canonical_url

logger = logging.getLogger(__name__)


def parse_positive_int(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"-a {name}= takes a whole number, got {value!r}") from None
    if number < 1:
        raise ValueError(f"-a {name}= must be at least 1, got {number}")
    return number


class NewsSpider(scrapy.Spider):
    """A spider for one configured site, chosen with ``-a site=NAME``."""

    site: Site

    def __init__(self, site: str | Site | None = None, **kwargs: Any) -> None:
        if site is None:
            raise ValueError(f"spider {self.name!r} needs a site: -a site=NAME")
        self.site = site if isinstance(site, Site) else get_site(site)
        self.arguments = {k: str(v) for k, v in kwargs.items() if v is not None}
        super().__init__(**kwargs)
        self.allowed_domains = list(self.site.allowed_domains)

    def article_request(self, url: str, **kwargs: Any) -> scrapy.Request:
        # Article pages before further listing pages, so items flow early.
        return scrapy.Request(url, callback=self.parse_article, priority=10, **kwargs)

    def parse_article(self, response: Response) -> Iterator[Article]:
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("newscrawl/non_text_article_pages")
            logger.warning("not an HTML page, skipped: %s", response.url)
            return
        yield extract_article(
            response.text,
            canonical_url(response.url),
            self.site,
            fetched_at=datetime.now(UTC),
        )
