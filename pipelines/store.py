"""Store: batched, idempotent writes into the database, off the reactor thread."""

from __future__ import annotations

import asyncio
from typing import Any

from crawler.items import Article, TopStoriesSnapshot
from crawler.storage.database import database_url
from crawler.storage.store import Store


class StorePipeline:
    def __init__(self, database_url: str, batch_size: int, stats: Any) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.stats = stats
        self.store: Store | None = None
        self.buffer: list[Article] = []
        self._lock = asyncio.Lock()

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        s = crawler.settings
        return cls(
            database_url=database_url(s.get("NEWSCRAWL_DATABASE_URL")),
            batch_size=s.getint("STORE_BATCH_SIZE", 100),
            stats=crawler.stats,
        )

    async def open_spider(self) -> None:
        self.store = await asyncio.to_thread(Store.open, self.database_url)

    async def process_item(self, item: Any) -> Any:
        assert self.store is not None
        if isinstance(item, Article):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                await self.flush()
        elif isinstance(item, TopStoriesSnapshot):
            run_id = self.stats.get_value("newscrawl/run_id")
            stored = await asyncio.to_thread(self.store.save_top_stories, item, run_id)
            self.stats.inc_value("newscrawl/top_story_snapshots")
            self.stats.inc_value("newscrawl/top_story_entries", stored)
        return item

    async def flush(self) -> None:
        async with self._lock:
            batch, self.buffer = self.buffer, []
            if not batch or self.store is None:
                return
            counts = await asyncio.to_thread(self.store.save_articles, batch)
            self.stats.inc_value("newscrawl/articles_new", counts.new)
            self.stats.inc_value("newscrawl/articles_updated", counts.updated)
            self.stats.inc_value("newscrawl/articles_unchanged", counts.unchanged)

    async def close_spider(self) -> None:
        await self.flush()
