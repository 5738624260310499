"""What passes between components: the items spiders yield (plain
dataclasses read through itemadapter) and the request meta keys by which
spiders tell middlewares what a request is. At the bottom of the imports:
any package may import this module, and it imports nothing of the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# ---------------------------------------------------------------- request meta

# What a request is (``KIND``): an article page, or the next page of a listing.
KIND = "newscrawl_kind"
ARTICLE = "article"
NEXT_LISTING = "next_listing"
# A listing page: the start URL whose walk it belongs to (crawler/storage/walks.py).
WALK = "newscrawl_walk"
# A next listing page: how many listing pages in a row brought nothing new.
KNOWN_PAGES_IN_ROW = "newscrawl_known_pages_in_row"
# An article link that was guessed to be one by its URL's shape.
GUESSED = "newscrawl_guessed"
# A next listing request that begins a section's walk (a page the home page's
# navigation links to): followed whatever its parent page brought.
SECTION = "newscrawl_section"
# An article link found on a listing page that sat at an article link: such a
# page's links are followed, the pages they lead to are not expanded again.
FROM_LISTING_PAGE = "newscrawl_from_listing_page"
# Where the page of a response was kept in the archive (crawler/middlewares/capture.py):
# a dict of the ``captures`` columns, handed to the item it became.
CAPTURE = "newscrawl_capture"
# An article link the store does not hold (crawler/middlewares/incremental.py):
# its page has no earlier capture to compare with, so none is looked up.
UNSTORED = "newscrawl_unstored"

# ---------------------------------------------------------------- items


@dataclass
class Article:
    """One article page as extracted, then cleaned (crawler/extraction/cleaning.py).

    ``title_candidates`` are every headline text the title rules found, in rule
    order; cleaning keeps the full headline over a truncated copy.
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
    # Set by cleaning: the body's fingerprints for duplicate detection
    # (crawler/extraction/fingerprints.py).
    content_hash: str | None = None
    simhash: int | None = None
    # The page's capture in the archive (CAPTURE), recorded in ``captures``.
    capture: dict[str, Any] | None = None


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
    capture: dict[str, Any] | None = None  # the page's capture in the archive (CAPTURE)
