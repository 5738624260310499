"""newscrawl's exceptions and exit statuses, at the bottom of the imports
like ``scrapy/exceptions.py``: any package may import this module, and it
imports nothing of the project.

Importing it does not import Scrapy: the two exceptions that are Scrapy's
``DropItem`` (:class:`RejectItem`, :class:`OutsideDateRange`) are made the
first time they are asked for, so that ``newscrawl crawl``, which only
starts and waits for the crawl process, does not load Scrapy for its exit
statuses (a third of a second of every crawl's start-up).
"""

from __future__ import annotations

from typing import Any

# ---------------------------------------------------------------- exit statuses

# A command or crawl that found what it was asked for missing (an article id,
# a run, anything to print).
NOT_FOUND_EXIT = 1
# A crawl that did not finish (failed, interrupted, an unreachable site), or
# something a command needs that is not available (a busy port, the database).
CRAWL_FAILED_EXIT = 1
# A site definition that is invalid, or an argument or query that cannot be
# read: a usage error (``newscrawl``'s options, ``scrapy crawl``'s ``-a``).
CONFIG_ERROR_EXIT = 2
QUERY_ERROR_EXIT = 2
# A crawl refused because another live process holds its site's lease.
LEASE_HELD_EXIT = 3


# ---------------------------------------------------------------- site definitions


class SiteConfigError(Exception):
    """A site definition is missing, unreadable or invalid."""


class SpiderArgumentError(ValueError):
    """A spider argument (``-a NAME=VALUE``) that is missing or cannot be read:
    ``scrapy crawl`` says so in one line and ends with CONFIG_ERROR_EXIT."""


class PatternTimeout(Exception):
    """A user pattern took longer than its time bound on some text
    (crawler/sites/patterns.py).

    ``where``: the definition key it comes from (``title``, ``strip``,
    ``article_url_pattern``...); ``stage``: the stage that rejects the page
    (``extract``, ``clean``, ``discover``).
    """

    def __init__(self, pattern: str, where: str, seconds: float, stage: str = "extract") -> None:
        # All in args: the exception is pickled across the extraction processes' boundary.
        super().__init__(pattern, where, seconds, stage)
        self.pattern = pattern
        self.where = where
        self.seconds = seconds
        self.stage = stage

    def __str__(self) -> str:
        return f"regex {self.pattern!r} of {self.where} took longer than {self.seconds:g} s"


# ---------------------------------------------------------------- pages and items


class UndecodablePage(Exception):
    """A page no charset decodes, with too much of its text lost to bad bytes.
    Its text is the reason the page is rejected with."""


def _item_exceptions() -> dict[str, type[Exception]]:
    from scrapy.exceptions import DropItem

    class RejectItem(DropItem):
        """An item refused by a stage (fetch, extract, clean, validate), with the
        reason a user can act on. The run-history extension writes every refused
        item to ``rejected_items`` with its stage and reason."""

        def __init__(self, reason: str, stage: str) -> None:
            super().__init__(reason)
            self.reason = reason
            self.stage = stage

    class OutsideDateRange(DropItem):
        """An article published outside the ``since``/``until`` range a crawl asked
        for: not wanted by this crawl, not a fault. Counted, not recorded."""

        def __init__(self, reason: str) -> None:
            super().__init__(reason, log_level="DEBUG")

    made: dict[str, type[Exception]] = {
        "RejectItem": RejectItem,
        "OutsideDateRange": OutsideDateRange,
    }
    for name, cls in made.items():
        cls.__qualname__ = name  # pickled by name (extraction processes), as a module-level class
        cls.__module__ = __name__
    return made


def __getattr__(name: str) -> Any:
    """:class:`RejectItem` and :class:`OutsideDateRange`, made on first use."""
    if name in ("RejectItem", "OutsideDateRange"):
        globals().update(_item_exceptions())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- queries


class SearchQueryError(ValueError):
    """A search query with nothing to search for (no letter or digit) or too
    many words: text that is not valid query syntax is searched as words
    instead (crawler/storage/search.py)."""
