"""Pages whose declared charset is wrong, or whose bytes are broken: crawled
through Scrapy from a scripted site on 127.0.0.1, read in the crawl process
and in an extraction process (crawler/extraction/reader.py ``decode``)."""

from __future__ import annotations

import random

import pytest
from support.processes import scrapy_crawl
from support.sites import Reply, ScriptedSite, article_html, listing_html, site_definition
from w3lib.encoding import html_to_unicode

from crawler.exceptions import UndecodablePage
from crawler.extraction import reader as page_reader
from crawler.extraction.reader import MAX_REPLACED_SHARE, decode

TITLE = "Депутаты обсудили бюджет города: «расходы на школы вырастут»"
SECOND = "Второй абзац: Ёлки, ёжики и № 5 — всё на месте."
BODY = f"{TITLE}. " * 3 + f"{TITLE}.\n\n{SECOND}"
UTF8 = {"Content-Type": "text/html; charset=utf-8"}
# Extraction processes: "0" reads pages in the crawl process, "1" in another process.
PROCESSES = pytest.mark.parametrize("processes", ["0", "1"])


def russian_page(head: str = "") -> bytes:
    """The Russian article, in windows-1251."""
    return article_html(TITLE, [f"{TITLE}. " * 4, SECOND], head).encode("windows-1251")


def crawl(site: ScriptedSite, links: list[str], processes: str, rejected: int = 0) -> str:
    """Crawl the ``charsets`` site: one listing page at /news/ linking to ``links``,
    of which ``rejected`` are refused (an extraction process answers them with an error)."""
    listing = listing_html(links).encode()
    # With an extraction process, the listing comes late enough for the process
    # to be ready when the articles arrive (else the crawl process reads them).
    site.reply("/news/", Reply(200, listing, delay=3.0 if processes != "0" else 0.0))
    (site.sites_dir / "charsets.yaml").write_text(site_definition("charsets", site.url, ["/news/"]))
    proc = scrapy_crawl(
        "articles",
        "-a",
        "site=charsets",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        f"EXTRACTION_PROCESSES={processes}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for crash in ("Spider error processing", "Error processing", "Traceback"):
        assert crash not in proc.stderr, proc.stderr[-3000:]
    if processes != "0":  # the pages were read there, not in the crawl process
        read = len(links) - rejected
        assert f"'newscrawl/extraction_processes/pages': {read}" in proc.stderr
        assert "'newscrawl/extraction_processes/broken'" not in proc.stderr
    return proc.stderr


def stored(archive) -> dict[str, dict]:
    return {r["url"].rsplit("/", 1)[1]: r for r in archive.rows("select * from articles")}


@PROCESSES
def test_a_windows_1251_page_served_as_utf8_is_stored_as_written(site, archive, processes):
    site.raw("/a/mislabelled", russian_page(), UTF8)

    log = crawl(site, ["/a/mislabelled"], processes)

    article = stored(archive)["mislabelled"]
    assert (article["title"], article["body"]) == (TITLE, BODY)
    assert "\ufffd" not in article["title"] + article["body"]
    assert (
        f"mislabelled charset: {site.url}/a/mislabelled declares utf-8, which does not "
        "decode it; decoded as cp1251 (detected from its bytes)"
    ) in log
    assert "'newscrawl/charset_mislabelled': 1" in log
    assert archive.scalar("select count(*) from rejected_items") == 0


@PROCESSES
def test_the_pages_own_meta_charset_wins_over_a_wrong_header(site, archive, processes):
    site.raw("/a/meta", russian_page('<meta charset="windows-1251">'), UTF8)
    site.raw(
        "/a/http-equiv",
        russian_page('<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'),
        UTF8,
    )

    log = crawl(site, ["/a/meta", "/a/http-equiv"], processes)

    articles = stored(archive)
    for name in ("meta", "http-equiv"):
        assert (articles[name]["title"], articles[name]["body"]) == (TITLE, BODY)
        assert (
            f"{site.url}/a/{name} declares utf-8, which does not decode it; "
            "decoded as cp1251 (its <meta> declaration)"
        ) in log
    assert "'newscrawl/charset_mislabelled': 2" in log


@PROCESSES
def test_undecodable_bytes_are_rejected_and_a_stray_byte_is_kept(site, archive, processes):
    rng = random.Random(1251)
    noise = [bytes(rng.randrange(256) for _ in range(400)) for _ in range(3)]
    site.raw(
        "/a/noise",
        b"<html><head><title>Noise</title></head><body><h1>Noise</h1><div class='story'>"
        + b"".join(b"<p>" + n + b"</p>" for n in noise)
        + b"</div></body></html>",
        UTF8,
    )
    # A UTF-8 page with one broken byte: kept as UTF-8, one U+FFFD, no mojibake.
    text = "Le café “Au bon accueil” rouvre: naïve façade, crème brûlée à 5 €. " * 4
    stray = article_html("Café rouvert", [text, "Deuxième paragraphe."]).encode()
    at = stray.index(b"rouvre")
    site.raw("/a/stray", stray[:at] + b"\xff" + stray[at:], UTF8)

    log = crawl(site, ["/a/noise", "/a/stray"], processes, rejected=1)

    articles = stored(archive)
    assert sorted(articles) == ["stray"]
    body = articles["stray"]["body"]
    assert body.count("\ufffd") == 1
    assert body.replace("\ufffd", "") == f"{text.strip()}\n\nDeuxième paragraphe."
    assert "'newscrawl/charset_bad_bytes_kept': 1" in log
    rejected = archive.rows("select url, stage, reason from rejected_items")
    assert [(r["url"], r["stage"]) for r in rejected] == [(f"{site.url}/a/noise", "fetch")]
    assert rejected[0]["reason"].startswith("cannot decode the page: ")
    assert rejected[0]["reason"].endswith(
        "of its text is not utf-8 (declared), and no other charset decodes it"
    )
    assert "charset_mislabelled" not in log


# --------------------------------------------------------------------------- decode() itself


class NoMatch:
    def best(self) -> None:
        return None


def test_a_clean_page_is_decoded_as_before_without_the_detector(monkeypatch):
    import charset_normalizer

    def no_detector(*args, **kwargs):
        raise AssertionError("the detector was asked about a page its charset decodes")

    monkeypatch.setattr(charset_normalizer, "from_bytes", no_detector)
    pages = [
        ("Grüße, “quotes” — and € 5".encode(), "utf-8"),
        (russian_page(), "cp1251"),
        ("\ufeffhé".encode(), "cp1252"),  # the byte-order mark wins
        ("hé".encode("utf-16-be"), "utf-16"),
        (b"\x80 euro", "gb18030"),  # w3lib's GB18030 euro sign
        (b"plain", "no-such-charset"),
    ]
    for body, encoding in pages:
        decoded = decode(body, encoding, "https://x.example/a")
        assert decoded.text == html_to_unicode(f"charset={encoding}", body)[1]
        assert (decoded.mislabelled, decoded.replaced) == (False, 0)


def test_bad_bytes_up_to_the_threshold_are_kept_beyond_it_the_page_is_refused(monkeypatch):
    import charset_normalizer

    # No charset detected: the threshold alone decides (a single-byte charset
    # would decode these 0xFF bytes "cleanly").
    monkeypatch.setattr(charset_normalizer, "from_bytes", lambda body: NoMatch())
    words = "plain text " * 100  # 1000 characters of text, without spaces and markup
    limit = int(len(words.replace(" ", "")) * MAX_REPLACED_SHARE)
    kept = decode(f"<p>{words}</p>".encode() + b"\xff" * limit, "utf-8")
    assert (kept.charset, kept.replaced) == ("utf-8", limit)
    with pytest.raises(UndecodablePage, match="not utf-8"):
        decode(f"<p>{words}</p>".encode() + b"\xff" * (limit + 20), "utf-8")
    # An exception that crosses from an extraction process intact.
    import pickle

    error = pickle.loads(pickle.dumps(UndecodablePage("cannot decode the page")))
    assert str(error) == "cannot decode the page"
    assert page_reader.REPLACEMENT == "\ufffd"
