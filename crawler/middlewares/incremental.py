"""Incremental crawling: article pages already stored are not fetched again
unless the site's revisit policy says they are due.

An async spider middleware. Article requests leaving a callback are checked
against the database in batches, off the reactor thread (the database is the
one source of truth, so this works across runs and machines). It also ends
pagination: once ``listing.stop_after_known_pages`` listing pages in a row
brought no new article, the next listing page is not requested.

While the database cannot be reached, nothing can be checked: the links are
all followed as new (what is stored already is only touched again by the
store, or spooled with the rest), so a listing page read during an outage
loses none of its articles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.http import Response

from crawler.revisit import is_due
from crawler.storage.database import database_url
from crawler.storage.spool import database_unreachable, short_error
from crawler.storage.store import Store

logger = logging.getLogger(__name__)

ARTICLE = "article"
NEXT_LISTING = "next_listing"
KIND = "newscrawl_kind"
KNOWN_PAGES_IN_ROW = "newscrawl_known_pages_in_row"


class IncrementalMiddleware:
    def __init__(self, crawler: Any, database_url: str, batch_size: int) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.batch_size = batch_size
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> IncrementalMiddleware:
        s = crawler.settings
        return cls(
            crawler,
            database_url(s.get("NEWSCRAWL_DATABASE_URL")),
            s.getint("INCREMENTAL_BATCH_SIZE", 100),
        )

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        site = getattr(spider, "site", None)
        if site is None or getattr(spider, "refetch", False):
            async for output in result:
                yield output
            return
        pending: list[Request] = []
        next_pages: list[Request] = []
        new_articles = 0
        async for output in result:
            kind = output.meta.get(KIND) if isinstance(output, Request) else None
            if kind == ARTICLE:
                pending.append(output)
                if len(pending) >= self.batch_size:
                    wanted, fresh = await self._filter(pending, site.revisit)
                    new_articles += fresh
                    pending = []
                    for request in wanted:
                        yield request
            elif kind == NEXT_LISTING:
                next_pages.append(output)  # decided once this page's links are known
            else:
                yield output
        if pending:
            wanted, fresh = await self._filter(pending, site.revisit)
            new_articles += fresh
            for request in wanted:
                yield request
        for request in next_pages:
            follow = self._next_listing(request, response, new_articles, spider)
            if follow is not None:
                yield follow

    def _next_listing(
        self, request: Request, response: Response, new_articles: int, spider: Any
    ) -> Request | None:
        if getattr(spider, "explicit_pages", False) or getattr(spider, "date_range", False):
            return request  # a backfill goes as deep as it was asked to
        in_row = 0 if new_articles else response.meta.get(KNOWN_PAGES_IN_ROW, 0) + 1
        limit = spider.site.listing.stop_after_known_pages
        if in_row >= limit:
            self.crawler.stats.inc_value("newscrawl/pagination_stopped_known")
            logger.info(
                "pagination stopped at %s: %d listing page(s) in a row brought nothing new",
                response.url,
                in_row,
            )
            return None
        return request.replace(meta={**request.meta, KNOWN_PAGES_IN_ROW: in_row})

    async def _filter(
        self, requests: list[Request], ages: list[float]
    ) -> tuple[list[Request], int]:
        """The requests to fetch (new or due), and how many of them are new."""
        try:
            if self.store is None:
                self.store = await asyncio.to_thread(Store.open, self.database_url)
            known = await asyncio.to_thread(self.store.known_articles, [r.url for r in requests])
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self.crawler.stats.inc_value("newscrawl/links_unchecked", len(requests))
            logger.warning(
                "database unreachable (%s): %d article links followed without checking "
                "which are stored",
                short_error(exc),
                len(requests),
            )
            return list(requests), len(requests)
        now = datetime.now(UTC)
        wanted, fresh = [], 0
        for request in requests:
            stored = known.get(request.url)
            if stored is None:
                wanted.append(request)
                fresh += 1
            elif is_due(stored.published_at, stored.first_seen_at, stored.last_seen_at, now, ages):
                self.crawler.stats.inc_value("newscrawl/revisits")
                wanted.append(request)
            else:
                self.crawler.stats.inc_value("newscrawl/skipped_known")
        return wanted, fresh
