"""Many generated news sites in one process, publishing articles as time goes
by, for the daemon benchmark (bench/daemon_bench.py).

Site s (0 <= s < N) listens on its own port of 127.0.0.1 (the operating
system picks them; host names such as ``site-17.localhost`` do not resolve
through the resolver Scrapy uses here). Each site has

- ``/``: the home page, whose block ``ol.top`` links the 10 newest articles
  (the ``top_stories`` spider's page);
- ``/news/``, ``/news/page/2/``, ...: the listing, 20 links a page, newest
  first, with a next link (the ``articles`` spider's listing);
- the article pages (bench/news_site.py's pages, 30-80 KB), each found only
  once it is published: before that it answers 404.

Article k of site s is published at :func:`published_at`: ``backlog``
articles before the start time, then one every ``1 / rate`` seconds, each
site at its own phase. Everything is computed from the start time and the
rate, so the benchmark knows when each article appeared without asking.

    python bench/news_sites.py --sites 100 --start UNIX_TIME --per-hour 3 --factor 60

prints one line of JSON, ``{"ports": [...]}``, once every site listens, then
serves until it is stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import news_site

TOP_STORIES = 10
# Article numbers of different sites never meet: site s, article k is page
# s * SITE_STRIDE + k of news_site's generator (different text on every site).
# 10,000 articles a site is more than any run publishes, and keeps the
# generator's own dates (3 hours apart) within datetime's range for 1,000 sites.
SITE_STRIDE = 10_000
STORY = re.compile(r"^/news/\d{4}/\d{2}/\d{2}/story-(\d+)-")


@dataclass(frozen=True)
class Timeline:
    """When each site publishes each article."""

    sites: int
    start: float  # Unix time the benchmark starts
    rate: float  # articles per second per site (already compressed)
    backlog: int  # articles each site has at the start

    def phase(self, site: int) -> float:
        """Where in its first interval site ``site`` publishes (0-1): the
        sites do not all publish at the same instant."""
        return (site * 0.6180339887) % 1.0

    def published_at(self, site: int, k: int) -> float:
        # Without new articles (rate 0), the backlog was published hourly.
        spacing = 1 / self.rate if self.rate else 3600.0
        return self.start + (k - self.backlog + self.phase(site)) * spacing

    def count(self, site: int, now: float) -> int:
        """How many articles site ``site`` has published at ``now``."""
        if not self.rate:
            return self.backlog
        return max(
            0, math.floor((now - self.start) * self.rate - self.phase(site)) + 1 + self.backlog
        )

    def path(self, site: int, k: int) -> str:
        day = datetime.fromtimestamp(self.published_at(site, k), UTC)
        slug = "-".join(news_site.VOCABULARY[(k * 7 + j + site) % 997] for j in range(3))
        return f"/news/{day:%Y/%m/%d}/story-{k}-{slug}/"


def headline(site: int, k: int) -> str:
    return news_site.headline(site * SITE_STRIDE + k)


def listing_page(timeline: Timeline, site: int, page: int, now: float) -> bytes | None:
    total = timeline.count(site, now)
    pages = max(1, math.ceil(total / news_site.PER_LISTING_PAGE))
    if page > pages:
        return None
    newest = total - 1 - (page - 1) * news_site.PER_LISTING_PAGE
    ids = [k for k in range(newest, newest - news_site.PER_LISTING_PAGE, -1) if k >= 0]
    teasers = "".join(
        f'<div class="teaser"><h2><a href="{timeline.path(site, k)}">{headline(site, k)}</a></h2>'
        f"<p>{news_site.sentence(random.Random(site * SITE_STRIDE + k + 5))}</p></div>"
        for k in ids
    )
    nxt = (
        f'<a class="next" rel="next" href="{news_site.listing_url(page + 1)}">Older</a>'
        if page < pages
        else ""
    )
    return (
        f"<!DOCTYPE html><html><head><title>Site {site} news, page {page}</title>"
        f"<style>{news_site.STYLE}</style></head><body>{news_site.navigation()}"
        f'<main class="latest">{teasers}{nxt}</main>{news_site.footer()}</body></html>'
    ).encode()


def home_page(timeline: Timeline, site: int, now: float) -> bytes:
    total = timeline.count(site, now)
    top = "".join(
        f'<li><a href="{timeline.path(site, k)}">{headline(site, k)}</a></li>'
        for k in range(total - 1, max(-1, total - 1 - TOP_STORIES), -1)
    )
    return (
        f"<!DOCTYPE html><html><head><title>Site {site}</title>"
        f"<style>{news_site.STYLE}</style></head><body>{news_site.navigation()}"
        f'<main><ol class="top">{top}</ol></main>{news_site.footer()}</body></html>'
    ).encode()


def article_page(timeline: Timeline, site: int, path: str, now: float) -> bytes | None:
    match = STORY.match(path)
    if match is None:
        return None
    k = int(match.group(1))
    if k >= min(timeline.count(site, now), SITE_STRIDE) or timeline.path(site, k) != path:
        return None
    when = datetime.fromtimestamp(timeline.published_at(site, k), UTC)
    return news_site.article_page(site * SITE_STRIDE + k, SITE_STRIDE, when, path).encode()


def page(timeline: Timeline, site: int, path: str, now: float) -> tuple[bytes | None, bytes]:
    """(body or None for a 404, content type) of ``path`` on site ``site``."""
    if path == "/robots.txt":
        return b"User-agent: *\nAllow: /\n", b"text/plain"
    html = b"text/html; charset=utf-8"
    if path == "/":
        return home_page(timeline, site, now), html
    if path == "/news/":
        return listing_page(timeline, site, 1, now), html
    listing = re.fullmatch(r"/news/page/(\d+)/", path)
    if listing:
        return listing_page(timeline, site, int(listing.group(1)), now), html
    return article_page(timeline, site, path, now), html


def serve(timeline: Timeline) -> None:
    import time

    from twisted.internet import reactor
    from twisted.web import resource, server

    class SitePages(resource.Resource):
        isLeaf = True

        def __init__(self, site: int) -> None:
            super().__init__()
            self.site = site

        def render_GET(self, request):  # type: ignore[no-untyped-def]  # noqa: N802
            body, kind = page(timeline, self.site, request.path.decode(), time.time())
            if body is None:
                request.setResponseCode(404)
                body = b"<html><body>Not found</body></html>"
            request.setHeader(b"Content-Type", kind)
            return body

    ports = []
    for site in range(timeline.sites):
        web = server.Site(SitePages(site))
        web.log = lambda request: None  # type: ignore[method-assign]  # no access log
        listening = reactor.listenTCP(0, web, interface="127.0.0.1", backlog=128)  # type: ignore[attr-defined]
        ports.append(listening.getHost().port)
    print(json.dumps({"ports": ports}), flush=True)
    reactor.run()  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, required=True)
    parser.add_argument("--start", type=float, required=True, help="Unix time of the start")
    parser.add_argument(
        "--per-hour", type=float, default=3.0, help="articles per site per hour (0: none)"
    )
    parser.add_argument("--factor", type=float, default=60.0, help="time compression")
    parser.add_argument("--backlog", type=int, default=5, help="articles before the start")
    args = parser.parse_args()
    timeline = Timeline(args.sites, args.start, args.per_hour * args.factor / 3600, args.backlog)
    serve(timeline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
