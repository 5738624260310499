"""Generic extraction cleans what a definition's rules would: a leading
dateline that is the publication's own name is removed (a place dateline
stays), the publication time the page shows is kept to the minute in UTC, and
a date without a time is stored as a date, not as an exact-looking midnight."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from support.processes import scrapy_crawl
from support.sites import ScriptedSite
from support.stories import story

from crawler.extraction.cleaning import clean_article
from crawler.extraction.dates import read_date
from crawler.extraction.rules import extract_article
from crawler.sites.definitions import Site

AMT = timezone(timedelta(hours=4))  # Armenia time, as the pages below print it


def site_of(url: str, **fields: str) -> Site:
    return Site.model_validate({"name": "page", "base_url": url, **fields})


def generic(html: str, url: str, **fields: str):
    site = site_of(url.split("/", 3)[0] + "//" + url.split("/")[2] + "/", **fields)
    return clean_article(extract_article(html, url, site), site)


# ----------------------------------------------------------------- a PanARMENIAN-style site

STORIES = {
    # id: (headline, when the page says it was published, or a date alone)
    301001: (
        "Yerevan opens a new tram depot after two years of works",
        datetime(2021, 9, 20, 14, 35),
    ),
    301002: (
        "Parliament debates the budget for the coming winter season",
        datetime(2021, 9, 20, 9, 5),
    ),
    301003: (
        "Museum of history reopens its halls to school visitors",
        datetime(2021, 9, 21, 23, 40),
    ),
    301004: ("Border talks resume with a new round of consultations", datetime(2021, 9, 22, 0, 15)),
    301005: ("Regional water project gets funding from the ministry", datetime(2021, 9, 22)),
}
DATE_ONLY = 301005  # its page shows a date and no time


def panarmenian_article(story_id: int) -> str:
    """An article page in PanARMENIAN.Net's old table layout: no metadata but
    og:type and a short og:title, the date and time beside the headline in
    Armenian time, and the body's first paragraph opened by the site's name."""
    title, when = STORIES[story_id]
    shown = (
        when.strftime("%B %d, %Y")
        if story_id == DATE_ONLY
        else when.strftime("%B %d, %Y - %H:%M") + " AMT"
    )
    paragraphs = story(story_id)
    paragraphs[0] = "PanARMENIAN.Net - " + paragraphs[0]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title} - PanARMENIAN.Net</title>"
        '<meta property="og:type" content="article">'
        f'<meta property="og:title" content="{title[:24]}"></head><body>'
        '<table width="100%"><tr><td class="header"><a href="/">PanARMENIAN.Net</a></td></tr>'
        '<tr><td class="single_content">'
        f'<h1 class="news_title">{title}</h1>'
        f'<div class="news_info"><span class="date">{shown}</span></div>'
        f'<div class="article_body font11">{body}'
        '<div class="top_news_block"><h3>Top stories</h3><ul>'
        '<li><a href="/eng/news/301001/">Tram depot</a></li></ul></div></div>'
        '</td><td class="sidebar">Most read</td></tr></table></body></html>'
    )


@pytest.fixture
def panarmenian(tmp_path, monkeypatch, database_url):
    site = ScriptedSite()
    links = "".join(f'<li><a href="/eng/news/{n}/">{t}</a></li>' for n, (t, _) in STORIES.items())
    site.page("/", f"<html><body><h2>News</h2><ul>{links}</ul></body></html>")
    for n in STORIES:
        site.page(f"/eng/news/{n}/", panarmenian_article(n))
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "panarmenian.yaml").write_text(f"name: panarmenian\nbase_url: {site.url}/\n")
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    yield site
    site.close()


@pytest.mark.e2e
def test_a_minimal_definition_stores_bodies_without_the_dateline_and_times_to_the_minute(
    panarmenian, archive
):
    proc = scrapy_crawl("articles", "-a", "site=panarmenian")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {
        int(r["url"].rstrip("/").rsplit("/", 1)[1]): r
        for r in archive.rows("select * from articles")
    }
    assert sorted(rows) == sorted(STORIES)
    for n, row in rows.items():
        title, when = STORIES[n]
        assert row["title"] == title
        assert row["body"] == "\n\n".join(story(n)), n  # no "PanARMENIAN.Net - "
        stored = datetime.fromisoformat(row["published_at"]).replace(tzinfo=UTC)
        if n == DATE_ONLY:
            # The date as shown, at 00:00 UTC, and marked as a date without a time.
            assert stored == datetime(2021, 9, 22, tzinfo=UTC)
            assert row["published_tz_known"] is None
            assert "2021" in row["published_raw"]
        else:
            assert stored == when.replace(tzinfo=AMT).astimezone(UTC), (n, row["published_raw"])
            assert row["published_raw"].endswith(when.strftime("%H:%M") + " AMT")
            assert row["published_tz_known"] == 1
        assert json.loads(row["sources"])["published_at"] == "generic"


# ----------------------------------------------------------------- datelines

PAGE = """<html><head><title>{title}</title>{head}</head><body>
<nav><a href="/">Home</a> <a href="/world/">World</a></nav>
<h1>Earthquake shakes the valley</h1>{byline}
<div class="story">{body}</div><footer>Contact us</footer></body></html>"""
TEXT = [
    "A strong earthquake shook the valley on Saturday, damaging old buildings and roads "
    "across the region, officials said.",
    "Rescue teams worked through the night to reach villages cut off by landslides, and "
    "the government asked for help from neighbouring countries.",
    "Schools will stay closed until engineers have checked every building, the ministry said.",
]


def page(
    first: str, title: str = "Earthquake shakes the valley", head: str = "", byline: str = ""
) -> str:
    body = "".join(f"<p>{p}</p>" for p in [first + TEXT[0], *TEXT[1:]])
    return PAGE.format(title=title, head=head, byline=byline, body=body)


PUBLISHER = (
    '<script type="application/ld+json">{"@type": "NewsArticle", '
    '"publisher": {"@type": "Organization", "name": "Valley News"}}</script>'
)


@pytest.mark.parametrize(
    ("dateline", "title", "head", "url"),
    [
        (
            "The Valley Courier - ",
            "Earthquake",
            '<meta property="og:site_name" content="The Valley Courier">',
            "https://courier.example/a/1",
        ),
        (
            "(VALLEY NEWS) — ",
            "Earthquake",
            PUBLISHER,
            "https://vn.example/a/1",
        ),
        (
            "Gazette.am: ",
            "Earthquake shakes the valley | Gazette.am",
            "",
            "https://news.example/a/1",
        ),
        ("Gazette: ", "Earthquake", "", "https://www.gazette.example/a/1"),
    ],
    ids=["og-site-name", "jsonld-publisher", "title-suffix", "host"],
)
def test_a_dateline_naming_the_publication_is_removed(dateline, title, head, url):
    article = generic(page(dateline, title, head), url)
    assert article.body == "\n\n".join(TEXT)


@pytest.mark.parametrize(
    "dateline",
    [
        "KATHMANDU, April 25 (Reuters) - ",
        "YEREVAN - ",
        "The Valley Courier reported on Saturday - ",
    ],
)
def test_other_datelines_are_part_of_the_text(dateline):
    head = '<meta property="og:site_name" content="The Valley Courier">'
    article = generic(page(dateline, head=head), "https://www.reuters.com/world/quake-1")
    assert article.body.startswith(dateline.strip())
    assert article.body.endswith(TEXT[-1])


# ----------------------------------------------------------------- times and dates

JSONLD_DATE = (
    '<script type="application/ld+json">{{"@type": "NewsArticle", "datePublished": "{}"}}</script>'
)


def test_a_date_without_a_time_is_stored_as_that_date_not_a_shifted_midnight():
    # The site is four hours ahead of UTC: read as its midnight, the date would
    # become 20:00 the day before.
    article = generic(
        page("", head=JSONLD_DATE.format("2024-03-05")),
        "https://a.example/n/1",
        timezone="Asia/Yerevan",
    )
    assert article.published_at == datetime(2024, 3, 5, tzinfo=UTC)
    assert article.published_tz_known is None
    assert article.published_raw == "2024-03-05"


def test_the_time_shown_beside_the_headline_completes_a_date_only_value():
    byline = '<div class="meta">By Ann Lee | Updated: 05.03.2024, 14:35 Uhr</div>'
    html = page("", head=JSONLD_DATE.format("2024-03-05"), byline=byline)
    article = generic(html, "https://b.example/n/1", timezone="Europe/Berlin", language="de")
    assert article.published_at == datetime(2024, 3, 5, 13, 35, tzinfo=UTC)
    assert article.published_tz_known is False
    assert "14:35" in article.published_raw


def test_a_shown_time_of_another_day_does_not_replace_the_declared_date():
    byline = '<div class="meta">Last updated: March 9, 2024 at 8:10 am</div>'
    html = page("", head=JSONLD_DATE.format("2024-03-05"), byline=byline)
    article = generic(html, "https://c.example/n/1", timezone="America/New_York")
    assert article.published_at == datetime(2024, 3, 5, tzinfo=UTC)


def test_a_declared_time_is_kept_over_the_text():
    byline = '<div class="meta">March 5, 2024 - 09:00</div>'
    html = page("", head=JSONLD_DATE.format("2024-03-05T14:35:00+01:00"), byline=byline)
    article = generic(html, "https://d.example/n/1")
    assert article.published_at == datetime(2024, 3, 5, 13, 35, tzinfo=UTC)
    assert article.published_tz_known is True


def test_a_time_element_without_a_datetime_attribute_is_read_in_the_sites_language():
    byline = "<time>20 septembre 2021 à 14h35</time>"
    article = generic(
        page("", byline=byline), "https://e.example/n/1", timezone="Europe/Paris", language="fr"
    )
    assert article.published_at == datetime(2021, 9, 20, 12, 35, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("2021-09-20", None, datetime(2021, 9, 20, tzinfo=UTC)),
        ("September 20, 2021", None, datetime(2021, 9, 20, tzinfo=UTC)),
        ("20.09.2021", "%d.%m.%Y", datetime(2021, 9, 20, tzinfo=UTC)),
    ],
)
def test_dates_without_a_time_are_read_as_dates(text, fmt, expected):
    parsed = read_date(text, [fmt] if fmt else None, timezone="Pacific/Auckland")
    assert parsed is not None and parsed.date_only and parsed.value == expected


def test_dates_with_a_time_are_not_date_only():
    for text in (
        "2021-09-20T00:00:00",
        "September 20, 2021 - 14:35",
        "Mon, 20 Sep 2021 10:00:00 +0000",
    ):
        parsed = read_date(text, timezone="Asia/Yerevan")
        assert parsed is not None and not parsed.date_only, text


def test_a_date_written_with_dots_is_read_day_first():
    # Without a language, dateparser would read 02.04 as February 4th.
    for text in ("02.04.2024 23:15", "02.04.2024, 23:15 Uhr", "2.4.24 23:15"):
        parsed = read_date(text)
        assert parsed is not None and parsed.value == datetime(2024, 4, 2, 23, 15, tzinfo=UTC)
    assert read_date("4/2/2024 11:15 pm").value == datetime(2024, 4, 2, 23, 15, tzinfo=UTC)


OLD_LAYOUT = """<html><head><title>Valley Courier - {title}</title></head><body>
<table><tr><td class="menu"><a href="/">Home</a></td></tr>
<tr><td><img src="/logo.gif" alt="Valley Courier"></td></tr>
<tr><td class="title"><font size="5"><b>{title}</b></font></td></tr>
<tr><td class="date">Posted: 02.04.2024 23:15 | Local</td></tr>
<tr><td class="text">{text}</td></tr></table>
<p class="small">&copy; 2024 Valley Courier. All rights reserved.</p></body></html>"""


def test_an_old_layout_without_h1_gives_its_headline_and_the_time_beside_it():
    title = "Ferry timetable changes for the summer"
    html = OLD_LAYOUT.format(title=title, text="<br><br>".join(TEXT))
    article = generic(html, "https://f.example/article.php?id=7")
    # The site's name comes first in <title>; the headline is the part shown in bold.
    assert article.title == title
    assert article.published_at == datetime(2024, 4, 2, 23, 15, tzinfo=UTC)


def test_the_author_named_in_the_date_line_beside_the_headline():
    byline = '<div class="when">01 May 2024, 10:35 · Jane Doe</div>'
    article = generic(page("", byline=byline), "https://g.example/stories/1")
    assert article.published_at == datetime(2024, 5, 1, 10, 35, tzinfo=UTC)
    assert article.author == "Jane Doe"
    # A section name beside the date is not a person.
    other = '<div class="when">01 May 2024, 10:35 · Local</div>'
    assert generic(page("", byline=other), "https://g.example/stories/2").author is None


def test_a_label_before_the_shown_date_is_not_read_as_part_of_it():
    byline = '<div class="meta">Erstellt: 05. März 2024, 14:35</div>'
    html = page("", head=JSONLD_DATE.format("2024-03-05"), byline=byline)
    article = generic(html, "https://h.example/n/1", timezone="Europe/Berlin")
    assert article.published_at == datetime(2024, 3, 5, 13, 35, tzinfo=UTC)
    assert article.published_raw == "05. März 2024, 14:35"
