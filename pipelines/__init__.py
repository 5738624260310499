"""Item pipelines, one responsibility each: clean, validate, store.

A pipeline that refuses an item raises :class:`RejectItem`; the run-history
extension writes every refused item to ``rejected_items`` with its stage and
reason, so nothing is dropped silently.
"""

from scrapy.exceptions import DropItem


class RejectItem(DropItem):
    """An item refused by a pipeline stage, with the reason a user can act on."""

    def __init__(self, reason: str, stage: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage


class OutsideDateRange(DropItem):
    """An article published outside the ``since``/``until`` range a crawl asked
    for: not wanted by this crawl, not a fault. Counted, not recorded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, log_level="DEBUG")
