"""The page archive: every page a crawl fetched, kept as WARC records beside
the database (docs/archive.md). ``files``: where the archive is, the WARC
files a crawl process writes (rotated by size, one whole record per write)
and reading one record back; ``capture``: the downloader middleware that
writes each page fetched with status 200 and tells the item its capture;
``reextract``: articles extracted again from their captures with today's
site definitions.

May import: ``crawler.storage`` (the ``captures`` table), ``crawler.extraction``
(the same reading as a crawl's), ``crawler.sites``, ``crawler.exceptions``,
``crawler.items``. Never spiders, extensions, scheduling or the command line.
"""
