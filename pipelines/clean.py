"""Clean: normalised text, the site's strip/drop rules, the full headline, dates
in UTC; then the cleaned body's fingerprints, which duplicate detection uses."""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from crawler.extraction.dates import read_date
from crawler.extraction.fingerprints import content_fingerprint, simhash
from crawler.extraction.health import HEALTH_FIELDS
from crawler.extraction.text import normalize_text, split_paragraphs
from crawler.items import Article, TopStoriesSnapshot
from crawler.sites.definitions import ArticleRules, Site
from crawler.sites.patterns import BoundedPattern, PatternTimeout, compile_pattern
from pipelines import RejectItem

logger = logging.getLogger(__name__)

_ELLIPSIS = re.compile(r"\s*(\.\.\.|…)$")
# What separates a headline from a site name appended to it ("Headline | Site").
_SITE_SUFFIX = re.compile(r"^\s*(\||–|—|-|::|·|•)\s")


def choose_title(candidates: list[str]) -> int | None:
    """The index of the headline to keep: the first one found, unless another
    is a longer version of it.

    Pages often repeat a headline cut short (image captions, share widgets,
    ``og:title``); the full one wins wherever it was found. A longer candidate
    that only appends the site's name ("Headline | The Courier") does not.
    """
    titles = [normalize_text(c) for c in candidates]
    chosen = next((i for i, t in enumerate(titles) if t), None)
    if chosen is None:
        return None
    for i, other in enumerate(titles):
        current = titles[chosen]
        stem = _ELLIPSIS.sub("", current)
        if len(other) > len(current) and other.startswith(stem):
            if not _SITE_SUFFIX.match(other[len(stem) :]):
                chosen = i
    return chosen


def _bounded(patterns: list[str], key: str) -> list[BoundedPattern]:
    return [compile_pattern(p, key, stage="clean") for p in patterns]


def clean_body(body: str | None, rules: ArticleRules) -> str | None:
    """Apply ``truncate_at``, ``drop_paragraphs`` and ``strip`` paragraph by paragraph.

    Each pattern runs with a time bound (crawler/sites/patterns.py): one that takes
    too long on a paragraph raises PatternTimeout, and the article is rejected."""
    if not body:
        return None
    truncate_at = _bounded(rules.truncate_at, "truncate_at")
    drop_paragraphs = _bounded(rules.drop_paragraphs, "drop_paragraphs")
    strip = _bounded(rules.strip, "strip")
    kept: list[str] = []
    for paragraph in split_paragraphs(body):
        if any(p.search(paragraph) for p in truncate_at):
            break
        if any(p.search(paragraph) for p in drop_paragraphs):
            continue
        for pattern in strip:
            paragraph = pattern.sub("", paragraph)
        paragraph = normalize_text(paragraph)
        if paragraph:
            kept.append(paragraph)
    return "\n\n".join(kept) or None


def clean_article(article: Article, site: Site, now: datetime | None = None) -> Article:
    candidates = article.title_candidates or ([article.title] if article.title else [])
    chosen = choose_title(candidates)
    article.title = normalize_text(candidates[chosen]) if chosen is not None else None
    if chosen is not None and chosen < len(article.title_candidate_kinds):
        article.sources["title"] = article.title_candidate_kinds[chosen]
    article.body = clean_body(article.body, site.article)
    article.author = normalize_text(article.author) or None if article.author else None
    article.section = normalize_text(article.section) or None if article.section else None
    tags = (normalize_text(t) for t in article.tags)
    article.tags = list(dict.fromkeys(t for t in tags if t))
    if article.published_raw and article.published_at is None:
        parsed = read_date(
            article.published_raw,
            article.published_format,
            article.published_timezone or site.timezone,
            languages=[site.language] if site.language else None,
            now=now or datetime.now(UTC),
        )
        if parsed is not None:
            article.published_at = parsed.value
            article.published_tz_known = parsed.zone_known
        else:
            logger.warning("could not read the date %r on %s", article.published_raw, article.url)
    article.content_hash = content_fingerprint(article.body or "")
    article.simhash = simhash(article.body or "")
    article.cleaned = True
    return article


class CleanPipeline:
    """Cleans articles, and counts what extraction found (extraction health).

    The counts are kept here and added to the crawl's stats when the pipeline
    closes, before the run history reads them (``spider_closed``): a few
    stats calls per crawl instead of a dozen per article.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.counts: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Any) -> CleanPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            site: Site = self.crawler.spider.site
            if not item.cleaned:  # an extraction process may have (crawler/extraction/reader.py)
                try:
                    clean_article(item, site)
                except PatternTimeout as exc:
                    self.counts["newscrawl/pattern_timeouts"] += 1
                    raise RejectItem(str(exc), stage=exc.stage) from None
            counts = self.counts
            if item.published_raw and item.published_at is None:
                counts["newscrawl/dates_unreadable"] += 1
            # Extraction health: what was found, before validation refuses anything.
            counts["newscrawl/extracted"] += 1
            for field in HEALTH_FIELDS:
                if getattr(item, field):
                    counts[f"newscrawl/filled/{field}"] += 1
                    if field not in item.fallbacks:
                        counts[f"newscrawl/by_rule/{field}"] += 1
        elif isinstance(item, TopStoriesSnapshot):
            for entry in item.entries:
                entry.title = normalize_text(entry.title)
        return item

    def close_spider(self) -> None:
        for key, count in self.counts.items():
            self.crawler.stats.inc_value(key, count)
        self.counts.clear()
