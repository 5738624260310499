"""A crawl's progress, reported to the process that started it: ``newscrawl
crawl`` on a terminal shows it as one line (crawler/cli/progress.py).

Given a file descriptor in the setting :data:`PROGRESS_FD_SETTING` (the
write end of a pipe, set by crawler/scheduling/runner.py), the crawl writes a
JSON line of its counts to it when it opens, every
``NEWSCRAWL_PROGRESS_INTERVAL`` seconds, and when it closes. Pages and
rejected items count as they come; articles new, updated and unchanged once
their batch is written. Without the setting (``scrapy crawl`` by hand, the
daemon) the extension is off.

The descriptor is made non-blocking: a reader that falls behind loses
reports, never slows the crawl; one that is gone ends the reports.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler.extensions import PROGRESS_FD_SETTING

DEFAULT_INTERVAL = 0.5  # seconds
# The report's keys: the crawl_runs columns they become, and the seconds since
# the crawl opened.
STATS = {
    "pages_fetched": "response_received_count",
    "articles_new": "newscrawl/articles_new",
    "articles_updated": "newscrawl/articles_updated",
    "articles_unchanged": "newscrawl/articles_unchanged",
    "items_rejected": "newscrawl/items_rejected",
    "top_story_snapshots": "newscrawl/top_story_snapshots",
}


class ProgressReport:
    """Writes the crawl's counts to a file descriptor, as JSON lines."""

    def __init__(self, fd: int, stats: Any, interval: float = DEFAULT_INTERVAL) -> None:
        self.fd: int | None = fd
        self.stats = stats
        self.interval = interval
        self.opened = time.monotonic()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressReport:
        fd = crawler.settings.getint(PROGRESS_FD_SETTING, -1)
        if fd < 0:
            raise NotConfigured
        interval = crawler.settings.getfloat("NEWSCRAWL_PROGRESS_INTERVAL", DEFAULT_INTERVAL)
        ext = cls(fd, crawler.stats, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def counts(self) -> dict[str, Any]:
        report: dict[str, Any] = {key: self.stats.get_value(stat, 0) for key, stat in STATS.items()}
        report["elapsed"] = round(time.monotonic() - self.opened, 3)
        return report

    def spider_opened(self) -> None:
        if self.fd is None:
            return
        try:
            os.set_blocking(self.fd, False)
        except OSError:
            self.fd = None  # not an open descriptor: nothing to report to
            return
        self.opened = time.monotonic()
        self.loop = task.LoopingCall(self.report)
        self.loop.start(self.interval, now=True)

    def spider_closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.report()
        self._close()

    def report(self) -> None:
        if self.fd is None:
            return
        line = json.dumps(self.counts()).encode() + b"\n"
        try:
            os.write(self.fd, line)
        except BlockingIOError:
            pass  # the reader is behind: it gets the next report
        except OSError:
            self._close()  # the reader is gone (EPIPE)

    def _close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.close(fd)
            except OSError:
                pass
