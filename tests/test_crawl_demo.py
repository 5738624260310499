"""Real crawls through Scrapy of the demo site served on 127.0.0.1, asserted on
the SQLite rows a user would query."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from scrapy import signals
from scrapy.utils.test import get_crawler
from support.processes import scrapy_crawl

from crawler.cli.demo_site import (
    ARTICLES,
    CORRECTED_ARTICLE_ID,
    SEED_ARTICLE_ID,
    TOP_STORY_IDS,
    DemoSiteServer,
)
from crawler.cli.main import demo_site_definition
from crawler.spiders.articles import ArticlesSpider
from crawler.storage.queries import recent_corrections

# Every test here crawls through Scrapy.
pytestmark = pytest.mark.e2e

SEED_TITLE = 'Blinken, Cavusoglu hold "relatively long conversation" on Karabakh'
TOP_STORY_TITLES = [
    "The EU does not intend to conduct military exercises with Armenia, Lead Spokesperson "
    "for EU Foreign Affairs and Security Policy Peter Stano says.",
    "Hikmet Hajiyev has said that there is no place for USAID operation in Azerbaijan any longer.",
    "A telephone conversation between Putin and Pashinyan before the CSTO summit is not "
    "planned, Peskov says.",
    "London’s Armenian community has been left feeling “under attack” after the city’s "
    "Genocide monument was vandalised.",
]


def newscrawl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_newscrawl_crawl_stores_the_demo_site(sites_dir, archive, demo_site):
    proc = newscrawl("crawl", "demo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "demo/articles finished" in proc.stdout
    assert "demo/top_stories finished" in proc.stdout

    # Every article of the site, once.
    assert archive.scalar("select count(*) from articles") == len(ARTICLES)

    seed = archive.rows("select * from articles where url like :u", u=f"%/{SEED_ARTICLE_ID}/")[0]
    assert seed["title"] == SEED_TITLE
    paragraphs = seed["body"].split("\n\n")
    assert len(paragraphs) == 6
    assert paragraphs[0].startswith("U.S. Secretary of State Antony J. Blinken")
    assert paragraphs[-1].endswith('making the same offer there," the official said.')
    for boilerplate in ("PanARMENIAN.Net - ", "Top stories", "Partner news", "Stano"):
        assert boilerplate not in seed["body"]
    assert seed["author"] == "Newsroom" and seed["section"] == "Politics"
    assert seed["published_at"].startswith("2021-09-21 19:40")  # 23:40 in Yerevan, in UTC
    assert seed["url"] == f"{demo_site.url}/eng/news/{SEED_ARTICLE_ID}/"

    # The top-stories snapshot: four headlines, ranks 1 to 4, linked to stored articles.
    stories = archive.rows(
        "select t.rank, t.title, t.url, a.url as article_url from top_stories t "
        "left join articles a on a.id = t.article_id order by t.rank"
    )
    assert [s["rank"] for s in stories] == [1, 2, 3, 4]
    assert [s["title"] for s in stories] == TOP_STORY_TITLES
    assert [s["url"] for s in stories] == [f"{demo_site.url}/eng/news/{i}/" for i in TOP_STORY_IDS]
    assert [s["article_url"] for s in stories] == [s["url"] for s in stories]

    runs = archive.rows("select * from crawl_runs order by id")
    assert [(r["spider"], r["status"], r["finish_reason"]) for r in runs] == [
        ("articles", "finished", "finished"),
        ("top_stories", "finished", "finished"),
    ]
    assert runs[0]["articles_new"] == len(ARTICLES)
    assert runs[0]["pages_fetched"] >= len(ARTICLES) + 7  # articles and 7 listing pages
    assert runs[1]["top_story_snapshots"] == 1
    assert all(r["finished_at"] is not None for r in runs)

    # Every stored article has its metadata, dates in UTC.
    missing = archive.scalar(
        "select count(*) from articles where author is null or section is null "
        "or published_at is null or tags = '[]'"
    )
    assert missing == 0


NO_THROTTLE = ("--set", "AUTOTHROTTLE_ENABLED=False")


def test_crawling_twice_adds_no_rows(sites_dir, archive, demo_site):
    assert newscrawl("crawl", "demo", "--spider", "articles", *NO_THROTTLE).returncode == 0
    before = archive.scalar("select count(*) from articles")
    log_start = len(demo_site.request_log)

    # Nothing new: the first listing page only, its ten known articles skipped.
    proc = newscrawl("crawl", "demo", "--spider", "articles", *NO_THROTTLE)
    assert proc.returncode == 0
    assert archive.scalar("select count(*) from articles") == before
    second = archive.rows("select * from crawl_runs order by id desc limit 1")[0]
    assert (second["articles_new"], second["articles_unchanged"]) == (0, 0)
    assert second["pages_skipped_known"] == 10
    fetched = [path for _, path in list(demo_site.request_log)[log_start:]]
    assert sorted(fetched) == ["/eng/news/", "/robots.txt"]

    # --refetch fetches every article again: same rows, all unchanged.
    proc = newscrawl("crawl", "demo", "--spider", "articles", "--refetch", *NO_THROTTLE)
    assert proc.returncode == 0
    assert archive.scalar("select count(*) from articles") == before
    assert archive.scalar("select count(*) from article_revisions") == 0
    third = archive.rows("select * from crawl_runs order by id desc limit 1")[0]
    assert (third["articles_new"], third["articles_unchanged"]) == (0, before)


def test_scrapy_crawl_from_the_repository_root_is_recorded(sites_dir, archive):
    proc = scrapy_crawl("articles", "-a", "site=demo", "-a", "pages=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Two listing pages of ten items each.
    assert archive.scalar("select count(*) from articles") == 20
    run = archive.rows("select * from crawl_runs")[0]
    assert (run["site"], run["spider"], run["status"]) == ("demo", "articles", "finished")
    assert run["arguments"] == '{"pages": "2"}'
    assert "run 1 finished" in proc.stderr

    proc = scrapy_crawl("top_stories", "-a", "site=demo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert archive.scalar("select count(*) from top_stories") == 4
    # The four linked articles were stored from the first listing page: the
    # top-stories crawl knows them and does not fetch them again.
    assert archive.scalar("select count(*) from articles") == 20
    run = archive.rows("select * from crawl_runs where spider = 'top_stories'")[0]
    assert (run["articles_new"], run["pages_skipped_known"]) == (0, 4)
    assert archive.scalar("select count(*) from top_stories where article_id is null") == 0


def test_items_failing_validation_are_kept_as_rejected(sites_dir, archive):
    # The same site with a minimum body length no demo article reaches.
    definition = (sites_dir / "demo.yaml").read_text()
    (sites_dir / "demo.yaml").write_text(
        definition.replace("article:\n", "article:\n  min_body_length: 100000\n", 1)
    )
    proc = scrapy_crawl("articles", "-a", "site=demo", "-a", "pages=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert archive.scalar("select count(*) from articles") == 0
    rejected = archive.rows("select * from rejected_items")
    assert len(rejected) == 10
    assert {r["stage"] for r in rejected} == {"validate"}
    assert all(
        "body too short" in r["reason"] and "minimum 100000" in r["reason"] for r in rejected
    )
    assert all(r["run_id"] == 1 and '"title": ' in r["item"] for r in rejected)
    run = archive.rows("select * from crawl_runs")[0]
    assert (run["items_rejected"], run["articles_new"]) == (10, 0)


def test_unreachable_site_is_a_failed_run(tmp_path, archive, monkeypatch):
    folder = tmp_path / "down"
    folder.mkdir()
    (folder / "down.yaml").write_text(
        "name: down\nbase_url: http://127.0.0.1:9/\n"
        "listing: {start_urls: [/news/]}\narticle: {body: p}\n"
    )
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    proc = newscrawl("crawl", "down", "--set", "RETRY_TIMES=0")
    assert proc.returncode == 1
    run = archive.rows("select * from crawl_runs")[0]
    assert run["status"] == "failed"
    assert "no page could be fetched" in run["finish_reason"]


def test_a_broken_selector_shows_in_extraction_health(sites_dir, archive):
    for _ in range(2):
        proc = scrapy_crawl(
            "articles",
            "-a",
            "site=demo",
            "-a",
            "pages=1",
            "-a",
            "refetch=true",
            "-s",
            NO_THROTTLE[1],
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    # The site "redesigns": the author selector no longer matches.
    definition = (sites_dir / "demo.yaml").read_text()
    assert "author: .news_info .author" in definition
    (sites_dir / "demo.yaml").write_text(
        definition.replace("author: .news_info .author", "author: .byline-gone")
    )
    proc = scrapy_crawl(
        "articles", "-a", "site=demo", "-a", "pages=1", "-a", "refetch=true", "-s", NO_THROTTLE[1]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = archive.rows("select field_fill_rates, health_warnings from crawl_runs order by id")
    assert [r["health_warnings"] for r in runs[:2]] == [None, None]
    before, after = (json.loads(runs[i]["field_fill_rates"]) for i in (0, 2))
    assert before["author"] == after["author"] == 1.0  # the generic fallback still finds it
    assert (before["by_rule"]["author"], after["by_rule"]["author"]) == (1.0, 0.0)
    assert (
        "site demo: the author rules matched in 0% of 10 articles, down from 100%"
        in runs[2]["health_warnings"]
    )
    assert "extraction health: site demo: the author rules matched" in proc.stderr


def test_a_crawl_builds_no_log_record_below_its_log_level(sites_dir):
    """Scrapy's handler would drop them; with the root logger at LOG_LEVEL the
    messages below it (one per response, one per item) are not even built."""
    root = logging.getLogger()
    before = root.level
    try:
        for level in ("WARNING", "DEBUG"):
            root.setLevel(logging.NOTSET)  # as Scrapy's log handler leaves it
            crawler = get_crawler(ArticlesSpider, {"LOG_LEVEL": level})
            spider = ArticlesSpider.from_crawler(crawler, site="demo")
            crawler.signals.send_catch_log(signals.spider_opened, spider=spider)
            engine = logging.getLogger("scrapy.core.engine")
            assert engine.isEnabledFor(logging.INFO) is (level == "DEBUG")
            assert engine.isEnabledFor(logging.WARNING)
    finally:
        root.setLevel(before)


# --------------------------------------------------------------------------
# The correction `newscrawl demo` shows (DemoSiteServer(corrections=True))
# --------------------------------------------------------------------------

WRONG_SENTENCE = "Tickets cost between 2,000 and 45,000 drams, with free entry for schoolchildren."
RIGHT_SENTENCE = "Tickets cost between 2,000 and 4,500 drams, with free entry for schoolchildren."


@pytest.fixture
def corrections_site(tmp_path, monkeypatch):
    """The demo site with its correction, and a sites folder pointing at it."""
    server = DemoSiteServer("127.0.0.1", 0, corrections=True).start()
    folder = tmp_path / "sites"
    folder.mkdir()
    demo_site_definition(folder, server.url + "/")
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    yield server
    server.stop()


def test_a_demo_crawl_ends_with_one_corrected_article(corrections_site, archive, database_url):
    proc = newscrawl("crawl", "demo", *NO_THROTTLE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = archive.rows("select * from crawl_runs order by id")
    assert [(r["spider"], r["articles_new"], r["articles_updated"]) for r in runs] == [
        ("articles", len(ARTICLES), 0),
        ("top_stories", 0, 1),
    ]

    # The articles spider stored the first edition; the top_stories spider
    # followed the story's short link, was redirected to it and found it corrected.
    article_path = f"/eng/news/{CORRECTED_ARTICLE_ID}/"
    assert corrections_site.request_log.paths("GET").count(article_path) == 2
    assert f"/eng/news/{CORRECTED_ARTICLE_ID}" in corrections_site.request_log.paths()

    changed = archive.rows("select * from articles where version > 1")
    assert len(changed) == 1
    article = changed[0]
    assert article["url"] == corrections_site.url + article_path
    assert article["version"] == 2
    assert RIGHT_SENTENCE in article["body"] and "45,000" not in article["body"]
    revisions = archive.rows("select * from article_revisions")
    assert [(r["article_id"], r["version"]) for r in revisions] == [(article["id"], 1)]
    assert revisions[0]["title"] == article["title"]
    assert revisions[0]["body"] == article["body"].replace(RIGHT_SENTENCE, WRONG_SENTENCE)
    aliases = archive.rows("select url from article_aliases")
    assert aliases == [{"url": f"{corrections_site.url}/eng/news/{CORRECTED_ARTICLE_ID}"}]
    # The top story that links it by that short URL points at it.
    [story] = archive.rows("select * from top_stories where url = :url", url=aliases[0]["url"])
    assert story["article_id"] == article["id"]
    assert archive.scalar("select count(*) from top_stories where article_id is null") == 0

    assert [(c["id"], c["title"], c["version"]) for c in recent_corrections(archive.engine)] == [
        (article["id"], article["title"], 2)
    ]

    proc = newscrawl("show", str(article["id"]), "--diff")
    assert proc.returncode == 0, proc.stderr[-3000:]
    diff = proc.stdout[proc.stdout.index("Changes from version 1 to 2") :].splitlines()
    assert f"-{WRONG_SENTENCE}" in diff and f"+{RIGHT_SENTENCE}" in diff
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        f"-{WRONG_SENTENCE}",
        f"+{RIGHT_SENTENCE}",
    ]


def test_a_second_demo_crawl_fetches_no_article_and_keeps_the_correction(
    corrections_site, archive, database_url
):
    assert newscrawl("crawl", "demo", *NO_THROTTLE).returncode == 0
    # A second `newscrawl demo`: a new server on the same port, its article
    # not corrected yet, and the same archive.
    port = corrections_site.port
    corrections_site.stop()
    with DemoSiteServer("127.0.0.1", port, corrections=True) as again:
        proc = newscrawl("crawl", "demo", *NO_THROTTLE)
        assert proc.returncode == 0, proc.stderr[-3000:]
        # Every link is known (the short one as an alias of the stored article).
        assert sorted(again.request_log.paths()) == [
            "/",
            "/eng/news/",
            "/robots.txt",
            "/robots.txt",
        ]
    runs = archive.rows("select * from crawl_runs order by id")[2:]
    assert [(r["articles_new"], r["articles_updated"]) for r in runs] == [(0, 0), (0, 0)]
    assert [r["pages_skipped_known"] for r in runs] == [10, 5]
    assert archive.scalar("select count(*) from article_revisions") == 1
    assert len(recent_corrections(archive.engine, "demo")) == 1
