"""Scrapy extensions: the run history (``run_history``: one ``crawl_runs``
row per crawl and every refused item, with the notes of ``outcomes``) and
the watch that stops a crawl whose parent process is gone
(``parent_watch``), the counts reported to it while the crawl runs
(``progress``), and how download errors are logged (``download_log``: in one
line, and left out of a daemon's crawl logs below INFO).

May import: ``crawler.storage``, ``crawler.extraction`` (extraction health),
``crawler.sites``, ``crawler.exceptions``, ``crawler.items``. Never spiders,
middlewares or the command line.
"""
