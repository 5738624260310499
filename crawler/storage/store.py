"""The store: every SQL statement a crawl runs. Synchronous; callers on the
reactor thread reach it through ``asyncio.to_thread``.

Writes are batched and idempotent: an article is keyed by its canonical URL,
so storing the same page twice adds no row; a changed title or body becomes a
new version with the previous state kept in ``article_revisions``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from crawler.extraction.fingerprints import (
    NEAR_DUPLICATE_JACCARD,
    SimHashIndex,
    content_fingerprint,
    jaccard,
    simhash,
)
from crawler.items import Article, TopStoriesSnapshot
from crawler.storage.database import ensure_schema, get_engine
from crawler.storage.models import (
    ArticleAliasRow,
    ArticleRevisionRow,
    ArticleRow,
    CrawlRunRow,
    RejectedItemRow,
    TopStoryRow,
    UTCDateTime,
)

RUN_STATUSES = ("running", "finished", "failed", "timeout", "interrupted")
# Near duplicates are looked for among articles first stored this recently
# (exact copies, by content fingerprint, among all).
NEAR_DUPLICATE_WINDOW = timedelta(days=30)
# SimHashes are loaded by id. On PostgreSQL a concurrent writer's transaction
# can commit ids lower than some already seen, so each refresh looks this many
# ids back (10 writers' batches of 100). SQLite has one writer at a time, and
# its ids are committed in order.
SIMHASH_LOOKBACK = 1000
WRITE_ATTEMPTS = 6
WRITE_BACKOFF = 0.05  # seconds, doubled on each retry
# SQLSTATEs worth retrying: serialization failure, deadlock, unique violation
# (a concurrent writer stored the same URL or revision first).
RETRYABLE_SQLSTATES = ("40001", "40P01", "23505")
logger = logging.getLogger(__name__)


def _reason(exc: Exception) -> str:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) or type(exc).__name__


def _retryable(exc: Exception) -> bool:
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    message = str(orig or exc).lower()
    return "database is locked" in message or "unique constraint failed" in message


@dataclass
class SaveCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # of the new ones, how many repeat an earlier article


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _NewRow:
    """What duplicate detection needs of an article just inserted."""

    id: int
    content_hash: str
    simhash: int | None
    body: str


@dataclass(frozen=True)
class KnownArticle:
    url: str
    published_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SimHashes of the articles stored in the near-duplicate window, loaded
        # on the first batch of new articles.
        self._near: SimHashIndex | None = None
        self._indexed_up_to = 0

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
        self, run_id: int, status: str, counts: dict[str, Any], finish_reason: str | None
    ) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self.engine.begin() as conn:
            # Counts written batch by batch (``save_articles``) may include
            # items that this run's own tally does not: the larger stands.
            values = {
                key: _greatest(conn, getattr(CrawlRunRow, key), value)
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

    # ------------------------------------------------------------------ articles

    def _insert(self, table: Any) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table)
        if dialect == "sqlite":
            return sqlite.insert(table)
        return None

    def save_articles(
        self,
        articles: list[Article],
        now: datetime | None = None,
        run_id: int | None = None,
        pages_fetched: int | None = None,
    ) -> SaveCounts:
        """Insert new articles, version changed ones, touch unchanged ones.

        With ``run_id``, the run's row counts the batch in the same
        transaction: a crawl killed at any moment leaves a row that says what
        it stored (and, with ``pages_fetched``, how many pages it had fetched).

        One transaction per batch, retried with backoff when a concurrent
        writer gets in the way (a deadlock, a serialization failure, the same
        URL or revision stored meanwhile, SQLite's lock): the retry sees the
        other writer's rows, so nothing is stored twice and nothing is lost.
        """
        now = now or utcnow()
        # The last copy of a URL wins; URLs in sorted order, so that concurrent
        # writers lock rows in the same order and cannot deadlock each other.
        latest = {a.url: a for a in articles}
        batch = [latest[url] for url in sorted(latest)]
        if not batch:
            return SaveCounts()
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    counts = self._save_batch(conn, batch, now)
                    if run_id is not None:
                        self._count_in_run(conn, run_id, counts, pages_fetched)
                    return counts
            except (OperationalError, IntegrityError) as exc:
                self._forget_simhash_index()  # it may hold rows that were rolled back
                if attempt == WRITE_ATTEMPTS - 1 or not _retryable(exc):
                    raise
                delay = WRITE_BACKOFF * 2**attempt * (1 + random.random())
                logger.info("write conflict (%s), retrying in %.2f s", _reason(exc), delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    @staticmethod
    def _count_in_run(
        conn: Any, run_id: int, counts: SaveCounts, pages_fetched: int | None
    ) -> None:
        run = CrawlRunRow
        values: dict[str, Any] = {
            "articles_new": run.articles_new + counts.new,
            "articles_updated": run.articles_updated + counts.updated,
            "articles_unchanged": run.articles_unchanged + counts.unchanged,
        }
        if pages_fetched is not None:
            values["pages_fetched"] = _greatest(conn, run.pages_fetched, pages_fetched)
        conn.execute(update(run).where(run.id == run_id).values(values))

    def _save_batch(self, conn: Any, batch: list[Article], now: datetime) -> SaveCounts:
        counts = SaveCounts()
        existing = self._existing(conn, [a.url for a in batch])
        new_rows = [_article_values(a, now) for a in batch if a.url not in existing]
        if new_rows:
            stmt = self._insert(ArticleRow)
            if stmt is not None:
                # A concurrent writer may have stored the same URL meanwhile:
                # skip it here, and treat it as stored below.
                stmt = stmt.on_conflict_do_nothing(index_elements=["url"])
            else:
                stmt = insert(ArticleRow)
            inserted = conn.execute(stmt.returning(ArticleRow.id, ArticleRow.url), new_rows).all()
            counts.new = len(inserted)
            values = {r["url"]: r for r in new_rows}
            counts.duplicates = self._mark_duplicates(
                conn,
                [
                    _NewRow(
                        r.id,
                        values[r.url]["content_hash"],
                        values[r.url]["simhash"],
                        values[r.url]["body"],
                    )
                    for r in inserted
                ],
            )
            done = {r.url for r in inserted}
            raced = [r["url"] for r in new_rows if r["url"] not in done]
            if raced:
                existing.update(self._existing(conn, raced))
        touched: list[int] = []
        changed: list[tuple[int, dict[str, Any]]] = []
        for article in batch:
            old = existing.get(article.url)
            if old is None:
                continue
            digest = article.content_hash or content_fingerprint(article.body or "")
            if old.content_hash == digest and old.title == article.title:
                touched.append(old.id)
                continue
            values = _article_values(article, now)
            for key in ("first_seen_at", "url", "site", "duplicate_of"):
                values.pop(key)
            values["version"] = old.version + 1
            changed.append((old.id, values))
        if changed:
            # The earlier states, copied inside the database before the update.
            ids = [article_id for article_id, _ in changed]
            conn.execute(
                insert(ArticleRevisionRow).from_select(
                    ["article_id", "version", "title", "body", "content_hash", "captured_at"],
                    select(
                        ArticleRow.id,
                        ArticleRow.version,
                        ArticleRow.title,
                        ArticleRow.body,
                        ArticleRow.content_hash,
                        literal(now, UTCDateTime()),
                    ).where(ArticleRow.id.in_(ids)),
                )
            )
            for article_id, values in changed:
                conn.execute(update(ArticleRow).where(ArticleRow.id == article_id).values(values))
            counts.updated = len(changed)
        if touched:
            conn.execute(
                update(ArticleRow).where(ArticleRow.id.in_(touched)).values(last_seen_at=now)
            )
            counts.unchanged = len(touched)
        self._remember_aliases(conn, batch, now)
        self._link_top_stories(conn, [a.url for a in batch])
        return counts

    @staticmethod
    def _existing(conn: Any, urls: list[str]) -> dict[str, Any]:
        stmt = select(
            ArticleRow.id,
            ArticleRow.url,
            ArticleRow.title,
            ArticleRow.content_hash,
            ArticleRow.version,
        ).where(ArticleRow.url.in_(urls))
        if conn.dialect.name == "postgresql":
            stmt = stmt.order_by(ArticleRow.url).with_for_update()
        return {row.url: row for row in conn.execute(stmt)}

    def _remember_aliases(self, conn: Any, articles: list[Article], now: datetime) -> None:
        aliases = {a.requested_url: a.url for a in articles if a.requested_url}
        if not aliases:
            return
        ids = dict(
            conn.execute(
                select(ArticleRow.url, ArticleRow.id).where(
                    ArticleRow.url.in_(set(aliases.values()))
                )
            ).all()
        )
        rows = [
            {"url": alias, "article_id": ids[target], "seen_at": now}
            for alias, target in aliases.items()
            if target in ids
        ]
        stmt = self._insert(ArticleAliasRow)
        if rows and stmt is not None:
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["url"],
                    set_={"article_id": stmt.excluded.article_id, "seen_at": stmt.excluded.seen_at},
                ),
                rows,
            )

    def known_articles(self, urls: list[str]) -> dict[str, KnownArticle]:
        """The stored articles among ``urls``, with what the revisit policy needs."""
        if not urls:
            return {}
        columns = (ArticleRow.published_at, ArticleRow.first_seen_at, ArticleRow.last_seen_at)
        with self.engine.connect() as conn:
            direct = conn.execute(select(ArticleRow.url, *columns).where(ArticleRow.url.in_(urls)))
            known = {r.url: KnownArticle(*r) for r in direct}
            rest = [u for u in urls if u not in known]
            if rest:
                aliased = conn.execute(
                    select(ArticleAliasRow.url, *columns)
                    .join(ArticleRow, ArticleRow.id == ArticleAliasRow.article_id)
                    .where(ArticleAliasRow.url.in_(rest))
                )
                known.update({r.url: KnownArticle(*r) for r in aliased})
            return known

    # ------------------------------------------------------------------ duplicates

    def _refresh_simhash_index(self, conn: Any, inserted: list[_NewRow]) -> SimHashIndex:
        """Load the SimHashes stored since the last look, by this or another
        process: the batch just inserted included."""
        if self._near is None:
            self._near = SimHashIndex()
        lookback = 0 if conn.dialect.name == "sqlite" else SIMHASH_LOOKBACK
        since = max(self._indexed_up_to - lookback, 0)
        rows = conn.execute(
            select(ArticleRow.id, ArticleRow.simhash)
            .where(
                ArticleRow.id > since,
                ArticleRow.simhash.is_not(None),
                ArticleRow.first_seen_at >= utcnow() - NEAR_DUPLICATE_WINDOW,
            )
            .order_by(ArticleRow.id)
        ).all()
        self._near.add_new(rows, above=since)
        last = max([self._indexed_up_to, *(r.id for r in inserted)])
        self._indexed_up_to = max(last, rows[-1][0] if rows else 0)
        return self._near

    def _forget_simhash_index(self) -> None:
        self._near = None
        self._indexed_up_to = 0

    def _near_duplicate(
        self, conn: Any, near: SimHashIndex, article_id: int, value: int, body: str
    ) -> int | None:
        """The earliest stored article this body repeats with small changes."""
        for other in near.close_to(value, below=article_id):
            other_body = conn.execute(
                select(ArticleRow.body).where(ArticleRow.id == other)
            ).scalar()
            if other_body and jaccard(body, other_body) >= NEAR_DUPLICATE_JACCARD:
                return other
        return None

    def _mark_duplicates(self, conn: Any, rows: list[_NewRow]) -> int:
        """Point each new article that repeats an earlier one at the earliest copy:
        the same content fingerprint, or a SimHash within NEAR_DUPLICATE_BITS."""
        if not rows:
            return 0
        rows = sorted(rows, key=lambda r: r.id)
        first_with_hash = dict(
            conn.execute(
                select(ArticleRow.content_hash, func.min(ArticleRow.id))
                .where(ArticleRow.content_hash.in_({r.content_hash for r in rows}))
                .group_by(ArticleRow.content_hash)
            ).all()
        )
        near = self._refresh_simhash_index(conn, rows)
        marked = 0
        for row in rows:
            original = first_with_hash.get(row.content_hash)
            if original == row.id:
                original = None
            if original is None and row.simhash is not None:
                original = self._near_duplicate(conn, near, row.id, row.simhash, row.body)
            if original is not None:
                # Point at the story's first copy, not at another repeat of it.
                root = conn.execute(
                    select(ArticleRow.duplicate_of).where(ArticleRow.id == original)
                ).scalar()
                original = root or original
                conn.execute(
                    update(ArticleRow).where(ArticleRow.id == row.id).values(duplicate_of=original)
                )
                marked += 1
        return marked

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


PROGRESS_COUNTS = ("pages_fetched", "articles_new", "articles_updated", "articles_unchanged")


def _greatest(conn: Any, column: Any, value: int) -> Any:
    """The larger of a column and a number, in SQL (SQLite's two-argument max)."""
    if conn.dialect.name == "sqlite":
        return func.max(column, value)
    return func.greatest(column, value)


def fingerprints(article: Article) -> tuple[str, int | None]:
    """The body's content fingerprint and SimHash: as the clean stage computed
    them, else (an article stored without it) computed here."""
    if article.content_hash is not None:
        return article.content_hash, article.simhash
    body = article.body or ""
    return content_fingerprint(body), simhash(body)


def _article_values(article: Article, now: datetime) -> dict[str, Any]:
    digest, value = fingerprints(article)
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
        "published_tz_known": article.published_tz_known,
        "simhash": value,
    }
