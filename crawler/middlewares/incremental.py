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

Known pages end pagination only where a walk of the listing ran to its end
before (crawler/storage/walks.py). A crawl that stops early (killed, timed
out, a limit, a listing page that failed) leaves its walk incomplete; the
next crawl continues it, counting what the interrupted crawl stored as new,
so pagination goes on past it to where the walk stopped and beyond.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, signals
from scrapy.http import Response

from crawler.items import ARTICLE, KIND, KNOWN_PAGES_IN_ROW, NEXT_LISTING, SECTION, UNSTORED, WALK
from crawler.sites.revisit import is_due
from crawler.sites.times import human_time
from crawler.storage.database import database_url
from crawler.storage.spool import database_unreachable, short_error
from crawler.storage.store import Store
from crawler.storage.walks import Walk, begin_walks, end_walks, read_walks

logger = logging.getLogger(__name__)


class IncrementalMiddleware:
    def __init__(self, crawler: Any, database_url: str, batch_size: int) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.batch_size = batch_size
        self.store: Store | None = None
        self.walks: dict[str, Walk] | None = None
        self.pages = PageCounts(crawler.settings.get("REDIS_URL"))
        self.pages_read: dict[str, int] = {}
        # Links not stored that earlier pages of this crawl gave already (a
        # sidebar's archive or dossier pages): not new again on a later page.
        self.unstored_seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> IncrementalMiddleware:
        s = crawler.settings
        mw = cls(
            crawler,
            database_url(s.get("NEWSCRAWL_DATABASE_URL")),
            s.getint("INCREMENTAL_BATCH_SIZE", 100),
        )
        crawler.signals.connect(mw.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def _tracked(self) -> Any:
        """The spider, when its listing walks are tracked (not in a backfill)."""
        spider = self.crawler.spider
        return spider if getattr(spider, "walks_tracked", False) else None

    async def _store(self) -> Store:
        if self.store is None:
            self.store = await asyncio.to_thread(Store.open, self.database_url)
        return self.store

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The first listing pages begin (or continue) their walks."""
        async for request in start:
            listing = request.meta.get(WALK) if isinstance(request, Request) else None
            if listing is not None and self._tracked():
                if self.walks is None:
                    await self._begin_walks()
                await self.pages.opened(self.crawler.spider, listing, 1)
            yield request

    async def _begin_walks(self) -> None:
        spider = self.crawler.spider
        store = await self._store()
        run_id = self.crawler.stats.get_value("newscrawl/run_id")
        self.walks = await asyncio.to_thread(
            begin_walks, store.engine, spider.site.name, spider.name, spider.walk_listings, run_id
        )
        for walk in self.walks.values():
            if walk.resumed:
                self.crawler.stats.inc_value("newscrawl/walks_resumed")
                logger.info(
                    "continuing the walk of %s begun %s: articles stored since count as new",
                    walk.listing,
                    human_time(walk.started_at),
                )

    async def _walk(self, listing: str) -> Walk | None:
        if self.walks is None:  # a worker helping with a crawl another process began
            store = await self._store()
            spider = self.crawler.spider
            self.walks = await asyncio.to_thread(
                read_walks, store.engine, spider.site.name, spider.name
            )
        return self.walks.get(listing)

    async def request_dropped(self, request: Request) -> None:
        """A next page already read in this crawl (pagination that loops) ends the walk."""
        listing = request.meta.get(WALK)
        if listing is not None and self._tracked():
            await self.pages.opened(self.crawler.spider, listing, -1)

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if not self._tracked():
            return
        open_pages = await self.pages.closed(spider, reason == "finished")
        completed = []
        if reason == "finished" and open_pages is not None:
            completed = [u for u in spider.walk_listings if open_pages.get(u, 0) <= 0]
        try:
            store = await self._store()
            await asyncio.to_thread(
                end_walks, store.engine, spider.site.name, spider.name, self.pages_read, completed
            )
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            logger.warning(
                "database unreachable (%s): the listing walks stay incomplete and are "
                "continued by the next crawl",
                short_error(exc),
            )
            return
        unfinished = len(spider.walk_listings) - len(completed)
        self.crawler.stats.set_value("newscrawl/walks_incomplete", unfinished)
        if unfinished:
            logger.info(
                "%d of %d listing walks incomplete (%s): the next crawl continues them",
                unfinished,
                len(spider.walk_listings),
                reason if reason != "finished" else "pages not read",
            )

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        site = getattr(spider, "site", None)
        if site is None:
            async for output in result:
                yield output
            return
        listing = response.meta.get(WALK) if self._tracked() else None
        walk = await self._walk(listing) if listing is not None else None
        since = walk.started_at if walk is not None else None
        refetch = getattr(spider, "refetch", False)
        pending: list[Request] = []
        next_pages: list[Request] = []
        new_articles = 0
        async for output in result:
            kind = output.meta.get(KIND) if isinstance(output, Request) else None
            if kind == ARTICLE and not refetch:
                pending.append(output)
                if len(pending) >= self.batch_size:
                    wanted, fresh = await self._filter(pending, site.revisit, since)
                    new_articles += fresh
                    pending = []
                    for request in wanted:
                        yield request
            elif kind == NEXT_LISTING:
                next_pages.append(output)  # decided once this page's links are known
            else:
                new_articles += kind == ARTICLE
                yield output
        if pending:
            wanted, fresh = await self._filter(pending, site.revisit, since)
            new_articles += fresh
            for request in wanted:
                yield request
        for request in next_pages:
            follow = self._next_listing(request, response, new_articles, spider, walk)
            if follow is not None:
                if listing is not None:
                    await self.pages.opened(spider, listing, 1)
                yield follow
        if listing is not None:
            page = response.request.cb_kwargs.get("page", 1) if response.request else 1
            self.pages_read[listing] = max(self.pages_read.get(listing, 0), page)
            await self.pages.opened(spider, listing, -1)

    def _next_listing(
        self,
        request: Request,
        response: Response,
        new_articles: int,
        spider: Any,
        walk: Walk | None,
    ) -> Request | None:
        if getattr(spider, "explicit_pages", False) or getattr(spider, "date_range", False):
            return request  # a backfill goes as deep as it was asked to
        if request.meta.get(SECTION):
            return request  # a section's first page: its own pagination stops on known pages
        if getattr(spider, "refetch", False) or (walk is not None and not walk.covered):
            # No walk of this listing has reached its end yet: what is stored
            # is not the known part of the site but the part read so far.
            return request
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
        self, requests: list[Request], ages: list[float], since: datetime | None = None
    ) -> tuple[list[Request], int]:
        """The requests to fetch (new or due), and how many links are new: not
        stored, or stored since ``since`` (by this walk, in an earlier crawl)."""
        try:
            store = await self._store()
            known = await asyncio.to_thread(store.known_articles, [r.url for r in requests])
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
                request.meta[UNSTORED] = True
                wanted.append(request)
                fresh += request.url not in self.unstored_seen
                self.unstored_seen.add(request.url)
            else:
                fresh += since is not None and stored.first_seen_at >= since
                if is_due(
                    stored.published_at, stored.first_seen_at, stored.last_seen_at, now, ages
                ):
                    self.crawler.stats.inc_value("newscrawl/revisits")
                    wanted.append(request)
                else:
                    self.crawler.stats.inc_value("newscrawl/skipped_known")
        return wanted, fresh


class PageCounts:
    """Listing pages of each walk requested and not yet read: a walk is
    complete when none is left at the end of a crawl that finished.

    In one process, a count in memory. With Redis, workers share a crawl: the
    counts are kept in Redis, and only the last worker to close, with no
    worker lost on the way, may find a walk complete (crawler/scheduling/distributed.py).
    """

    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self.local: dict[str, int] = {}

    async def opened(self, spider: Any, listing: str, count: int) -> None:
        if self.redis_url:
            from crawler.scheduling.distributed import count_walk_pages

            await asyncio.to_thread(
                count_walk_pages, self.redis_url, spider.site.name, spider.name, listing, count
            )
        else:
            self.local[listing] = self.local.get(listing, 0) + count

    async def closed(self, spider: Any, finished: bool) -> dict[str, int] | None:
        """The pages left per listing, or None while other workers go on."""
        if not self.redis_url:
            return self.local
        from crawler.scheduling.distributed import close_walk_share

        return await asyncio.to_thread(
            close_walk_share, self.redis_url, spider.site.name, spider.name, finished
        )
