"""The garbage collector of a crawl process, set for a crawl.

Python runs a collection of its youngest generation after every 700
allocations of container objects (``gc.get_threshold()``). A crawl allocates
them by the hundred for every page (requests, responses, Deferreds, tasks,
items) and frees most within milliseconds; collected every 700, many are
caught alive, moved to the older generations and scanned again there. While
the engine runs, the youngest generation is collected every
:data:`GEN0_THRESHOLD` allocations instead, and what start-up made (modules,
settings, the site's definition, mappings) is frozen out of the collections
(``gc.freeze``): objects still die when their last reference goes, and
cycles among them wait for the end of the crawl, when the thresholds are
put back and the frozen objects collected as usual.
"""

from __future__ import annotations

import gc
from typing import Any

# Extraction processes do the same from their start (crawler/extraction/processes.py).
from crawler.extraction.processes import GEN0_THRESHOLD, tune_collector

__all__ = ["GEN0_THRESHOLD", "CollectorTuning"]


class CollectorTuning:
    def __init__(self) -> None:
        self.saved: tuple[int, ...] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> CollectorTuning:
        from scrapy import signals

        extension = cls()
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_started(self) -> None:
        if self.saved is None:
            self.saved = tune_collector()

    def engine_stopped(self) -> None:
        if self.saved is None:
            return
        gc.set_threshold(*self.saved)
        gc.unfreeze()
        self.saved = None
