"""Extraction: from a page (its HTML, URL and site definition) to an item.

Pure functions and page objects, no crawling: the parsed page and its
JSON-LD (``page``), rule evaluation (``rules``),
generic fallbacks from JSON-LD, metadata and text density (``generic``),
an article's HTML held only in a script's JSON (``scripted``), an
article cut into several containers of one kind (``continued``),
the page furniture pruned from a generic body (``pruning``), with the
headline among its candidates (``titles``) and cleaned bylines
(``bylines``),
the publication's own name in a leading dateline (``datelines``), the
date and time a page shows beside its headline (``shown_dates``),
text and date normalisation (``text``, ``dates``), cleaning an extracted
article (``cleaning``) and validating it (``validation``), content fingerprints and near duplicates
(``fingerprints``), extraction health (``health``), feeds, sitemaps and
article-looking links (``discovery``), a site's own pagination and
sections (``navigation``), whether a page is one article or a listing
(``page_kind``), decoding and reading an article
page (``reader``) and the extraction processes that read pages beside a
crawl (``processes``).

May import: ``crawler.sites``, ``crawler.exceptions``, ``crawler.items``.
Never storage, spiders or anything above them.
"""
