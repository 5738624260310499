"""The baseline: a plain Scrapy spider that fetches what newscrawl fetches from
the benchmark site (the listing pages, following the next link, and every
article they link to) and does nothing else: no extraction, no items, no
database. Run outside the project, with Scrapy's default settings plus those
the benchmark sets for both crawls:

    scrapy runspider bench/baseline_spider.py -a start_url=http://127.0.0.1:PORT/news/

With ``-a follow=false`` it fetches the start page alone (and robots.txt):
the pages a crawl that finds nothing new fetches (bench/crawl_cost.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import scrapy
from scrapy.http import Response

# The selectors of newscrawl's definition of the site (news_site.site_definition).
ARTICLE_LINKS = ".teaser h2 a::attr(href)"
NEXT_PAGE = "a.next::attr(href)"


class BaselineSpider(scrapy.Spider):
    name = "baseline"

    def __init__(self, start_url: str, follow: str = "true", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start_url = start_url
        self.follow = follow.lower() != "false"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(self.start_url, callback=self.parse_listing)

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        if not self.follow:
            return
        for href in response.css(ARTICLE_LINKS).getall():
            # Article pages before further listing pages, as newscrawl orders them.
            yield response.follow(href, callback=self.parse_article, priority=10)
        for href in response.css(NEXT_PAGE).getall()[:1]:
            yield response.follow(href, callback=self.parse_listing)

    def parse_article(self, response: Response) -> None:
        self.crawler.stats.inc_value("baseline/article_pages")
