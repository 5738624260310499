"""One log format for the daemon, the worker and the crawl processes they start.

Every line is ``time LEVEL logger: message``, the time local, to the
millisecond (``2026-11-29 10:00:03,874``). A crawl process's lines carry its
site and spider after the logger's name (``[demo/articles]``), so one
``grep demo/articles`` finds the daemon's lines about a crawl and the
crawl's own. The daemon and the worker pass the format to their crawls as
Scrapy settings (``LOG_FORMAT``, ``LOG_DATEFORMAT``).

The daemon's crawls also get ``NEWSCRAWL_QUIET_DOWNLOAD_ERRORS``: at a log
level above INFO they leave out Scrapy's line per page given up or not
downloaded (``Gave up retrying ...``, ``Error downloading ...``), which the
run's ``finish_reason`` counts and the daemon sums up in one line per
crawl (:mod:`crawler.extensions.download_log`).
"""

from __future__ import annotations

from crawler.extensions.download_log import QUIET_DOWNLOAD_ERRORS

LOG_FORMAT = "%(asctime)s,%(msecs)03d %(levelname)s %(name)s: %(message)s"
LOG_DATEFORMAT = "%Y-%m-%d %H:%M:%S"


def crawl_log_format(site: str, spider: str) -> str:
    """The format of a crawl process's lines: :data:`LOG_FORMAT` with
    ``[SITE/SPIDER]`` before the message."""
    label = f"[{site}/{spider}]".replace("%", "%%")
    return LOG_FORMAT.replace("%(message)s", f"{label} %(message)s")


def crawl_log_settings(site: str, spider: str) -> dict[str, str]:
    """The Scrapy settings that give a crawl process the daemon's log format."""
    return {"LOG_FORMAT": crawl_log_format(site, spider), "LOG_DATEFORMAT": LOG_DATEFORMAT}


def daemon_crawl_settings(log_level: str, settings: dict[str, str]) -> dict[str, str]:
    """The Scrapy settings of every crawl the daemon starts: its log level,
    the user's ``--set`` settings, and what the daemon decides alone (the
    run's trigger; the download errors summed up, not logged line by line)."""
    return {
        "LOG_LEVEL": log_level,
        QUIET_DOWNLOAD_ERRORS: "true",
        **settings,
        "NEWSCRAWL_RUN_TRIGGER": "daemon",
    }
