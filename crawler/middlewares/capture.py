"""The capture middleware: every response with status 200 a crawl receives
(article, top-stories, listing, feed and sitemap pages, robots.txt) is
written to the crawl process's WARC file (crawler/storage/warc.py): one
append per page, in the reactor thread (a fraction of a millisecond). A
page whose payload is identical to the last capture of its URL (in this
crawl, else in the ``captures`` table, asked in a thread) becomes a
``revisit`` record; the table is not asked for an article link the
incremental middleware found unstored (``UNSTORED``), the common case.
Where the record went is put in the request's meta (``CAPTURE``), from
which the spiders hand it to the item, and the store records it in
``captures`` with the article or top-stories snapshot.

Placed after the decompression of crawler/middlewares/limits.py (590) and
the redirects (600): the payload kept is what the crawl read, at the URL it
was read from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from sqlalchemy.exc import SQLAlchemyError

from crawler.items import CAPTURE, UNSTORED
from crawler.sites.definitions import definition_hash
from crawler.storage.captures import last_full_capture
from crawler.storage.database import database_url, get_engine
from crawler.storage.spool import short_error
from crawler.storage.warc import (
    WIRE_HEADERS,
    Page,
    WarcFiles,
    archive_dir,
    check_writable,
    file_size_limit,
    payload_digest,
)

logger = logging.getLogger(__name__)
LOOKUP_PAUSE = 30.0  # seconds without asking the table after it could not be asked


class CaptureMiddleware:
    def __init__(self, folder: Path, size_limit: int, db_url: str, crawler: Any) -> None:
        check_writable(folder)
        self.folder = folder
        self.files = WarcFiles.shared(folder, size_limit)
        self.db_url = db_url
        self.crawler = crawler
        # URL -> (payload digest, fetched at) of its last capture by this process.
        self.last: dict[str, tuple[str, datetime]] = {}
        self.definition: str | None = None
        self._ask_again_at = 0.0

    @classmethod
    def from_crawler(cls, crawler: Any) -> CaptureMiddleware:
        s = crawler.settings
        url = database_url(s.get("NEWSCRAWL_DATABASE_URL"))
        folder = archive_dir(s.get("NEWSCRAWL_ARCHIVE_DIR"), url)
        if folder is None:
            raise NotConfigured("NEWSCRAWL_ARCHIVE_DIR is off")
        middleware = cls(
            folder, file_size_limit(s.get("NEWSCRAWL_ARCHIVE_FILE_SIZE")), url, crawler
        )
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    def close(self) -> None:
        self.files.release()
        count = self.crawler.stats.get_value("newscrawl/archive/records", 0)
        if count:
            logger.info("%d pages kept in %s: %s", count, self.folder, ", ".join(self.files.files))

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.status != 200:
            return response
        if self.definition is None:
            site = getattr(self.crawler.spider, "site", None)
            self.definition = definition_hash(site) if site is not None else ""
        page = _page(request, response)
        earlier = self.last.get(page.url)
        if earlier is None and not request.meta.get(UNSTORED):
            earlier = await asyncio.to_thread(self._last_stored, page.url)
        try:
            # Here, not in a thread: a fraction of a millisecond (one append),
            # and a response waiting for a thread of the pool the store and
            # the incremental lookups share would hold its download slot.
            capture = self._write(page, earlier)
        except OSError as exc:
            # A full disk: the page goes on to be stored, without a capture
            # (the database is the archive's first record, and a page lost
            # here might never be served again); the run row says how many.
            stats = self.crawler.stats
            if not stats.get_value("newscrawl/archive/write_failures"):
                logger.error("captures: cannot write to %s: %s", self.folder, exc)
            stats.inc_value("newscrawl/archive/write_failures")
            stats.set_value("newscrawl/archive/write_error", exc.strerror or str(exc))
            return response
        capture["definition"] = self.definition
        request.meta[CAPTURE] = capture
        self.crawler.stats.inc_value("newscrawl/archive/records")
        if capture["record_type"] == "revisit":
            self.crawler.stats.inc_value("newscrawl/archive/revisits")
        return response

    def _write(self, page: Page, earlier: tuple[str, datetime] | None) -> dict[str, Any]:
        """Write the page's records, a revisit when ``earlier`` (the digest
        and time of its last full record) has the same digest."""
        digest = payload_digest(page.body)
        revisit_of = (page.url, earlier[1]) if earlier and earlier[0] == digest else None
        written = self.files.write(page, revisit_of, digest)
        if revisit_of is None:
            self.last[page.url] = (digest, page.fetched_at)
        return {
            "url": page.url,
            "fetched_at": page.fetched_at.isoformat(),
            "http_status": page.status,
            "payload_digest": digest,
            "record_type": "response" if revisit_of is None else "revisit",
            "warc_file": written.warc_file,
            "warc_offset": written.offset,
            "warc_length": written.length,
            "host": self.files.host,
        }

    def _last_stored(self, url: str) -> tuple[str, datetime] | None:
        """The digest and time of the URL's last capture in the table. While
        the database is unreachable the page is kept in full (always right,
        only larger), and the table is not asked again for a while."""
        if time.monotonic() < self._ask_again_at:
            return None
        try:
            return last_full_capture(get_engine(self.db_url), url)
        except SQLAlchemyError as exc:
            logger.warning(
                "captures: cannot look up earlier captures (%s): pages are kept in full "
                "for the next %.0f s",
                short_error(exc),
                LOOKUP_PAUSE,
            )
            self._ask_again_at = time.monotonic() + LOOKUP_PAUSE
            return None


def _headers(headers: Any, leave_out: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        if name.decode("latin-1").lower() not in leave_out
        for value in values
    ]


def _page(request: Request, response: Response) -> Page:
    headers = _headers(response.headers, WIRE_HEADERS)
    headers.append(("Content-Length", str(len(response.body))))
    from http import HTTPStatus

    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    return Page(
        url=response.url,
        status=response.status,
        reason=reason,
        protocol=response.protocol or "HTTP/1.1",
        method=request.method,
        request_headers=_headers(request.headers),
        response_headers=headers,
        body=response.body,
        fetched_at=datetime.now(UTC),
    )
