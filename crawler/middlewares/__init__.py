"""Scrapy middlewares and the downloader fix, one component per module:
robots.txt for every waiting request (``robots``), size and redirect limits
(``limits``), meta-refresh redirects found without decoding a page whole
(``meta_refresh``), waiting out ``Retry-After`` (``retry_after``), incremental
crawling and listing walks (``incremental``), every page fetched kept as a
WARC record (``capture``), and the downloader that keeps the per-site
concurrency limit (``downloader``).

May import: ``crawler.storage``, ``crawler.sites``, ``crawler.exceptions``,
``crawler.items``, and ``crawler.scheduling.distributed`` for shared walks.
Never spiders, extensions or the command line.
"""
