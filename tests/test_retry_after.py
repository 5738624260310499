"""Retries that wait (crawler/middlewares/retry_after.py): a 429 or 503 with
Retry-After is asked again no sooner than the server said, one without it
after a growing wait, and an ask beyond RETRY_AFTER_MAX gives the page up.
Crawled through Scrapy from a scripted site on 127.0.0.1 that records when
each request came; only lower bounds on the gaps are asserted."""

from __future__ import annotations

import time
from dataclasses import replace
from email.utils import formatdate
from pathlib import Path

import pytest
from support.processes import scrapy_crawl
from support.sites import Reply, ScriptedSite, article_html, host, listing_html, paragraphs
from support.sites import site_definition as definition

from crawler.middlewares.retry_after import retry_after_seconds


class TimedSite(ScriptedSite):
    """A scripted site that also records when each request came."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[tuple[str, float]] = []

    def _next_reply(self, path: str) -> Reply:
        self.times.append((path, time.monotonic()))
        reply = super()._next_reply(path)
        ahead = reply.headers.get("Retry-After", "")
        if ahead.startswith("now+"):  # an HTTP date that many seconds from now
            date = formatdate(time.time() + float(ahead[4:]), usegmt=True)
            reply = replace(reply, headers={**reply.headers, "Retry-After": date})
        return reply

    def gaps(self, path: str) -> list[float]:
        """Seconds between one request of ``path`` and the next."""
        moments = [t for p, t in self.times if p == path]
        return [b - a for a, b in zip(moments, moments[1:], strict=False)]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str):
    server = host(TimedSite(), tmp_path, monkeypatch)
    yield server
    server.close()


def crawl(site: TimedSite, links: list[str], *settings: str) -> str:
    site.page("/news/", listing_html(links))
    (site.sites_dir / "busy.yaml").write_text(definition("busy", site.url, ["/news/"]))
    proc = scrapy_crawl(
        "articles", "-a", "site=busy", "-s", "AUTOTHROTTLE_ENABLED=False", *settings
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for crash in ("Spider error processing", "Error processing", "Traceback"):
        assert crash not in proc.stderr, proc.stderr[-3000:]
    return proc.stderr


def story(seed: int) -> Reply:
    return Reply(200, article_html(f"Story {seed}", paragraphs(seed)).encode())


def stored(archive) -> list[str]:
    return sorted(r["url"].rsplit("/", 1)[1] for r in archive.rows("select url from articles"))


def finish_reason(archive) -> str:
    return archive.scalar("select finish_reason from crawl_runs order by id desc limit 1")


def test_a_429_is_retried_no_sooner_than_its_retry_after(site, archive):
    site.reply("/a/busy", Reply(429, b"slow down", {"Retry-After": "2"}), story(1))
    site.reply("/a/fine", story(2))

    crawl(site, ["/a/busy", "/a/fine"])

    assert stored(archive) == ["busy", "fine"]
    gaps = site.gaps("/a/busy")
    assert len(gaps) == 1 and gaps[0] >= 1.9, gaps
    assert finish_reason(archive) == "finished"


def test_a_retry_after_date_is_honoured(site, archive):
    # An HTTP date 4 s after the request (whole seconds: 3 or 4 s after its Date header).
    site.reply("/a/maintenance", Reply(503, b"maintenance", {"Retry-After": "now+4"}), story(3))

    crawl(site, ["/a/maintenance"])

    assert stored(archive) == ["maintenance"]
    gaps = site.gaps("/a/maintenance")
    assert len(gaps) == 1 and gaps[0] >= 2.5, gaps


def test_a_retry_after_over_the_cap_gives_the_page_up_at_once(site, archive):
    site.reply("/a/closed", Reply(429, b"come back tomorrow", {"Retry-After": "3600"}), story(4))
    site.reply("/a/fine", story(5))

    log = crawl(site, ["/a/closed", "/a/fine"])

    assert stored(archive) == ["fine"]
    assert site.count("/a/closed") == 1
    assert (
        f"gave up {site.url}/a/closed at once: HTTP 429 asks to retry after 3600 s, "
        "more than RETRY_AFTER_MAX (120 s)"
    ) in log
    assert finish_reason(archive) == (
        "finished; HTTP errors: 429 ×1; pages given up after retries: 1; "
        "given up at once, Retry-After over RETRY_AFTER_MAX: 1"
    )


def test_a_503_without_retry_after_backs_off_exponentially(site, archive):
    site.reply("/a/down", Reply(503, b"down"), Reply(503, b"still down"), story(6))

    crawl(site, ["/a/down"], "-s", "RETRY_BACKOFF_BASE=0.5")

    assert stored(archive) == ["down"]
    gaps = site.gaps("/a/down")
    assert len(gaps) == 2 and gaps[0] >= 0.5 and gaps[1] >= 1.0, gaps  # base, then twice it
    assert finish_reason(archive) == "finished"


def test_retry_after_values():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(" 0 ") == 0
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after_seconds("Wed, 21 Oct 2015 07:29:30 GMT", date) == 90
    assert retry_after_seconds("Wed, 21 Oct 2015 07:27:00 GMT", date) == 0  # already past
    assert retry_after_seconds(formatdate(1000.0, usegmt=True), None, now=970.0) == 30
    for nonsense in ("", "soon", "-5", "1.5", "Wed, 99 Foo 2015"):
        assert retry_after_seconds(nonsense) is None
