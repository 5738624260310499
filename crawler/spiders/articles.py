"""``articles``: listing pages (with pagination) -> article pages -> Article items.

    scrapy crawl articles -a site=NAME [-a pages=N] [-a since=YYYY-MM-DD]
        [-a until=YYYY-MM-DD] [-a refetch=true]

Pagination ends at ``pages`` (or the site's ``max_pages``); without ``pages``
or a date range it also ends once listing pages bring nothing new (see
crawler/middlewares/incremental.py). With ``since``, it ends at the first
listing page whose dates are all older than the range.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response, TextResponse

from crawler.config import ListingRules
from crawler.dates import parse_date
from crawler.extraction import Page, extract_links, first_texts
from crawler.middlewares.incremental import KIND, NEXT_LISTING
from crawler.spiders.base import NewsSpider, parse_positive_int


class ArticlesSpider(NewsSpider):
    name = "articles"

    def __init__(self, site: Any = None, pages: Any = None, **kwargs: Any) -> None:
        super().__init__(site=site, pages=pages, **kwargs)
        if self.site.listing is None:
            raise ValueError(
                f"site {self.site.name!r} has no 'listing' section: nothing to crawl for articles"
            )
        self.listing: ListingRules = self.site.listing
        explicit = parse_positive_int("pages", pages)
        self.explicit_pages = explicit is not None
        self.max_pages = explicit or self.listing.max_pages
        self._include = (
            re.compile(self.listing.article_url_pattern)
            if self.listing.article_url_pattern
            else None
        )
        self._exclude = (
            re.compile(self.listing.exclude_url_pattern)
            if self.listing.exclude_url_pattern
            else None
        )

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.listing.start_urls:
            yield self.listing_request(url, page=1)
        template = self.listing.page_url_template
        if template:
            first = self.listing.first_template_page
            for offset in range(self.max_pages - 1):
                url = urljoin(self.site.base_url, template.format(page=first + offset))
                yield self.listing_request(url, page=2 + offset)

    def listing_request(self, url: str, page: int, **meta: Any) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_listing,
            cb_kwargs={"page": page},
            meta=meta,
            dont_filter=page == 1,
        )

    def is_article_url(self, url: str) -> bool:
        if self._include is not None and not self._include.search(url):
            return False
        return not (self._exclude is not None and self._exclude.search(url))

    def listing_older_than_range(self, response: TextResponse) -> bool:
        """Do this listing page's dates all fall before ``since``?"""
        if self.since is None or not self.listing.dates:
            return False
        page = Page(response.text, response.url)
        for rule in self.listing.dates:
            values, _ = first_texts(page, [rule])
            if not values:
                continue
            dates = [
                parse_date(v, rule.format, rule.timezone or self.site.timezone, [self.site.language])
                for v in values
            ]
            known = [d for d in dates if d is not None]
            return bool(known) and max(known) < self.since
        return False

    def parse_listing(self, response: Response, page: int) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            self.logger.warning("listing page is not HTML, skipped: %s", response.url)
            return
        self.crawler.stats.inc_value("newscrawl/listing_pages")
        links = [
            url
            for url in extract_links(response.selector, self.listing.article_links, response.url)
            if self.is_article_url(url)
        ]
        if not links:
            self.logger.warning("no article links found on listing page %s", response.url)
        for url in links:
            yield self.article_request(url)
        if page >= self.max_pages or not self.listing.next_page:
            return
        if self.listing_older_than_range(response):
            self.logger.info("listing page %s is older than since=; stopping", response.url)
            return
        for url in extract_links(
            response.selector, self.listing.next_page, response.url, first_rule_only=True
        )[:1]:
            yield self.listing_request(url, page=page + 1, **{KIND: NEXT_LISTING})
