"""The Scrapy process that fetches pages one at a time for ``sites new``,
``sites check``, ``sites fixture`` and ``extract URL``, as a crawl fetches
them: the project's settings (User-Agent, robots.txt obeyed, retries with
``Retry-After``, timeouts, size and redirect limits, AutoThrottle) and the
``--set`` settings given, but no item pipeline, run history or incremental
skipping (nothing is stored).

Started by crawler/cli/fetching.py as ``python -m crawler.cli.fetch_process
SETTINGS`` (a JSON object of ``--set`` settings), so that no Twisted reactor
is ever installed in the ``newscrawl`` process. It reads one JSON request a
line on standard input (``{"url": ..., "robots": false}``) and answers each
with one JSON line on standard output, before it reads the next: the page
(``url`` where it led, ``status``, ``content_type``, ``body`` in base64) or
why there is none (``error``, and ``forbidden`` when robots.txt disallows
it). Scrapy's log goes to standard error. It ends when its input ends.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from collections.abc import AsyncIterator
from typing import IO, Any

from scrapy import Request, Spider, signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import Settings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.project import get_project_settings
from twisted.internet.defer import DeferredQueue
from twisted.python.failure import Failure

# What a crawl has that fetching pages must not: writing to the archive,
# reading it (incremental skipping), reporting to a crawl's parent.
UNUSED_EXTENSIONS = (
    "crawler.extensions.run_history.RunHistory",
    "crawler.extensions.progress.ProgressReport",
    "crawler.scheduling.distributed.WorkerIdle",
)
UNUSED_SPIDER_MIDDLEWARES = ("crawler.middlewares.incremental.IncrementalMiddleware",)
# Scrapy's own scheduler, also when NEWSCRAWL_REDIS_URL shares crawls' queues.
LOCAL_SCHEDULING = {
    "SCHEDULER": "scrapy.core.scheduler.Scheduler",
    "DUPEFILTER_CLASS": "scrapy.dupefilters.RFPDupeFilter",
}
# The message of Scrapy's RobotsTxtMiddleware for a disallowed page.
ROBOTS_FORBIDDEN = "Forbidden by robots.txt"


def fetch_settings(overrides: dict[str, str]) -> Settings:
    """The project's Scrapy settings without what stores or reads the
    archive, then ``overrides`` (``--set``) over everything."""
    settings = get_project_settings()
    for name, unused in (
        ("EXTENSIONS", UNUSED_EXTENSIONS),
        ("SPIDER_MIDDLEWARES", UNUSED_SPIDER_MIDDLEWARES),
    ):
        components = settings.getdict(name)
        components.update(dict.fromkeys(unused))
        settings.set(name, components, priority="spider")
    settings.set("ITEM_PIPELINES", {}, priority="spider")
    settings.setdict(LOCAL_SCHEDULING, priority="spider")
    settings.setdict(overrides, priority="cmdline")
    return settings


class FetchSpider(Spider):
    """Requests the URLs read from standard input, one at a time, and writes
    each page (or why there is none) to ``channel``."""

    name = "fetch"

    def __init__(self, channel: IO[str], source: IO[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channel = channel
        self.source = source
        self.asked: DeferredQueue = DeferredQueue()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> FetchSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.dropped, signal=signals.request_dropped)
        return spider

    def _read(self) -> None:
        """In a thread of its own: each line read, then None at the end, to ``asked``."""
        from twisted.internet import reactor

        for line in self.source:
            reactor.callFromThread(self.asked.put, line)  # type: ignore[attr-defined]
        reactor.callFromThread(self.asked.put, None)  # type: ignore[attr-defined]

    async def start(self) -> AsyncIterator[Any]:
        threading.Thread(target=self._read, name="fetch-requests", daemon=True).start()
        while (line := await maybe_deferred_to_future(self.asked.get())) is not None:
            asked = json.loads(line)
            yield Request(
                asked["url"],
                callback=self.fetched,
                errback=self.failed,
                dont_filter=True,  # a page may be asked for twice
                meta={"dont_obey_robotstxt": bool(asked.get("robots"))},
            )

    def answer(self, reply: dict[str, Any]) -> None:
        self.channel.write(json.dumps(reply) + "\n")
        self.channel.flush()

    def fetched(self, response: Any) -> None:
        content_type = response.headers.get("Content-Type")
        self.answer(
            {
                "url": response.url,
                "status": response.status,
                "content_type": content_type.decode("latin-1") if content_type else None,
                "body": base64.b64encode(response.body).decode("ascii"),
            }
        )

    def failed(self, failure: Failure) -> None:
        self.answer(failure_reply(failure))

    def dropped(self, request: Request, spider: Spider) -> None:
        self.answer({"error": "the request was dropped by the crawl's scheduler"})


def failure_reply(failure: Failure) -> dict[str, Any]:
    """Why a request gave no page, as the parent reports it: the HTTP status
    (with the retries made), robots.txt, or the download error."""
    request = getattr(failure, "request", None)
    retries = request.meta.get("retry_times", 0) if request is not None else 0
    tried = f" (after {retries} retries)" if retries else ""
    error = failure.value
    if isinstance(error, HttpError):
        response = error.response
        return {"error": f"HTTP {response.status}{tried}", "url": response.url}
    if isinstance(error, IgnoreRequest) and str(error) == ROBOTS_FORBIDDEN:
        return {"error": "forbidden by the site's robots.txt", "forbidden": True}
    text = str(error).strip() or type(error).__name__
    return {"error": f"{text}{tried}"}


def main(argv: list[str]) -> int:
    overrides = json.loads(argv[0]) if argv else {}
    # Answers go to the standard output this process was given; anything
    # else printed there (by Scrapy or a library) goes to standard error.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    process = CrawlerProcess(fetch_settings(overrides))
    failures: list[Failure] = []
    started = process.crawl(FetchSpider, channel=channel, source=sys.stdin)
    started.addErrback(failures.append)
    process.start()
    if failures:
        # The last line of the log, which the parent reports (a bad --set value).
        error = failures[0].value
        print(f"the crawl could not run: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
