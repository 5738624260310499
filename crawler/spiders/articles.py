"""``articles``: listing pages (with pagination), feeds and sitemaps -> article
pages -> Article items.

    scrapy crawl articles -a site=NAME [-a pages=N] [-a since=TIME]
        [-a until=TIME] [-a refetch=true]

Pagination ends at ``pages`` (or the site's ``max_pages``); without ``pages``
or a date range it also ends once listing pages bring nothing new (see
crawler/middlewares/incremental.py). With ``since``, it ends at the first
listing page whose dates are all older than the range.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response, TextResponse

from crawler.exceptions import PatternTimeout, RejectItem
from crawler.extraction.discovery import (
    Entry,
    announced_feeds,
    looks_like_article_url,
    newest_listing_date,
    parse_feed,
    parse_sitemap,
    sitemaps_in_robots,
)
from crawler.extraction.navigation import next_page, section_links
from crawler.extraction.page import Page
from crawler.extraction.rules import extract_links
from crawler.items import FROM_LISTING_PAGE, KIND, NEXT_LISTING, SECTION, WALK
from crawler.sites.definitions import ListingRules
from crawler.sites.patterns import compile_pattern
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
            compile_pattern(
                self.listing.article_url_pattern, "article_url_pattern", stage="discover"
            )
            if self.listing.article_url_pattern
            else None
        )
        self._exclude = (
            compile_pattern(
                self.listing.exclude_url_pattern, "exclude_url_pattern", stage="discover"
            )
            if self.listing.exclude_url_pattern
            else None
        )
        # Without a URL pattern, discovery guesses article links by their shape.
        self.guess_links = self.listing.discover and self._include is None
        # Without pagination rules, discovery follows the site's own pagination
        # and the sections of its main navigation (crawler/extraction/navigation.py).
        self.generic_pages = (
            self.listing.discover
            and not self.listing.next_page
            and not self.listing.page_url_template
        )
        self.sitemaps_read = 0
        # Each start URL's walk through its pagination is kept across crawls
        # (crawler/storage/walks.py), except in a backfill, which walks only
        # as deep as it is told.
        self.walks_tracked = not self.explicit_pages and not self.date_range
        self.walk_listings = list(self.listing.start_urls) if self.walks_tracked else []

    async def seed_requests(self) -> AsyncIterator[scrapy.Request]:
        for url in self.listing.start_urls:
            yield self.listing_request(url, page=1, **{WALK: url})
        for url in self.listing.feeds:
            yield scrapy.Request(url, callback=self.parse_feed, dont_filter=True)
        for url in self.listing.sitemaps:
            yield self.sitemap_request(url)
        if self.listing.discover:
            robots = urljoin(self.site.base_url, "/robots.txt")
            yield scrapy.Request(robots, callback=self.parse_robots, dont_filter=True)
        template = self.listing.page_url_template
        if template:
            first = self.listing.first_template_page
            for offset in range(self.max_pages - 1):
                url = urljoin(self.site.base_url, template.format(page=first + offset))
                yield self.listing_request(url, page=2 + offset)

    def listing_request(
        self, url: str, page: int, dont_filter: bool | None = None, **meta: Any
    ) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_listing,
            cb_kwargs={"page": page},
            meta=meta,
            dont_filter=page == 1 if dont_filter is None else dont_filter,
        )

    def sitemap_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_sitemap, meta={"handle_httpstatus_list": []})

    def is_article_url(self, url: str, guess: bool | None = None) -> bool:
        try:
            if self._include is not None and not self._include.search(url):
                return False
            if self._exclude is not None and self._exclude.search(url):
                return False
        except PatternTimeout as exc:
            # The link is rejected with the reason (crawler/sites/patterns.py), the others followed.
            self.crawler.stats.inc_value("newscrawl/pattern_timeouts")
            self.logger.warning("%s: %s", exc, url)
            self.reject(url, RejectItem(str(exc), stage=exc.stage))
            return False
        if self.guess_links if guess is None else guess:
            return looks_like_article_url(url)
        return True

    def follow_entries(self, entries: list[Entry]) -> Iterator[scrapy.Request]:
        """Article requests for feed or sitemap entries in the date range."""
        for entry in entries:
            if entry.published is not None and not self.in_date_range(entry.published):
                self.crawler.stats.inc_value("newscrawl/entries_outside_date_range")
                continue
            if self.is_article_url(entry.url, guess=self.guess_links and not entry.is_news):
                yield self.article_request(entry.url, guessed=not entry.is_news)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value("newscrawl/feeds_read")
        entries = parse_feed(response.body, response.url, self.site.timezone)
        if not entries:
            self.logger.warning("no entries in feed %s", response.url)
        yield from self.follow_entries(entries)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        self.sitemaps_read += 1
        self.crawler.stats.inc_value("newscrawl/sitemaps_read")
        pages, sitemaps = parse_sitemap(response.body, response.url, self.site.timezone)
        yield from self.follow_entries(pages)
        for entry in sitemaps:
            if (
                entry.published is not None
                and self.since is not None
                and entry.published < self.since
            ):
                continue  # a child sitemap last changed before the range holds nothing in it
            if self.sitemaps_read < self.max_pages:
                yield self.sitemap_request(entry.url)

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        text = response.text if isinstance(response, TextResponse) else ""
        found = sitemaps_in_robots(text, response.url) if response.status == 200 else []
        for url in found or [urljoin(self.site.base_url, "/sitemap.xml")]:
            yield self.sitemap_request(url)

    def listing_older_than_range(self, response: TextResponse) -> bool:
        """Do this listing page's dates all fall before ``since``?"""
        if self.since is None or not self.listing.dates:
            return False
        newest = newest_listing_date(
            Page(response.text, response.url), self.listing.dates, self.site
        )
        return newest is not None and newest < self.since

    def parse_listing(self, response: Response, page: int) -> Iterator[scrapy.Request]:
        if response.status in (404, 410):
            self.logger.info("section page not found (HTTP %d): %s", response.status, response.url)
            return
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
            yield self.article_request(url, guessed=self.guess_links)
        if self.listing.discover and page == 1:
            for url in announced_feeds(response.selector, response.url):
                yield scrapy.Request(url, callback=self.parse_feed)
        if self.generic_pages and page == 1 and not response.meta.get(SECTION):
            yield from self.section_requests(response)
        if page >= self.max_pages or not (self.listing.next_page or self.generic_pages):
            return
        if self.listing_older_than_range(response):
            self.logger.info("listing page %s is older than since=; stopping", response.url)
            return
        if self.generic_pages:
            found = next_page(response.selector, response.url, self.site.language)
            following = [found] if found else []
        else:
            following = extract_links(
                response.selector, self.listing.next_page, response.url, first_rule_only=True
            )[:1]
        for url in following:
            yield self.listing_request(
                url,
                page=page + 1,
                **{KIND: NEXT_LISTING, WALK: response.meta.get(WALK), SECTION: False},
            )

    def section_requests(self, response: TextResponse) -> Iterator[scrapy.Request]:
        """The first pages of the sections a start page's main navigation
        links to, each walked with its pagination as part of that start
        page's walk (bounded by ``max_sections``)."""
        limit = self.listing.max_sections
        sections = section_links(response.selector, response.url, limit) if limit else []
        self.crawler.stats.inc_value("newscrawl/sections_walked", len(sections))
        for url in sections:
            yield self.listing_request(
                url,
                page=1,
                dont_filter=False,
                # A dead link in the menu is no section, not a listing page that failed.
                handle_httpstatus_list=[404, 410],
                **{KIND: NEXT_LISTING, WALK: response.meta.get(WALK), SECTION: True},
            )

    def follow_listing_at_article_link(self, response: Response) -> Iterator[scrapy.Request]:
        """A page at a guessed article link that is not an article (an
        archive, a category, a collection of teasers): its article links are
        followed, the page is not stored. Pages reached from it are not
        expanded again."""
        if not (
            isinstance(response, TextResponse)
            and self.guess_links
            and not response.meta.get(FROM_LISTING_PAGE)
        ):
            return
        self.crawler.stats.inc_value("newscrawl/listing_pages_at_article_links")
        for url in extract_links(response.selector, self.listing.article_links, response.url):
            if self.is_article_url(url):
                request = self.article_request(url, guessed=True)
                request.meta[FROM_LISTING_PAGE] = True
                yield request
