"""Sites crawled from their address alone: feeds, sitemaps and robots.txt
found and followed, every field extracted generically; a news sitemap bounds a
backfill by date; the onboarding commands on a live test site."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml
from support.processes import scrapy_crawl
from support.sites import ScriptedSite
from support.stories import story

TITLES = {n: f"Ferry timetable change number {n} announced for the spring" for n in range(1, 9)}


def jsonld_article(n: int, published: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": TITLES[n],
        "datePublished": published,
        "author": {"@type": "Person", "name": f"Reporter {n}"},
        "articleSection": "Transport",
    }
    paragraphs = "".join(f"<p>{p}</p>" for p in story(100 + n))
    return (
        f"<html><head><title>{TITLES[n]} | Bay Gazette</title>"
        f'<meta property="og:type" content="article">'
        f'<script type="application/ld+json">{json.dumps(data)}</script></head>'
        f'<body><nav><a href="/">Home</a> <a href="/tag/ferries/">Ferries</a></nav>'
        f'<h1>{TITLES[n]}</h1><article><div class="c">{paragraphs}</div></article>'
        f"<footer>© Bay Gazette</footer></body></html>"
    )


def date_of(n: int) -> str:
    return f"2024-03-{n:02d}T08:00:00+00:00"


def feed(ns: list[int]) -> str:
    items = "".join(
        f"<item><title>{TITLES[n]}</title><link>/2024/03/ferry-{n}</link>"
        f"<pubDate>{n:02d} Mar 2024 08:00:00 GMT</pubDate></item>"
        for n in ns
    )
    channel = f"<channel><title>Gazette</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def news_sitemap(base: str, ns: list[int]) -> str:
    urls = "".join(
        f"<url><loc>{base}/2024/03/ferry-{n}</loc><news:news><news:publication>"
        f"<news:name>Gazette</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{date_of(n)}</news:publication_date>"
        f"<news:title>{TITLES[n]}</news:title></news:news></url>"
        for n in ns
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + "</urlset>"
    )


@pytest.fixture
def gazette(tmp_path, monkeypatch, database_url):
    site = ScriptedSite()
    for n in TITLES:
        site.page(f"/2024/03/ferry-{n}", jsonld_article(n, date_of(n)))
    # The home page links a feed; robots.txt names a sitemap index.
    site.page(
        "/",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        '</head><body><a href="/tag/ferries/">Ferries</a> <a href="/about/">About</a>'
        "</body></html>",
    )
    site.page("/feed.xml", feed([7, 8]), **{"Content-Type": "application/rss+xml"})
    site.page("/robots.txt", f"User-agent: *\nSitemap: {site.url}/sitemap-index.xml\n")
    site.page(
        "/sitemap-index.xml",
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url}/news-sitemap.xml</loc></sitemap></sitemapindex>",
        **{"Content-Type": "application/xml"},
    )
    site.page(
        "/news-sitemap.xml",
        news_sitemap(site.url, [1, 2, 3, 4, 5, 6]),
        **{"Content-Type": "application/xml"},
    )
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "gazette.yaml").write_text(f"name: gazette\nbase_url: {site.url}/\n")
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    yield site
    site.close()


@pytest.mark.e2e
def test_a_minimal_definition_crawls_through_feeds_and_sitemaps(gazette, archive):
    proc = scrapy_crawl("articles", "-a", "site=gazette")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = archive.rows("select * from articles order by url")
    assert [r["url"].rsplit("-", 1)[1] for r in rows] == [str(n) for n in range(1, 9)]
    for row in rows:
        n = int(row["url"].rsplit("-", 1)[1])
        assert row["title"] == TITLES[n]
        assert row["body"] == "\n\n".join(story(100 + n))
        assert row["published_at"].startswith(f"2024-03-{n:02d} 08:00")
        assert (row["author"], row["section"]) == (f"Reporter {n}", "Transport")
        assert json.loads(row["sources"])["title"] in ("selector", "jsonld")
        assert json.loads(row["sources"])["published_at"] == "jsonld"
    assert "/feed.xml" in gazette.request_log and "/news-sitemap.xml" in gazette.request_log
    assert "/about/" not in gazette.request_log  # not shaped like an article
    run = archive.rows("select * from crawl_runs")[0]
    assert (run["status"], run["articles_new"], run["items_rejected"]) == ("finished", 8, 0)


@pytest.mark.e2e
def test_a_news_sitemap_bounds_a_backfill_by_date(gazette, archive):
    mark = len(gazette.request_log)
    proc = scrapy_crawl(
        "articles", "-a", "site=gazette", "-a", "since=2024-03-02", "-a", "until=2024-03-04"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    fetched = sorted(p for p in gazette.request_log[mark:] if p.startswith("/2024/"))
    # Only the range's articles are fetched: the sitemap's dates decide, no pagination walked.
    assert fetched == ["/2024/03/ferry-2", "/2024/03/ferry-3", "/2024/03/ferry-4"]
    urls = [
        r["url"].rsplit("-", 1)[1] for r in archive.rows("select url from articles order by url")
    ]
    assert urls == ["2", "3", "4"]


def newscrawl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.e2e
def test_sites_check_reports_each_field_and_its_source(gazette, tmp_path, monkeypatch):
    folder = tmp_path / "check"
    folder.mkdir()
    (folder / "gazette.yaml").write_text(
        f"name: gazette\nbase_url: {gazette.url}/\n"
        "article:\n  title: h1\n  body: 'div.gone'\n  author: '.byline'\n"
    )
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    proc = newscrawl("sites", "check", "gazette", f"{gazette.url}/2024/03/ferry-3", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    fields = report["fields"]
    assert fields["title"] == {"value": TITLES[3], "source": "selector", "verdict": "ok"}
    assert fields["body"]["verdict"] == "rules matched nothing; fell back to generic"
    assert fields["author"]["verdict"] == "rules matched nothing; fell back to jsonld"
    assert fields["published_at"]["verdict"] == "no rules; found by jsonld"
    table = newscrawl("sites", "check", "gazette", f"{gazette.url}/2024/03/ferry-3")
    assert "rules that matched nothing: body, author" in table.stdout


@pytest.mark.e2e
def test_sites_new_drafts_a_working_definition(gazette, tmp_path, monkeypatch):
    gazette.page(
        "/",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>'
        "<body>"
        + "".join(f'<a href="/2024/03/ferry-{n}">x</a>' for n in TITLES)
        + "</body></html>",
    )
    folder = tmp_path / "drafts"
    folder.mkdir()
    proc = newscrawl(
        "sites", "new", f"{gazette.url}/", "--name", "draft", "-o", str(folder / "draft.yaml")
    )
    assert proc.returncode == 0, proc.stderr
    draft = yaml.safe_load((folder / "draft.yaml").read_text())
    assert draft["listing"]["feeds"] == [f"{gazette.url}/feed.xml"]
    assert draft["listing"]["sitemaps"] == [f"{gazette.url}/sitemap-index.xml"]
    pattern = re.compile(draft["listing"]["article_url_pattern"])
    assert pattern.search(f"{gazette.url}/2024/03/ferry-12")
    assert not pattern.search(f"{gazette.url}/tag/ferries/")
    assert draft["article"]["body"] == "article"
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    check = newscrawl("sites", "check", "draft", f"{gazette.url}/2024/03/ferry-5", "--json")
    assert check.returncode == 0, check.stderr + check.stdout
    assert json.loads(check.stdout)["fields"]["body"]["verdict"] == "ok"


def test_feed_and_sitemap_parsers_read_the_common_forms():
    import gzip

    from crawler.extraction.discovery import looks_like_article_url, parse_feed, parse_sitemap

    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link rel="alternate" href="/a/1"/>'
        b"<published>2024-03-01T10:00:00Z</published></entry><entry>"
        b'<link rel="enclosure" href="/x.mp3"/><link href="/a/2"/></entry></feed>'
    )
    entries = parse_feed(atom, "https://g.example/feed")
    assert [e.url for e in entries] == ["https://g.example/a/1", "https://g.example/a/2"]
    assert entries[0].published.isoformat() == "2024-03-01T10:00:00+00:00"
    urlset = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://g.example/a/3'
        b"</loc><lastmod>2024-03-02</lastmod></url></urlset>"
    )
    pages, children = parse_sitemap(gzip.compress(urlset), "https://g.example/s.xml.gz")
    assert [(p.url, p.published.date().isoformat(), p.is_news) for p in pages] == [
        ("https://g.example/a/3", "2024-03-02", False)
    ]
    assert children == []
    assert parse_feed(b"<html>not a feed", "https://g.example/") == []
    assert parse_sitemap(b"\x1f\x8bbroken", "https://g.example/") == ([], [])
    assert looks_like_article_url("https://g.example/2024/03/05/harbour-vote")
    assert looks_like_article_url("https://g.example/news/12345678")
    assert looks_like_article_url("https://g.example/politics/harbour-vote-delayed-again")
    assert not looks_like_article_url("https://g.example/tag/harbour-vote-delayed-again")
    assert not looks_like_article_url("https://g.example/politics/")
    assert not looks_like_article_url("https://g.example/2024/03/photo-of-the-day.jpg")
