"""Crawls of a hostile web: servers that fail, stall, reset, lie about
encodings, send what is not a page, send too much, redirect in circles; a
robots.txt and links to other sites. Each test crawls a scripted site on
127.0.0.1 through Scrapy and asserts what the archive and the run row say.
"""

from __future__ import annotations

import gzip
import json
import re

from support.processes import scrapy_crawl
from support.sites import (
    Reply,
    ScriptedSite,
    article_html,
    listing_html,
    paragraphs,
    site_definition,
)

# No politeness delays against our own test server; everything else as configured.
FAST = ("-s", "AUTOTHROTTLE_ENABLED=False")
MAXSIZE = 10 * 1024 * 1024  # DOWNLOAD_MAXSIZE's default


def define(site: ScriptedSite, links: list[str], start_urls: list[str] | None = None) -> None:
    """The ``hostile`` site: one listing page at /news/ linking to ``links``."""
    site.page("/news/", listing_html(links))
    (site.sites_dir / "hostile.yaml").write_text(
        site_definition("hostile", site.url, start_urls or ["/news/"])
    )


def crawl(*settings: str) -> str:
    proc = scrapy_crawl("articles", "-a", "site=hostile", *FAST, *settings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Never a crash: no exception escaped a callback, a middleware or a pipeline.
    for crash in ("Spider error processing", "Error processing", "Error caught on signal handler"):
        assert crash not in proc.stderr, proc.stderr[-3000:]
    return proc.stderr


def stored(archive) -> dict[str, dict]:
    rows = archive.rows("select * from articles")
    return {r["url"].split("/", 3)[3]: r for r in rows}


def last_run(archive) -> dict:
    return archive.rows("select * from crawl_runs order by id desc limit 1")[0]


def story(site: ScriptedSite, path: str, seed: int) -> None:
    site.page(path, article_html(f"Story {seed}", paragraphs(seed)))


def test_server_errors_timeouts_and_resets(site, archive):
    site.reply(
        "/a/flaky", Reply(500, b"busy"), Reply(200, article_html("Flaky", paragraphs(1)).encode())
    )
    site.page("/a/gone-404", "<html><body>Not found</body></html>", status=404)
    site.page("/a/gone-410", "<html><body>Gone</body></html>", status=410)
    site.slow("/a/slow", article_html("Slow", paragraphs(2)), delay=3)
    site.reset("/a/reset")
    site.reply(
        "/a/reset-once",
        Reply(reset=True),
        Reply(200, article_html("Reset once", paragraphs(3)).encode()),
    )
    story(site, "/a/fine", 4)
    define(
        site,
        [
            "/a/flaky",
            "/a/gone-404",
            "/a/gone-410",
            "/a/slow",
            "/a/reset",
            "/a/reset-once",
            "/a/fine",
        ],
    )

    crawl("-s", "DOWNLOAD_TIMEOUT=2")

    # Retried where a retry can help (500, timeout, reset), not for 404 and 410.
    assert sorted(stored(archive)) == ["a/fine", "a/flaky", "a/reset-once"]
    assert stored(archive)["a/flaky"]["title"] == "Flaky"
    counts = {p: site.count(p) for p in ("/a/flaky", "/a/gone-404", "/a/gone-410", "/a/reset-once")}
    assert counts == {"/a/flaky": 2, "/a/gone-404": 1, "/a/gone-410": 1, "/a/reset-once": 2}
    assert site.count("/a/slow") == site.count("/a/reset") == 3  # RETRY_TIMES = 2
    run = last_run(archive)
    assert run["status"] == "finished"
    reason = run["finish_reason"]
    assert reason.startswith(
        "finished; HTTP errors: 404 ×1, 410 ×1; pages given up after retries: 2"
    )
    # (At least: a busy machine may make a quick page time out too.)
    assert re.search(r"timeout ×[3-9]", reason) and re.search(r"connection lost ×[4-9]", reason)
    assert run["articles_new"] == 3 and run["errors"] >= 2
    assert archive.scalar("select count(*) from rejected_items") == 0


CYRILLIC = ("Депутаты обсудили бюджет города: «расходы на школы вырастут»", "Второй абзац.")
LATIN = ("Der Bürgermeister lädt zur Straßenfeier am Flußufer: Eintritt 5 £", "Zweiter Absatz.")
GREEK = ("Η δημοτική αγορά ανοίγει ξανά μετά την ανακαίνιση", "Δεύτερη παράγραφος.")


def encoded_page(text: tuple[str, str], charset: str, head: str = "") -> bytes:
    title, second = text
    return article_html(title, [f"{title}. " * 4, second], head).encode(charset)


def test_encodings_become_correct_unicode(site, archive):
    # windows-1251 and ISO-8859-1 declared only in the HTTP header ...
    site.raw(
        "/a/cyrillic",
        encoded_page(CYRILLIC, "windows-1251"),
        {"Content-Type": "text/html; charset=windows-1251"},
    )
    site.raw(
        "/a/latin",
        encoded_page(LATIN, "iso-8859-1"),
        {"Content-Type": "text/html; charset=ISO-8859-1"},
    )
    # ... and ISO-8859-7 declared only in the page.
    site.raw(
        "/a/greek",
        encoded_page(GREEK, "iso-8859-7", '<meta charset="iso-8859-7">'),
        {"Content-Type": "text/html"},
    )
    define(site, ["/a/cyrillic", "/a/latin", "/a/greek"])

    crawl()

    articles = stored(archive)
    for path, (title, second) in (("a/cyrillic", CYRILLIC), ("a/latin", LATIN), ("a/greek", GREEK)):
        assert articles[path]["title"] == title
        assert articles[path]["body"] == f"{title}. {title}. {title}. {title}.\n\n{second}"
    assert last_run(archive)["finish_reason"] == "finished"


MALFORMED = """<html><head><title>Tables inside tables</title>
<body><table><tr><td><table><tr><td>
<h1>Tables inside tables</h1>
<div class="story"><p>First paragraph of a page whose markup is broken: unclosed
<b>bold and <i>italic <p>Second paragraph, after a paragraph that never closed,
inside a table that never closed either.<p>Third paragraph: the parser keeps going.
</td></tr></table>
"""
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10


def test_broken_pages_are_extracted_or_rejected_with_a_reason(site, archive):
    site.page("/a/malformed", MALFORMED)
    site.page("/a/empty", "")
    # Markup with no element: the fallbacks' libraries cannot parse it and log
    # errors of their own, which are not the crawl's.
    site.page("/a/blank", "<!-- nothing here -->")
    site.raw("/a/report", PDF, {"Content-Type": "application/pdf"})
    site.raw("/a/photo", PNG, {"Content-Type": "image/png"})
    story(site, "/a/fine", 1)
    define(site, ["/a/malformed", "/a/empty", "/a/blank", "/a/report", "/a/photo", "/a/fine"])

    crawl()

    articles = stored(archive)
    assert sorted(articles) == ["a/fine", "a/malformed"]
    malformed = articles["a/malformed"]
    assert malformed["title"] == "Tables inside tables"
    body = malformed["body"].split("\n\n")
    assert body[0].startswith("First paragraph of a page whose markup is broken")
    assert body[-1] == "Third paragraph: the parser keeps going."
    rejected = archive.rows("select url, stage, reason, item from rejected_items order by url")
    assert [(r["url"].rsplit("/", 1)[1], r["stage"], r["reason"]) for r in rejected] == [
        ("blank", "validate", "no title found; no body found"),
        ("empty", "fetch", "empty page (HTTP 200, 0 bytes)"),
        ("photo", "fetch", f"not an HTML page (image/png, {len(PNG)} bytes)"),
        ("report", "fetch", f"not an HTML page (application/pdf, {len(PDF)} bytes)"),
    ]
    assert json.loads(rejected[1]["item"])["url"] == f"{site.url}/a/empty"
    run = last_run(archive)
    assert (run["status"], run["finish_reason"]) == ("finished", "finished")
    assert (run["articles_new"], run["items_rejected"]) == (2, 4)
    assert run["errors"] == 0


def test_oversized_pages_are_refused_and_the_crawl_goes_on(site, archive):
    over = MAXSIZE + 1024 * 1024
    site.huge("/a/huge", over)  # announced by its Content-Length
    site.huge("/a/huge-unannounced", over, declared=False)  # found while downloading
    bomb = gzip.compress(b" " * (MAXSIZE + 1))  # 10 KB that decompress to over 10 MB
    site.raw("/a/bomb", bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip"})
    story(site, "/a/fine", 1)
    define(site, ["/a/huge", "/a/huge-unannounced", "/a/bomb", "/a/fine"])

    crawl()

    assert sorted(stored(archive)) == ["a/fine"]
    assert [site.count(p) for p in ("/a/huge", "/a/huge-unannounced", "/a/bomb")] == [1, 1, 1]
    run = last_run(archive)
    assert run["status"] == "finished"
    assert run["finish_reason"] == f"finished; refused over DOWNLOAD_MAXSIZE ({MAXSIZE} bytes): 3"


def test_redirect_chains_are_followed_and_loops_stopped(site, archive):
    # A moved story: three hops to where it lives now.
    site.redirect("/a/old", "/a/older", 301)
    site.redirect("/a/older", "/a/newer", 302)
    site.redirect("/a/newer", "/a/story", 307)
    story(site, "/a/story", 1)
    site.redirect_chain("/a/loop-1", "/a/loop-2", "/a/loop-1")
    hops = [f"/a/hop/{n}" for n in range(25)]  # more than REDIRECT_MAX_TIMES (20)
    site.redirect_chain(*hops)
    story(site, hops[-1], 2)
    define(site, ["/a/old", "/a/loop-1", hops[0]])

    crawl()

    # Stored once, under the URL the chain ends at; the link that led there is kept.
    assert sorted(stored(archive)) == ["a/story"]
    aliases = archive.rows("select url from article_aliases")
    assert [a["url"] for a in aliases] == [f"{site.url}/a/old"]
    assert [site.count(p) for p in ("/a/loop-1", "/a/loop-2")] == [1, 1]
    assert site.count(hops[21]) == 0 and site.count(hops[20]) == 1
    run = last_run(archive)
    assert run["status"] == "finished"
    assert run["finish_reason"] == (
        "finished; redirect loops not followed: 1; redirect chains cut at REDIRECT_MAX_TIMES: 1"
    )

    # The next crawl knows the old link: nothing is fetched again.
    mark = len(site.request_log)
    crawl()
    assert "/a/old" not in site.fetched(mark)


def test_robots_txt_and_other_domains_are_respected(site, archive):
    site.page(
        "/robots.txt", "User-agent: *\nDisallow: /private/\n", **{"Content-Type": "text/plain"}
    )
    site.page("/private/news/", listing_html(["/a/1"]))
    site.page("/private/more/", listing_html(["/a/1"]))
    story(site, "/a/1", 1)
    story(site, "/private/a/2", 2)
    port = site.url.rsplit(":", 1)[1]
    # The same server under another host name: a request for it would show in its log.
    define(
        site,
        ["/a/1", "/private/a/2", f"http://localhost:{port}/a/elsewhere"],
        # Requests that wait together for robots.txt at the start are checked too.
        start_urls=["/news/", "/private/news/", "/private/more/"],
    )

    crawl()

    fetched = site.fetched()
    assert not [p for p in fetched if p.startswith("/private/")]
    assert "/a/elsewhere" not in fetched
    assert sorted(stored(archive)) == ["a/1"]
    run = last_run(archive)
    assert (run["status"], run["finish_reason"]) == (
        "finished",
        "finished; forbidden by robots.txt: 3",
    )
