"""Run history: one ``crawl_runs`` row per crawl, however it was started, and
every refused item written to ``rejected_items``.

A Scrapy extension, so ``scrapy crawl`` runs are recorded exactly like the
ones ``newscrawl`` starts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import UTC, datetime
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.exceptions import OutsideDateRange, RejectItem
from crawler.extensions.outcomes import fetches, run_notes
from crawler.extraction.health import HEALTH_FIELDS, fill_rates, health_warnings
from crawler.sites.times import human_time
from crawler.storage.database import database_url
from crawler.storage.failures import run_status
from crawler.storage.spool import (
    database_unreachable,
    get_spool,
    rejected_record,
    run_end_record,
    spool_dir,
)
from crawler.storage.store import Store

logger = logging.getLogger(__name__)


def _jsonable(item: Any) -> dict[str, Any]:
    data = ItemAdapter(item).asdict() if ItemAdapter.is_item(item) else {"item": repr(item)}
    return json.loads(json.dumps(data, default=str))


class RunHistory:
    def __init__(self, crawler: Any, database_url: str, trigger: str = "manual") -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.trigger = trigger
        self.store: Store | None = None
        self.run_id: int | None = None
        self.rejected: list[dict[str, Any]] = []
        self.rejected_count = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunHistory:
        if not crawler.settings.getbool("NEWSCRAWL_RUN_HISTORY", True):
            raise NotConfigured
        ext = cls(
            crawler,
            database_url(crawler.settings.get("NEWSCRAWL_DATABASE_URL")),
            trigger=crawler.settings.get("NEWSCRAWL_RUN_TRIGGER", "manual"),
        )
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        return ext

    async def spider_opened(self, spider: Any) -> None:
        site = getattr(spider, "site", None)
        if site is None:
            return
        self.store = await asyncio.to_thread(Store.open, self.database_url)
        arguments = getattr(spider, "arguments", {})
        self.run_id = await asyncio.to_thread(
            self.store.start_run, site.name, spider.name, arguments, self.trigger
        )
        self.crawler.stats.set_value("newscrawl/run_id", self.run_id)
        logger.info("run %s started: site=%s spider=%s", self.run_id, site.name, spider.name)

    def item_dropped(self, item: Any, response: Any, exception: Exception, spider: Any) -> None:
        if isinstance(exception, OutsideDateRange):
            return
        stage = exception.stage if isinstance(exception, RejectItem) else "pipeline"
        site = getattr(getattr(spider, "site", None), "name", "")
        url = getattr(item, "url", None) or getattr(item, "page_url", None)
        self.rejected_count += 1
        self.crawler.stats.inc_value("newscrawl/items_rejected")  # for the progress report
        self.rejected.append(
            {
                "run_id": self.run_id,
                "site": site,
                "url": url,
                "stage": stage,
                "reason": str(exception),
                "item": _jsonable(item) if dataclasses.is_dataclass(item) else {"item": repr(item)},
                "created_at": datetime.now(UTC),
            }
        )
        logger.info("rejected %s at %s: %s", url, stage, exception)

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self.store is None or self.run_id is None:
            return
        stats = self.crawler.stats
        rejected, self.rejected = self.rejected, []
        status, finish_reason, counts = self._outcome(reason, stats)
        try:
            await asyncio.to_thread(self.store.save_rejected, rejected)
            rejected = []
            counts.update(await self._health(spider, stats))
            await asyncio.to_thread(
                self.store.finish_run, self.run_id, status, counts, finish_reason
            )
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            await self._spool_row(status, counts, finish_reason, rejected)
            return
        logger.info(
            "run %s %s (%s): %s",
            self.run_id,
            status,
            finish_reason,
            ", ".join(
                f"{k}={v}"
                for k, v in counts.items()
                if k not in ("field_fill_rates", "health_warnings")
            ),
        )

    def _outcome(self, reason: str, stats: Any) -> tuple[str, str, dict[str, Any]]:
        """The run's status (a crawl without a usable page failed:
        :mod:`crawler.storage.failures`), finish reason (with a note per kind
        of trouble: what servers and limits kept out, what an unreachable
        database did) and counts, from Scrapy's close reason and the crawl's
        stats."""
        pages = stats.get_value("response_received_count", 0)
        status, finish_reason = run_status(reason, fetches(stats.get_stats()))
        notes = run_notes(stats.get_stats(), self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        counts = {
            "pages_fetched": pages,
            "articles_new": stats.get_value("newscrawl/articles_new", 0),
            "articles_updated": stats.get_value("newscrawl/articles_updated", 0),
            "articles_unchanged": stats.get_value("newscrawl/articles_unchanged", 0),
            "items_rejected": self.rejected_count,
            "top_story_snapshots": stats.get_value("newscrawl/top_story_snapshots", 0),
            "pages_skipped_known": stats.get_value("newscrawl/skipped_known", 0),
            "errors": stats.get_value("log_count/ERROR", 0),
        }
        return status, "; ".join([finish_reason, *notes]), counts

    async def _spool_row(
        self,
        status: str,
        counts: dict[str, Any],
        finish_reason: str,
        rejected: list[dict[str, Any]],
    ) -> None:
        """The database is unreachable: the row and the rejected items wait in
        the spool for the next crawl."""
        ended = human_time(datetime.now(UTC))
        finish_reason += f"; this row written later from the spool (the crawl ended {ended})"
        spool = get_spool(
            spool_dir(self.crawler.settings.get("NEWSCRAWL_SPOOL_DIR")), self.database_url
        )
        if rejected:
            await asyncio.to_thread(spool.append, rejected_record(rejected))
        await asyncio.to_thread(
            spool.append, run_end_record(self.run_id, status, counts, finish_reason)
        )
        logger.error(
            "run %s %s (%s), but the database is unreachable: its row waits in the spool %s",
            self.run_id,
            status,
            finish_reason,
            spool.path,
        )

    async def _health(self, spider: Any, stats: Any) -> dict[str, Any]:
        """This run's field fill rates and warnings against the site's recent runs."""
        assert self.store is not None
        extracted = stats.get_value("newscrawl/extracted", 0)
        if not extracted:
            return {}
        rules = spider.site.article
        rates = fill_rates(
            extracted,
            {f: stats.get_value(f"newscrawl/filled/{f}", 0) for f in HEALTH_FIELDS},
            {
                f: stats.get_value(f"newscrawl/by_rule/{f}", 0)
                for f in HEALTH_FIELDS
                if getattr(rules, "published" if f == "published_at" else f)
            },
        )
        history = await asyncio.to_thread(
            self.store.recent_fill_rates, spider.site.name, spider.name
        )
        warnings = health_warnings(spider.site.name, rates, history)
        for warning in warnings:
            logger.warning("extraction health: %s", warning)
        return {"field_fill_rates": rates, "health_warnings": warnings or None}
