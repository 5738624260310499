"""Pure cleaning functions: headline choice, body rules, dates, URLs, fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.extraction.cleaning import choose_title, clean_body
from crawler.extraction.dates import parse_date
from crawler.extraction.fingerprints import content_fingerprint
from crawler.sites.definitions import ArticleRules
from crawler.sites.urls import canonical_url

FULL = 'Blinken, Cavusoglu hold "relatively long conversation" on Karabakh'


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ([FULL, "Blinken, Cavusoglu hold"], FULL),
        (["Blinken, Cavusoglu hold", FULL], FULL),
        (["Blinken, Cavusoglu hold…", FULL], FULL),
        (["Blinken, Cavusoglu hold ...", FULL], FULL),
        (["Headline", "Site name | Other page"], "Headline"),
        (["Harbour vote", "Harbour vote – The Riverside Courier"], "Harbour vote"),
        (["Harbour vote", "Harbour vote | Courier"], "Harbour vote"),
        (["Harbour vote…", "Harbour vote delayed | Courier"], "Harbour vote delayed | Courier"),
        (["  Spaced\n  headline &amp; more "], "Spaced headline &amp; more"),
        ([], None),
        (["", "  "], None),
    ],
)
def test_full_headline_wins_over_truncated_copy(candidates, expected):
    chosen = choose_title(candidates)
    assert (candidates[chosen].split() if chosen is not None else None) == (
        expected.split() if expected else None
    )


def rules(**kw):
    return ArticleRules.model_validate({"body": "p", **kw})


def test_body_rules_apply_paragraph_by_paragraph():
    body = "\n\n".join(
        [
            "PanARMENIAN.Net - First paragraph.",
            "Second  paragraph,\u00a0with odd spaces.",
            "Advertisement",
            "Top stories",
            "Headline one.",
            "Partner news",
        ]
    )
    cleaned = clean_body(
        body,
        rules(
            strip=[r"^PanARMENIAN\.Net - "],
            drop_paragraphs=["^Advertisement$"],
            truncate_at=["^Top stories$"],
        ),
    )
    assert cleaned == "First paragraph.\n\nSecond paragraph, with odd spaces."


def test_body_that_is_only_boilerplate_becomes_empty():
    assert clean_body("Advertisement", rules(drop_paragraphs=["Advert"])) is None
    assert clean_body(None, rules()) is None


def test_text_is_nfc_normalised():
    decomposed = "Mevlu\u0308t"
    assert clean_body(decomposed, rules()) == "Mevl\u00fct"


@pytest.mark.parametrize(
    ("raw", "formats", "zone", "expected"),
    [
        (
            "September 21, 2021 - 23:40",
            ["%B %d, %Y - %H:%M"],
            "Asia/Yerevan",
            datetime(2021, 9, 21, 19, 40, tzinfo=UTC),
        ),
        ("2021-09-21T23:40:00+04:00", [], "UTC", datetime(2021, 9, 21, 19, 40, tzinfo=UTC)),
        ("2021-09-21T19:40:00Z", [], "Asia/Yerevan", datetime(2021, 9, 21, 19, 40, tzinfo=UTC)),
        ("2021-09-21 23:40", [], "Asia/Yerevan", datetime(2021, 9, 21, 19, 40, tzinfo=UTC)),
        (
            "Tue, 21 Sep 2021 19:40:00 GMT",
            [],
            "Asia/Yerevan",
            datetime(2021, 9, 21, 19, 40, tzinfo=UTC),
        ),
        ("21 сентября 2021, 14:05", [], "Europe/Moscow", datetime(2021, 9, 21, 11, 5, tzinfo=UTC)),
        # A format that does not fit falls through to the general parsers.
        ("2021-09-21", ["%d.%m.%Y"], "UTC", datetime(2021, 9, 21, tzinfo=UTC)),
        ("", [], "UTC", None),
        ("no date here at all", [], "UTC", None),
    ],
)
def test_dates_become_aware_utc(raw, formats, zone, expected):
    assert parse_date(raw, formats, zone, languages=None) == expected


def test_relative_dates_count_from_now():
    now = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    assert parse_date("2 hours ago", [], "UTC", ["en"], now=now) == datetime(
        2024, 3, 5, 10, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a/b/?utm_source=x&b=2&a=1#top", "http://example.com/a/b/?a=1&b=2"),
        ("https://example.com:443/a?fbclid=1&gclid=2&mc_cid=3", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a?q=", "https://example.com/a?q="),
        ("https://example.com/a?q=%ZZ&r=a+b%2Bc", "https://example.com/a?q=%25ZZ&r=a+b%2Bc"),
        ("https://example.com/новости/1?x=ä", "https://example.com/новости/1?x=%C3%A4"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected
    # A canonical URL is its own canonical form (the spider relies on it).
    assert canonical_url(expected) == expected


@pytest.mark.parametrize(
    ("url", "rules", "expected"),
    [
        ("https://x.example/a/1/", {"trailing_slash": "remove"}, "https://x.example/a/1"),
        ("https://x.example/", {"trailing_slash": "remove"}, "https://x.example/"),
        ("https://x.example/a/1", {"trailing_slash": "add"}, "https://x.example/a/1/"),
        ("https://x.example/a/1.html", {"trailing_slash": "add"}, "https://x.example/a/1.html"),
        (
            "https://x.example/a/1?ref=home&id=2",
            {"tracking_params": ["REF"]},
            "https://x.example/a/1?id=2",
        ),
        ("http://www.x.example:80/a", {}, "https://www.x.example/a"),  # base_url is https
        ("http://other.example/a", {}, "http://other.example/a"),  # not the site's host
        ("http://x.example/a", {"force_https": False}, "http://x.example/a"),
    ],
)
def test_site_canonical_url(url, rules, expected):
    from crawler.sites.definitions import Site
    from crawler.sites.urls import site_canonical_url

    site = Site.model_validate(
        {"name": "x", "base_url": "https://x.example/", "article": {"body": "p"}, "urls": rules}
    )
    assert site_canonical_url(url, site) == expected
    assert site_canonical_url(expected, site) == expected


def test_dates_outside_sane_bounds_are_rejected():
    from crawler.extraction.validation import article_problems
    from crawler.items import Article

    now = datetime(2024, 3, 5, tzinfo=UTC)
    ok = Article(url="https://x.example/1", site="x", title="T", body="b" * 200)
    assert article_problems(ok, 100, now) == []
    future = Article(**{**ok.__dict__, "published_at": datetime(2024, 3, 7, tzinfo=UTC)})
    assert article_problems(future, 100, now) == [
        "publication date 2024-03-07 00:00 UTC is in the future"
    ]
    ancient = Article(**{**ok.__dict__, "published_at": datetime(1989, 12, 31, tzinfo=UTC)})
    assert article_problems(ancient, 100, now) == [
        "publication date 1989-12-31 00:00 UTC is before 1990"
    ]
    short = Article(**{**ok.__dict__, "body": "tiny", "title": None})
    assert article_problems(short, 100, now) == [
        "no title found",
        "body too short (4 characters, minimum 100)",
    ]


def test_zone_known_is_recorded():
    from crawler.extraction.dates import read_date

    assert read_date("2021-09-21T23:40:00+04:00", [], "UTC").zone_known is True
    assert read_date("2021-09-21 23:40", [], "Asia/Yerevan").zone_known is False
    assert read_date("21 сентября 2021, 14:05", [], "Europe/Moscow").zone_known is False


def test_fingerprint_ignores_whitespace_only():
    assert content_fingerprint("A  b\n\nc\u00a0d") == content_fingerprint("A b c d")
    assert content_fingerprint("A b c") != content_fingerprint("A b d")
