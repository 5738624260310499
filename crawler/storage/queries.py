"""Read-only queries over the archive, for the command line's reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from crawler.storage.models import ArticleRow, CrawlRunRow, RejectedItemRow, TopStoryRow


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


def newest_articles(engine: Engine, site: str | None = None, limit: int = 10) -> list[ArticleRow]:
    stmt = (
        select(ArticleRow)
        .order_by(ArticleRow.published_at.desc().nulls_last(), ArticleRow.id.desc())
        .limit(limit)
    )
    if site:
        stmt = stmt.where(ArticleRow.site == site)
    with engine.connect() as conn:
        return list(conn.execute(stmt).mappings())  # type: ignore[arg-type]


def current_top_stories(engine: Engine, site: str | None = None) -> list[TopStoryRow]:
    """The latest snapshot of every top-stories page, in rank order."""
    latest = (
        select(
            TopStoryRow.site,
            TopStoryRow.page_url,
            func.max(TopStoryRow.captured_at).label("captured_at"),
        )
        .group_by(TopStoryRow.site, TopStoryRow.page_url)
        .subquery()
    )
    stmt = (
        select(TopStoryRow)
        .join(
            latest,
            (TopStoryRow.site == latest.c.site)
            & (TopStoryRow.page_url == latest.c.page_url)
            & (TopStoryRow.captured_at == latest.c.captured_at),
        )
        .order_by(TopStoryRow.site, TopStoryRow.page_url, TopStoryRow.rank)
    )
    if site:
        stmt = stmt.where(TopStoryRow.site == site)
    with engine.connect() as conn:
        return list(conn.execute(stmt).mappings())  # type: ignore[arg-type]


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


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"
