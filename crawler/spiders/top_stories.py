"""``top_stories``: top-stories pages -> one ranked snapshot per page, and the
linked articles.

    scrapy crawl top_stories -a site=NAME
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from crawler.extraction.rules import extract_top_stories
from crawler.items import CAPTURE, TopStoriesSnapshot
from crawler.sites.definitions import TopStoriesRules
from crawler.spiders.base import NewsSpider


class TopStoriesSpider(NewsSpider):
    name = "top_stories"

    def __init__(self, site: Any = None, **kwargs: Any) -> None:
        super().__init__(site=site, **kwargs)
        if self.site.top_stories is None:
            raise ValueError(f"site {self.site.name!r} has no 'top_stories' section")
        self.rules: TopStoriesRules = self.site.top_stories

    async def seed_requests(self) -> AsyncIterator[scrapy.Request]:
        for url in self.rules.pages:
            yield scrapy.Request(url, callback=self.parse_top_stories, dont_filter=True)

    def parse_top_stories(
        self, response: Response
    ) -> Iterator[TopStoriesSnapshot | scrapy.Request]:
        if not isinstance(response, TextResponse):
            self.logger.warning("top-stories page is not HTML, skipped: %s", response.url)
            return
        snapshot = extract_top_stories(
            response.text, response.url, self.site, captured_at=datetime.now(UTC)
        )
        for entry in snapshot.entries:
            entry.url = self.canonical(entry.url)
        snapshot.capture = response.meta.get(CAPTURE)
        yield snapshot
        if self.rules.follow:
            for entry in snapshot.entries:
                yield self.article_request(entry.url)
