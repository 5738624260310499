"""Validate stage: an article with problems (crawler/extraction/validation.py),
or one published outside the crawl's date range, is refused; so is a
top-stories snapshot without entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crawler.exceptions import OutsideDateRange, RejectItem
from crawler.extraction.validation import article_problems
from crawler.items import Article, TopStoriesSnapshot


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
