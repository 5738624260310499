"""What both spiders share: the site definition, the crawl arguments, and
turning an article page into an item."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from crawler.exceptions import PatternTimeout, RejectItem, SpiderArgumentError, UndecodablePage
from crawler.extraction.processes import PageReader, parse_processes
from crawler.extraction.reader import unreadable_reason
from crawler.items import ARTICLE, CAPTURE, GUESSED, KIND, Article
from crawler.sites.arguments import FALSE_WORDS, TRUE_WORDS
from crawler.sites.definitions import Site, get_site
from crawler.sites.times import ACCEPTED, read_time
from crawler.sites.urls import site_canonical_url

logger = logging.getLogger(__name__)


def parse_positive_int(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SpiderArgumentError(f"-a {name}= takes a whole number, got {value!r}") from None
    if number < 1:
        raise SpiderArgumentError(f"-a {name}= must be at least 1, got {number}")
    return number


def parse_bool(name: str, value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise SpiderArgumentError(f"-a {name}= takes true or false, got {value!r}")


def parse_day(name: str, value: Any, end: bool = False) -> datetime | None:
    """A date, an ISO-8601 time or words such as ``yesterday``, in UTC unless
    the value has an offset (crawler/sites/times.py, the rule of every
    command). As an end (``until``), a day includes the whole day."""
    if value is None or value == "":
        return None
    try:
        return read_time(str(value), end=end)
    except ValueError as exc:
        raise SpiderArgumentError(f"-a {name}= takes {ACCEPTED}, got {value!r}") from exc


class NewsSpider(scrapy.Spider):
    """A spider for one configured site, chosen with ``-a site=NAME``.

    Arguments common to both spiders: ``refetch=true`` fetches stored articles
    again; ``since``/``until`` keep only articles published in that range.
    """

    site: Site

    def __init__(
        self,
        site: str | Site | None = None,
        since: Any = None,
        until: Any = None,
        refetch: Any = None,
        **kwargs: Any,
    ) -> None:
        if site is None:
            raise SpiderArgumentError(f"spider {self.name!r} needs a site: -a site=NAME")
        self.site = site if isinstance(site, Site) else get_site(site)
        self.arguments = {
            k: str(v)
            for k, v in {"since": since, "until": until, "refetch": refetch, **kwargs}.items()
            if v is not None
        }
        super().__init__(**kwargs)
        self.allowed_domains = list(self.site.allowed_domains)
        self.since = parse_day("since", since)
        self.until = parse_day("until", until, end=True)
        if self.since and self.until and self.since >= self.until:
            raise SpiderArgumentError("-a since= must be before -a until=")
        self.date_range = self.since is not None or self.until is not None
        self.refetch = parse_bool("refetch", refetch)
        # A worker of a distributed crawl names itself: -a worker=HOST:PID.
        self.worker = str(kwargs.get("worker") or "").strip().lower() not in FALSE_WORDS

    @classmethod
    def check_arguments(cls, arguments: dict[str, Any]) -> None:
        """Read ``arguments`` (``-a NAME=VALUE``) as a crawl would, before the
        crawl starts (crawler/cli/commands/crawl.py): a spider is built from
        them and dropped (its constructor reads only them and the site
        definition). One it cannot take raises SpiderArgumentError, a site
        without the section this spider crawls included."""
        try:
            cls(**arguments)
        except SpiderArgumentError:
            raise
        except ValueError as exc:  # the subclasses' checks of the site's sections
            raise SpiderArgumentError(str(exc)) from None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # First: the extraction processes opened next take the level over.
        crawler.signals.connect(
            spider.skip_records_below_log_level, signal=scrapy.signals.spider_opened
        )
        spider.page_reader = PageReader(
            spider.site,
            parse_processes(crawler.settings.get("EXTRACTION_PROCESSES")),
            crawler,
        )
        crawler.signals.connect(spider.page_reader.open, signal=scrapy.signals.spider_opened)
        crawler.signals.connect(spider.page_reader.close, signal=scrapy.signals.spider_closed)
        return spider

    def skip_records_below_log_level(self) -> None:
        """Scrapy's log handler drops records below ``LOG_LEVEL`` but leaves the
        root logger at every level, so each message below it (two for every
        article: its response crawled, its item scraped) is built as a record
        first, then dropped. With the root logger at ``LOG_LEVEL`` they are
        not built."""
        if self.settings.getbool("LOG_ENABLED", True):
            logging.getLogger().setLevel(self.settings.get("LOG_LEVEL") or logging.DEBUG)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The crawl's start requests; with Redis, into the shared queue (once per
        crawl, by whichever process begins it: see crawler/scheduling/distributed.py)."""
        redis_url = self.settings.get("REDIS_URL") if hasattr(self, "crawler") else None
        if redis_url:
            from crawler.scheduling.distributed import begin_crawl

            if not await asyncio.to_thread(
                begin_crawl, redis_url, self.site.name, self.name, self.worker
            ):
                return  # a worker helping with a crawl another process began
        async for request in self.seed_requests():
            yield request

    async def seed_requests(self) -> AsyncIterator[scrapy.Request]:
        raise NotImplementedError
        yield  # pragma: no cover - makes this an async generator

    def canonical(self, url: str) -> str:
        return site_canonical_url(url, self.site)

    def article_request(self, url: str, guessed: bool = False, **kwargs: Any) -> scrapy.Request:
        # Article pages before further listing pages, so items flow early.
        return scrapy.Request(
            self.canonical(url),
            callback=self.parse_article,
            priority=10,
            meta={KIND: ARTICLE, GUESSED: guessed},
            **kwargs,
        )

    def in_date_range(self, moment: datetime | None) -> bool:
        if moment is None:
            return True
        if self.since is not None and moment < self.since:
            return False
        return not (self.until is not None and moment > self.until)

    def reject(self, url: str, exception: Exception, response: Response | None = None) -> None:
        """Record the page at ``url`` as refused (a ``RejectItem``): sent as a
        dropped item, so the run history keeps it in rejected_items."""
        self.crawler.signals.send_catch_log(
            scrapy.signals.item_dropped,
            item=Article(url=self.canonical(url), site=self.site.name),
            response=response,
            exception=exception,
            spider=self,
        )

    async def parse_article(self, response: Response) -> AsyncIterator[Article | scrapy.Request]:
        # A PDF, an image or an empty page at an article URL is refused with its
        # reason: sent as a dropped item, so the run history keeps it in rejected_items.
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        problem = unreadable_reason(
            content_type, response.body, isinstance(response, TextResponse), response.status
        )
        if problem is not None:
            self.refuse_unreadable(response, problem)
            return
        # The body is decoded where the page is read: in an extraction process,
        # the crawl process never needs its text.
        try:
            article = await self.page_reader.read(
                response.body,
                response.encoding,
                response.url,
                bool(response.meta.get(GUESSED)),
                datetime.now(UTC),
            )
        except PatternTimeout as exc:
            # A site pattern that ran past its time bound on this page (crawler/sites/patterns.py).
            self.crawler.stats.inc_value("newscrawl/pattern_timeouts")
            logger.warning("%s: %s", exc, response.url)
            self.reject(response.url, RejectItem(str(exc), stage=exc.stage), response)
            return
        except UndecodablePage as exc:
            # No charset decodes the page: refused like a page that is not HTML.
            self.refuse_unreadable(response, str(exc))
            return
        if article is None:
            # A link guessed from its shape led to a listing (an archive, a
            # section or tag page): not an item; its links may be followed.
            self.crawler.stats.inc_value("newscrawl/not_article_pages")
            for request in self.follow_listing_at_article_link(response):
                yield request
            return
        requested = self.requested_url(response, article.url)
        if requested != article.url:
            article.requested_url = requested
        article.capture = response.meta.get(CAPTURE)
        yield article

    def follow_listing_at_article_link(self, response: Response) -> Iterator[scrapy.Request]:
        """Requests for the links of a page at a guessed article link that
        is not an article: none here; the ``articles`` spider follows them."""
        return iter(())

    def refuse_unreadable(self, response: Response, problem: str) -> None:
        """A page at an article link that cannot be read as one: rejected at
        stage ``fetch``, unless the link was only guessed to be an article."""
        if response.meta.get(GUESSED):
            self.crawler.stats.inc_value("newscrawl/not_article_pages")
            return
        self.crawler.stats.inc_value("newscrawl/unreadable_article_pages")
        logger.warning("%s: %s", problem, response.url)
        self.reject(response.url, RejectItem(problem, stage="fetch"), response)

    def requested_url(self, response: Response, article_url: str) -> str:
        """The link as followed, canonical: before any redirect
        (``response.request`` is the last hop)."""
        chain = response.meta.get("redirect_urls") or [
            response.request.url if response.request else response.url
        ]
        # Canonical URLs are their own canonical form: the common case, the link
        # followed is the article's URL, needs no second look.
        return chain[0] if chain[0] == article_url else self.canonical(chain[0])
