"""Crawling on many machines: our small adapter over scrapy-redis.

With ``NEWSCRAWL_REDIS_URL`` set, crawls share one request queue and one
duplicate filter in Redis (scrapy-redis's scheduler and filter), so any number
of worker processes on any number of machines split a crawl and fetch each
article page once. Redis holds only the frontier; the database stays the one
source of truth (a request lost with a dead worker is simply found again by
the next crawl, because its article is not stored).

What the adapter adds to scrapy-redis (pinned, 0.9.1):

- keys per site and spider (``newscrawl:SITE:SPIDER:requests``, ``...:dupefilter``,
  ``...:seeds``): scrapy-redis keys on the spider's name alone, and every
  site's spider is named ``articles``;
- seeding through ``async def start()``: scrapy-redis's ``RedisSpider`` feeds
  itself from ``start_requests``, which Scrapy 2.16+ no longer calls. Here a
  crawl is started by pushing a seed message (``enqueue_crawl``); the worker
  that takes it clears the duplicate filter (a new crawl may revisit articles)
  and puts the spider's own start requests into the shared queue;
- an idle grace: a worker keeps its crawl open while the shared queue is
  briefly empty (another worker's listing page may be about to add work) and
  closes it after ``NEWSCRAWL_WORKER_IDLE_SECONDS`` of nothing to do.

The keys, seeds and checks that need no Scrapy are in
:mod:`crawler.scheduling.redis_queue` (re-exported here).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.scheduling.redis_queue import (
    KEY_PREFIX,
    REDIS_URL_ENV,
    connect,
    enqueue_crawl,
    key,
    pending,
    redis_url,
)

__all__ = [
    "KEY_PREFIX",
    "REDIS_URL_ENV",
    "SiteScheduler",
    "WorkerIdle",
    "begin_crawl",
    "close_walk_share",
    "connect",
    "count_walk_pages",
    "enqueue_crawl",
    "key",
    "pending",
    "redis_url",
]

logger = logging.getLogger(__name__)


# Taking a seed message begins a crawl: its duplicate filter and its walk
# counts are reset, and this process is its first worker. A worker finding no
# seed joins the crawl under way. One script, so no worker can join between
# the reset and the count.
_BEGIN_CRAWL = """
local seeded = true
if ARGV[1] == "1" then seeded = redis.call("LPOP", KEYS[1]) end
if seeded then
    redis.call("DEL", KEYS[2], KEYS[3])
    redis.call("HSET", KEYS[3], "workers", 1)
    return 1
end
redis.call("HINCRBY", KEYS[3], "workers", 1)
return 0
"""

# A worker's crawl ends: the walk counts, if it was the last worker.
_CLOSE_SHARE = """
if ARGV[1] == "0" then redis.call("HSET", KEYS[1], "lost", 1) end
local left = redis.call("HINCRBY", KEYS[1], "workers", -1)
if left > 0 then return {} end
return redis.call("HGETALL", KEYS[1])
"""


def begin_crawl(url: str, site: str, spider: str, worker: bool) -> bool:
    """Should this process put the crawl's start requests into the shared queue?

    A worker does when it claims a seed message; a crawl started directly
    (``scrapy crawl`` with Redis configured) always does. Either way the
    duplicate filter is reset: a new crawl may fetch an article again when the
    database says it is due for a revisit. Every process taking part is
    counted as one of the crawl's workers (see ``close_walk_share``).
    """
    server = connect(url)
    keys = [key(site, spider, "seeds"), key(site, spider, "dupefilter"), key(site, spider, "walk")]
    return bool(server.eval(_BEGIN_CRAWL, len(keys), *keys, "1" if worker else "0"))


def count_walk_pages(url: str, site: str, spider: str, listing: str, count: int) -> None:
    """Listing pages of a walk requested (+) or read (-), by any worker."""
    connect(url).hincrby(key(site, spider, "walk"), f"pages:{listing}", count)


def close_walk_share(url: str, site: str, spider: str, finished: bool) -> dict[str, int] | None:
    """This worker is done with the crawl. The listing pages left per walk if
    it was the last worker and no worker lost requests, else None. A worker
    that died is never counted out, and one stopped early marks the crawl as
    having lost requests, so such a crawl completes no walk: the requests
    are found again by the next crawl continuing the walk."""
    fields = connect(url).eval(_CLOSE_SHARE, 1, key(site, spider, "walk"), "1" if finished else "0")
    if not fields:
        return None
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    if b"lost" in values:
        return None
    return {
        name.decode()[len("pages:") :]: int(value)
        for name, value in values.items()
        if name.startswith(b"pages:")
    }


class SiteScheduler(Scheduler):
    """scrapy-redis's scheduler with keys per site and spider."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> SiteScheduler:
        instance = cls.from_settings(crawler.settings)
        # scrapy-redis passes spider= to the stats collector, which Scrapy 2.19
        # deprecates: count here instead.
        instance.stats = None
        instance.crawler_stats = crawler.stats
        return instance

    def enqueue_request(self, request: Any) -> bool:
        added = super().enqueue_request(request)
        if added:
            self.crawler_stats.inc_value("scheduler/enqueued/redis")
        return added

    def next_request(self) -> Any:
        request = super().next_request()
        if request is not None:
            self.crawler_stats.inc_value("scheduler/dequeued/redis")
        return request

    def open(self, spider: Any) -> None:
        site = spider.site.name
        self.queue_key = key(site, spider.name, "requests")
        self.df = RFPDupeFilter(self.server, key=key(site, spider.name, "dupefilter"))
        super().open(spider)


class WorkerIdle:
    """Keep a worker's crawl open through short gaps in the shared queue."""

    def __init__(self, crawler: Any, idle_seconds: float) -> None:
        self.crawler = crawler
        self.idle_seconds = idle_seconds
        self.idle_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> WorkerIdle:
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured
        ext = cls(crawler, crawler.settings.getfloat("NEWSCRAWL_WORKER_IDLE_SECONDS", 5.0))
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        return ext

    def response_received(self) -> None:
        self.idle_since = None

    def spider_idle(self, spider: Any) -> None:
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_seconds:
            raise DontCloseSpider
        logger.info("no work for %.0f s: closing this worker's crawl", self.idle_seconds)
