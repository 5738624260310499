"""The store: every SQL statement a crawl runs. Synchronous; callers on the
reactor thread reach it through ``asyncio.to_thread``.

Writes are batched and idempotent: an article is keyed by its canonical URL,
so storing the same page twice adds no row; a changed title or body becomes a
new version with the previous state kept in ``article_revisions``.

This module writes articles, top stories and rejected items; ``Store`` is
also the way in to the crawl run rows (``crawler.storage.runs``) and runs
duplicate detection on each batch (``crawler.storage.duplicates``).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, String, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from crawler.extraction.fingerprints import content_fingerprint, simhash
from crawler.items import Article, TopStoriesSnapshot
from crawler.storage.captures import (
    mark_extracted,
    record_article_captures,
    record_snapshot_capture,
)
from crawler.storage.database import ensure_schema, get_engine, sqlite_select_in
from crawler.storage.duplicates import NEAR_DUPLICATE_WINDOW as NEAR_DUPLICATE_WINDOW
from crawler.storage.duplicates import SIMHASH_LOOKBACK as SIMHASH_LOOKBACK
from crawler.storage.duplicates import DuplicateFinder, NewRow
from crawler.storage.models import (
    ArticleAliasRow,
    ArticleRevisionRow,
    ArticleRow,
    RejectedItemRow,
    TopStoryRow,
    UTCDateTime,
)
from crawler.storage.runs import PROGRESS_COUNTS as PROGRESS_COUNTS
from crawler.storage.runs import RUN_STATUSES as RUN_STATUSES
from crawler.storage.runs import RunRows, count_batch_in_run, utcnow

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


@dataclass(frozen=True)
class KnownArticle:
    url: str
    published_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.runs = RunRows(engine)
        self.duplicates = DuplicateFinder.of(engine)

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
        return self.runs.start(site, spider, arguments, trigger)

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, Any], finish_reason: str | None
    ) -> None:
        self.runs.finish(run_id, status, counts, finish_reason)

    def recent_fill_rates(self, site: str, spider: str, limit: int = 5) -> list[dict[str, Any]]:
        """Field fill rates of the site's last finished runs of this spider."""
        return self.runs.recent_fill_rates(site, spider, limit)

    # ------------------------------------------------------------------ articles

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
                    record_article_captures(conn, batch, run_id)
                    if run_id is not None:
                        count_batch_in_run(
                            conn,
                            run_id,
                            counts.new,
                            counts.updated,
                            counts.unchanged,
                            pages_fetched,
                        )
                    return counts
            except (OperationalError, IntegrityError) as exc:
                self.duplicates.forget()  # it may hold rows that were rolled back
                if attempt == WRITE_ATTEMPTS - 1 or not _retryable(exc):
                    raise
                delay = WRITE_BACKOFF * 2**attempt * (1 + random.random())
                logger.info("write conflict (%s), retrying in %.2f s", _reason(exc), delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _save_batch(self, conn: Any, batch: list[Article], now: datetime) -> SaveCounts:
        counts = SaveCounts()
        existing = _existing(conn, [a.url for a in batch])
        new_rows = [_article_values(a, now) for a in batch if a.url not in existing]
        if new_rows:
            inserted = _insert_new(conn, new_rows)
            counts.new = len(inserted)
            values = {r["url"]: r for r in new_rows}
            counts.duplicates = self.duplicates.mark(
                conn,
                [
                    NewRow(
                        r.id,
                        values[r.url]["content_hash"],
                        values[r.url]["simhash"],
                        values[r.url]["body"],
                    )
                    for r in inserted
                ],
            )
            # A concurrent writer stored these meanwhile: they are existing ones.
            done = {r.url for r in inserted}
            raced = [r["url"] for r in new_rows if r["url"] not in done]
            if raced:
                existing.update(_existing(conn, raced))
        touched, changed = _unchanged_and_changed(batch, existing, now)
        if changed:
            _save_versions(conn, changed, now)
            counts.updated = len(changed)
        if touched:
            conn.execute(
                update(ArticleRow).where(ArticleRow.id.in_(touched)).values(last_seen_at=now)
            )
            counts.unchanged = len(touched)
        _remember_aliases(conn, batch, now)
        _link_top_stories(conn, [u for a in batch for u in (a.url, a.requested_url) if u])
        return counts

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

    # ------------------------------------------------------------------ re-extraction

    def article_texts(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        """id -> (title, body) of the stored articles among ``ids``."""
        stmt = select(ArticleRow.id, ArticleRow.title, ArticleRow.body).where(
            ArticleRow.id.in_(ids)
        )
        with self.engine.connect() as conn:
            return {r.id: (r.title, r.body) for r in conn.execute(stmt)}

    def save_reextracted(
        self, changed: list[tuple[int, Article]], marks: dict[str, list[int]]
    ) -> None:
        """New versions of articles extracted again from their captures (the
        earlier text kept with the reason ``re-extraction``; when they were
        seen is left as it was), and their captures marked as read with the
        definition of each hash in ``marks``: one transaction."""
        now = utcnow()
        versions = []
        for article_id, article in changed:
            values = _article_values(article, now)
            for key in ("first_seen_at", "last_seen_at", "url", "site", "duplicate_of"):
                values.pop(key)
            values["version"] = ArticleRow.version + 1
            versions.append((article_id, values))
        with self.engine.begin() as conn:
            if versions:
                _save_versions(conn, versions, now, reason="re-extraction")
            for definition, capture_ids in marks.items():
                mark_extracted(conn, capture_ids, definition)

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
            _link_top_stories(conn, [r["url"] for r in rows])
            record_snapshot_capture(conn, snapshot, run_id)
        return len(rows)

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


# ---------------------------------------------------------------------- a batch's steps


def _dialect_insert(conn: Any, table: Any) -> Any:
    """The dialect's INSERT with ON CONFLICT, or None where there is none."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    return None


# The statements each batch runs, built once (building one costs more than
# SQLite's work for a batch's lookups); ``urls`` is the batch's URLs.
_EXISTING = select(
    ArticleRow.id,
    ArticleRow.url,
    ArticleRow.title,
    ArticleRow.content_hash,
    ArticleRow.version,
).where(ArticleRow.url.in_(bindparam("urls", expanding=True)))
_EXISTING_LOCKED = _EXISTING.order_by(ArticleRow.url).with_for_update()
_LINK_TOP_STORIES = (
    update(TopStoryRow)
    .where(TopStoryRow.article_id.is_(None), TopStoryRow.url.in_(bindparam("urls", expanding=True)))
    .values(
        # By the article's URL, or by another URL that led to it (a redirect).
        article_id=func.coalesce(
            select(ArticleRow.id).where(ArticleRow.url == TopStoryRow.url).scalar_subquery(),
            select(ArticleAliasRow.article_id)
            .where(ArticleAliasRow.url == TopStoryRow.url)
            .scalar_subquery(),
        )
    )
)


_SQLITE_EXISTING = (
    "SELECT id, url, title, content_hash, version FROM articles WHERE url IN ({marks})"
)


def _existing(conn: Any, urls: list[str]) -> dict[str, Any]:
    dialect = conn.dialect.name
    if dialect == "sqlite":
        rows = sqlite_select_in(conn, _SQLITE_EXISTING, urls)
    else:
        stmt = _EXISTING_LOCKED if dialect == "postgresql" else _EXISTING
        rows = conn.execute(stmt, {"urls": urls}).all()
    return {row.url: row for row in rows}


def _insert_new(conn: Any, new_rows: list[dict[str, Any]]) -> list[Any]:
    """Insert the new articles; the (id, url) of those inserted."""
    if conn.dialect.name == "sqlite":
        return _insert_new_sqlite(conn, new_rows)
    stmt = _dialect_insert(conn, ArticleRow)
    if stmt is not None:
        # A concurrent writer may have stored the same URL meanwhile:
        # skip it here (the caller treats it as stored).
        stmt = stmt.on_conflict_do_nothing(index_elements=["url"])
    else:
        stmt = insert(ArticleRow)
    return conn.execute(stmt.returning(ArticleRow.id, ArticleRow.url), new_rows).all()


# Rows per INSERT on SQLite: under its limit of bound parameters (32,766).
SQLITE_INSERT_ROWS = 500


def _insert_new_sqlite(conn: Any, new_rows: list[dict[str, Any]]) -> list[Any]:
    """The same INSERT ... ON CONFLICT DO NOTHING RETURNING as the other
    dialects get, as one multi-row statement per SQLITE_INSERT_ROWS rows,
    its values converted by the columns' own bind processors: the statement
    is not compiled again for each batch, which costs more than SQLite's
    own work for the rows (docs/performance.md, the store)."""
    columns = list(new_rows[0])
    processors = _sqlite_processors(conn.dialect, tuple(columns))
    row_marks = "(" + ", ".join("?" * len(columns)) + ")"
    inserted: list[Any] = []
    for start in range(0, len(new_rows), SQLITE_INSERT_ROWS):
        chunk = new_rows[start : start + SQLITE_INSERT_ROWS]
        params = _bound_values(chunk, columns, processors)
        sql = (
            f"INSERT INTO articles ({', '.join(columns)}) VALUES "
            f"{', '.join([row_marks] * len(chunk))} "
            "ON CONFLICT (url) DO NOTHING RETURNING id, url"
        )
        inserted += conn.exec_driver_sql(sql, tuple(params)).all()
    return inserted


def _bound_values(rows: list[dict[str, Any]], columns: list[str], processors: list[Any]) -> list:
    """The rows' values in order, each through its column's processor; a value
    that is the same object as the row before's (the batch's time in
    ``first_seen_at`` and ``last_seen_at``) is converted once."""
    values: list[Any] = []
    last: list[tuple[Any, Any]] = [(object(), None)] * len(columns)
    for row in rows:
        for n, column in enumerate(columns):
            value, process = row[column], processors[n]
            if process is None:
                values.append(value)
            elif value is last[n][0]:
                values.append(last[n][1])
            else:
                converted = process(value)
                last[n] = (value, converted)
                values.append(converted)
    return values


_PROCESSORS: dict[tuple[str, ...], list[Any]] = {}


def _sqlite_processors(dialect: Any, columns: tuple[str, ...]) -> list[Any]:
    if columns not in _PROCESSORS:
        table = ArticleRow.__table__
        _PROCESSORS[columns] = [
            table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns
        ]
    return _PROCESSORS[columns]


def _unchanged_and_changed(
    batch: list[Article], existing: dict[str, Any], now: datetime
) -> tuple[list[int], list[tuple[int, dict[str, Any]]]]:
    """Of the stored articles in the batch: the ids of those unchanged, and
    the new values of those whose title or body changed."""
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
    return touched, changed


def _save_versions(
    conn: Any, changed: list[tuple[int, dict[str, Any]]], now: datetime, reason: str = "revisit"
) -> None:
    """Update the changed articles, their earlier states copied inside the
    database before the update, with why they changed."""
    ids = [article_id for article_id, _ in changed]
    conn.execute(
        insert(ArticleRevisionRow).from_select(
            ["article_id", "version", "title", "body", "content_hash", "captured_at", "reason"],
            select(
                ArticleRow.id,
                ArticleRow.version,
                ArticleRow.title,
                ArticleRow.body,
                ArticleRow.content_hash,
                literal(now, UTCDateTime()),
                literal(reason, String(32)),
            ).where(ArticleRow.id.in_(ids)),
        )
    )
    for article_id, values in changed:
        conn.execute(update(ArticleRow).where(ArticleRow.id == article_id).values(values))


def _remember_aliases(conn: Any, articles: list[Article], now: datetime) -> None:
    aliases = {a.requested_url: a.url for a in articles if a.requested_url}
    if not aliases:
        return
    ids = dict(
        conn.execute(
            select(ArticleRow.url, ArticleRow.id).where(ArticleRow.url.in_(set(aliases.values())))
        ).all()
    )
    rows = [
        {"url": alias, "article_id": ids[target], "seen_at": now}
        for alias, target in aliases.items()
        if target in ids
    ]
    stmt = _dialect_insert(conn, ArticleAliasRow)
    if rows and stmt is not None:
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["url"],
                set_={"article_id": stmt.excluded.article_id, "seen_at": stmt.excluded.seen_at},
            ),
            rows,
        )


def _link_top_stories(conn: Any, urls: list[str]) -> None:
    """Point top-story rows at their article once the article is stored: by
    its URL, or by another URL that led to it (a redirect, ``article_aliases``)."""
    conn.execute(_LINK_TOP_STORIES, {"urls": urls})


# ---------------------------------------------------------------------- rows


def fingerprints(article: Article) -> tuple[str, int | None]:
    """The body's content fingerprint and SimHash: as cleaning computed
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
