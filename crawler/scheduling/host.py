"""A crawl host: one long-lived process, one Twisted reactor, many crawls.

The daemon (:mod:`crawler.scheduling.hosts`) keeps a few of these and hands
each scheduled crawl to one of them instead of starting a ``scrapy crawl``
process for it. What a crawl process pays at every start (imports, the
database engine and schema check, the Scrapy settings and spider loader)
a host pays once; a crawl in a host is one Scrapy ``Crawler`` (its own
spider, settings, stats, pipelines, extensions, run row and lease) under a
``CrawlerRunner`` that installs no signal handlers.

It speaks with the daemon in JSON, one object a line: orders on stdin, events
on its stdout (kept for them alone: anything else the process prints goes to
stderr, with the log):

- ``{"op": "start", "id", "site", "site_file", "spider", "arguments", "settings"}``:
  take the crawl lease of (site, spider) and start the crawl; ``ended`` with
  ``refused`` ``lease`` (held by another process) or ``config`` (an invalid
  definition or spider argument) when it cannot start.
- ``{"op": "stop", "id"}``: close that crawl as a SIGTERM closes a ``scrapy
  crawl`` (Scrapy's ``shutdown``: the run ``interrupted``, what was read
  stored, the lease released).
- ``{"op": "exit"}``: take no more crawls; exit once the running ones end.
  The end of stdin (the daemon is gone) stops every crawl, then exits.
- Events: ``ready`` (pid) once; ``beat`` every second (the process's RSS,
  and each running crawl's run id and pages fetched): the daemon kills a host
  whose beats stop, as its reactor is blocked; ``ended`` (id, run id,
  ``refused``, ``error``) when a crawl is over and its run row written.

Signals: SIGTERM or SIGINT closes every crawl as ``stop`` does, then the host
exits; a second one exits at once.

Log lines are the daemon's format with ``[SITE/SPIDER]`` before the message.
A record is told to belong to a crawl by the spider Scrapy attaches to it,
else by the crawl whose code logged it (a context variable set when the crawl
starts, inherited by what runs for it on the event loop); a record neither
tells is the host's (``[host]``) and is counted in no run's ``errors``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The name under which a record is counted and labelled: "site/spider".
CURRENT_CRAWL: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "newscrawl_crawl", default=None
)
HOST_LABEL = "host"
# The daemon's crawl settings (JSON), for every crawl of the host.
HOST_SETTINGS_ENV = "NEWSCRAWL_HOST_SETTINGS"
# The daemon's --log-file: the host logs there, reopening it when rotated.
HOST_LOG_FILE_ENV = "NEWSCRAWL_HOST_LOG_FILE"
BEAT_SECONDS = 1.0
# A crawl told to stop while it starts is closed once its engine runs.
STOP_RETRY_SECONDS = 0.2
# Run in a host, these extensions are the host's work, done once
# (ParentWatch: the host watches the daemon; CollectorTuning: the garbage
# collector is set once, at the host's start, not at each crawl's engine
# start and stop, which overlap) or not wanted (ProgressReport: newscrawl
# crawl's progress line); Scrapy's LogCount would count every crawl's
# records in each crawl's stats.
HOST_EXTENSIONS = {
    "crawler.extensions.parent_watch.ParentWatch": None,
    "crawler.extensions.collector.CollectorTuning": None,
    "crawler.extensions.progress.ProgressReport": None,
    "scrapy.extensions.logcount.LogCount": None,
    "crawler.scheduling.host.CrawlLogCount": 0,
}

logger = logging.getLogger("newscrawl.host")


def crawl_label(record: logging.LogRecord) -> str | None:
    """The crawl a log record belongs to (``site/spider``), or None: the
    host's own lines about a crawl name it (``extra={"crawl": ...}``)."""
    named = getattr(record, "crawl", None)
    if named and named != HOST_LABEL:
        return str(named)
    spider = getattr(record, "spider", None)
    if spider is None:
        crawler = getattr(record, "crawler", None)
        spider = getattr(crawler, "spider", None)
    if spider is not None:
        site = getattr(spider, "site", None)
        if site is not None:
            return f"{site.name}/{spider.name}"
    return CURRENT_CRAWL.get()


class CrawlLabel(logging.Filter):
    """Puts the record's crawl (or ``host``) in ``record.crawl``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.crawl = crawl_label(record) or HOST_LABEL
        return True


class _CrawlCounter(logging.Handler):
    def __init__(self, crawler: Any, label: str, level: Any) -> None:
        super().__init__(level=level)
        self.crawler = crawler
        self.label = label

    def emit(self, record: logging.LogRecord) -> None:
        if crawl_label(record) == self.label:
            self.crawler.stats.inc_value(f"log_count/{record.levelname}")


class CrawlLogCount:
    """Scrapy's ``log_count/LEVEL`` stats for one crawl of a host: the
    records of that crawl alone (the run's ``errors`` is ``log_count/ERROR``)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.handler: _CrawlCounter | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlLogCount:
        from scrapy import signals

        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        label = f"{spider.site.name}/{spider.name}" if getattr(spider, "site", None) else None
        if label is None:
            return
        self.handler = _CrawlCounter(self.crawler, label, self.crawler.settings.get("LOG_LEVEL"))
        logging.root.addHandler(self.handler)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.handler is not None:
            logging.root.removeHandler(self.handler)
            self.handler = None


def rss_mb() -> float:
    """This process's resident memory, in MB (Linux)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass
class RunningCrawl:
    id: str
    label: str
    crawler: Any  # None until its lease is taken
    renewer: Any
    stop_asked: bool = False

    def run_id(self) -> int | None:
        try:
            return self.crawler.stats.get_value("newscrawl/run_id")
        except AttributeError:  # not started, or its stats not made yet
            return None

    def pages(self) -> int:
        try:
            return int(self.crawler.stats.get_value("response_received_count", 0))
        except AttributeError:
            return 0


class Host:
    """The crawls of this process, started and stopped as the daemon says."""

    def __init__(self, settings: Any, events_fd: int, reactor: Any) -> None:
        from scrapy.crawler import CrawlerRunner

        from crawler.storage.database import database_url, ensure_schema, get_engine

        self.settings = settings
        self.events_fd = events_fd
        self.reactor = reactor
        self.runner = CrawlerRunner(settings)
        self.url = database_url(settings.get("NEWSCRAWL_DATABASE_URL"))
        ensure_schema(self.url)
        self.engine = get_engine(self.url)
        self.crawls: dict[str, RunningCrawl] = {}
        self.exiting = False
        self.signals = 0
        self._sites: dict[str, tuple[int, Any]] = {}  # definition file: (mtime, Site)
        self.parent = os.getppid()

    # ------------------------------------------------------------------ events

    def send(self, event: dict[str, Any]) -> None:
        data = (json.dumps(event, default=str) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.events_fd, data) :]
        except OSError:  # the daemon is gone: stdin's end will stop us
            pass

    def beat(self) -> None:
        if os.getppid() != self.parent:  # the daemon died without closing our stdin
            self.stop_all()
        self.send(
            {
                "ev": "beat",
                "rss_mb": round(rss_mb(), 1),
                "crawls": {
                    c.id: {"run": c.run_id(), "pages": c.pages()} for c in self.crawls.values()
                },
            }
        )

    # ------------------------------------------------------------------ orders

    def handle(self, line: bytes) -> None:
        try:
            order = json.loads(line)
            op = order["op"]
        except (ValueError, KeyError, TypeError):
            logger.error("ignored a line the host could not read: %r", line[:200])
            return
        if op == "start":
            self.start(order)
        elif op == "stop":
            crawl = self.crawls.get(str(order.get("id")))
            if crawl is not None:
                self._stop(crawl)
        elif op == "exit":
            self.exiting = True
            self._exit_if_idle()
        else:
            logger.error("ignored an unknown order %r", op)

    def stdin_closed(self) -> None:
        logger.info("the daemon closed its end: stopping %d crawl(s)", len(self.crawls))
        self.stop_all()

    def stop_all(self) -> None:
        self.exiting = True
        for crawl in list(self.crawls.values()):
            self._stop(crawl)
        self._exit_if_idle()

    def on_signal(self, signum: int) -> None:
        self.signals += 1
        if self.signals > 1:
            logger.warning("second %s: exiting at once", signal.Signals(signum).name)
            os._exit(128 + signum)
        self.stop_all()

    # ------------------------------------------------------------------ crawls

    def site(self, name: str, site_file: str | None) -> Any:
        """The site's definition, read again only when its file changed."""
        from crawler.sites.definitions import get_site, load_site_file

        if site_file:
            path = Path(site_file)
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                mtime = None
            if mtime is not None:
                cached = self._sites.get(site_file)
                if cached is not None and cached[0] == mtime:
                    site = cached[1]
                else:
                    site = load_site_file(path)
                    self._sites[site_file] = (mtime, site)
                if site.name == name:
                    return site
        return get_site(name)

    def start(self, order: dict[str, Any]) -> None:
        from scrapy.crawler import Crawler

        from crawler.exceptions import SpiderArgumentError
        from crawler.sites.arguments import FALSE_WORDS
        from crawler.sites.definitions import SiteConfigError

        cid = str(order["id"])
        name, spider_name = order["site"], order["spider"]
        arguments = {str(k): str(v) for k, v in (order.get("arguments") or {}).items()}
        label = f"{name}/{spider_name}"
        if self.exiting:
            self.send({"ev": "ended", "id": cid, "refused": "exiting"})
            return
        try:
            site = self.site(name, order.get("site_file"))
            spidercls = self.runner.spider_loader.load(spider_name)
            check = getattr(spidercls, "check_arguments", None)  # newscrawl's spiders
            if check is not None:
                check({"site": site, **arguments})
        except (SiteConfigError, SpiderArgumentError, KeyError, ValueError) as exc:
            logger.error("not started: %s", exc, extra={"crawl": label})
            self.send({"ev": "ended", "id": cid, "refused": "config", "error": str(exc)})
            return
        # A worker of a distributed crawl shares the crawl instead of locking it.
        shared = arguments.get("worker", "").strip().lower() not in FALSE_WORDS
        crawl = RunningCrawl(cid, label, None, None)
        self.crawls[cid] = crawl  # from now on, stop and exit wait for it
        overrides = order.get("settings") or {}

        def launch(lease: tuple[str, Any] | None) -> None:
            if lease is not None and lease[0] != "taken":
                refused, error = lease
                self.crawls.pop(cid, None)
                self.send({"ev": "ended", "id": cid, "refused": refused, "error": error})
                self._exit_if_idle()
                return
            crawl.renewer = lease[1] if lease is not None else None
            if crawl.stop_asked:  # stopped before it began: nothing to close
                self._ended(None, crawl)
                return
            # The Crawler copies the host's settings (one deep copy a crawl);
            # this crawl's own go on its copy, before the crawl freezes it.
            crawl.crawler = Crawler(spidercls, self.settings)
            crawl.crawler.settings.setdict(overrides, priority="cmdline")
            context = contextvars.copy_context()
            context.run(CURRENT_CRAWL.set, label)
            deferred = context.run(self.runner.crawl, crawl.crawler, site=site, **arguments)
            deferred.addBoth(self._ended, crawl)

        from twisted.internet.defer import succeed
        from twisted.internet.threads import deferToThread

        # The lease is a database write: in a thread, the reactor runs on meanwhile.
        taken = (
            succeed(None) if shared else deferToThread(self._take_lease, label, name, spider_name)
        )
        taken.addCallback(launch).addErrback(self._ended, crawl)

    def _take_lease(self, label: str, site: str, spider: str) -> tuple[str, Any]:
        """``("taken", renewer)``: the crawl's lease, kept renewed while it runs;
        else ``(why, message)``: ``lease`` (another process holds it) or
        ``database``. Run in a thread."""
        from crawler.storage.locks import (
            DEFAULT_LEASE_TTL,
            LeaseHeld,
            LeaseRenewer,
            acquire_lease,
        )

        ttl = self.settings.getfloat("NEWSCRAWL_LEASE_TTL", DEFAULT_LEASE_TTL)
        try:
            lease, takeover = acquire_lease(self.engine, site, spider, ttl=ttl)
        except LeaseHeld as exc:
            return "lease", str(exc)
        except Exception as exc:  # the database
            logger.error("not started, the database failed: %s", exc, extra={"crawl": label})
            return "database", str(exc)
        if takeover is not None:
            logger.warning("took over the lease: %s", takeover.reason, extra={"crawl": label})
        return "taken", LeaseRenewer(self.engine, lease, ttl).start()

    def _stop(self, crawl: RunningCrawl) -> None:
        """Close the crawl as Scrapy closes one on SIGTERM; a crawl still
        starting (its engine not running yet) is closed as soon as it runs."""
        if crawl.stop_asked or crawl.id not in self.crawls:
            return
        if crawl.crawler is None:  # its lease is being taken: it will not start
            crawl.stop_asked = True
            return
        engine = getattr(crawl.crawler, "_engine", None)
        if not (crawl.crawler.crawling and engine is not None and engine.running):
            self.reactor.callLater(STOP_RETRY_SECONDS, self._stop, crawl)
            return
        crawl.stop_asked = True
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(crawl.crawler.stop_async()).addErrback(
            lambda f: logger.error(
                "could not be stopped: %s", f.value, extra={"crawl": crawl.label}
            )
        )

    def _ended(self, result: Any, crawl: RunningCrawl) -> None:
        from twisted.python.failure import Failure

        error = None
        if isinstance(result, Failure):
            error = f"{result.type.__name__}: {result.value}"
            logger.error(
                "the crawl failed: %s", error, exc_info=result.value, extra={"crawl": crawl.label}
            )
        run = crawl.run_id()

        def over(_: Any = None) -> None:
            self.crawls.pop(crawl.id, None)
            self.send({"ev": "ended", "id": crawl.id, "run": run, "error": error})
            self._exit_if_idle()

        if crawl.renewer is None:
            over()
        else:  # released in a thread: a database write
            from twisted.internet.threads import deferToThread

            deferToThread(crawl.renewer.stop, release=True).addBoth(over)

    def _exit_if_idle(self) -> None:
        if self.exiting and not self.crawls and self.reactor.running:
            self.reactor.stop()


def configure_host_logging(settings: Any) -> None:
    """The daemon's line format with each record's crawl, to stderr."""
    from scrapy.utils.log import configure_logging

    from crawler.extensions.download_log import (
        QUIET_DOWNLOAD_ERRORS,
        TRACEBACK_LOGGERS,
        DownloadErrorsInOneLine,
        LeaveOutDownloadErrors,
    )
    from crawler.scheduling.logs import LOG_DATEFORMAT, LOG_FORMAT

    quiet = settings.copy()
    quiet.set("LOG_INSTALL_ROOT_HANDLER", False)
    configure_logging(quiet)  # Twisted's log and warnings into logging; ours is the handler
    level = settings.get("LOG_LEVEL") or "INFO"
    log_file = os.environ.get(HOST_LOG_FILE_ENV)
    handler: logging.Handler = (
        logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
        if log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setLevel(level)
    handler.setFormatter(
        logging.Formatter(
            LOG_FORMAT.replace("%(message)s", "[%(crawl)s] %(message)s"), LOG_DATEFORMAT
        )
    )
    handler.addFilter(CrawlLabel())
    # What the QuietDownloadErrors extension does to a crawl process's handler.
    if settings.getbool(QUIET_DOWNLOAD_ERRORS) and logging.getLevelName(level) > logging.INFO:
        handler.addFilter(LeaveOutDownloadErrors())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Scrapy's loggers are set to DEBUG by its logging set-up: records below
    # the level would be built for every page, then dropped.
    logging.getLogger("scrapy").setLevel(level)
    for name in TRACEBACK_LOGGERS:
        logging.getLogger(name).addFilter(DownloadErrorsInOneLine())


def host_settings(overrides: dict[str, str]) -> Any:
    """The project's Scrapy settings, with the daemon's crawl settings and the
    host's extensions."""
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.setdict(overrides, priority="cmdline")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions.update(HOST_EXTENSIONS)
    settings.set("EXTENSIONS", extensions, priority="cmdline")
    return settings


def main() -> int:
    """The host process: ``python -m crawler.scheduling.host``."""
    # Our stdout carries the events alone: whatever else writes to fd 1 goes to stderr.
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    settings = host_settings(json.loads(os.environ.get(HOST_SETTINGS_ENV) or "{}"))
    from scrapy.utils.reactor import install_reactor

    install_reactor(settings["TWISTED_REACTOR"], settings["ASYNCIO_EVENT_LOOP"])
    from twisted.internet import reactor, task

    configure_host_logging(settings)
    host = Host(settings, events_fd, reactor)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: reactor.callFromThread(host.on_signal, s))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the daemon's reload is not ours

    def read_orders() -> None:
        for line in sys.stdin.buffer:
            if line.strip():
                reactor.callFromThread(host.handle, line)
        reactor.callFromThread(host.stdin_closed)

    threading.Thread(target=read_orders, name="orders", daemon=True).start()
    from crawler.extraction.processes import tune_collector
    from crawler.storage.warc import WarcFiles

    WarcFiles.keep_open = True  # one WARC file for the host's crawls, not one per crawl
    tune_collector()  # what start-up made frozen; the youngest generation collected less often
    beats = task.LoopingCall(host.beat)
    reactor.callWhenRunning(host.send, {"ev": "ready", "pid": os.getpid()})
    reactor.callWhenRunning(beats.start, BEAT_SECONDS)
    reactor.run(installSignalHandlers=False)
    logger.info("crawl host (pid %d) exits", os.getpid())
    logging.shutdown()
    # Every crawl is over and written. Not the interpreter's own shutdown: the
    # thread reading the orders may be inside a read of stdin.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
