"""DemoNews: a deterministic local news site for demos and tests.

Start it with ``DemoSiteServer().start()`` (or as a context manager) and crawl
``site.url``. Content lives in :mod:`.content`, markup in :mod:`.pages`, the
HTTP server in :mod:`.server`.
"""

from .content import (
    ARTICLES,
    ARTICLES_BY_ID,
    PAGE_SIZE,
    SECTIONS,
    SEED_ARTICLE_ID,
    TIMEZONE,
    TOP_STORY_IDS,
    DemoArticle,
)
from .server import DemoResponse, DemoSiteServer, RequestLog, resolve

__all__ = [
    "ARTICLES",
    "ARTICLES_BY_ID",
    "PAGE_SIZE",
    "SECTIONS",
    "SEED_ARTICLE_ID",
    "TIMEZONE",
    "TOP_STORY_IDS",
    "DemoArticle",
    "DemoResponse",
    "DemoSiteServer",
    "RequestLog",
    "resolve",
]
