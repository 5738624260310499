"""How a crawl logs its download errors: in one line, and in a daemon's crawl
not line by line at all.

- :class:`DownloadErrorsInOneLine`, on Scrapy's loggers that log a download
  error with its traceback (:data:`TRACEBACK_LOGGERS`; installed by the
  crawl command, :mod:`crawler.cli.commands.crawl`): an error of the network
  or of the server (connection refused, a name that does not resolve, a
  timeout) becomes its message and the error in one line, marked as a
  download error.
- :class:`QuietDownloadErrors`, a Scrapy extension: with the setting
  :data:`QUIET_DOWNLOAD_ERRORS` on (the daemon sets it for its crawls) and a
  log level above INFO, Scrapy's line per page given up (``Gave up retrying
  ...``) or not downloaded (``Error downloading ...``) is left out of the
  log. The run's ``finish_reason`` counts those pages, the daemon sums the
  crawl up in one line, and the run's ``errors`` still counts the lines
  (the filter is on the log's handler, after Scrapy has counted them). At
  INFO or DEBUG every line is there.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import exceptions as scrapy_errors
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.log import get_scrapy_root_handler
from twisted.internet import error as twisted_errors

# A Scrapy setting (bool, default off): see the module's docstring.
QUIET_DOWNLOAD_ERRORS = "NEWSCRAWL_QUIET_DOWNLOAD_ERRORS"

# Errors of the network or of the server, not of the code: their tracebacks
# (two per page given up) say nothing a user can act on.
DOWNLOAD_ERRORS = (
    scrapy_errors.CannotResolveHostError,
    scrapy_errors.DownloadConnectionRefusedError,
    scrapy_errors.DownloadTimeoutError,
    scrapy_errors.DownloadFailedError,
    scrapy_errors.ResponseDataLossError,
    twisted_errors.ConnectError,
    twisted_errors.TimeoutError,
    twisted_errors.ConnectionLost,
)

# Scrapy's loggers that log a download error with its traceback: the page's
# (the scraper's "Error downloading") and robots.txt's.
TRACEBACK_LOGGERS = ("scrapy.core.scraper", "scrapy.downloadermiddlewares.robotstxt")
# Scrapy's logger of a page given up after its retries ("Gave up retrying").
RETRY_LOGGER = "scrapy.downloadermiddlewares.retry"
# The attribute DownloadErrorsInOneLine sets on the records it rewrites.
MARK = "newscrawl_download_error"


class DownloadErrorsInOneLine(logging.Filter):
    """A record of a download error, as its message and the error in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, DOWNLOAD_ERRORS):
            message, reason = record.getMessage(), str(error)
            if reason not in message:
                message = f"{message}: {reason}"
            record.msg, record.args = message, None
            record.exc_info, record.exc_text = None, None
            setattr(record, MARK, True)
        return True


def is_download_error_line(record: logging.LogRecord) -> bool:
    """Scrapy's line about one page given up after its retries, or not
    downloaded because of the network or the server."""
    if getattr(record, MARK, False):
        return True
    return record.name == RETRY_LOGGER and str(record.msg).startswith("Gave up retrying")


class LeaveOutDownloadErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not is_download_error_line(record)


class QuietDownloadErrors:
    """Installs :class:`LeaveOutDownloadErrors` on Scrapy's log handler when
    the spider opens (Scrapy replaces the handler until then)."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> QuietDownloadErrors:
        settings = crawler.settings
        level = logging.getLevelName(str(settings.get("LOG_LEVEL", "DEBUG")).upper())
        if not settings.getbool(QUIET_DOWNLOAD_ERRORS) or not isinstance(level, int):
            raise NotConfigured
        if level <= logging.INFO:
            raise NotConfigured
        ext = cls()
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        return ext

    def spider_opened(self, spider: Any) -> None:
        handler = get_scrapy_root_handler()
        if handler is not None:
            handler.addFilter(LeaveOutDownloadErrors())
