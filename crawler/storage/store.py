"""The store: every SQL statement a crawl runs. Synchronous; callers on the
reactor thread reach it through ``asyncio.to_thread``.

Writes are batched and idempotent: an article is keyed by its canonical URL,
so storing the same page twice adds no row; a changed title or body becomes a
new version with the previous state kept in ``article_revisions``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from crawler.fingerprints import content_fingerprint
from crawler.items import Article, TopStoriesSnapshot
from crawler.storage.database import ensure_schema, get_engine
from crawler.storage.models import (
    ArticleRevisionRow,
    ArticleRow,
    CrawlRunRow,
    RejectedItemRow,
    TopStoryRow,
)

RUN_STATUSES = ("running", "finished", "failed", "timeout", "interrupted")


@dataclass
class SaveCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: SaveCounts) -> SaveCounts:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """The store of a database URL, its schema brought up to date first."""
        ensure_schema(url)
        return cls(get_engine(url))

    # ------------------------------------------------------------------ runs

    def start_run(
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

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, int], finish_reason: str | None
    ) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self.engine.begin() as conn:
            conn.execute(
                update(CrawlRunRow)
                .where(CrawlRunRow.id == run_id)
                .values(status=status, finished_at=utcnow(), finish_reason=finish_reason, **counts)
            )

    # ------------------------------------------------------------------ articles

    def _insert(self, table: Any) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table)
        if dialect == "sqlite":
            return sqlite.insert(table)
        return None

    def save_articles(self, articles: list[Article], now: datetime | None = None) -> SaveCounts:
        """Insert new articles, version changed ones, touch unchanged ones."""
        now = now or utcnow()
        latest: dict[str, Article] = {a.url: a for a in articles}  # last copy of a URL wins
        counts = SaveCounts()
        if not latest:
            return counts
        with self.engine.begin() as conn:
            existing = {
                row.url: row
                for row in conn.execute(
                    select(
                        ArticleRow.id,
                        ArticleRow.url,
                        ArticleRow.title,
                        ArticleRow.body,
                        ArticleRow.content_hash,
                        ArticleRow.version,
                    ).where(ArticleRow.url.in_(list(latest)))
                )
            }
            new_rows, touched, revisions = [], [], []
            for url, article in latest.items():
                digest = content_fingerprint(article.body or "")
                old = existing.get(url)
                if old is None:
                    new_rows.append(_article_values(article, digest, now))
                elif old.content_hash == digest and old.title == article.title:
                    touched.append(old.id)
                else:
                    revisions.append(
                        {
                            "article_id": old.id,
                            "version": old.version,
                            "title": old.title,
                            "body": old.body,
                            "content_hash": old.content_hash,
                            "captured_at": now,
                        }
                    )
                    values = _article_values(article, digest, now)
                    for key in ("first_seen_at", "url", "site"):
                        values.pop(key)
                    values["version"] = old.version + 1
                    conn.execute(update(ArticleRow).where(ArticleRow.id == old.id).values(values))
            if new_rows:
                stmt = self._insert(ArticleRow)
                if stmt is not None:
                    # A concurrent writer may have stored the same URL meanwhile.
                    stmt = stmt.on_conflict_do_nothing(index_elements=["url"])
                else:
                    stmt = insert(ArticleRow)
                result = conn.execute(stmt.returning(ArticleRow.id), new_rows)
                counts.new = len(result.all())
            if touched:
                conn.execute(
                    update(ArticleRow).where(ArticleRow.id.in_(touched)).values(last_seen_at=now)
                )
                counts.unchanged = len(touched)
            if revisions:
                conn.execute(insert(ArticleRevisionRow), revisions)
                counts.updated = len(revisions)
            self._link_top_stories(conn, list(latest))
        return counts

    # ------------------------------------------------------------------ top stories

    def save_top_stories(self, snapshot: TopStoriesSnapshot, run_id: int | None = None) -> int:
        rows = [
            {
                "site": snapshot.site,
                "captured_at": snapshot.captured_at,
                "rank": entry.rank,
                "title": entry.title,
                "url": entry.url,
                "page_url": snapshot.page_url,
                "run_id": run_id,
            }
            for entry in snapshot.entries
        ]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            conn.execute(insert(TopStoryRow), rows)
            self._link_top_stories(conn, [r["url"] for r in rows])
        return len(rows)

    @staticmethod
    def _link_top_stories(conn: Any, urls: list[str]) -> None:
        """Point top-story rows at their article once the article is stored."""
        article_id = (
            select(ArticleRow.id).where(ArticleRow.url == TopStoryRow.url).scalar_subquery()
        )
        conn.execute(
            update(TopStoryRow)
            .where(TopStoryRow.article_id.is_(None), TopStoryRow.url.in_(urls))
            .values(article_id=article_id)
        )

    # ------------------------------------------------------------------ rejects

    def save_rejected(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(RejectedItemRow), rows)

    # ------------------------------------------------------------------ reading

    def count(self, model: Any, **where: Any) -> int:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar_one()


def _article_values(article: Article, digest: str, now: datetime) -> dict[str, Any]:
    return {
        "site": article.site,
        "url": article.url,
        "title": article.title,
        "body": article.body,
        "author": article.author,
        "section": article.section,
        "tags": list(article.tags),
        "language": article.language,
        "published_at": article.published_at,
        "published_raw": article.published_raw,
        "first_seen_at": now,
        "last_seen_at": now,
        "content_hash": digest,
        "version": 1,
        "duplicate_of": None,
        "sources": dict(article.sources),
    }
