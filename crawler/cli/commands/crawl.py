"""``scrapy crawl``, with the site definitions checked before anything starts.

Checked before Scrapy starts (and logs anything): a bad or unknown site
definition ends the command with one message naming the file, the key and the
problem; a spider argument that is missing or cannot be read (no ``-a site=``,
``-a pages=abc``), or an unknown spider, with one line ``scrapy crawl:
MESSAGE``. Either way exit status 2, and nothing is crawled.

A crawl of a site and spider holds their lease in ``crawl_locks`` while it
runs (``crawler.storage.locks``; setting ``NEWSCRAWL_LEASE_TTL``, seconds):
a second crawl of the same pair, by hand or by the daemon, is refused with a
message and exit status 3. Runs left ``running`` by dead crawl processes of
this host are closed as ``interrupted`` first.

A download error (connection refused, a name that does not resolve, a
timeout) is logged in one line, without Scrapy's traceback: it says what
happened to which page, and the traceback only where in Scrapy it was seen
(:mod:`crawler.extensions.download_log`, which also quiets these lines in the
daemon's crawls).

A crawl started by a newscrawl process (``newscrawl crawl``, the daemon, a
worker) that finds that process already gone does not start (exit status 1);
once running, it stops when that process ends
(:mod:`crawler.extensions.parent_watch`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, NoReturn

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from sqlalchemy.exc import SQLAlchemyError

from crawler.exceptions import CONFIG_ERROR_EXIT, LEASE_HELD_EXIT, SpiderArgumentError
from crawler.extensions.download_log import TRACEBACK_LOGGERS, DownloadErrorsInOneLine
from crawler.extensions.parent_watch import expected_parent, parent_gone
from crawler.extraction.processes import parse_processes
from crawler.scheduling.redis_queue import DistributedUnavailable, require_extra
from crawler.sites.arguments import FALSE_WORDS
from crawler.sites.definitions import SiteConfigError, get_site, load_sites
from crawler.storage.database import database_url, ensure_schema, get_engine, safe_url
from crawler.storage.locks import (
    DEFAULT_LEASE_TTL,
    LeaseHeld,
    LeaseRenewer,
    acquire_lease,
    close_orphaned_runs,
)
from crawler.storage.warc import (
    ArchiveUnavailable,
    archive_dir,
    check_writable,
    file_size_limit,
)

logger = logging.getLogger(__name__)


def refuse(message: str) -> NoReturn:
    """One line on stderr, exit status 2: before Scrapy has logged anything."""
    print(message, file=sys.stderr)
    raise SystemExit(CONFIG_ERROR_EXIT)


def check_archive(settings: Any) -> None:
    """The archive directory can be written (ArchiveUnavailable), before
    anything is fetched: a page that could not be kept is never stored."""
    folder = archive_dir(
        settings.get("NEWSCRAWL_ARCHIVE_DIR"), database_url(settings.get("NEWSCRAWL_DATABASE_URL"))
    )
    file_size_limit(settings.get("NEWSCRAWL_ARCHIVE_FILE_SIZE"))
    if folder is not None:
        check_writable(folder)


def check_spider(settings: Any, name: str, arguments: dict[str, Any]) -> None:
    """The spider ``name`` exists and takes ``arguments`` (SpiderArgumentError)."""
    from scrapy.spiderloader import get_spider_loader

    from crawler.spiders.base import NewsSpider

    loader = get_spider_loader(settings)
    if name not in loader.list():
        known = ", ".join(sorted(loader.list()))
        raise SpiderArgumentError(f"no spider named {name!r} (spiders: {known})")
    spidercls = loader.load(name)
    if issubclass(spidercls, NewsSpider):
        spidercls.check_arguments(arguments)


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        try:
            site = opts.spargs.get("site")
            if site:
                get_site(site)
            else:
                load_sites()
            parse_processes(self.settings.get("EXTRACTION_PROCESSES"))
            check_archive(self.settings)
            if len(args) == 1:  # Scrapy reports another number of spiders
                check_spider(self.settings, args[0], opts.spargs)
            if self.settings.get("REDIS_URL"):
                require_extra()
        except (DistributedUnavailable, ArchiveUnavailable) as exc:
            refuse(f"newscrawl: {exc}")
        except SpiderArgumentError as exc:
            refuse(f"scrapy crawl: {exc}")
        except (SiteConfigError, ValueError) as exc:
            refuse(f"newscrawl: {exc}")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        for name in TRACEBACK_LOGGERS:
            logging.getLogger(name).addFilter(DownloadErrorsInOneLine())
        site = opts.spargs.get("site")
        parent = expected_parent()
        if parent is not None and parent_gone(parent):
            print(
                f"newscrawl: the process that started this crawl (pid {parent}) has ended; "
                "not starting",
                file=sys.stderr,
            )
            self.exitcode = 1
            return
        # Workers of a distributed crawl share the crawl instead of locking it.
        worker = str(opts.spargs.get("worker", "")).strip().lower() not in FALSE_WORDS
        renewer = None if worker else self._take_lease(args[0] if args else None, site)
        if self.exitcode:
            return
        try:
            super().run(args, opts)
        finally:
            if renewer is not None:
                renewer.stop(release=True)

    def _take_lease(self, spider: str | None, site: str | None) -> LeaseRenewer | None:
        """Close the runs of dead crawls of this host, then take the lease of
        (site, spider) and keep it renewed while the crawl runs.

        Refused with exit status 3 while another live process holds it.
        """
        assert self.settings is not None and self.crawler_process is not None
        if not site or spider not in self.crawler_process.spider_loader.list():
            return None  # nothing to lock; Scrapy reports the bad arguments
        url = database_url(self.settings.get("NEWSCRAWL_DATABASE_URL"))
        ttl = self.settings.getfloat("NEWSCRAWL_LEASE_TTL", DEFAULT_LEASE_TTL)
        try:
            ensure_schema(url)
            engine = get_engine(url)
            close_orphaned_runs(engine)
            lease, takeover = acquire_lease(engine, site, spider, ttl=ttl)
        except LeaseHeld as exc:
            print(f"newscrawl: {exc}; not starting a second crawl", file=sys.stderr)
            self.exitcode = LEASE_HELD_EXIT
            return None
        except SQLAlchemyError as exc:
            print(f"newscrawl: cannot use the database {safe_url(url)}: {exc}", file=sys.stderr)
            self.exitcode = 1
            return None
        if takeover is not None:
            logger.warning("took over the lease of %s/%s: %s", site, spider, takeover.reason)
        return LeaseRenewer(engine, lease, ttl).start()
