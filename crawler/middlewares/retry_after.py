"""Scrapy's retries, made patient: a page answered with a retried HTTP status
(``RETRY_HTTP_CODES``: 500, 502, 503, 504, 522, 524, 408, 429) is asked again
only after a wait, not at once.

- On 429 and 503, the server's ``Retry-After`` is honoured, in seconds or as
  an HTTP date (read against the response's ``Date``, so a skewed clock on
  either side does not matter). An ask longer than ``RETRY_AFTER_MAX``
  seconds (120) is not waited for: the page is given up at once, counted
  with the pages given up after retries (``retry/max_reached``) and in
  ``newscrawl/retry_after_over_max``, which the run row notes.
- Otherwise (no header, an unreadable one, or another status) the wait
  doubles with each retry from ``RETRY_BACKOFF_BASE`` seconds (1): 1 s, 2 s,
  4 s ..., at most ``RETRY_AFTER_MAX``. ``RETRY_BACKOFF_BASE = 0`` retries at
  once, as Scrapy does.

The wait is an asynchronous sleep on the crawl's event loop: only that request
waits, other requests to the site and to other sites go on. A waiting request
counts against ``CONCURRENT_REQUESTS`` (it is still in the downloader), not
against its site's ``CONCURRENT_REQUESTS_PER_DOMAIN``. Retries still stop
after ``RETRY_TIMES``; download errors (timeouts, lost connections) are
retried at once, as before.

Enabled in ``settings/scrapy_settings.py`` in place of Scrapy's ``RetryMiddleware``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.response import response_status_message

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = (429, 503)


def _http_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def retry_after_seconds(
    value: str, date: str | None = None, now: float | None = None
) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait: delta-seconds, or an HTTP
    date less the response's ``Date`` (else the clock here); 0 for a moment
    already past; None for a value that is neither."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    moment = _http_date(value)
    if moment is None:
        return None
    sent = _http_date(date) if date else None
    since = sent.timestamp() if sent is not None else (time.time() if now is None else now)
    return max(0.0, moment.timestamp() - since)


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(
        self, settings: Any, retry_after_max: float = 120.0, backoff_base: float = 1.0
    ) -> None:
        super().__init__(settings)
        self.retry_after_max = retry_after_max
        self.backoff_base = backoff_base

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryAfterMiddleware:
        settings = crawler.settings
        middleware = cls(
            settings,
            retry_after_max=settings.getfloat("RETRY_AFTER_MAX", 120.0),
            backoff_base=settings.getfloat("RETRY_BACKOFF_BASE", 1.0),
        )
        middleware.crawler = crawler
        return middleware

    def backoff(self, retry: int) -> float:
        """The wait before the ``retry``-th retry (1, 2, ...) without a Retry-After."""
        return min(self.backoff_base * 2 ** (retry - 1), self.retry_after_max)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        asked = None
        if response.status in RETRY_AFTER_STATUSES:
            header = response.headers.get(b"Retry-After")
            if header:
                date = response.headers.get(b"Date")
                asked = retry_after_seconds(
                    header.decode("latin-1"), date.decode("latin-1") if date else None
                )
        if asked is not None and asked > self.retry_after_max:
            stats = self.crawler.stats
            stats.inc_value("retry/max_reached")
            stats.inc_value("newscrawl/retry_after_over_max")
            logger.warning(
                "gave up %s at once: HTTP %d asks to retry after %.0f s, more than "
                "RETRY_AFTER_MAX (%g s)",
                request.url,
                response.status,
                asked,
                self.retry_after_max,
            )
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response  # retries exhausted (logged and counted by Scrapy)
        wait = asked if asked is not None else self.backoff(retry.meta["retry_times"])
        if wait > 0:
            logger.debug("retrying %s in %.1f s (HTTP %d)", request.url, wait, response.status)
            await sleep(wait)
        return retry
