"""Reading article pages: in the crawl process, or in extraction processes
when the crawl process runs short of CPU.

A crawl runs on one thread (Scrapy's reactor): downloading, scheduling,
pipelines and, by default, reading every article page (parse, rules,
fallbacks). Against a fast site that thread is the limit, and reading pages
is a large part of its work (a fifth to a third against the benchmark
site). ``EXTRACTION_PROCESSES`` (Scrapy setting; environment
``NEWSCRAWL_EXTRACTION_PROCESSES``) moves that part to other processes:

- ``auto`` (the default): pages are read in the crawl process; after every
  100 article pages, if reading them took more than 15% of the time since
  the first of them and the machine has a second CPU, one extraction process
  takes over. A polite crawl (a few requests at a time, network latency)
  never gets there; a backfill against a fast server does.
- ``0``: always in the crawl process.
- ``N``: N extraction processes from the start.

An extraction process does what the crawl process would (the same
functions): parse the page, check a guessed link, find the article's URL,
apply the rules and fallbacks, then clean the article and compute its
fingerprints (``pipelines/clean.py``), so the clean stage only counts what
was found. Log records of that work are sent back with the article and
logged by the crawl process, so they count in the run as always. If an
extraction process dies, the pages it was reading are read in the crawl
process and the crawl goes on there; nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler.config import Site
from crawler.extraction import Page, extract_article
from crawler.items import Article
from crawler.urls import site_canonical_url

logger = logging.getLogger(__name__)

AUTO = "auto"
AUTO_MIN_PAGES = 100  # pages read in the crawl process between judgements of "auto"
AUTO_SHARE = 0.15  # of the time since the first of them, spent reading pages
PARENT_CHECK_SECONDS = 1.0
PEAK_RSS_EVERY = 1.0  # seconds between two readings of an extraction process's peak RSS


def parse_processes(value: Any) -> int | str:
    """``auto`` or a whole number of processes, 0 or more."""
    text = str(value if value is not None else AUTO).strip().lower() or AUTO
    if text == AUTO:
        return AUTO
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(f"EXTRACTION_PROCESSES takes auto or a whole number >= 0, got {value!r}")
    return number


def wants_extraction_process(
    pages_read: int, seconds_reading: float, seconds_since_first: float, cpus: int
) -> bool:
    """``auto``'s judgement, once AUTO_MIN_PAGES pages were read here: is reading
    pages a large enough share of the crawl process's time, with a CPU to spare?"""
    return (
        cpus >= 2
        and pages_read >= AUTO_MIN_PAGES
        and seconds_reading > AUTO_SHARE * seconds_since_first
    )


def article_url(page: Page, response_url: str, site: Site) -> str:
    """The article's URL: its ``rel=canonical`` when that stays within the
    site's allowed domains, else the URL it was fetched from (after redirects)."""
    if site.urls.use_rel_canonical:
        href = page.selector.xpath('//link[@rel="canonical"]/@href').get()
        if href:
            absolute = urljoin(response_url, href.strip())
            host = (urlsplit(absolute).hostname or "").lower()
            if absolute.startswith(("http://", "https://")) and any(
                host == d or host.endswith("." + d) for d in site.allowed_domains
            ):
                return site_canonical_url(absolute, site)
    return site_canonical_url(response_url, site)


def read_article_page(
    html: str,
    response_url: str,
    site: Site,
    guessed: bool,
    fetched_at: datetime | None,
    clean: bool,
) -> Article | None:
    """One article page as an :class:`Article`; None when the link was only
    guessed to be an article (by its URL's shape) and the page is not one.
    ``clean``: also clean it and compute its fingerprints."""
    from crawler.generic import GenericPage

    page = Page(html, response_url)  # parsed once for everything below
    if guessed and not GenericPage(page, page.text).looks_like_article():
        return None
    article = extract_article(
        page.text, article_url(page, response_url, site), site, fetched_at=fetched_at, page=page
    )
    if clean:
        from pipelines.clean import clean_article

        clean_article(article, site)
    return article


# --------------------------------------------------------------------------- extraction processes


@dataclass
class _Result:
    article: Article | None
    logs: list[tuple[str, int, str]]  # (logger, level, message)
    pid: int
    peak_rss_mb: float


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append((record.name, record.levelno, message))


_site: Site | None = None
_collect: _Collect | None = None


def _watch_parent(parent: int) -> None:
    """End this process when the crawl process is gone (a SIGKILL leaves no
    one to shut the pool down)."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def _start_worker(site: Site, log_level: int, parent: int) -> None:
    global _site, _collect
    # Ctrl-C reaches the whole process group: the crawl process decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _site = site
    _collect = _Collect()
    root = logging.getLogger()
    root.handlers[:] = [_collect]
    root.setLevel(log_level)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _read_in_worker(html: str, url: str, guessed: bool, fetched_at: datetime | None) -> _Result:
    assert _site is not None and _collect is not None
    _collect.records = []
    article = read_article_page(html, url, _site, guessed, fetched_at, clean=True)
    return _Result(article, _collect.records, os.getpid(), _recent_peak_rss_mb())


_peak = (0.0, -PEAK_RSS_EVERY)  # (MB, when read)


def _recent_peak_rss_mb() -> float:
    """The peak RSS, read again at most every PEAK_RSS_EVERY seconds: reading
    it for every page cost 3% of an extraction process's time."""
    global _peak
    now = time.monotonic()
    if now - _peak[1] >= PEAK_RSS_EVERY:
        _peak = (_peak_rss_mb(), now)
    return _peak[0]


def _peak_rss_mb() -> float:
    """This process's peak RSS. From /proc where there is one: ``ru_maxrss``
    carries over the RSS of the crawl process this one was forked from."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ready() -> bool:
    return True


class PageReader:
    """Reads a spider's article pages, here or in extraction processes."""

    def __init__(self, site: Site, processes: int | str, crawler: Any) -> None:
        self.site = site
        self.mode = processes
        self.crawler = crawler
        self.pool: ProcessPoolExecutor | None = None
        self.ready = False  # the pool answered its first call
        self.broken = False
        self.read_here = 0
        self.seconds_here = 0.0
        self.first_read: float | None = None
        self.peaks: dict[int, float] = {}  # peak RSS (MB) of each extraction process

    @property
    def stats(self) -> Any:
        return self.crawler.stats

    def open(self) -> None:
        if isinstance(self.mode, int) and self.mode > 0:
            self._start_pool(self.mode)

    def _start_pool(self, processes: int) -> None:
        self.pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.site, logging.getLogger().getEffectiveLevel(), os.getpid()),
        )
        self.stats.set_value("newscrawl/extraction_processes", processes)
        logger.info("article pages are read in %d extraction process(es)", processes)
        future = self.pool.submit(_ready)
        future.add_done_callback(self._pool_ready)

    def _pool_ready(self, future: Any) -> None:
        problem = future.exception()
        self.ready = problem is None
        if problem is not None:
            logger.warning(
                "extraction processes could not start (%s): article pages are read in the "
                "crawl process",
                problem,
            )

    def _auto_start(self) -> None:
        """``auto``: judge the last AUTO_MIN_PAGES pages read here; start an
        extraction process if they took a large share of the time, else look
        again after the next ones."""
        if self.mode != AUTO or self.pool is not None or self.read_here < AUTO_MIN_PAGES:
            return
        assert self.first_read is not None
        since_first = time.perf_counter() - self.first_read
        if wants_extraction_process(
            self.read_here, self.seconds_here, since_first, os.cpu_count() or 1
        ):
            logger.info(
                "reading article pages took %.0f%% of the crawl process's time: "
                "starting an extraction process (EXTRACTION_PROCESSES=auto)",
                self.seconds_here / since_first * 100,
            )
            self._start_pool(1)
        self.read_here, self.seconds_here, self.first_read = 0, 0.0, None

    async def read(
        self, html: str, url: str, guessed: bool, fetched_at: datetime | None
    ) -> Article | None:
        """The article of a page (cleaned already when an extraction process read it)."""
        if self.pool is not None and self.ready and not self.broken:
            try:
                result = await asyncio.wrap_future(
                    self.pool.submit(_read_in_worker, html, url, guessed, fetched_at)
                )
            except BrokenProcessPool:
                if not self.broken:
                    self.broken = True
                    logger.error(
                        "an extraction process died: article pages are read in the crawl "
                        "process from now on"
                    )
                    self.stats.inc_value("newscrawl/extraction_processes/broken")
            else:
                for name, level, message in result.logs:
                    logging.getLogger(name).log(level, "%s", message)
                self.stats.inc_value("newscrawl/extraction_processes/pages")
                self.peaks[result.pid] = result.peak_rss_mb
                return result.article
        started = time.perf_counter()
        if self.first_read is None:
            self.first_read = started
        article = read_article_page(html, url, self.site, guessed, fetched_at, clean=False)
        self.seconds_here += time.perf_counter() - started
        self.read_here += 1
        self._auto_start()
        return article

    def close(self) -> None:
        if self.pool is None:
            return
        pool, self.pool = self.pool, None
        if self.peaks:
            total = round(sum(self.peaks.values()), 1)
            self.stats.set_value("newscrawl/extraction_processes/peak_rss_mb", total)
        pool.shutdown(wait=True, cancel_futures=True)
