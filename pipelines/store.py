"""Store stage: every item goes to the crawl's batch writer
(crawler/storage/writer.py), which writes batches off the reactor thread and
keeps them in the spool while the database is unreachable."""

from __future__ import annotations

from typing import Any

from crawler.storage.database import database_url
from crawler.storage.spool import get_spool, spool_dir
from crawler.storage.writer import BatchWriter


class StorePipeline:
    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        s = crawler.settings
        url = database_url(s.get("NEWSCRAWL_DATABASE_URL"))
        return cls(
            BatchWriter(
                database_url=url,
                batch_size=s.getint("STORE_BATCH_SIZE", 100),
                stats=crawler.stats,
                spool=get_spool(spool_dir(s.get("NEWSCRAWL_SPOOL_DIR")), url),
                outage_wait=s.getfloat("STORE_OUTAGE_WAIT", 60.0),
            )
        )

    async def open_spider(self) -> None:
        await self.writer.open()

    async def process_item(self, item: Any) -> Any:
        await self.writer.add(item)
        return item

    async def close_spider(self) -> None:
        await self.writer.close()
