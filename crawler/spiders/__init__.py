"""The two spiders, which only navigate: ``articles`` walks listing pages,
their pagination, feeds and sitemaps to article pages; ``top_stories``
fetches top-stories pages and the articles they link. Reading a page is
``crawler.extraction``'s job; storing it, the pipelines'.

May import: ``crawler.extraction``, ``crawler.sites``, ``crawler.exceptions``,
``crawler.items``, and ``crawler.scheduling.distributed`` to seed a shared
crawl. Never ``crawler.storage`` (that is the middlewares' and extensions'
part) nor the command line.
"""
