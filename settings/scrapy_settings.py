"""Scrapy settings of newscrawl. Environment overrides are listed in docs/configuration.md."""

import os

from crawler import __version__

BOT_NAME = "newscrawl"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"

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
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_TIMES = 2
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = os.environ.get("NEWSCRAWL_LOG_LEVEL", "INFO")

ITEM_PIPELINES = {
    "pipelines.clean.CleanPipeline": 100,
    "pipelines.validate.ValidatePipeline": 200,
    "pipelines.store.StorePipeline": 900,
}
SPIDER_MIDDLEWARES = {
    "crawler.middlewares.incremental.IncrementalMiddleware": 800,
}
EXTENSIONS = {
    "crawler.extensions.run_history.RunHistory": 100,
}

# The archive. Any SQLAlchemy URL; the default is a SQLite file in the working folder.
NEWSCRAWL_DATABASE_URL = os.environ.get("NEWSCRAWL_DATABASE_URL", "sqlite:///newscrawl.db")
STORE_BATCH_SIZE = 100
INCREMENTAL_BATCH_SIZE = 100
