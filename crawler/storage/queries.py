"""Read-only queries over the archive, for the command line's reports and
listings (``summary``, ``articles``, ``show``, ``top-stories``, ``runs``,
``export``). Every value a user gives is a bound parameter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, func, select, union

from crawler.sites.urls import canonical_url
from crawler.storage.models import (
    ArticleAliasRow,
    ArticleRevisionRow,
    ArticleRow,
    CrawlRunRow,
    ListingWalkRow,
    RejectedItemRow,
    TopStoryRow,
)


@dataclass
class SiteCounts:
    site: str
    articles: int
    top_story_rows: int
    runs: int
    rejected: int


def site_counts(engine: Engine, site: str | None = None) -> list[SiteCounts]:
    tables = {
        "articles": ArticleRow,
        "top_story_rows": TopStoryRow,
        "runs": CrawlRunRow,
        "rejected": RejectedItemRow,
    }
    totals: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for key, model in tables.items():
            stmt = select(model.site, func.count()).group_by(model.site)
            if site:
                stmt = stmt.where(model.site == site)
            for name, count in conn.execute(stmt):
                totals.setdefault(name, {})[key] = count
    return [
        SiteCounts(site=name, **{k: values.get(k, 0) for k in tables})
        for name, values in sorted(totals.items())
    ]


def runs_since(engine: Engine, after_id: int, site: str, spider: str) -> list[CrawlRunRow]:
    stmt = (
        select(CrawlRunRow)
        .where(CrawlRunRow.id > after_id, CrawlRunRow.site == site, CrawlRunRow.spider == spider)
        .order_by(CrawlRunRow.id)
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt).mappings())  # type: ignore[arg-type]


def last_run_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.max(CrawlRunRow.id), 0))).scalar_one()


def stored_sites(engine: Engine) -> list[str]:
    """Every site name the archive has rows for: articles, top stories or runs."""
    names = union(
        select(ArticleRow.site).distinct(),
        select(TopStoryRow.site).distinct(),
        select(CrawlRunRow.site).distinct(),
    )
    with engine.connect() as conn:
        return sorted(conn.execute(names).scalars())


# --------------------------------------------------------------------------- articles


@dataclass(frozen=True)
class ArticleFilters:
    """Which articles a listing, a search or an export covers.

    ``since`` and ``until`` bound ``published_at``, both inclusive; an article
    without a publication time is left out when either is given. ``section``
    matches the whole section name, ``author`` any part of the byline, both
    ignoring case. Duplicates (``duplicate_of`` set) are left out unless
    ``include_duplicates``.
    """

    site: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    section: str | None = None
    author: str | None = None
    include_duplicates: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        a = ArticleRow
        out: list[ColumnElement[bool]] = []
        if self.site is not None:
            out.append(a.site == self.site)
        if self.since is not None:
            out.append(a.published_at >= self.since)
        if self.until is not None:
            out.append(a.published_at <= self.until)
        if self.section is not None:
            out.append(func.lower(a.section) == self.section.lower())
        if self.author is not None:
            out.append(a.author.icontains(self.author, autoescape=True))
        if not self.include_duplicates:
            out.append(a.duplicate_of.is_(None))
        return out


LISTING_COLUMNS = (
    "id",
    "site",
    "published_at",
    "title",
    "url",
    "author",
    "section",
    "tags",
    "language",
    "first_seen_at",
    "version",
    "duplicate_of",
)


def list_articles(engine: Engine, filters: ArticleFilters, limit: int | None) -> list[dict]:
    """Articles, newest first (by publication time, unknown times last)."""
    a = ArticleRow
    stmt = (
        select(*(getattr(a, name) for name in LISTING_COLUMNS))
        .where(*filters.conditions())
        .order_by(a.published_at.desc().nulls_last(), a.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def count_articles(engine: Engine, filters: ArticleFilters) -> int:
    """How many articles ``filters`` match: the total a cut listing names."""
    stmt = select(func.count()).select_from(ArticleRow).where(*filters.conditions())
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def article_columns() -> list[str]:
    """Every column of ``articles``, in table order."""
    return [c.name for c in ArticleRow.__table__.columns]


def iter_articles(
    engine: Engine, filters: ArticleFilters, batch_size: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every column of the matching articles, by id, streamed: rows are fetched
    ``batch_size`` at a time (a server-side cursor on PostgreSQL), so memory
    stays flat however large the archive."""
    stmt = select(ArticleRow.__table__).where(*filters.conditions()).order_by(ArticleRow.id)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(stmt)
        for row in result.mappings():
            yield dict(row)


def _url_candidates(url: str) -> list[str]:
    """The URL as given and in canonical forms, with and without a final slash."""
    candidates = [url.strip()]
    try:
        for trailing_slash in ("keep", "add", "remove"):
            candidates.append(canonical_url(url, trailing_slash=trailing_slash))
    except ValueError:
        pass
    return list(dict.fromkeys(candidates))


def find_article(engine: Engine, reference: str) -> dict | None:
    """An article by id, by URL, or by another URL that led to it (an alias)."""
    a = ArticleRow
    with engine.connect() as conn:
        if reference.strip().isdigit():
            row = conn.execute(select(a).where(a.id == int(reference))).mappings().first()
            return dict(row) if row is not None else None
        candidates = _url_candidates(reference)
        row = (
            conn.execute(select(a).where(a.url.in_(candidates)).order_by(a.id).limit(1))
            .mappings()
            .first()
        )
        if row is None:
            alias = (
                select(ArticleAliasRow.article_id)
                .where(ArticleAliasRow.url.in_(candidates))
                .limit(1)
                .scalar_subquery()
            )
            row = conn.execute(select(a).where(a.id == alias)).mappings().first()
        return dict(row) if row is not None else None


def article_revisions(engine: Engine, article_id: int) -> list[dict]:
    """The earlier states of an article, oldest first."""
    r = ArticleRevisionRow
    stmt = (
        select(r.version, r.title, r.body, r.content_hash, r.captured_at, r.reason)
        .where(r.article_id == article_id)
        .order_by(r.version)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def article_aliases(engine: Engine, article_id: int) -> list[dict]:
    stmt = (
        select(ArticleAliasRow.url, ArticleAliasRow.seen_at)
        .where(ArticleAliasRow.article_id == article_id)
        .order_by(ArticleAliasRow.url)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def article_titles(engine: Engine, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(ArticleRow.id, ArticleRow.title).where(ArticleRow.id.in_(ids))
    with engine.connect() as conn:
        return {id_: title for id_, title in conn.execute(stmt)}


def recent_corrections(engine: Engine, site: str | None = None, limit: int = 5) -> list[dict]:
    """The articles whose title or body changed after they were first stored,
    most recently changed first: ``id``, ``site``, ``url``, ``title`` (the
    current one), ``version`` and ``corrected_at`` (when the last change was
    seen: the ``captured_at`` of the newest revision)."""
    r = ArticleRevisionRow
    changes = (
        select(r.article_id, func.max(r.captured_at).label("corrected_at"))
        .group_by(r.article_id)
        .subquery()
    )
    a = ArticleRow
    stmt = (
        select(a.id, a.site, a.url, a.title, a.version, changes.c.corrected_at)
        .join(changes, changes.c.article_id == a.id)
        .order_by(changes.c.corrected_at.desc(), a.id.desc())
        .limit(limit)
    )
    if site:
        stmt = stmt.where(a.site == site)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


# --------------------------------------------------------------------------- top stories

TOP_STORY_COLUMNS = ("site", "page_url", "captured_at", "rank", "title", "url", "article_id")


def top_story_pages(conn: Connection, site: str | None = None) -> list[tuple[str, str]]:
    """Every (site, page_url) with snapshots, walked through the index one page
    at a time, so the cost grows with the number of pages, not of rows."""
    t = TopStoryRow
    scope = [t.site == site] if site is not None else []
    first = select(t.site, t.page_url).where(*scope).order_by(t.site, t.page_url).limit(1)
    pages: list[tuple[str, str]] = []
    row = conn.execute(first).first()
    while row is not None:
        pages.append((row[0], row[1]))
        # Two seeks (the next page of this site, else the next site) rather
        # than one row-value comparison, which SQLite answers by scanning.
        following = conn.execute(first.where(t.site == row[0], t.page_url > row[1])).first()
        if following is None and site is None:
            following = conn.execute(first.where(t.site > row[0])).first()
        row = following
    return pages


def top_stories_at(engine: Engine, at: datetime, site: str | None = None) -> list[dict]:
    """The top stories as they stood at ``at``: of every top-stories page, the
    latest snapshot captured at or before it, in rank order."""
    t = TopStoryRow
    out: list[dict] = []
    with engine.connect() as conn:
        for page_site, page_url in top_story_pages(conn, site):
            on_page = (t.site == page_site, t.page_url == page_url)
            latest = (
                select(func.max(t.captured_at))
                .where(*on_page, t.captured_at <= at)
                .scalar_subquery()
            )
            stmt = (
                select(*(getattr(t, name) for name in TOP_STORY_COLUMNS))
                .where(*on_page, t.captured_at == latest)
                .order_by(t.rank)
            )
            out.extend(dict(row) for row in conn.execute(stmt).mappings())
    return out


def top_stories_between(
    engine: Engine,
    start: datetime | None,
    end: datetime | None,
    site: str | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Every story seen in a top-stories snapshot from ``start`` to ``end``
    (inclusive): when it was first and last seen there, its best rank, how many
    snapshots showed it, and its latest headline. Best rank first."""
    scope = _top_story_scope(start, end, site)
    spans = _top_story_spans(scope)
    newest_first = _top_story_headlines(scope)
    stmt = (
        select(
            spans.c.site,
            spans.c.url,
            newest_first.c.title,
            spans.c.best_rank,
            spans.c.first_seen,
            spans.c.last_seen,
            spans.c.snapshots,
            spans.c.article_id,
        )
        .join(
            newest_first,
            (newest_first.c.site == spans.c.site)
            & (newest_first.c.url == spans.c.url)
            & (newest_first.c.recency == 1),
        )
        .order_by(spans.c.best_rank, spans.c.first_seen, spans.c.site, spans.c.url)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def count_top_stories_between(
    engine: Engine, start: datetime | None, end: datetime | None, site: str | None = None
) -> int:
    """How many stories :func:`top_stories_between` finds without a limit."""
    stmt = select(func.count()).select_from(_top_story_spans(_top_story_scope(start, end, site)))
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def _top_story_scope(start: datetime | None, end: datetime | None, site: str | None) -> list:
    """The conditions on top-story rows: captured from ``start`` to ``end``, of ``site``."""
    t = TopStoryRow
    scope = []
    if start is not None:
        scope.append(t.captured_at >= start)
    if end is not None:
        scope.append(t.captured_at <= end)
    if site is not None:
        scope.append(t.site == site)
    return scope


def _top_story_spans(scope: list) -> Any:
    """Per story (site, url) in scope: first and last seen, best rank,
    snapshots, and its article."""
    t = TopStoryRow
    return (
        select(
            t.site,
            t.url,
            func.min(t.captured_at).label("first_seen"),
            func.max(t.captured_at).label("last_seen"),
            func.min(t.rank).label("best_rank"),
            func.count().label("snapshots"),
            func.max(t.article_id).label("article_id"),
        )
        .where(*scope)
        .group_by(t.site, t.url)
        .subquery()
    )


def _top_story_headlines(scope: list) -> Any:
    """Each story's headlines in scope, numbered newest first (``recency`` 1:
    the latest; of one snapshot, the best ranked)."""
    t = TopStoryRow
    return (
        select(
            t.site,
            t.url,
            t.title,
            func.row_number()
            .over(partition_by=(t.site, t.url), order_by=(t.captured_at.desc(), t.rank))
            .label("recency"),
        )
        .where(*scope)
        .subquery()
    )


# --------------------------------------------------------------------------- runs


def list_runs(
    engine: Engine,
    site: str | None = None,
    spider: str | None = None,
    status: str | None = None,
    limit: int | None = 20,
) -> list[dict]:
    """Crawl runs, newest first, every column; ``walk_incomplete``: the run
    was the last to work on a listing walk that is not complete, so the next
    crawl continues it (crawler/storage/walks.py)."""
    r = CrawlRunRow
    incomplete = (
        select(ListingWalkRow.run_id)
        .where(ListingWalkRow.run_id == r.id, ListingWalkRow.completed_at.is_(None))
        .exists()
    )
    stmt = (
        select(r.__table__, incomplete.label("walk_incomplete"))
        .where(*_run_conditions(site, spider, status))
        .order_by(r.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def count_runs(
    engine: Engine, site: str | None = None, spider: str | None = None, status: str | None = None
) -> int:
    """How many runs :func:`list_runs` finds without a limit."""
    stmt = (
        select(func.count()).select_from(CrawlRunRow).where(*_run_conditions(site, spider, status))
    )
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def _run_conditions(
    site: str | None, spider: str | None, status: str | None
) -> list[ColumnElement[bool]]:
    r = CrawlRunRow
    wanted = ((r.site, site), (r.spider, spider), (r.status, status))
    return [column == value for column, value in wanted if value is not None]
