"""Validate: required fields, a body of real length, a sane date. A failing item
is rejected with its reason (and so written to ``rejected_items``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.items import Article, TopStoriesSnapshot
from pipelines import OutsideDateRange, RejectItem

EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)


def article_problems(article: Article, min_body_length: int, now: datetime) -> list[str]:
    problems = []
    if not article.url.startswith(("http://", "https://")):
        problems.append(f"not an http(s) URL: {article.url!r}")
    if not article.title:
        problems.append("no title found")
    body_length = len(article.body or "")
    if body_length == 0:
        problems.append("no body found")
    elif body_length < min_body_length:
        problems.append(f"body too short ({body_length} characters, minimum {min_body_length})")
    if article.published_at is not None:
        if article.published_at > now + FUTURE_TOLERANCE:
            problems.append(f"publication date {article.published_at.isoformat()} is in the future")
        elif article.published_at < EARLIEST_DATE:
            problems.append(f"publication date {article.published_at.isoformat()} is before 1990")
    return problems


class ValidatePipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ValidatePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            spider = self.crawler.spider
            problems = article_problems(
                item, spider.site.article.min_body_length, datetime.now(UTC)
            )
            if problems:
                raise RejectItem("; ".join(problems), stage="validate")
            if not spider.in_date_range(item.published_at):
                self.crawler.stats.inc_value("newscrawl/outside_date_range")
                raise OutsideDateRange(f"published {item.published_at} outside the crawl's range")
        elif isinstance(item, TopStoriesSnapshot) and not item.entries:
            raise RejectItem(
                "no top-story entries found (the entries selector matched nothing usable)",
                stage="validate",
            )
        return item
