"""Cleaning an extracted article: normalised text, the site's ``strip`` /
``drop_paragraphs`` / ``truncate_at`` rules, the full headline over a
truncated copy, the date in UTC; then the cleaned body's content fingerprint
and SimHash, which the store's duplicate detection uses.

The one place articles are cleaned, in whichever process reads the page
(crawler/extraction/reader.py): the crawl process or an extraction process.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from crawler.extraction.dates import read_date
from crawler.extraction.fingerprints import clean_body_fingerprint, simhash
from crawler.extraction.text import normalize_text, split_paragraphs
from crawler.items import Article
from crawler.sites.definitions import ArticleRules, Site
from crawler.sites.patterns import BoundedPattern, compile_pattern

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
        if strip:  # split_paragraphs normalised it; a strip may leave spaces
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
            # A date without a time of day: that date at 00:00 UTC, and no
            # zone either known or assumed (docs/schema.md).
            article.published_tz_known = None if parsed.date_only else parsed.zone_known
        else:
            logger.warning("could not read the date %r on %s", article.published_raw, article.url)
    article.content_hash = clean_body_fingerprint(article.body or "")
    article.simhash = simhash(article.body or "")
    return article
