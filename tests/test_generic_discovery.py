"""Sites with no feed and no sitemap crawled from a minimal definition (a
name and an address): the site's own pagination and the sections of its
main navigation are walked, and no listing page is ever stored.

Four house styles (tests/support/house_styles.py) are served on 127.0.0.1
and crawled for real through Scrapy; the pure parts (the next page, the
sections, the kind of a page) are tested on small pages below.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from support.house_styles import SIZES, house_site
from support.processes import scrapy_crawl
from support.sites import ScriptedSite

from crawler.extraction.discovery import looks_like_article_url
from crawler.extraction.navigation import next_page, section_links
from crawler.extraction.page import Page
from crawler.extraction.page_kind import page_kind


@pytest.fixture
def served(tmp_path, monkeypatch, database_url):
    """Serve a house style on 127.0.0.1 under a minimal definition named ``house``."""
    servers: list[ScriptedSite] = []
    sites = tmp_path / "sites"
    sites.mkdir()
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(sites))
    monkeypatch.setenv("NEWSCRAWL_SPOOL_DIR", str(tmp_path / "spool"))

    def serve(style: str, count: int | None = None, definition: str = ""):
        server = ScriptedSite()
        servers.append(server)
        site = house_site(style, count)
        site.serve(server)
        (sites / "house.yaml").write_text(f"name: house\nbase_url: {server.url}/\n{definition}")
        return server, site

    yield serve
    for server in servers:
        server.close()


def stored_paths(archive, server: ScriptedSite) -> list[str]:
    return [r["url"][len(server.url) :] for r in archive.rows("select url from articles")]


def crawl(*args: str) -> None:
    proc = scrapy_crawl("articles", "-a", "site=house", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.e2e
@pytest.mark.parametrize("style", ["wordpress", "table", "modern", "numbered"])
def test_a_minimal_definition_finds_the_articles_and_stores_no_listing(style, served, archive):
    server, site = served(style)
    crawl()
    paths = stored_paths(archive, server)
    assert len(paths) == len(set(paths))
    listings = sorted(set(paths) - site.articles)
    assert listings == []  # not one archive, category, collection or dossier page
    found = len(set(paths) & site.articles)
    assert found >= math.ceil(0.98 * SIZES[style]), f"{found} of {SIZES[style]}"
    assert found == SIZES[style]  # as measured: every article of each style
    # The stored fields are the article's, not a page of teasers.
    rows = archive.rows("select url, title, body, published_at, author from articles")
    by_path = {r["url"][len(server.url) :]: r for r in rows}
    for story in site.stories[:: len(site.stories) // 10]:
        row = by_path[site.article_path[story.n]]
        assert story.paragraphs[0] in row["body"] and story.paragraphs[-1] in row["body"]
        assert story.excerpt not in row["body"]  # no teaser of another story
        # The table layout's "Valley Courier - headline" and no <h1> too.
        assert row["title"] == story.title
        # Every style shows the time beside the headline ("14 January 2024, 16:42 · Tom
        # Berg" in the numbered one, "Posted: 14.01.2024 16:42" in the table layout).
        stored = datetime.fromisoformat(row["published_at"]).replace(tzinfo=UTC)
        assert stored == story.published
        # The table layout names no author; the others do (numbered: in its date line).
        assert row["author"] == (None if style == "table" else story.author)
    run = archive.rows("select * from crawl_runs")[0]
    assert (run["status"], run["articles_new"], run["items_rejected"]) == (
        "finished",
        SIZES[style],
        0,
    )


@pytest.mark.e2e
def test_the_next_crawl_reads_only_the_new_part(served, archive):
    server, _ = served("wordpress", 120)
    crawl()
    assert len(stored_paths(archive, server)) == 120
    site = house_site("wordpress", 123)  # three new stories on top
    site.serve(server)
    mark = len(server.request_log)
    crawl()
    assert len(stored_paths(archive, server)) == 123
    fetched = server.fetched(mark)
    fetched_articles = [p for p in fetched if p in site.articles]
    assert sorted(fetched_articles) == sorted(site.article_path[n] for n in (121, 122, 123))
    # The home page's walk and each section's stop at their first known page.
    assert "/page/3/" not in fetched
    assert not any("/page/2/" in p for p in fetched if p.startswith("/category/"))


@pytest.mark.e2e
def test_a_walk_cut_short_is_continued_by_the_next_crawl(served, archive):
    server, site = served("numbered")
    crawl("-s", "CLOSESPIDER_ITEMCOUNT=40")
    first = len(stored_paths(archive, server))
    assert 40 <= first < SIZES["numbered"]
    walk = archive.rows("select * from listing_walks")[0]
    assert walk["completed_at"] is None
    crawl()  # an ordinary crawl: the walk goes on past what the first one stored
    assert sorted(stored_paths(archive, server)) == sorted(site.articles)
    walk = archive.rows("select * from listing_walks")[0]
    assert (walk["crawls"], walk["completed_at"] is not None) == (2, True)


@pytest.mark.e2e
def test_pagination_and_sections_are_bounded(served, archive):
    definition = (
        "listing:\n  discover: true\n  start_urls: [/]\n  max_pages: 3\n  max_sections: 0\n"
    )
    server, site = served("wordpress", definition=definition)
    crawl()
    listing_pages = [p for p in server.request_log if p in site.listings]
    home = [p for p in listing_pages if p == "/" or p.startswith("/page/")]
    assert home == ["/", "/page/2/", "/page/3/"]
    assert not any(p.startswith("/category/") for p in listing_pages)
    assert len(stored_paths(archive, server)) == 30  # three pages of ten


# --------------------------------------------------------------------------- next page

BASE = "https://news.example/"


def nxt(html: str, url: str = BASE, language: str = "en") -> str | None:
    return next_page(Page(html, url).selector, url, language)


def test_the_next_page_by_rel_class_and_words():
    assert nxt('<link rel="next" href="/page/2/"><a href="/x">Next</a>') == f"{BASE}page/2/"
    assert nxt('<a href="/more-stuff">More</a><a rel="next" href="?page=2">2</a>') == (
        f"{BASE}?page=2"
    )
    wordpress = (
        '<div class="nav-links"><div class="nav-next"><a href="/">Newer posts</a></div>'
        '<div class="nav-previous"><a href="/page/3/">Older posts</a></div></div>'
    )
    assert nxt(wordpress, f"{BASE}page/2/") == f"{BASE}page/3/"
    assert nxt('<a class="next page-numbers" href="/c/x/page/2/">»</a>') == f"{BASE}c/x/page/2/"
    assert nxt('<a class="LoadMore_button__f6" href="/more/2">Show</a>') == f"{BASE}more/2"
    assert nxt('<a href="list.php?page=2">Next &gt;&gt;</a>', f"{BASE}list.php") == (
        f"{BASE}list.php?page=2"
    )
    assert nxt('<a href="/seite/2">Weiter »</a>', language="de") == f"{BASE}seite/2"
    assert nxt('<a href="/plus-anciens">Suivant</a>', language="fr") == f"{BASE}plus-anciens"
    assert nxt('<a href="/plus-anciens">Suivant</a>') is None  # not English, not numbered
    assert nxt('<a href="/archive/99">Last »</a>') is None
    assert nxt('<a href="https://other.example/page/2/">Next</a>') is None


def test_numbered_pages_go_to_the_page_just_after_this_one():
    numbers = "".join(f'<a href="/news?pg={k}">{k}</a> ' for k in (1, 2, 3, 15))
    assert nxt(numbers, f"{BASE}news") == f"{BASE}news?pg=2"
    window = "".join(f'<a href="/news?pg={k}">{k}</a> ' for k in (1, 4, 6, 15))
    assert nxt(window + "<b>5</b>", f"{BASE}news?pg=5") == f"{BASE}news?pg=6"
    assert nxt(numbers.replace("pg=15", "pg=3"), f"{BASE}news?pg=3") is None  # the last page
    assert nxt('<a href="/latest?offset=20">20</a>', f"{BASE}latest") == f"{BASE}latest?offset=20"
    # Another listing's pages and month archives are not this listing's next page.
    assert nxt('<a href="/sport?pg=2">2</a>', f"{BASE}news") is None
    assert nxt('<a href="/2024/03/">March</a>', f"{BASE}2024/02/") is None


def test_sections_are_the_main_navigation_without_the_furniture():
    html = (
        '<header><nav><a href="/">Home</a><a href="/category/politics/">Politics</a>'
        '<a href="/sport">Sport</a><a href="/about/">About</a><a href="/login">Log in</a>'
        '<a href="/2024/03/05/a-story-in-the-menu-bar">Breaking</a>'
        '<a href="https://shop.example/">Shop</a></nav></header>'
        '<td class="menu"><a href="news.php?cat=3">Culture</a></td>'
        '<footer><nav><a href="/careers-and-more">Careers</a></nav></footer>'
    )
    found = section_links(Page(html, BASE).selector, BASE, limit=20)
    assert found == [f"{BASE}category/politics/", f"{BASE}sport", f"{BASE}news.php?cat=3"]
    assert section_links(Page(html, BASE).selector, BASE, limit=1) == [f"{BASE}category/politics/"]


def test_article_shaped_urls_of_older_scripts():
    assert looks_like_article_url(f"{BASE}article.php?id=1234")
    assert looks_like_article_url(f"{BASE}index.php?option=com_content&view=article&id=12")
    assert not looks_like_article_url(f"{BASE}news.php?cat=3")
    assert not looks_like_article_url(f"{BASE}category.php?id=3")
    assert not looks_like_article_url(f"{BASE}news.php?page=2")


# --------------------------------------------------------------------------- page kind


@pytest.mark.parametrize("style", ["wordpress", "table", "modern", "numbered"])
def test_every_generated_page_is_told_apart(style):
    site = house_site(style, 60)
    for path, html in site.pages.items():
        kind = page_kind(Page(html, f"https://h.example{path}")).kind
        if path in site.articles:
            assert kind == "article", path
        else:
            assert kind != "article", path


def test_the_signals_of_a_listing_and_of_an_article():
    teasers = "".join(
        f'<article><h2><a href="/2024/02/0{k}/story-number-{k}-here/">Story {k}</a></h2>'
        f"<p>{'An excerpt of the story. ' * 6}</p></article>"
        for k in range(10)
    )
    archive = page_kind(Page(f'<body class="archive date">{teasers}</body>', f"{BASE}2024/02/"))
    assert archive.kind == "listing"
    assert "body:archive:+3" in archive.signals and "url:listing:+2" in archive.signals
    text = "".join(f"<p>{'A long sentence of the story itself. ' * 8}</p>" for _ in range(5))
    article = page_kind(
        Page(
            '<head><meta property="og:type" content="article"></head>'
            f'<body class="single single-post postid-12"><h1>Title</h1>{text}</body>',
            f"{BASE}2024/02/01/a-story/",
        )
    )
    assert article.kind == "article"
    collection = page_kind(
        Page(
            '<script type="application/ld+json">{"@type": "CollectionPage"}</script>'
            f"<body>{teasers}</body>",
            f"{BASE}special/all-about-the-harbour-tunnel",
        )
    )
    assert collection.kind == "listing"
    # A page that says nothing and has little structure is left undecided.
    assert page_kind(Page("<body><p>Short.</p></body>", BASE)).kind == "unknown"


# --------------------------------------------------------------------------- sites new


@pytest.mark.e2e
@pytest.mark.parametrize("style", ["wordpress", "table", "modern", "numbered"])
def test_sites_new_drafts_a_definition_that_crawls_like_generic_discovery(
    style, served, archive, tmp_path
):
    import subprocess
    import sys

    import yaml

    from crawler.cli.onboarding import extract_page

    server, site = served(style, 72)  # a few pages of each kind: enough to draft from
    draft = tmp_path / "sites" / "house.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "sites",
            "new",
            f"{server.url}/",
            "--name",
            "house",
            "-o",
            str(draft),
            "--force",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    listing = yaml.safe_load(draft.read_text())["listing"]
    assert listing["start_urls"] == [f"{server.url}/"]
    assert "next_page" in listing or "page_url_template" in listing
    assert "article rules agree with generic extraction on 3 pages" in proc.stderr
    check = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "sites", "check", "house"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr + check.stdout
    crawl()
    paths = stored_paths(archive, server)
    assert sorted(paths) == sorted(site.articles)
    rows = {r["url"][len(server.url) :]: r for r in archive.rows("select * from articles")}
    for story in site.stories[:: len(site.stories) // 8]:
        path = site.article_path[story.n]
        generic = extract_page(site.pages[path], f"{server.url}{path}", None)["fields"]
        row = rows[path]
        assert row["title"] == generic["title"]["value"]
        assert row["author"] == generic["author"]["value"]
        assert (row["published_at"] is None) == (generic["published_at"]["value"] is None)
        assert story.paragraphs[0] in row["body"] and story.paragraphs[-1] in row["body"]
        # No excerpt of another story (WordPress's related posts inside the body
        # element: the draft drops them).
        assert not any(other.excerpt in row["body"] for other in site.stories if other != story)
    if style == "wordpress":
        assert yaml.safe_load(draft.read_text())["article"]["drop"] == ["div.jp-relatedposts"]
