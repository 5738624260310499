"""Scrapy extensions: the run history (``run_history``: one ``crawl_runs``
row per crawl and every refused item, with the notes of ``outcomes``) and
the watch that stops a crawl whose parent process is gone
(``parent_watch``), the counts reported to it while the crawl runs
(``progress``), how download errors are logged (``download_log``: in one
line, and left out of a daemon's crawl logs below INFO), and the garbage
collector's thresholds while the engine runs (``collector``). Here, the names
the process that starts a crawl shares with them (the parent's pid, the
progress descriptor), importable without Scrapy.

May import: ``crawler.storage``, ``crawler.extraction`` (extraction health),
``crawler.sites``, ``crawler.exceptions``, ``crawler.items``. Never spiders,
middlewares or the command line.
"""

# Read by the crawl process's extensions, set by the process that starts it
# (crawler/scheduling/runner.py), which then need not import them (or Scrapy).
PARENT_PID_ENV = "NEWSCRAWL_PARENT_PID"  # parent_watch: stop when this process is gone
PROGRESS_FD_SETTING = "NEWSCRAWL_PROGRESS_FD"  # progress: report the counts on this descriptor
