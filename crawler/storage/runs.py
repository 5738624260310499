"""Crawl run rows (``crawl_runs``): a crawl's row written when it starts, its
counts added batch by batch, and its end; the fill rates of earlier runs.

The store (``crawler.storage.store``) reaches these through ``Store``'s
``start_run``, ``finish_run`` and ``recent_fill_rates``, and counts each
batch it writes in the run's row inside the batch's own transaction.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from crawler.storage.models import CrawlRunRow

RUN_STATUSES = ("running", "finished", "failed", "timeout", "interrupted")
# Counts that grow while a run goes on: written batch by batch, and at the
# run's end, the larger of the two stands.
PROGRESS_COUNTS = ("pages_fetched", "articles_new", "articles_updated", "articles_unchanged")


def utcnow() -> datetime:
    return datetime.now(UTC)


def greatest(conn: Any, column: Any, value: int) -> Any:
    """The larger of a column and a number, in SQL (SQLite's two-argument max)."""
    if conn.dialect.name == "sqlite":
        return func.max(column, value)
    return func.greatest(column, value)


class RunRows:
    """The ``crawl_runs`` rows of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(
        self,
        site: str,
        spider: str,
        arguments: dict[str, str] | None = None,
        trigger: str = "manual",
    ) -> int:
        """Record a crawl starting in this process (host and pid are kept)."""
        with self.engine.begin() as conn:
            return conn.execute(
                insert(CrawlRunRow)
                .values(
                    site=site,
                    spider=spider,
                    started_at=utcnow(),
                    status="running",
                    pages_fetched=0,
                    articles_new=0,
                    articles_updated=0,
                    articles_unchanged=0,
                    items_rejected=0,
                    top_story_snapshots=0,
                    errors=0,
                    arguments=arguments or {},
                    pages_skipped_known=0,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    trigger=trigger,
                )
                .returning(CrawlRunRow.id)
            ).scalar_one()

    def finish(
        self, run_id: int, status: str, counts: dict[str, Any], finish_reason: str | None
    ) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self.engine.begin() as conn:
            # Counts written batch by batch (``Store.save_articles``) may
            # include items that this run's own tally does not: the larger stands.
            values = {
                key: greatest(conn, getattr(CrawlRunRow, key), value)
                if key in PROGRESS_COUNTS
                else value
                for key, value in counts.items()
            }
            conn.execute(
                update(CrawlRunRow)
                .where(CrawlRunRow.id == run_id)
                .values(status=status, finished_at=utcnow(), finish_reason=finish_reason, **values)
            )

    def recent_fill_rates(self, site: str, spider: str, limit: int = 5) -> list[dict[str, Any]]:
        """Field fill rates of the site's last finished runs of this spider."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(CrawlRunRow.field_fill_rates)
                .where(
                    CrawlRunRow.site == site,
                    CrawlRunRow.spider == spider,
                    CrawlRunRow.status == "finished",
                    CrawlRunRow.field_fill_rates.is_not(None),
                )
                .order_by(CrawlRunRow.id.desc())
                .limit(limit)
            )
            return [r[0] for r in rows]


def count_batch_in_run(
    conn: Any,
    run_id: int,
    new: int,
    updated: int,
    unchanged: int,
    pages_fetched: int | None,
) -> None:
    """Add a batch's counts to the run's row, in the batch's transaction."""
    run = CrawlRunRow
    values: dict[str, Any] = {
        "articles_new": run.articles_new + new,
        "articles_updated": run.articles_updated + updated,
        "articles_unchanged": run.articles_unchanged + unchanged,
    }
    if pages_fetched is not None:
        values["pages_fetched"] = greatest(conn, run.pages_fetched, pages_fetched)
    conn.execute(update(run).where(run.id == run_id).values(values))
