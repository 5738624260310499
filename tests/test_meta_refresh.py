"""Meta-refresh redirects found as Scrapy finds them, without decoding a page
whole (crawler/middlewares/meta_refresh.py)."""

from __future__ import annotations

import random

import pytest
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefresh
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.middlewares.meta_refresh import HEAD_CHARACTERS, MetaRefreshMiddleware

PIECES = [
    "a",
    "é",
    "€",
    "𝄞",
    "<p>",
    "\n",
    '<meta http-equiv="refresh" content="0;url=/moved">',
    '<noscript><meta http-equiv="refresh" content="0;url=/script"></noscript>',
    '<base href="http://other.example/d/">',
    '<!-- <meta http-equiv="refresh" content="1;url=/comment"> -->',
    "&lt;meta http-equiv=&quot;refresh&quot; content=&quot;0;url=/escaped&quot;&gt;",
]
BROKEN = [b"\xe2\x82", b"\xff", b"\xc3", b"\xf0\x9d\x84"]


def pages(count: int):
    """HTML bodies around the size where the first 4,096 characters end, in
    several charsets, some with broken bytes or a byte-order mark."""
    rng = random.Random(7)
    for n in range(count):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(2000, 9000)))
        charset = rng.choice(["utf-8", "utf-8", "cp1252", "latin-1", "utf-16", "shift_jis", None])
        body = text.encode(charset or "utf-8", "replace")
        if n % 3 == 0:
            at = rng.randint(0, len(body))
            body = body[:at] + rng.choice(BROKEN) + body[at:]
        if n % 11 == 0:
            body = b"\xef\xbb\xbf" + body
        content_type = f"text/html; charset={charset}" if charset else "text/html"
        yield body, {"Content-Type": content_type}


@pytest.mark.parametrize("chunk", range(4))
def test_the_same_redirects_as_scrapy(chunk):
    crawler = get_crawler()
    ours = MetaRefreshMiddleware.from_crawler(crawler)
    scrapys = ScrapyMetaRefresh.from_crawler(crawler)
    read_from_the_head = 0
    for n, (body, headers) in enumerate(pages(400)):
        if n % 4 != chunk:
            continue
        url = f"http://news.example/a/{n}"
        mine = HtmlResponse(url, body=body, headers=headers)
        theirs = HtmlResponse(url, body=body, headers=headers)
        head = ours._head(Request(url), mine)
        if head is not None:
            read_from_the_head += 1
            assert head == theirs.text[:HEAD_CHARACTERS]
        a = ours.process_response(Request(url), mine)
        b = scrapys.process_response(Request(url), theirs)
        if isinstance(b, Request):
            assert isinstance(a, Request) and a.url == b.url
        else:
            assert a is mine and b is theirs
    assert read_from_the_head > 20


def test_a_page_with_a_refresh_is_redirected():
    crawler = get_crawler()
    middleware = MetaRefreshMiddleware.from_crawler(crawler)
    body = '<html><head><meta http-equiv="refresh" content="0;url=/moved"></head>' + "é" * 20_000
    response = HtmlResponse(
        "http://news.example/a",
        body=body.encode(),
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    redirected = middleware.process_response(Request("http://news.example/a"), response)
    assert isinstance(redirected, Request)
    assert redirected.url == "http://news.example/moved"
