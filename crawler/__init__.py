"""newscrawl: Scrapy spiders, extraction and the command line of the news crawler."""

import atexit
import gc
import sys

__version__ = "0.4.0"


def _quick_exit() -> None:
    """At the very end of every newscrawl process: close the pooled database
    connections, then freeze the garbage collector.

    Python's finalization walks every object still alive, several times; with
    Scrapy, SQLAlchemy and the extraction libraries loaded that took 0.8 s of
    each crawl process's exit, and under 0.1 s with the objects frozen (on the
    machine of docs/performance.md). The memory goes back to the system when
    the process ends either way. Registered first, so it runs after every
    other exit handler.
    """
    database = sys.modules.get("crawler.storage.database")
    if database is not None:
        # A thread still running at exit may hold the engines' lock: never
        # wait long for it.
        database.dispose_engines(timeout=1.0)
    gc.freeze()


atexit.register(_quick_exit)
