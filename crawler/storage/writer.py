"""Writing a crawl's items: batched, idempotent writes into the database, off
the reactor thread (pipelines/store.py hands every item here).

An unreachable database loses nothing. A write that fails because the
database is down, restarting, or (SQLite) locked by another writer past its
busy timeout goes to the local spool (``crawler/storage/spool.py``) and the
crawl goes on; later writes join the spool, in order, until a retry (after
1 s, then 2, 4, ... at most 30 s) finds the database back and writes the
spool out. At its end a crawl waits up to ``STORE_OUTAGE_WAIT`` seconds for
that; what is still spooled then is written when the next crawl of the same
database starts. The run row says what happened (``crawler/extensions/outcomes.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from crawler.items import Article, TopStoriesSnapshot
from crawler.storage.spool import (
    Spool,
    Written,
    articles_record,
    database_unreachable,
    get_spool,
    record_size,
    short_error,
    spool_dir,
    top_stories_record,
    write_record,
)
from crawler.storage.store import Store

logger = logging.getLogger(__name__)

FIRST_RETRY = 1.0  # seconds after a failed write; doubled after each failed retry
LAST_RETRY = 30.0


class BatchWriter:
    """Articles in batches, top-stories snapshots one by one, into the store,
    through the spool while the database is unreachable."""

    def __init__(
        self,
        database_url: str,
        batch_size: int,
        stats: Any,
        spool: Spool | None = None,
        outage_wait: float = 60.0,
    ) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.stats = stats
        self.spool = spool or get_spool(spool_dir(), database_url)
        self.outage_wait = outage_wait
        self.store: Store | None = None
        self.buffer: list[Article] = []
        self._lock = asyncio.Lock()
        self._retry_delay = FIRST_RETRY
        self._retry_at = 0.0

    async def open(self) -> None:
        self.store = await asyncio.to_thread(Store.open, self.database_url)
        # What earlier crawls of this database spooled and could not write.
        try:
            written = await asyncio.to_thread(self.spool.replay_abandoned, self.store)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            logger.warning("spool: earlier crawls' items not written yet: %s", short_error(exc))
            return
        if written.items or written.run_rows:
            # Their articles count in the rows of the runs that fetched them
            # (written with each batch), not in this one's.
            self._count(dataclasses.replace(written, new=0, updated=0, unchanged=0))
            self.stats.inc_value("newscrawl/spool/recovered", written.items)
            logger.warning(
                "spool: wrote %d items and %d run rows left by earlier crawls (runs %s) in %s",
                written.items,
                written.run_rows,
                ", ".join(map(str, sorted(written.runs))) or "-",
                self.spool.folder,
            )

    async def add(self, item: Any) -> None:
        assert self.store is not None
        if isinstance(item, Article):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                await self.flush()
        elif isinstance(item, TopStoriesSnapshot):
            run_id = self.stats.get_value("newscrawl/run_id")
            async with self._lock:
                await self._write(top_stories_record(item, run_id))

    async def flush(self) -> None:
        async with self._lock:
            batch, self.buffer = self.buffer, []
            if batch and self.store is not None:
                run_id = self.stats.get_value("newscrawl/run_id")
                pages = self.stats.get_value("response_received_count", 0)
                await self._write(articles_record(batch, run_id, pages))

    async def close(self) -> None:
        await self.flush()
        if not self.spool.pending:
            return
        deadline = time.monotonic() + self.outage_wait
        async with self._lock:
            while not await self._write_spool():
                pause = min(self._retry_at, deadline) - time.monotonic()
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(max(pause, 0.05))
            if self.spool.pending:
                left = await asyncio.to_thread(self.spool.items_left)
                self.stats.set_value("newscrawl/spool/left", left)
                logger.error(
                    "database still unreachable after %.0f s: %d items stay in the spool %s; "
                    "the next crawl of this database writes them",
                    self.outage_wait,
                    left,
                    self.spool.path,
                )

    async def _write(self, record: dict[str, Any]) -> None:
        """Write one record (the lock held): after the spool, or into it while
        the database is unreachable."""
        assert self.store is not None
        if self.spool.pending and not await self._write_spool():
            await self._to_spool(record)
            return
        written = Written()
        try:
            await asyncio.to_thread(write_record, self.store, record, written)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self._failed(exc)
            await self._to_spool(record)
            return
        self._count(written)

    async def _write_spool(self) -> bool:
        """Try to write our spool out, when a retry is due. True once it is empty."""
        if not self.spool.pending:
            return True
        if time.monotonic() < self._retry_at:
            return False
        assert self.store is not None
        try:
            written = await asyncio.to_thread(self.spool.replay_own, self.store)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self._failed(exc)
            return False
        self._count(written)
        self.stats.inc_value("newscrawl/spool/stored", written.items)
        self._retry_delay = FIRST_RETRY
        logger.warning("database reachable again: %d spooled items written", written.items)
        return True

    async def _to_spool(self, record: dict[str, Any]) -> None:
        await asyncio.to_thread(self.spool.append, record)
        self.stats.inc_value("newscrawl/spool/spooled", record_size(record))

    def _failed(self, exc: BaseException) -> None:
        self.stats.inc_value("newscrawl/spool/write_failures")
        logger.warning(
            "database unreachable (%s): items go to the spool %s; next try in %.0f s",
            short_error(exc),
            self.spool.folder,
            self._retry_delay,
        )
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, LAST_RETRY)

    def _count(self, written: Written) -> None:
        for key, value in (
            ("articles_new", written.new),
            ("articles_updated", written.updated),
            ("articles_unchanged", written.unchanged),
            ("top_story_snapshots", written.snapshots),
            ("top_story_entries", written.top_story_entries),
        ):
            if value:
                self.stats.inc_value(f"newscrawl/{key}", value)
