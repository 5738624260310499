"""Validation of an extracted article: required fields, a body of real
length, a sane date. What it finds is the reason the item is rejected with
(pipelines/validate.py raises it, so it is written to ``rejected_items``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.items import Article
from crawler.sites.times import human_time

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
            problems.append(f"publication date {human_time(article.published_at)} is in the future")
        elif article.published_at < EARLIEST_DATE:
            problems.append(f"publication date {human_time(article.published_at)} is before 1990")
    return problems
