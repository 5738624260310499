"""A crawl started by a newscrawl process stops when that process is gone.

``newscrawl crawl``, the daemon and the worker start each crawl as a child
``scrapy crawl`` process (:mod:`crawler.scheduling.runner`) and name themselves in its
environment (:data:`PARENT_PID_ENV`). Killed outright (SIGKILL, the
out-of-memory killer), the parent cannot stop its child; the child checks
every second whether its parent changed (an orphan is adopted by init or a
subreaper) and, if so, sends itself SIGTERM: Scrapy closes the crawl as on
any SIGTERM (run ``interrupted``, ``shutdown``) and the crawl lease is
released.

Polling rather than Linux's ``PR_SET_PDEATHSIG``: that signal follows the
parent *thread*, and the daemon starts crawls from a pool of threads. A
``scrapy crawl`` typed by hand has no such variable and is not watched.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler.extensions import PARENT_PID_ENV

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


def expected_parent() -> int | None:
    """The pid of the process that started this crawl, from the environment."""
    try:
        pid = int(os.environ.get(PARENT_PID_ENV, ""))
    except ValueError:
        return None
    return pid if pid > 0 else None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def parent_gone(expected: int) -> bool:
    """Whether the process that started this one has already ended.

    Our parent is ``expected`` unless that process died before we looked (we
    were adopted), or something stood between them (a wrapper such as
    ``coverage run``): then ``expected`` is gone only if its pid is.
    """
    return os.getppid() != expected and not _exists(expected)


class ParentWatch:
    """Stop the crawl (SIGTERM to itself) once the parent process has ended."""

    def __init__(self, expected: int, interval: float = CHECK_SECONDS) -> None:
        self.expected = expected
        self.interval = interval
        self.parent = os.getppid()  # the process to outlive: ours when we started
        self.loop: task.LoopingCall | None = None
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> ParentWatch:
        expected = expected_parent()
        if expected is None:
            raise NotConfigured
        ext = cls(expected)
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_started(self) -> None:
        self.loop = task.LoopingCall(self.check)
        self.loop.start(self.interval, now=True)

    def engine_stopped(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def orphaned(self) -> bool:
        if os.getppid() != self.parent:
            return True  # our parent ended and we were adopted
        return self.parent != self.expected and parent_gone(self.expected)

    def check(self) -> None:
        if self.stopping or not self.orphaned():
            return
        self.stopping = True
        logger.warning(
            "the process that started this crawl (pid %d) has ended: stopping the crawl",
            self.expected,
        )
        os.kill(os.getpid(), signal.SIGTERM)  # Scrapy's own graceful stop
        if self.loop is not None and self.loop.running:
            self.loop.stop()
