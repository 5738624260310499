"""One row per story across changing crawls: canonical URLs, incremental
crawling with revisits, revisions, duplicates. A test site on 127.0.0.1
changes between crawls; the server's request log shows what was fetched."""

from __future__ import annotations

import time

import pytest
from support.processes import scrapy_crawl
from support.sites import ScriptedSite, listing_html
from support.stories import article_html, story

# Every test here crawls a site on 127.0.0.1 or runs newscrawl crawl.
pytestmark = pytest.mark.e2e

SITES = """\
name: paper
base_url: {url}/
revisit: [1s]
urls:
  trailing_slash: remove
  tracking_params: [ref]
listing:
  start_urls: [/news/]
  article_links: 'ul.news a::attr(href)'
  next_page: 'a[rel="next"]::attr(href)'
article:
  body: 'div.story'
  published: {{css: time, attr: datetime}}
"""
WIRE = """\
name: wire
base_url: {url}/wire/
listing:
  start_urls: [/wire/]
  article_links: 'ul.news a::attr(href)'
article:
  body: 'div.story'
"""
OLD = "2020-05-0{}T10:00:00+00:00"


@pytest.fixture
def paper(tmp_path, monkeypatch, database_url):
    site = ScriptedSite()
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "paper.yaml").write_text(SITES.format(url=site.url))
    (folder / "wire.yaml").write_text(WIRE.format(url=site.url))
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    yield site
    site.close()


def publish_version_1(site: ScriptedSite) -> None:
    for n in (1, 2, 4, 6):
        site.page(f"/a/{n}", article_html(f"Story {n}", story(n), OLD.format(n)))
    # Story 3 shows no date: it is revisited by the time newscrawl first saw it.
    site.page("/a/3", article_html("Story 3", story(3), None))
    # Story 5 is story 1 from a wire service, with its own intro line.
    site.page("/a/5", article_html("Story 5", ["From the wire desk.", *story(1)], OLD.format(5)))
    # Story 7 is linked through an AMP variant whose page names the real URL.
    site.page("/a/7?view=amp", article_html("Story 7", story(7), OLD.format(7), "/a/7"))
    site.page("/a/7", article_html("Story 7", story(7), OLD.format(7)))
    site.page(
        "/news/",
        listing_html(
            [
                "/a/1",
                "/a/2?utm_source=feed&ref=home",
                "/a/2/",
                "/a/3#comments",
                "/a/4?ref=x",
                "/a/5",
            ],
            next_page="/news/2",
        ),
    )
    site.page("/news/2", listing_html(["/a/6", "/a/7?view=amp"]))
    site.page("/wire/", listing_html(["/wire/s/1"]))
    site.page("/wire/s/1", article_html("Wire: story 1", story(1), OLD.format(1)))


def crawl(spider_site: str, *args: str) -> None:
    # AutoThrottle off: what is fetched is the subject here, not how fast.
    proc = scrapy_crawl(
        "articles", "-a", f"site={spider_site}", "-s", "AUTOTHROTTLE_ENABLED=False", *args
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def article_paths(fetched: list[str]) -> list[str]:
    return sorted(p for p in fetched if p.startswith(("/a/", "/wire/s/")))


def test_one_row_per_story_across_changing_crawls(paper, archive):
    site = paper
    publish_version_1(site)

    # First crawl: every story once, whatever link variant led to it.
    crawl("paper")
    rows = archive.rows("select id, url, version, duplicate_of from articles order by url")
    urls = [r["url"] for r in rows]
    assert urls == [f"{site.url}/a/{n}" for n in range(1, 8)]
    ids = {r["url"].rsplit("/", 1)[1]: r["id"] for r in rows}
    dup = {r["url"].rsplit("/", 1)[1]: r["duplicate_of"] for r in rows}
    # Stories 1 and 5 are one story: whichever was stored second points at the first.
    first, second = sorted(["1", "5"], key=ids.get)
    assert dup == {"1": None, "2": None, "3": None, "4": None, "5": None, "6": None, "7": None} | {
        second: ids[first]
    }
    # The AMP variant is remembered, so it is not fetched again later.
    assert archive.scalar("select count(*) from article_aliases") == 1

    # A copy on another site is a duplicate too, pointing at the first.
    crawl("wire")
    wire = archive.rows("select duplicate_of from articles where site = 'wire'")
    assert wire == [{"duplicate_of": ids[first]}]

    # The site changes: two new stories on top, story 3 corrected.
    site.page("/a/8", article_html("Story 8", story(8), OLD.format(8)))
    site.page("/a/9", article_html("Story 9", story(9), OLD.format(9)))
    corrected = story(3)
    corrected[1] = "A corrected paragraph replaces the second one entirely."
    site.page("/a/3", article_html("Story 3, corrected", corrected, None))
    site.page(
        "/news/",
        listing_html(
            ["/a/8", "/a/9", "/a/1", "/a/2?utm_source=feed", "/a/3", "/a/4", "/a/5"],
            next_page="/news/2",
        ),
    )
    # Story 3 is due for its revisit one second after it was first seen.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and time.time() < first_seen(archive, "3") + 1.5:
        time.sleep(0.1)

    mark = len(site.request_log)
    crawl("paper")
    fetched = site.fetched(mark)
    # New stories and the due revisit only; the listing's second page is read
    # (the first brought something new), then pagination stops.
    assert article_paths(fetched) == ["/a/3", "/a/8", "/a/9"]
    assert [p for p in fetched if p.startswith("/news/")] == ["/news/", "/news/2"]
    assert archive.scalar("select count(*) from articles where site = 'paper'") == 9
    story3 = archive.rows("select * from articles where url like '%/a/3'")[0]
    assert (story3["version"], story3["title"]) == (2, "Story 3, corrected")
    revisions = archive.rows("select * from article_revisions")
    assert [(r["article_id"], r["version"], r["title"]) for r in revisions] == [
        (ids["3"], 1, "Story 3")
    ]
    assert story(3)[1] in revisions[0]["body"]
    run = archive.rows("select * from crawl_runs order by id desc limit 1")[0]
    assert (run["articles_new"], run["articles_updated"], run["articles_unchanged"]) == (2, 1, 0)
    assert run["pages_skipped_known"] == 6  # /a/1, 2, 4, 5 on page 1; /a/6, 7 on page 2

    # Third crawl, nothing new: the first listing page and nothing else.
    mark = len(site.request_log)
    crawl("paper")
    assert site.fetched(mark) == ["/robots.txt", "/news/"]
    assert archive.scalar("select count(*) from articles") == 10
    run = archive.rows("select * from crawl_runs order by id desc limit 1")[0]
    assert (run["articles_new"], run["articles_updated"], run["pages_skipped_known"]) == (0, 0, 7)


def first_seen(archive, n: str) -> float:
    from datetime import datetime

    value = archive.scalar("select first_seen_at from articles where url like :u", u=f"%/a/{n}")
    return datetime.fromisoformat(str(value) + "+00:00").timestamp()


def test_backfill_arguments_bound_the_crawl(paper, archive):
    site = paper
    dated = {n: f"2021-09-{10 + n:02d}T12:00:00+00:00" for n in range(1, 7)}
    for n, when in dated.items():
        site.page(f"/a/{n}", article_html(f"Story {n}", story(n), when))
    site.page("/news/", listing_html(["/a/6", "/a/5"], next_page="/news/2"))
    site.page("/news/2", listing_html(["/a/4", "/a/3"], next_page="/news/3"))
    site.page("/news/3", listing_html(["/a/2", "/a/1"]))

    crawl("paper", "-a", "pages=2")
    assert archive.scalar("select count(*) from articles") == 4
    assert "/news/3" not in site.request_log

    # A date range: only articles published in it are kept.
    crawl("paper", "-a", "since=2021-09-12", "-a", "until=2021-09-13")
    kept = archive.rows("select url from articles order by url")
    assert [r["url"].rsplit("/", 1)[1] for r in kept] == ["2", "3", "4", "5", "6"]
    assert archive.scalar("select count(*) from rejected_items") == 0

    # refetch: known articles fetched again, counted unchanged.
    mark = len(site.request_log)
    crawl("paper", "-a", "refetch=true", "-a", "pages=1")
    assert article_paths(site.fetched(mark)) == ["/a/5", "/a/6"]
    run = archive.rows("select * from crawl_runs order by id desc limit 1")[0]
    assert (run["articles_unchanged"], run["pages_skipped_known"]) == (2, 0)


def test_bad_backfill_argument_is_a_clear_error(paper, archive):
    proc = scrapy_crawl("articles", "-a", "site=paper", "-a", "since=soonish")
    assert proc.returncode != 0
    assert "-a since= takes a date (2024-03-05), an ISO-8601 time" in proc.stderr
    assert "got 'soonish'" in proc.stderr


def test_bad_date_option_of_newscrawl_crawl_names_the_option(paper):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", "paper", "--until", "soon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "argument --until: expected a date (2024-03-05), an ISO-8601 time" in proc.stderr
    assert paper.request_log == []  # nothing crawled
