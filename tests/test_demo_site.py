"""DemoNews, the bundled demo site: its data, its markup and its HTTP server.

The HTTP tests talk to a real server on 127.0.0.1 through urllib.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import HTTPRedirectHandler, ProxyHandler, Request, build_opener
from zoneinfo import ZoneInfo

import pytest

from crawler.cli.demo_site import (
    ARTICLES,
    ARTICLES_BY_ID,
    CORRECTED_ARTICLE_ID,
    CORRECTION,
    PAGE_SIZE,
    SEED_ARTICLE_ID,
    TIMEZONE,
    TOP_STORY_IDS,
    Correction,
    DemoSiteServer,
    resolve,
)
from crawler.cli.demo_site.content import (
    AUTHORS,
    FIRST_EDITION,
    NEWSROOM,
    SECTIONS,
    TAG_POOL,
    first_sentence,
)

ROOT = Path(__file__).resolve().parents[1]
YEREVAN = ZoneInfo("Asia/Yerevan")

SEED_TITLE = 'Blinken, Cavusoglu hold "relatively long conversation" on Karabakh'
SEED_SHORT_TITLE = "Blinken, Cavusoglu hold"
# sha256 of the seed body (paragraphs joined by blank lines) and of the four
# Top stories headlines (joined by newlines), as published.
SEED_BODY_SHA256 = "0ff83a699f2b49ea8ca7a661af4c37d1665eea5ad624f54842d84d1d87440841"
TOP_TITLES_SHA256 = "d706026e75ba2e2398d8adcfb891944e5f9b4793d4393dae09e6eadd8dab11f9"
TOP_TITLES = (
    "The EU does not intend to conduct military exercises with Armenia, Lead Spokesperson for EU "
    "Foreign Affairs and Security Policy Peter Stano says.",
    "Hikmet Hajiyev has said that there is no place for USAID operation in Azerbaijan any longer.",
    "A telephone conversation between Putin and Pashinyan before the CSTO summit is not planned, "
    "Peskov says.",
    "London’s Armenian community has been left feeling “under attack” after the city’s Genocide "
    "monument was vandalised.",
)


# --------------------------------------------------------------------------
# A tiny strict HTML tree (also checks that every element is closed in order)
# --------------------------------------------------------------------------

VOID = {"meta", "link", "img", "br", "hr", "input"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                    found.append(child)
                found.extend(child.find_all(tag, cls))
        return found

    def find(self, tag: str | None = None, cls: str | None = None) -> Node:
        found = self.find_all(tag, cls)
        assert found, f"no <{tag} class={cls}>"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(markup: str | bytes) -> Node:
    if isinstance(markup, bytes):
        markup = markup.decode("utf-8")
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def item_links(page: Node) -> list[str]:
    return [a.attrs["href"] for a in page.find_all("a", "nevy")]


# --------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = build_opener(ProxyHandler({}), _NoRedirect())


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = Request(url, method=method)
    try:
        with _OPENER.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def site():
    with DemoSiteServer() as server:
        yield server


def get_page(site: DemoSiteServer, path: str) -> Node:
    status, headers, body = fetch(site.url + path)
    assert status == 200, path
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body)
    return parse(body)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def test_articles_shape():
    assert [a.id for a in ARTICLES] == list(range(301000, 301064))
    assert TIMEZONE == "Asia/Yerevan" and PAGE_SIZE == 10
    start = datetime(2021, 9, 12, tzinfo=YEREVAN)
    end = datetime(2021, 9, 25, tzinfo=YEREVAN)
    times = [a.published for a in ARTICLES]
    assert all(start <= t < end and t.utcoffset() is not None for t in times)
    assert times == sorted(times) and len(set(times)) == 64
    gaps = [(b - a).total_seconds() / 3600 for a, b in zip(times, times[1:], strict=False)]
    assert all(2.5 < gap < 5.5 for gap in gaps)
    assert len({t.minute for t in times}) > 4
    for slug, name in SECTIONS:
        members = [a for a in ARTICLES if a.slug_section == slug]
        assert len(members) >= 6 and {a.section for a in members} == {name}
        assert slug == name.lower()
    assert {a.author for a in ARTICLES} <= {*AUTHORS, NEWSROOM}
    assert 6 <= len(AUTHORS) <= 10
    assert 12 <= len(TAG_POOL) <= 18
    assert len({a.title for a in ARTICLES}) == 64
    for article in ARTICLES:
        assert 1 <= len(article.tags) <= 4 and set(article.tags) <= set(TAG_POOL)
        assert article.title.startswith(article.short_title + " ")
        assert len(article.short_title.split()) in (3, 4)
        assert article.paragraphs[0].startswith(article.dateline)
        if article.id != SEED_ARTICLE_ID:
            assert article.dateline == "DemoNews - "
            assert 4 <= len(article.paragraphs) <= 7
            assert all(40 <= len(p.split()) <= 90 for p in article.paragraphs), article.id


def test_seed_article_is_verbatim():
    seed = ARTICLES_BY_ID[SEED_ARTICLE_ID]
    assert seed.title == SEED_TITLE
    assert seed.short_title == SEED_SHORT_TITLE
    assert (seed.section, seed.slug_section, seed.author) == ("Politics", "politics", "Newsroom")
    assert seed.published == datetime(2021, 9, 21, 23, 40, tzinfo=YEREVAN)
    assert seed.tags == ("Karabakh", "USA", "Turkey")
    assert seed.dateline == "PanARMENIAN.Net - "
    assert len(seed.paragraphs) == 6
    body = "\n\n".join(seed.paragraphs)
    assert hashlib.sha256(body.encode()).hexdigest() == SEED_BODY_SHA256
    assert "Mevlüt" in body and "Blinken he Secretary" in body and "countries’" in body
    assert seed.teaser.startswith("U.S. Secretary of State Antony J. Blinken")
    assert seed.teaser.endswith("on Tuesday, September 21.")


def test_top_stories_are_verbatim():
    titles = tuple(ARTICLES_BY_ID[i].title for i in TOP_STORY_IDS)
    assert TOP_STORY_IDS == (301060, 301061, 301062, 301063)
    assert titles == TOP_TITLES
    assert hashlib.sha256("\n".join(titles).encode()).hexdigest() == TOP_TITLES_SHA256
    for story_id in TOP_STORY_IDS:
        story = ARTICLES_BY_ID[story_id]
        assert "This demo article stands in for the wire report" in story.paragraphs[0]
        assert story.teaser == story.title
        assert "“" not in "".join(story.paragraphs[1:])  # no invented quotes


def test_first_sentence():
    assert first_sentence("J. R. Smith met U.S. officials. Then he left.") == (
        "J. R. Smith met U.S. officials."
    )
    assert first_sentence('He said "yes." Then he left.') == 'He said "yes."'
    assert first_sentence("No full stop here") == "No full stop here"


def test_same_bytes_in_a_fresh_process():
    script = (
        "import hashlib\n"
        "from crawler.cli.demo_site import resolve\n"
        "from crawler.cli.demo_site.content import ARTICLES, SECTIONS\n"
        "paths = ['/', '/robots.txt'] + [f'/eng/news/page/{n}/' for n in range(2, 8)]\n"
        "paths += [a.url for a in ARTICLES] + [f'/eng/news/section/{s}/' for s, _ in SECTIONS]\n"
        "digest = hashlib.sha256()\n"
        "for path in paths:\n"
        "    digest.update(resolve(path).body)\n"
        "print(digest.hexdigest())\n"
    )
    expected = hashlib.sha256()
    paths = ["/", "/robots.txt"] + [f"/eng/news/page/{n}/" for n in range(2, 8)]
    paths += [a.url for a in ARTICLES] + [f"/eng/news/section/{s}/" for s, _ in SECTIONS]
    for path in paths:
        expected.update(resolve(path).body)
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.strip() == expected.hexdigest()


# --------------------------------------------------------------------------
# Pages over HTTP
# --------------------------------------------------------------------------


def test_url_and_home_page(site):
    assert site.url == f"http://127.0.0.1:{site.port}" and not site.url.endswith("/")
    page = get_page(site, "/")
    assert page.find("title").text() == "DemoNews - News from the demo newsroom"
    main = page.find("td", "single_content")
    block = main.find("div", "top_stories")
    assert block.attrs["id"] == "top_stories"
    links = block.find_all("a", "ts_link")
    assert [a.attrs["href"] for a in links] == [f"/eng/news/{i}/" for i in TOP_STORY_IDS]
    assert [a.text() for a in links] == list(TOP_TITLES)
    assert len(block.find_all("li", "ts_item")) == 4
    assert item_links(main) == [f"/eng/news/{i}/" for i in range(301063, 301053, -1)]
    assert main.find("a", "all_news").attrs["href"] == "/eng/news/"
    sidebar = page.find("td", "sidebar")
    assert len(sidebar.find_all("a")) == 3
    nav = page.find("div", "nav")
    assert [a.attrs["href"] for a in nav.find_all("a")] == [
        f"/eng/news/section/{slug}/" for slug, _ in SECTIONS
    ]
    footer = page.find("td", "footer").text()
    assert footer == "© DemoNews, a demo site bundled with newscrawl"


def test_listing_item_markup(site):
    page = get_page(site, "/eng/news/page/3/")
    seed = ARTICLES_BY_ID[SEED_ARTICLE_ID]
    item = next(
        i for i in page.find_all("div", "theitem") if i.find("a", "nevy").text() == SEED_TITLE
    )
    assert item.classes == {"theitem", "padding_left_5", "padding_right_5"}
    pic = item.find("div", "pic")
    assert pic.find("a").attrs["href"] == "/eng/news/301042/"
    assert pic.find("img").attrs == {"src": "/img/301042.jpg", "alt": SEED_SHORT_TITLE}
    assert "font12" in item.find("h2").classes
    assert item.find("span", "date").text() == "September 21, 2021 - 23:40"
    assert item.find("div", "teaser").text() == seed.teaser


def test_listing_first_page(site):
    page = get_page(site, "/eng/news/")
    assert len(page.find_all("div", "theitem")) == PAGE_SIZE
    paging = page.find("div", "paging")
    assert not paging.find_all("a", "prev")
    assert paging.find("span", "current").text() == "1"
    assert paging.find("a", "next").attrs["href"] == "/eng/news/page/2/"
    assert paging.find("a", "next").text() == "Next »"


def test_following_next_links_visits_every_article(site):
    path, visited, links = "/eng/news/", [], []
    while path:
        page = get_page(site, path)
        visited.append(path)
        links.extend(item_links(page))
        assert page.find("span", "current").text() == str(len(visited))
        prev = page.find_all("a", "prev")
        if len(visited) > 1:
            assert prev[0].attrs["href"] == visited[-2] and prev[0].text() == "« Previous"
        nxt = page.find_all("a", "next")
        path = nxt[0].attrs["href"] if nxt else None
    assert visited == ["/eng/news/"] + [f"/eng/news/page/{n}/" for n in range(2, 8)]
    assert len(links) == len(set(links)) == 64
    assert links == [f"/eng/news/{i}/" for i in range(301063, 300999, -1)]


def test_section_pages(site):
    seen = []
    for slug, name in SECTIONS:
        path, pages = f"/eng/news/section/{slug}/", 0
        while path:
            page = get_page(site, path)
            pages += 1
            for href in item_links(page):
                assert ARTICLES_BY_ID[int(href.split("/")[3])].slug_section == slug
                seen.append(href)
            nxt = page.find_all("a", "next")
            path = nxt[0].attrs["href"] if nxt else None
            if path:
                assert path == f"/eng/news/section/{slug}/page/{pages + 1}/"
        count = sum(a.slug_section == slug for a in ARTICLES)
        assert pages == -(-count // PAGE_SIZE), (name, pages)
    assert len(seen) == len(set(seen)) == 64


def test_seed_article_page(site):
    page = get_page(site, "/eng/news/301042/")
    head = page.find("head")
    assert head.find("title").text() == f"{SEED_TITLE} - DemoNews"
    metas = {m.attrs.get("property"): m.attrs.get("content") for m in head.find_all("meta")}
    assert metas["og:type"] == "article"
    assert metas["og:title"] == SEED_SHORT_TITLE
    assert head.find("link").attrs == {"rel": "canonical", "href": "/eng/news/301042/"}
    main = page.find("td", "single_content")
    crumbs = main.find("div", "crumbs")
    assert crumbs.find("a", "section").attrs["href"] == "/eng/news/section/politics/"
    assert main.find("h1", "news_title").text() == SEED_TITLE
    pic = main.find("div", "pic")
    assert pic.find("img").attrs["alt"] == SEED_SHORT_TITLE
    assert pic.find("div", "img_title").text() == SEED_SHORT_TITLE
    info = main.find("div", "news_info")
    assert info.find("span", "date").text() == "September 21, 2021 - 23:40"
    assert info.find("span", "author").text() == "Newsroom"

    body = main.find("div", "article_body")
    assert body.classes == {"article_body", "font11"}
    paragraphs = [p.text() for p in body.children if isinstance(p, Node) and p.tag == "p"]
    assert paragraphs == list(ARTICLES_BY_ID[SEED_ARTICLE_ID].paragraphs)
    assert paragraphs[0].startswith("PanARMENIAN.Net - U.S. Secretary of State Antony J. Blinken")
    top = body.find("div", "top_news_block")
    assert top.find("h3").text() == "Top stories"
    assert [a.text() for a in top.find_all("a")] == list(TOP_TITLES)
    assert [a.attrs["href"] for a in top.find_all("a")] == [
        f"/eng/news/{i}/" for i in TOP_STORY_IDS
    ]
    partners = body.find("div", "partner_news")
    assert partners.find("h3").text() == "Partner news"
    partner_links = [a.attrs["href"] for a in partners.find_all("a")]
    assert 2 <= len(partner_links) <= 3
    assert all(h.startswith("https://partner.example.org/") for h in partner_links)

    tags = main.find("div", "tags")
    assert tags.text() == "Tags: Karabakh, USA, Turkey"
    assert [a.attrs for a in tags.find_all("a")] == [
        {"rel": "tag", "href": "/eng/tag/karabakh/"},
        {"rel": "tag", "href": "/eng/tag/usa/"},
        {"rel": "tag", "href": "/eng/tag/turkey/"},
    ]


def test_every_article_page_renders(site):
    for article in ARTICLES:
        status, _, body = fetch(site.url + article.url)
        assert status == 200
        page = parse(body)
        assert page.find("h1", "news_title").text() == article.title
        assert page.find("div", "article_body").find_all("div", "top_news_block")


def test_redirects(site):
    for path, location in [
        ("/eng/news/301042", "/eng/news/301042/"),
        ("/eng/news/301042?ref=x", "/eng/news/301042/?ref=x"),
        ("/eng/news/page/1/", "/eng/news/"),
        ("/eng/news/section/sport/page/1/", "/eng/news/section/sport/"),
    ]:
        status, headers, body = fetch(site.url + path)
        assert (status, headers["Location"]) == (301, location), path
        assert int(headers["Content-Length"]) == len(body)


@pytest.mark.parametrize(
    "path",
    [
        "/eng/news/301064/",
        "/eng/news/299999",
        "/eng/news/page/8/",
        "/eng/news/page/0/",
        "/eng/news/section/weather/",
        "/eng/news/section/sport/page/3/",
        "/img/301042.jpg",
        "/eng/tag/usa/",
        "/favicon.ico",
        "/private",
    ],
)
def test_unknown_pages_are_404(site, path):
    status, headers, body = fetch(site.url + path)
    assert status == 404
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body)
    assert parse(body).find("h1").text() == "404 Not Found"


def test_robots_and_private(site):
    status, headers, body = fetch(site.url + "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body.decode().splitlines() == ["User-agent: *", "Disallow: /private/"]
    status, _, body = fetch(site.url + "/private/payroll/")
    assert status == 200 and b"robots.txt" in body


def test_head_request(site):
    status, headers, body = fetch(site.url + "/eng/news/", method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == len(resolve("/eng/news/").body)


def test_request_log_and_quiet_server(capfd):
    with DemoSiteServer() as server:
        assert server.request_log == []
        fetch(server.url + "/eng/news/?utm=demo")
        fetch(server.url + "/eng/news/301042")
        fetch(server.url + "/nope", method="HEAD")
        assert list(server.request_log) == [
            ("GET", "/eng/news/?utm=demo"),
            ("GET", "/eng/news/301042"),
            ("HEAD", "/nope"),
        ]
        assert server.request_log.paths("HEAD") == ["/nope"]
        server.request_log.clear()
        assert len(server.request_log) == 0
        url = server.url
    server.stop()  # a second stop is harmless
    assert capfd.readouterr().err == ""
    with pytest.raises(OSError):
        fetch(url + "/")
    with pytest.raises(RuntimeError):
        server.start()


# --------------------------------------------------------------------------
# The correction (DemoSiteServer(corrections=True), as `newscrawl demo` serves it)
# --------------------------------------------------------------------------

WRONG, RIGHT = CORRECTION


def paragraphs_of(page: Node) -> list[str]:
    body = page.find("div", "article_body")
    return [p.text() for p in body.children if isinstance(p, Node) and p.tag == "p"]


def test_the_first_edition_differs_in_one_figure_of_one_sentence():
    article, first = ARTICLES_BY_ID[CORRECTED_ARTICLE_ID], FIRST_EDITION
    assert WRONG == "Tickets cost between 2,000 and 45,000 drams"
    assert RIGHT == "Tickets cost between 2,000 and 4,500 drams"
    changed = [
        (old, new)
        for old, new in zip(first.paragraphs, article.paragraphs, strict=True)
        if old != new
    ]
    assert len(changed) == 1
    old, new = changed[0]
    assert old.replace(WRONG, RIGHT) == new and old.count(WRONG) == 1
    # The headline and the teaser stay: listings show the same item before and after.
    assert (first.title, first.teaser) == (article.title, article.teaser)
    assert first.id not in TOP_STORY_IDS and first.id != SEED_ARTICLE_ID


def test_without_corrections_every_page_stays_the_same():
    path = f"/eng/news/{CORRECTED_ARTICLE_ID}/"
    bodies = {resolve(path).body for _ in range(3)}
    assert len(bodies) == 1 and RIGHT.encode() in bodies.pop()
    assert f'href="/eng/news/{CORRECTED_ARTICLE_ID}"'.encode() not in resolve("/").body


def test_the_corrected_article_is_served_first_as_first_published():
    correction = Correction()
    path = f"/eng/news/{CORRECTED_ARTICLE_ID}/"
    # A HEAD request leaves the first edition due; the first GET takes it.
    assert WRONG.encode() in resolve(path, correction, serve=False).body
    first = parse(resolve(path, correction).body)
    assert paragraphs_of(first) == list(FIRST_EDITION.paragraphs)
    for _ in range(2):
        later = parse(resolve(path, correction).body)
        assert paragraphs_of(later) == list(ARTICLES_BY_ID[CORRECTED_ARTICLE_ID].paragraphs)
    # Only that article changes, and no other page does.
    for other in (
        "/eng/news/301042/",
        "/eng/news/",
        "/eng/news/page/2/",
        "/eng/news/section/culture/",
    ):
        assert resolve(other, correction).body == resolve(other).body


def test_the_home_page_lists_the_corrected_article_by_its_short_url():
    block = parse(resolve("/", Correction()).body).find("div", "top_stories")
    links = block.find_all("a", "ts_link")
    assert [a.attrs["href"] for a in links] == [f"/eng/news/{i}/" for i in TOP_STORY_IDS] + [
        f"/eng/news/{CORRECTED_ARTICLE_ID}"
    ]
    assert [a.text() for a in links] == [*TOP_TITLES, ARTICLES_BY_ID[CORRECTED_ARTICLE_ID].title]
    # The short URL redirects to the article.
    response = resolve(f"/eng/news/{CORRECTED_ARTICLE_ID}", Correction())
    assert (response.status, response.location) == (301, f"/eng/news/{CORRECTED_ARTICLE_ID}/")


def test_a_server_with_corrections_corrects_after_the_first_request():
    with DemoSiteServer(corrections=True) as server:
        assert server.corrections
        url = f"{server.url}/eng/news/{CORRECTED_ARTICLE_ID}/"
        assert fetch(url, method="HEAD")[0] == 200
        bodies = [fetch(url)[2] for _ in range(3)]
        assert WRONG.encode() in bodies[0] and RIGHT.encode() not in bodies[0]
        assert bodies[1] == bodies[2] == resolve(f"/eng/news/{CORRECTED_ARTICLE_ID}/").body
    plain = DemoSiteServer()
    assert not plain.corrections
    plain.stop()
