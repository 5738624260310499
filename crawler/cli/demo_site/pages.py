"""HTML pages of DemoNews.

Pure functions: each returns the page as a ``str`` and depends only on its
arguments and the data in :mod:`crawler.cli.demo_site.content`, so the same
bytes come out on every run. The markup imitates the old table layout of
PanARMENIAN.Net (``td.single_content``, ``div.theitem``, ``h2.font12 > a.nevy``,
``div.article_body``, a "Top stories" and a "Partner news" block inside the
article body). All links are root-relative, except the partner links, which
point off-site on purpose.
"""

from __future__ import annotations

import html
from datetime import datetime

from .content import (
    ARTICLES_BY_ID,
    CORRECTED_ARTICLE_ID,
    FIRST_EDITION,
    NEWEST_FIRST,
    PAGE_SIZE,
    SECTION_NAMES,
    SECTIONS,
    SEED_ARTICLE_ID,
    TOP_STORIES,
    TZ,
    DemoArticle,
    articles_in_section,
    get_article,
    tag_slug,
)

SITE_NAME = "DemoNews"
HOME_TITLE = "DemoNews - News from the demo newsroom"
DATE_FORMAT = "%B %d, %Y - %H:%M"
MOST_READ_IDS = (SEED_ARTICLE_ID, 301057, 301036)
PARTNER_NEWS = (
    ("https://partner.example.org/story-1", "Regional weather: a mild and sunny weekend ahead"),
    ("https://partner.example.org/story-2", "Five day trips within two hours of the capital"),
    ("https://partner.example.org/story-3", "How community gardens are changing city courtyards"),
)
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"

_STYLE = (
    "body{font-family:Arial,sans-serif;font-size:13px;margin:0}"
    ".header{background:#1d3557;padding:8px}.logo{color:#fff;font-size:22px;"
    "text-decoration:none}.nav a{color:#fff;margin-right:10px}"
    ".single_content{vertical-align:top;padding:10px}"
    ".sidebar{vertical-align:top;width:220px;padding:10px;background:#f1f1f1}"
    ".theitem{border-bottom:1px solid #ddd;padding-bottom:6px;margin-bottom:6px}"
    ".date{color:#777;font-size:11px}.footer{text-align:center;color:#777;padding:8px}"
)


class PageNotFound(LookupError):
    """The requested page does not exist (unknown id, section or page number)."""


def escape(text: str) -> str:
    """HTML-escape text for element content and quoted attribute values."""
    return html.escape(text, quote=True)


def format_date(value: datetime) -> str:
    """``September 21, 2021 - 23:40``, in Asia/Yerevan time."""
    return value.astimezone(TZ).strftime(DATE_FORMAT)


# --------------------------------------------------------------------------
# URLs (root-relative)
# --------------------------------------------------------------------------


def article_url(article_id: int) -> str:
    return f"/eng/news/{article_id}/"


def short_article_url(article_id: int) -> str:
    """``/eng/news/<id>``, which redirects to :func:`article_url`."""
    return f"/eng/news/{article_id}"


def listing_url(page: int = 1) -> str:
    return "/eng/news/" if page == 1 else f"/eng/news/page/{page}/"


def section_url(slug: str, page: int = 1) -> str:
    base = f"/eng/news/section/{slug}/"
    return base if page == 1 else f"{base}page/{page}/"


def tag_url(tag: str) -> str:
    return f"/eng/tag/{tag_slug(tag)}/"


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------


def _frame(title: str, main: str, head_extra: str = "") -> str:
    nav = " ".join(
        f'<a href="{escape(section_url(slug))}">{escape(name)}</a>' for slug, name in SECTIONS
    )
    most_read = "".join(
        f'<li><a href="{escape(article_url(a.id))}">{escape(a.title)}</a></li>'
        for a in (get_article(i) for i in MOST_READ_IDS)
        if a is not None
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{head_extra}"
        f"<style>{_STYLE}</style>\n"
        "</head>\n"
        "<body>\n"
        '<table class="layout" width="100%">\n'
        '<tr><td class="header" colspan="2">'
        f'<a class="logo" href="/">{SITE_NAME}</a> <div class="nav">{nav}</div></td></tr>\n'
        '<tr><td class="single_content">\n'
        f"{main}"
        "</td>\n"
        '<td class="sidebar"><div class="most_read"><h3>Most read</h3>'
        f"<ul>{most_read}</ul></div></td></tr>\n"
        '<tr><td class="footer" colspan="2">'
        "© DemoNews, a demo site bundled with newscrawl</td></tr>\n"
        "</table>\n"
        "</body>\n"
        "</html>\n"
    )


def listing_item(article: DemoArticle) -> str:
    """One ``div.theitem`` entry of a listing page."""
    url = escape(article_url(article.id))
    return (
        '<div class="theitem padding_left_5 padding_right_5">\n'
        f'  <div class="pic"><a href="{url}"><img src="{escape(article.image_url)}" '
        f'alt="{escape(article.short_title)}"></a></div>\n'
        f'  <h2 class="font12"><a class="nevy" href="{url}">{escape(article.title)}</a></h2>\n'
        f'  <span class="date">{escape(format_date(article.published))}</span>\n'
        f'  <div class="teaser">{escape(article.teaser)}</div>\n'
        "</div>\n"
    )


def _paging(page: int, pages: int, url_for) -> str:
    parts = []
    if page > 1:
        parts.append(f'<a class="prev" href="{escape(url_for(page - 1))}">« Previous</a>')
    parts.append(f'<span class="current">{page}</span>')
    if page < pages:
        parts.append(f'<a class="next" href="{escape(url_for(page + 1))}">Next »</a>')
    return '<div class="paging">' + " ".join(parts) + "</div>\n"


def _listing_page(
    articles: tuple[DemoArticle, ...], page: int, heading: str, url_for, title: str
) -> str:
    pages = page_count(len(articles))
    if not 1 <= page <= pages:
        raise PageNotFound(f"page {page} of {pages}")
    chunk = articles[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    main = (
        f"<h3>{escape(heading)}</h3>\n"
        + "".join(listing_item(a) for a in chunk)
        + _paging(page, pages, url_for)
    )
    if page > 1:
        title = f"{title} - Page {page}"
    return _frame(f"{title} - {SITE_NAME}", main)


# --------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------


def render_home(correction: bool = False) -> str:
    """``/``: the Top stories block, the ten newest articles, a link to all news.

    With ``correction``, the block has a fifth story: the corrected article,
    linked by its short URL (:func:`short_article_url`), a link to it that a
    crawler which stored it from the listing has not followed yet.
    """
    links = [(article_url(a.id), a) for a in TOP_STORIES]
    if correction:
        corrected = ARTICLES_BY_ID[CORRECTED_ARTICLE_ID]
        links.append((short_article_url(corrected.id), corrected))
    stories = "".join(
        f'<li class="ts_item"><a class="ts_link" href="{escape(href)}">{escape(a.title)}</a></li>'
        for href, a in links
    )
    main = (
        '<div class="top_stories" id="top_stories"><h3>Top stories</h3>'
        f"<ul>{stories}</ul></div>\n"
        "<h3>Latest news</h3>\n"
        + "".join(listing_item(a) for a in NEWEST_FIRST[:PAGE_SIZE])
        + '<a class="all_news" href="/eng/news/">All news</a>\n'
    )
    return _frame(HOME_TITLE, main)


def render_listing(page: int = 1) -> str:
    """``/eng/news/`` and ``/eng/news/page/N/``: every article, newest first."""
    return _listing_page(NEWEST_FIRST, page, "All news", listing_url, "All news")


def render_section(slug: str, page: int = 1) -> str:
    """``/eng/news/section/<slug>/`` (and ``.../page/N/``)."""
    name = SECTION_NAMES.get(slug)
    if name is None:
        raise PageNotFound(f"unknown section {slug!r}")
    return _listing_page(
        articles_in_section(slug), page, name, lambda n: section_url(slug, n), name
    )


def render_article(article_id: int, first_edition: bool = False) -> str:
    """``/eng/news/<id>/``; with ``first_edition``, the corrected article as it
    was first published (other articles have only one edition)."""
    article = get_article(article_id)
    if first_edition and article_id == CORRECTED_ARTICLE_ID:
        article = FIRST_EDITION
    if article is None:
        raise PageNotFound(f"unknown article {article_id}")
    title = escape(article.title)
    short = escape(article.short_title)
    url = escape(article_url(article.id))
    head = (
        '<meta property="og:type" content="article">\n'
        f'<meta property="og:title" content="{short}">\n'
        f'<link rel="canonical" href="{url}">\n'
    )
    paragraphs = "".join(f"  <p>{escape(p)}</p>\n" for p in article.paragraphs)
    top = "".join(
        f'<li><a href="{escape(article_url(a.id))}">{escape(a.title)}</a></li>' for a in TOP_STORIES
    )
    partners = "".join(f'<li><a href="{escape(h)}">{escape(t)}</a></li>' for h, t in PARTNER_NEWS)
    tags = ", ".join(
        f'<a rel="tag" href="{escape(tag_url(t))}">{escape(t)}</a>' for t in article.tags
    )
    main = (
        f'<div class="crumbs"><a href="/">Home</a> / <a class="section" '
        f'href="{escape(section_url(article.slug_section))}">{escape(article.section)}</a></div>\n'
        f'<h1 class="news_title">{title}</h1>\n'
        f'<div class="pic"><img src="{escape(article.image_url)}" alt="{short}">'
        f'<div class="img_title">{short}</div></div>\n'
        f'<div class="news_info"><span class="date">{escape(format_date(article.published))}'
        f'</span> | <span class="author">{escape(article.author)}</span></div>\n'
        '<div class="article_body font11">\n'
        f"{paragraphs}"
        f'  <div class="top_news_block"><h3>Top stories</h3><ul>{top}</ul></div>\n'
        f'  <div class="partner_news"><h3>Partner news</h3><ul>{partners}</ul></div>\n'
        "</div>\n"
        f'<div class="tags">Tags: {tags}</div>\n'
    )
    return _frame(f"{article.title} - {SITE_NAME}", main, head)


def render_private(path: str) -> str:
    """Any page under ``/private/``, which robots.txt disallows."""
    main = (
        '<h1 class="news_title">Staff area</h1>\n'
        "<p>This part of DemoNews is disallowed in robots.txt. A polite crawler never "
        "requests it.</p>\n"
        f'<p class="path">{escape(path)}</p>\n'
    )
    return _frame(f"Staff area - {SITE_NAME}", main)


def render_not_found(path: str) -> str:
    """A small standalone 404 page."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        '<head><meta charset="utf-8"><title>404 Not Found - DemoNews</title></head>\n'
        "<body><h1>404 Not Found</h1>"
        f"<p>No page at {escape(path)} on DemoNews.</p>"
        '<p><a href="/">Home</a></p></body>\n'
        "</html>\n"
    )


def render_redirect(location: str) -> str:
    """Body of a 301 response."""
    href = escape(location)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        '<head><meta charset="utf-8"><title>301 Moved Permanently</title></head>\n'
        f'<body><p>Moved to <a href="{href}">{href}</a>.</p></body>\n'
        "</html>\n"
    )
