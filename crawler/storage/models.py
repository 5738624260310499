"""SQLAlchemy models of the archive's tables: the schema users query (docs/schema.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every engine.

    SQLite has no time zone type: values are stored as UTC and given back
    with ``tzinfo=UTC``; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ArticleRow(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_raw: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    sources: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    published_tz_known: Mapped[bool | None] = mapped_column(Boolean)
    simhash: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_articles_site_published_at", "site", "published_at"),)


class ArticleAliasRow(Base):
    """Another URL that led to a stored article (a redirect, a rel=canonical)."""

    __tablename__ = "article_aliases"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ArticleRevisionRow(Base):
    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Why the version ended: ``revisit`` (the page changed when fetched again)
    # or ``re-extraction`` (newscrawl reextract read its capture again).
    reason: Mapped[str] = mapped_column(String(32), default="revisit", server_default="revisit")

    __table_args__ = (UniqueConstraint("article_id", "version"),)


class TopStoryRow(Base):
    __tablename__ = "top_stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rank: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text, index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    page_url: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_top_stories_site_captured_at", "site", "captured_at"),
        # The latest snapshot of a page at a time (newscrawl top-stories --at).
        Index("ix_top_stories_site_page_url_captured_at", "site", "page_url", "captured_at"),
    )


class CrawlRunRow(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    spider: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    articles_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    items_rejected: Mapped[int] = mapped_column(Integer, default=0)
    top_story_snapshots: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    finish_reason: Mapped[str | None] = mapped_column(Text)
    arguments: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    pages_skipped_known: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    field_fill_rates: Mapped[dict[str, float] | None] = mapped_column(JSON(none_as_null=True))
    health_warnings: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    host: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")

    __table_args__ = (
        Index("ix_crawl_runs_site_spider_started_at", "site", "spider", "started_at"),
    )


class CrawlLockRow(Base):
    """A lease: the process holding it crawls this site and spider; it expires
    unless renewed, so a crashed holder cannot block the pair for ever."""

    __tablename__ = "crawl_locks"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    spider: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RejectedItemRow(Base):
    __tablename__ = "rejected_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    site: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    item: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ListingWalkRow(Base):
    """How far the walk of one listing (a start URL and its pagination) got.

    A walk begins when a crawl reads the listing's first page and ends when
    pagination reaches its end (no next page, ``max_pages``, or the known part
    of the archive). A crawl that stops before that (killed, timed out, cut
    by a limit, a listing page that failed) leaves the walk incomplete; the
    next crawl continues it: articles stored since ``started_at`` count as
    new, so pagination is not ended by what the interrupted crawl stored.
    """

    __tablename__ = "listing_walks"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    spider: Mapped[str] = mapped_column(String(32), primary_key=True)
    listing: Mapped[str] = mapped_column(Text, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crawls: Mapped[int] = mapped_column(Integer, default=1)
    pages_read: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaptureRow(Base):
    """One page as fetched, kept as a WARC record (docs/archive.md): an
    article page (``article_id``) or a top-stories page, whose snapshot is the
    ``top_stories`` rows of ``site``, ``page_url`` = ``url`` and
    ``captured_at`` = ``fetched_at``."""

    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # article, top_stories
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    site: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text, index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    http_status: Mapped[int] = mapped_column(Integer)
    payload_digest: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(16))  # response, revisit
    warc_file: Mapped[str] = mapped_column(Text)
    warc_offset: Mapped[int] = mapped_column(BigInteger)
    warc_length: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    # The site definition an article was last extracted from this capture
    # with (its hash): what newscrawl reextract skips.
    extracted_with: Mapped[str | None] = mapped_column(String(64))
