"""Scrapy's size and redirect limits, made visible: every page they refuse is
logged as a warning and counted, and the run history writes the counts into
the run's ``finish_reason`` (docs/robustness.md).

- :class:`SizeLimitMiddleware` (in place of ``HttpCompressionMiddleware``):
  a page over ``DOWNLOAD_MAXSIZE``, announced by its Content-Length or found
  while it downloads, or a compressed page that grows beyond it when
  decompressed. Stat ``newscrawl/refused_size``.
- :class:`RedirectLimitMiddleware` (in place of ``RedirectMiddleware``): a
  redirect back to a URL already in the request's chain is a loop and is not
  followed (stat ``newscrawl/redirect_loops``); a chain longer than
  ``REDIRECT_MAX_TIMES`` is cut there (stat ``newscrawl/redirects_over_limit``).
  Scrapy alone follows a loop until the duplicate filter drops it silently, or,
  for a start URL, until ``REDIRECT_MAX_TIMES``.

Both are enabled in ``settings/scrapy_settings.py`` at the built-ins' places.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Request, Response

logger = logging.getLogger(__name__)


class SizeLimitMiddleware(HttpCompressionMiddleware):
    def process_response(self, request: Request, response: Response) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest:  # grew beyond DOWNLOAD_MAXSIZE while decompressed
            self.stats.inc_value("newscrawl/refused_size")
            raise

    def process_exception(self, request: Request, exception: Exception) -> None:
        # The download handler cancels a download over DOWNLOAD_MAXSIZE (and has
        # logged a warning with the sizes).
        if isinstance(exception, DownloadCancelledError):
            self.stats.inc_value("newscrawl/refused_size")


class RedirectLimitMiddleware(RedirectMiddleware):
    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        # Scrapy 2.19's hook for every redirect it is about to follow.
        chain = [*request.meta.get("redirect_urls", []), request.url]
        stats = self.crawler.stats
        if redirected.url in chain:
            stats.inc_value("newscrawl/redirect_loops")
            logger.warning("redirect loop, not followed: %s", " -> ".join([*chain, redirected.url]))
            raise IgnoreRequest("redirect loop")
        try:
            return super()._redirect(redirected, request, reason)
        except IgnoreRequest:
            stats.inc_value("newscrawl/redirects_over_limit")
            logger.warning(
                "more than %d redirects from %s (REDIRECT_MAX_TIMES), not followed",
                self.max_redirect_times,
                chain[0],
            )
            raise
