"""The ``captures`` table: where each stored page's WARC record is
(docs/archive.md). Rows are written with the articles and top-stories
snapshots they belong to, in the same transaction; read by the capture
middleware (the last digest of a URL, for revisit records), by ``newscrawl
show`` and ``capture``, and by ``newscrawl reextract``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from crawler.items import Article, TopStoriesSnapshot
from crawler.storage.models import ArticleRow, CaptureRow

COLUMNS = (
    "url",
    "http_status",
    "payload_digest",
    "record_type",
    "warc_file",
    "warc_offset",
    "warc_length",
    "host",
)


def _row(capture: dict[str, Any], kind: str, site: str, run_id: int | None) -> dict[str, Any]:
    row = {name: capture[name] for name in COLUMNS}
    row.update(
        kind=kind,
        site=site,
        run_id=run_id,
        fetched_at=datetime.fromisoformat(capture["fetched_at"]),
        extracted_with=capture.get("definition") or None,
    )
    return row


def record_article_captures(conn: Any, articles: list[Article], run_id: int | None) -> None:
    """A ``captures`` row for each article of the batch that has a capture."""
    captured = [a for a in articles if a.capture]
    if not captured:
        return
    ids = dict(
        conn.execute(
            select(ArticleRow.url, ArticleRow.id).where(
                ArticleRow.url.in_({a.url for a in captured})
            )
        ).all()
    )
    rows = []
    for article in captured:
        assert article.capture is not None
        if article.url in ids:
            row = _row(article.capture, "article", article.site, run_id)
            rows.append({**row, "article_id": ids[article.url]})
    if rows:
        conn.execute(insert(CaptureRow), rows)


def record_snapshot_capture(conn: Any, snapshot: TopStoriesSnapshot, run_id: int | None) -> None:
    if snapshot.capture:
        row = _row(snapshot.capture, "top_stories", snapshot.site, run_id)
        row["fetched_at"] = snapshot.captured_at  # the snapshot's key
        conn.execute(insert(CaptureRow), [{**row, "article_id": None}])


def last_full_capture(engine: Engine, url: str) -> tuple[str, datetime] | None:
    """(payload digest, fetched at) of the last full record of ``url``
    captured (a later revisit has the same digest); None when there is none.
    One indexed lookup: the capture middleware asks it for every page."""
    stmt = (
        select(CaptureRow.payload_digest, CaptureRow.fetched_at)
        .where(CaptureRow.url == url, CaptureRow.record_type == "response")
        .order_by(CaptureRow.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    return (row.payload_digest, row.fetched_at) if row else None


@dataclass(frozen=True)
class Capture:
    id: int
    article_id: int | None
    site: str
    url: str
    fetched_at: datetime
    http_status: int
    payload_digest: str
    record_type: str
    warc_file: str
    warc_offset: int
    warc_length: int
    host: str
    extracted_with: str | None


def _captures(conn: Any, *where: Any) -> list[Capture]:
    stmt = select(*(getattr(CaptureRow, f) for f in Capture.__dataclass_fields__)).where(*where)
    return [Capture(*r) for r in conn.execute(stmt.order_by(CaptureRow.id))]


def article_captures(engine: Engine, article_id: int) -> list[Capture]:
    """The captures of an article, oldest first."""
    with engine.connect() as conn:
        return _captures(conn, CaptureRow.article_id == article_id)


def captures_of_articles(engine: Engine, ids: list[int]) -> list[Capture]:
    """Every capture of these articles, in the order they were written."""
    with engine.connect() as conn:
        return _captures(conn, CaptureRow.article_id.in_(ids))


def latest_captures_of(engine: Engine, ids: list[int]) -> dict[int, Capture]:
    """article id -> its latest capture, for the articles among ``ids`` that have one."""
    return {c.article_id: c for c in captures_of_articles(engine, ids) if c.article_id}


def full_record(engine: Engine, capture: Capture) -> Capture | None:
    """The ``response`` record holding the payload of ``capture``: itself, or
    for a revisit the last full record of its URL with the same digest."""
    if capture.record_type == "response":
        return capture
    with engine.connect() as conn:
        found = _captures(
            conn,
            CaptureRow.url == capture.url,
            CaptureRow.payload_digest == capture.payload_digest,
            CaptureRow.record_type == "response",
            CaptureRow.id < capture.id,
        )
    return found[-1] if found else None


def latest_article_captures(
    engine: Engine,
    site: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    article_id: int | None = None,
) -> list[Capture]:
    """The latest capture of each selected article (by site, by the time it
    was fetched, or one article), in article order."""
    where = [CaptureRow.kind == "article", CaptureRow.article_id.is_not(None)]
    if site is not None:
        where.append(CaptureRow.site == site)
    if since is not None:
        where.append(CaptureRow.fetched_at >= since)
    if until is not None:
        where.append(CaptureRow.fetched_at <= until)
    if article_id is not None:
        where.append(CaptureRow.article_id == article_id)
    latest = (
        select(func.max(CaptureRow.id).label("id"))
        .where(and_(*where))
        .group_by(CaptureRow.article_id)
        .subquery()
    )
    with engine.connect() as conn:
        captures = _captures(conn, CaptureRow.id.in_(select(latest.c.id)))
    return sorted(captures, key=lambda c: c.article_id or 0)


def mark_extracted(conn: Any, capture_ids: list[int], definition: str) -> None:
    """Record that these captures were read with the definition of hash ``definition``."""
    if capture_ids:
        conn.execute(
            update(CaptureRow)
            .where(CaptureRow.id.in_(capture_ids))
            .values(extracted_with=definition)
        )
