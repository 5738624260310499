"""Clean stage: counts what extraction found (extraction health).

Articles are cleaned where their page is read (crawler/extraction/cleaning.py,
called by crawler/extraction/reader.py, in the crawl process or an extraction
process); this stage only counts, per crawl, how often each field was found
and how often a rule of the site's definition found it, which the run's
``field_fill_rates`` and health warnings are made of.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from crawler.extraction.health import HEALTH_FIELDS
from crawler.items import Article


class CleanPipeline:
    """Counts what extraction found (extraction health).

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
        return item

    def close_spider(self) -> None:
        for key, count in self.counts.items():
            self.crawler.stats.inc_value(key, count)
        self.counts.clear()
