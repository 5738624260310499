"""Scrapy's downloader, with its per-site concurrency limit kept.

Scrapy 2.19 starts the requests waiting in a download slot as coroutines and
counts a request as "transferring" only once its coroutine runs. When several
requests are waiting and the slot has no download delay (AutoThrottle off,
``DOWNLOAD_DELAY = 0``, or AutoThrottle's delay down to zero), every waiting
request is started before any is counted: ``CONCURRENT_REQUESTS_PER_DOMAIN``
is ignored and a site gets up to ``CONCURRENT_REQUESTS`` requests at once.
Here a request counts as soon as it is started.

Enabled with ``DOWNLOADER`` in ``settings/scrapy_settings.py``.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from scrapy.core.downloader import Downloader as ScrapyDownloader
from scrapy.core.downloader import Slot
from scrapy.http import Request, Response
from twisted.internet.defer import Deferred


class Downloader(ScrapyDownloader):
    def _wait_for_download(  # type: ignore[override]
        self, slot: Slot, request: Request, queue_dfd: Deferred[Response]
    ) -> Coroutine[Any, Any, None]:
        # Called by _process_queue() for each request it starts, before the
        # next free_transfer_slots() check; _download() removes it when done.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
