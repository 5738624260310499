"""The items spiders yield, as plain dataclasses read through itemadapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Article:
    """One article page as extracted; the clean pipeline fills the final fields.

    ``title_candidates`` are every headline text the title rules found, in rule
    order; the clean pipeline keeps the full headline over a truncated copy.
    ``published_raw`` is the date text as found; ``published_at`` is aware UTC
    once cleaned. ``sources`` records which rule kind filled each field.
    """

    url: str
    site: str
    requested_url: str | None = None  # when it differs from url: a redirect or rel=canonical
    language: str | None = None
    title: str | None = None
    title_candidates: list[str] = field(default_factory=list)
    title_candidate_kinds: list[str] = field(default_factory=list)
    body: str | None = None
    author: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    published_raw: str | None = None
    published_format: list[str] = field(default_factory=list)
    published_timezone: str | None = None
    published_at: datetime | None = None
    published_tz_known: bool | None = None
    sources: dict[str, str] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)  # fields the site's rules missed
    fetched_at: datetime | None = None
    # Set by the clean stage (pipelines/clean.py), wherever it ran: the body's
    # fingerprints for duplicate detection (crawler/extraction/fingerprints.py).
    cleaned: bool = False
    content_hash: str | None = None
    simhash: int | None = None


@dataclass
class TopStory:
    rank: int
    title: str
    url: str


@dataclass
class TopStoriesSnapshot:
    """The ranked entries of one top-stories page at one moment."""

    site: str
    page_url: str
    captured_at: datetime
    entries: list[TopStory] = field(default_factory=list)
