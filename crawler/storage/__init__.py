"""The SQL archive, and all of newscrawl's SQL: table models, engines and
migrations (``models``, ``database``), the store that writes batches
(``store``) with the crawl run rows (``runs``) and the duplicate detection
(``duplicates``) it goes through, a crawl's batch writer (``writer``) and
the spool that keeps its batches through an outage (``spool``), leases
(``locks``), listing walks (``walks``), what counts as a failed crawl
(``failures``), the page archive's WARC files (``warc``) and the
``captures`` table that says where each page's record is (``captures``),
and the queries of the read-only commands (``queries``,
``search``, ``status``).

May import: ``crawler.extraction.fingerprints`` (duplicate detection),
``crawler.sites``, ``crawler.exceptions``, ``crawler.items``. Never
spiders, middlewares, extensions, scheduling or the command line.
"""
