"""Item pipelines: thin Scrapy adapters over ``crawler``, one stage each:
clean (extraction health counts), validate, store.

A stage that refuses an item raises :class:`crawler.exceptions.RejectItem`
(also importable from here); the run-history extension writes every refused
item to ``rejected_items`` with its stage and reason, so nothing is dropped
silently. May import all of ``crawler`` except the command line; nothing in
``crawler`` imports this package.
"""

from crawler.exceptions import OutsideDateRange, RejectItem

__all__ = ["OutsideDateRange", "RejectItem"]
