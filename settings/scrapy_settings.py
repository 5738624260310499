"""Scrapy settings of newscrawl. Environment overrides are listed in the README (Configuration)."""

import os

# Scrapy's TLS module names its deprecated classes with inspect.stack(), whose
# cost grows with the depth of the stack and the modules loaded: imported
# here, before the project's modules and outside the reactor, it costs a
# fraction of what it does when the downloader first needs it.
import scrapy.core.downloader.contextfactory  # noqa: F401
from scrapy.settings.default_settings import EXTENSIONS_BASE as _SCRAPY_EXTENSIONS

from crawler import __version__

BOT_NAME = "newscrawl"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.cli.commands"

# Polite by default: one identifying User-Agent, robots.txt obeyed, AutoThrottle on.
USER_AGENT = os.environ.get(
    "NEWSCRAWL_USER_AGENT", f"newscrawl/{__version__} (news archive crawler)"
)
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Outputs (items and requests) of one response processed at once. Scrapy
# starts this many tasks for every response (100 by default); here a response
# yields one article, whose store write is batched anyway, or links, which are
# only queued: one at a time costs least.
CONCURRENT_ITEMS = 1
# Scrapy reads the source of a generator callback to warn about a `return
# value` in it, again for every response whose bound method it no longer
# caches: a development aid costing ~6% of a fast crawl's CPU.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Scrapy's downloader, holding to CONCURRENT_REQUESTS_PER_DOMAIN when there is
# no download delay (crawler/middlewares/downloader.py).
DOWNLOADER = "crawler.middlewares.downloader.Downloader"
# Article pages read (parsed, extracted, cleaned) in the crawl process, or in
# other processes when it runs short of CPU: auto, 0 or a number
# (crawler/extraction/reader.py, docs/performance.md).
EXTRACTION_PROCESSES = os.environ.get("NEWSCRAWL_EXTRACTION_PROCESSES", "auto")
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
# A retried HTTP status (5xx, 408, 429) is asked again after a wait, not at once
# (crawler/middlewares/retry_after.py): a 429's or 503's Retry-After, else
# RETRY_BACKOFF_BASE seconds doubled at each retry (1, 2, 4 ...). A Retry-After
# over RETRY_AFTER_MAX seconds gives the page up at once; waits never exceed it.
RETRY_AFTER_MAX = 120
RETRY_BACKOFF_BASE = 1.0

# Limits against hostile or broken sites; docs/robustness.md says what each does.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # bytes per page, also after decompression
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
REDIRECT_MAX_TIMES = 20  # redirects followed from one request (loops are never followed)
CLOSESPIDER_PAGECOUNT = 50_000  # responses per crawl; then it ends as closespider_pagecount
# No way into a running crawl: Scrapy's telnet console and its remote-control
# HTTP server (on by default since Scrapy 2.19; it runs code sent to it) are off.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = os.environ.get("NEWSCRAWL_LOG_LEVEL", "INFO")

ITEM_PIPELINES = {
    "pipelines.clean.CleanPipeline": 100,
    "pipelines.validate.ValidatePipeline": 200,
    "pipelines.store.StorePipeline": 900,
}
DOWNLOADER_MIDDLEWARES = {
    # Scrapy's own, replaced by subclasses that fix or report what they do
    # (crawler/middlewares/robots.py, limits.py and retry_after.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.robots.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.limits.SizeLimitMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.limits.RedirectLimitMiddleware": 600,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.retry_after.RetryAfterMiddleware": 550,
    # Scrapy's meta-refresh redirects, found without decoding each page whole
    # (crawler/middlewares/meta_refresh.py); before the capture at the same order.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.meta_refresh.MetaRefreshMiddleware": 580,
    # Every page fetched with status 200 kept as a WARC record, as the crawl
    # read it: after decompression and redirects (crawler/middlewares/capture.py).
    "crawler.middlewares.capture.CaptureMiddleware": 580,
}
SPIDER_MIDDLEWARES = {
    "crawler.middlewares.incremental.IncrementalMiddleware": 800,
    # A crawl's depth is bounded by listing.max_pages (docs/robustness.md#limits);
    # Scrapy's depth tracking would only add a layer to every request of a crawl.
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
}
# Scrapy's remote-control server is off (REMOTE_CONTROL_ENABLED above), and
# out of Scrapy's own list of extensions, where even a disabled one is
# imported: its module imports aiohttp, a fifth of a second of every crawl
# process's start-up.
EXTENSIONS_BASE = {
    path: order
    for path, order in _SCRAPY_EXTENSIONS.items()
    if path != "scrapy.extensions.remote_control.RemoteControl"
}
EXTENSIONS = {
    "crawler.extensions.run_history.RunHistory": 100,
    # A crawl started by newscrawl stops when that process is gone (SIGKILL).
    "crawler.extensions.parent_watch.ParentWatch": 110,
    # Counts reported to newscrawl crawl for its progress line (off unless it asks).
    "crawler.extensions.progress.ProgressReport": 120,
    # Scrapy's line per page given up, left out below INFO in the daemon's crawls.
    "crawler.extensions.download_log.QuietDownloadErrors": 130,
    # Fewer garbage collections while the engine runs (crawler/extensions/collector.py).
    "crawler.extensions.collector.CollectorTuning": 140,
}
# Set by the daemon for its crawls (crawler/extensions/download_log.py, docs/daemon.md#logs).
NEWSCRAWL_QUIET_DOWNLOAD_ERRORS = False

# The archive. Any SQLAlchemy URL; the default is a SQLite file in the working folder.
NEWSCRAWL_DATABASE_URL = os.environ.get("NEWSCRAWL_DATABASE_URL", "sqlite:///newscrawl.db")
STORE_BATCH_SIZE = 100
# The page archive (docs/archive.md): WARC files in NEWSCRAWL_ARCHIVE_DIR, by
# default archive/ beside a SQLite database (in the working folder for
# PostgreSQL); "off" keeps no pages. A file is closed past
# NEWSCRAWL_ARCHIVE_FILE_SIZE bytes (K, M, G allowed; default 1G).
NEWSCRAWL_ARCHIVE_DIR = os.environ.get("NEWSCRAWL_ARCHIVE_DIR", "")
NEWSCRAWL_ARCHIVE_FILE_SIZE = os.environ.get("NEWSCRAWL_ARCHIVE_FILE_SIZE", "")
# While the database is unreachable, items wait in a local spool (pipelines/store.py):
# by default ~/.local/state/newscrawl/spool. A crawl waits up to STORE_OUTAGE_WAIT
# seconds at its end for the database; what is left is written by the next crawl.
NEWSCRAWL_SPOOL_DIR = os.environ.get("NEWSCRAWL_SPOOL_DIR", "")
STORE_OUTAGE_WAIT = 60
INCREMENTAL_BATCH_SIZE = 100

# Distributed crawling (docs/scaling.md): with NEWSCRAWL_REDIS_URL set, crawls
# share a request queue and duplicate filter in Redis through scrapy-redis.
NEWSCRAWL_WORKER_IDLE_SECONDS = 5.0
REDIS_URL = os.environ.get("NEWSCRAWL_REDIS_URL") or None
if REDIS_URL:
    SCHEDULER = "crawler.scheduling.distributed.SiteScheduler"
    SCHEDULER_PERSIST = True  # the queue outlives any one worker
    SCHEDULER_QUEUE_CLASS = "scrapy_redis.queue.PriorityQueue"
    DUPEFILTER_CLASS = "scrapy_redis.dupefilter.RFPDupeFilter"
    # A crawl process takes from the shared queue only what it can download
    # now, leaving the rest to the other workers.
    CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN
    EXTENSIONS["crawler.scheduling.distributed.WorkerIdle"] = 200
