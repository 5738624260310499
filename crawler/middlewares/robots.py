"""robots.txt obeyed by every request, including those that wait for it.

Scrapy 2.19's ``RobotsTxtMiddleware`` keeps one Deferred per host while the
host's robots.txt downloads, and every request that arrives meanwhile awaits
that Deferred. Turned into an asyncio future, a Deferred hands its result to
the first waiter only; the others get ``None``, which the middleware reads as
"no robots.txt": a disallowed page requested in the first moments of a crawl
(several start URLs on one host) was fetched. Here every waiter reads the
parser from the middleware's cache once the download is over.

Enabled in place of Scrapy's own in ``settings/scrapy_settings.py``.
"""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.http import Request
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    async def robot_parser(self, request: Request) -> Any:
        parser = await super().robot_parser(request)
        cached = self._parsers.get(urlparse_cached(request).netloc)
        # The cache holds the parser (or None when robots.txt could not be
        # read) as soon as the Deferred has fired.
        return parser if isinstance(cached, Deferred) else cached
