"""Scrapy extensions: the run history (``run_history``: one ``crawl_runs``
row per crawl and every refused item, with the notes of ``outcomes``) and
the watch that stops a crawl whose parent process is gone
(``parent_watch``), and the counts reported to it while the crawl runs
(``progress``).

May import: ``crawler.storage``, ``crawler.extraction`` (extraction health),
``crawler.sites``, ``crawler.exceptions``, ``crawler.items``. Never spiders,
middlewares or the command line.
"""
