"""DemoNews: a deterministic local news site for demos and tests.

Start it with ``DemoSiteServer().start()`` (or as a context manager) and crawl
``site.url``. Content lives in :mod:`.content`, markup in :mod:`.pages`, the
HTTP server in :mod:`.server` (with ``corrections=True``, one article is
corrected after it has been served once).
"""

from .content import (
    ARTICLES,
    ARTICLES_BY_ID,
    CORRECTED_ARTICLE_ID,
    CORRECTION,
    PAGE_SIZE,
    SECTIONS,
    SEED_ARTICLE_ID,
    TIMEZONE,
    TOP_STORY_IDS,
    DemoArticle,
)
from .server import Correction, DemoResponse, DemoSiteServer, RequestLog, resolve

__all__ = [
    "ARTICLES",
    "ARTICLES_BY_ID",
    "CORRECTED_ARTICLE_ID",
    "CORRECTION",
    "PAGE_SIZE",
    "SECTIONS",
    "SEED_ARTICLE_ID",
    "TIMEZONE",
    "TOP_STORY_IDS",
    "Correction",
    "DemoArticle",
    "DemoResponse",
    "DemoSiteServer",
    "RequestLog",
    "resolve",
]
