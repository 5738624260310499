"""Generated news sites in four house styles, none with a feed or a sitemap,
for the tests of crawling a site from its address alone.

- ``wordpress``: a WordPress blog theme: home page with "Older posts"
  (``/page/N/``), categories with numbered pages, tag, author and month
  archives (``/2024/02/``), article pages with related posts;
- ``table``: an old table layout: ``news.php?page=N`` with "Next >>",
  sections as ``news.php?cat=N``, articles as ``article.php?id=N``, no
  metadata at all;
- ``modern``: a modern site with JSON-LD and Open Graph, cards, "Load more"
  links to the next chunk (``/more/N`` on the home page, ``?offset=N`` in
  sections), and collection pages at article-shaped URLs;
- ``numbered``: a portal whose only pagination is numbered links
  (``1 2 3 … 15``, ``?pg=N``), with dossier pages at article-shaped URLs.

Every page has what real pages have around the content: navigation menus,
sidebars of popular stories, footers, teaser blocks with excerpts, related
articles. ``HouseSite.pages`` maps each path (with its query) to its HTML;
``articles`` are the paths of article pages, every other page a listing.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape

from support.sites import ScriptedSite

WORDS = (
    "council harbour budget vote river school library road market hospital tram bridge "
    "station festival museum park housing water energy police court mayor report plan "
    "district residents project funding minister agreement talks border region season "
    "farmers teachers nurses ferry airport stadium tunnel election strike storm flood"
).split()
SECTIONS = ["Politics", "Economy", "Culture", "Sport", "Local"]
TAGS = ["ferries", "schools", "budget", "transport", "weather", "elections", "health", "arts"]
AUTHORS = ["Jane Doe", "Ali Karim", "Marta Novak", "Tom Berg", "Lea Roux", "Sam Ito"]
FIRST = datetime(2024, 1, 2, 7, 15, tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    n: int
    title: str
    paragraphs: list[str]
    published: datetime
    author: str
    section: str
    tags: list[str]

    @property
    def slug(self) -> str:
        return "-".join(self.title.lower().split()[:6]) + f"-{self.n}"

    @property
    def excerpt(self) -> str:
        return " ".join(self.paragraphs[0].split()[:30]) + " …"

    @property
    def author_slug(self) -> str:
        return self.author.lower().replace(" ", "-")


def make_story(n: int) -> Story:
    rng = random.Random(n * 7919)
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 8))).capitalize()
    paragraphs = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 60))).capitalize() + "."
        for _ in range(rng.randint(4, 8))
    ]
    return Story(
        n=n,
        title=f"{title} ({n})",
        paragraphs=paragraphs,
        published=FIRST + timedelta(hours=11 * n, minutes=n % 50),
        author=AUTHORS[n % len(AUTHORS)],
        section=SECTIONS[n % len(SECTIONS)],
        tags=sorted({TAGS[n % len(TAGS)], TAGS[(n * 3 + 1) % len(TAGS)]}),
    )


@dataclass
class HouseSite:
    style: str
    stories: list[Story]  # newest first
    article_path: dict[int, str] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)

    @property
    def articles(self) -> set[str]:
        return set(self.article_path.values())

    @property
    def listings(self) -> set[str]:
        return set(self.pages) - self.articles

    def serve(self, server: ScriptedSite) -> None:
        for path, html in self.pages.items():
            server.page(path, html)


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _paragraphs(story: Story) -> str:
    return "".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)


# --------------------------------------------------------------------------- WordPress


class _WordPress:
    per_page = 10

    def __init__(self, site: HouseSite) -> None:
        self.site = site
        self.path = site.article_path

    def head(self, title: str) -> str:
        return (
            f"<!DOCTYPE html><html lang='en-US'><head><meta charset='UTF-8'>"
            f"<title>{escape(title)} &#8211; Riverside Chronicle</title>"
            "<link rel='stylesheet' href='/wp-content/themes/chronicle/style.css'>"
            "</head>"
        )

    def header(self) -> str:
        menu = "".join(
            f'<li class="menu-item"><a href="/category/{s.lower()}/">{s}</a></li>' for s in SECTIONS
        )
        return (
            '<header id="masthead" class="site-header"><p class="site-title">'
            '<a href="/" rel="home">Riverside Chronicle</a></p>'
            '<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">'
            f'<li class="menu-item"><a href="/">Home</a></li>{menu}'
            '<li class="menu-item"><a href="/about/">About</a></li>'
            '<li class="menu-item"><a href="/contact/">Contact</a></li></ul></nav></header>'
        )

    def sidebar(self) -> str:
        popular = "".join(
            f'<li><a href="{self.path[s.n]}">{escape(s.title)}</a></li>'
            for s in self.site.stories[3:8]
        )
        months = sorted({s.published.strftime("%Y/%m") for s in self.site.stories}, reverse=True)
        archives = "".join(
            f'<li><a href="/{m}/">{datetime.strptime(m, "%Y/%m"):%B %Y}</a></li>' for m in months
        )
        cats = "".join(f'<li><a href="/category/{s.lower()}/">{s}</a></li>' for s in SECTIONS)
        return (
            '<aside id="secondary" class="widget-area">'
            '<section class="widget widget_search"><form role="search" action="/">'
            '<input type="search" name="s"></form></section>'
            f'<section class="widget"><h2 class="widget-title">Popular</h2><ul>{popular}</ul>'
            f'</section><section class="widget widget_archive"><h2 class="widget-title">Archives'
            f'</h2><ul>{archives}</ul></section><section class="widget widget_categories">'
            f'<h2 class="widget-title">Categories</h2><ul>{cats}</ul></section></aside>'
        )

    def footer(self) -> str:
        return (
            '<footer id="colophon" class="site-footer"><div class="site-info">'
            '<a href="/about/">About us</a> | <a href="/privacy-policy/">Privacy</a> | '
            "Proudly powered by WordPress</div></footer>"
        )

    def page(self, title: str, body_class: str, main: str) -> str:
        return (
            f'{self.head(title)}<body class="{body_class}"><div id="page" class="site">'
            f'{self.header()}<div id="content" class="site-content"><main id="main" '
            f'class="site-main">{main}</main>{self.sidebar()}</div>{self.footer()}</div>'
            "</body></html>"
        )

    def meta(self, s: Story) -> str:
        return (
            '<div class="entry-meta"><span class="posted-on"><a href="'
            f'{self.path[s.n]}" rel="bookmark"><time class="entry-date published" datetime="'
            f'{s.published.isoformat()}">{s.published:%B %-d, %Y}</time></a></span> '
            f'<span class="byline">by <span class="author vcard"><a class="url fn n" href="'
            f'/author/{s.author_slug}/">{s.author}</a></span></span></div>'
        )

    def teaser(self, s: Story) -> str:
        return (
            f'<article id="post-{s.n}" class="post-{s.n} post type-post status-publish">'
            f'<header class="entry-header"><h2 class="entry-title"><a href="{self.path[s.n]}" '
            f'rel="bookmark">{escape(s.title)}</a></h2>{self.meta(s)}</header>'
            f'<div class="entry-summary"><p>{escape(s.excerpt)}</p></div>'
            f'<footer class="entry-footer"><span class="cat-links">Posted in <a href="/category/'
            f'{s.section.lower()}/" rel="category tag">{s.section}</a></span></footer></article>'
        )

    def archive(self, base: str, heading: str, body_class: str, stories: list[Story]) -> None:
        pages = chunks(stories, self.per_page)
        for number, group in enumerate(pages, start=1):
            path = base if number == 1 else f"{base}page/{number}/"
            links = ""
            if len(pages) > 1:
                numbers = "".join(
                    f'<span aria-current="page" class="page-numbers current">{k}</span>'
                    if k == number
                    else f'<a class="page-numbers" href="{base if k == 1 else f"{base}page/{k}/"}"'
                    f">{k}</a>"
                    for k in range(1, len(pages) + 1)
                    if k in (1, len(pages)) or abs(k - number) <= 2
                )
                if number < len(pages):
                    numbers += f'<a class="next page-numbers" href="{base}page/{number + 1}/">»</a>'
                links = (
                    '<nav class="navigation pagination" aria-label="Posts">'
                    f'<div class="nav-links">{numbers}</div></nav>'
                )
            if base == "/":
                older = f"/page/{number + 1}/" if number < len(pages) else None
                newer = "/" if number == 2 else f"/page/{number - 1}/"
                links = (
                    '<nav class="navigation posts-navigation" aria-label="Posts"><div class="'
                    'nav-links">'
                    + (
                        f'<div class="nav-previous"><a href="{older}">Older posts</a></div>'
                        if older
                        else ""
                    )
                    + (
                        f'<div class="nav-next"><a href="{newer}">Newer posts</a></div>'
                        if number > 1
                        else ""
                    )
                    + "</div></nav>"
                )
            head = f'<header class="page-header"><h1 class="page-title">{heading}</h1></header>'
            paged = f" paged paged-{number}" if number > 1 else ""
            main = head + "".join(self.teaser(s) for s in group) + links
            self.site.pages[path] = self.page(heading, body_class + paged, main)

    def article(self, s: Story, i: int) -> None:
        stories = self.site.stories
        related = "".join(
            f'<div class="jp-relatedposts-post"><h4 class="jp-relatedposts-post-title"><a href="'
            f'{self.path[r.n]}">{escape(r.title)}</a></h4><p class="jp-relatedposts-post-excerpt">'
            f"{escape(r.excerpt)}</p></div>"
            for r in (stories[(i + k) % len(stories)] for k in (7, 19, 31))
        )
        tags = ", ".join(f'<a href="/tag/{t}/" rel="tag">{t}</a>' for t in s.tags)
        nav = ""
        if i + 1 < len(stories):
            older = stories[i + 1]
            nav += (
                f'<div class="nav-previous"><a href="{self.path[older.n]}" rel="prev">'
                f'<span class="meta-nav">Previous Post</span> {escape(older.title)}</a></div>'
            )
        if i > 0:
            newer = stories[i - 1]
            nav += (
                f'<div class="nav-next"><a href="{self.path[newer.n]}" rel="next">'
                f'<span class="meta-nav">Next Post</span> {escape(newer.title)}</a></div>'
            )
        main = (
            f'<article id="post-{s.n}" class="post-{s.n} post type-post status-publish">'
            f'<header class="entry-header"><h1 class="entry-title">{escape(s.title)}</h1>'
            f'{self.meta(s)}</header><div class="entry-content">{_paragraphs(s)}'
            '<div id="jp-relatedposts" class="jp-relatedposts">'
            f'<h3 class="jp-relatedposts-headline">Related</h3>{related}</div></div>'
            f'<footer class="entry-footer"><span class="cat-links">Posted in <a href="/category/'
            f'{s.section.lower()}/" rel="category tag">{s.section}</a></span> '
            f'<span class="tags-links">Tagged {tags}</span></footer></article>'
            f'<nav class="navigation post-navigation" aria-label="Posts"><div class="nav-links">'
            f"{nav}</div></nav>"
            '<div id="comments" class="comments-area"><h2 class="comments-title">2 thoughts on '
            f'&ldquo;{escape(s.title)}&rdquo;</h2><ol class="comment-list"><li>Great piece, '
            "thank you.</li><li>When does this start?</li></ol></div>"
        )
        body_class = f"post-template-default single single-post postid-{s.n} single-format-standard"
        self.site.pages[self.path[s.n]] = self.page(s.title, body_class, main)

    def build(self) -> None:
        stories = self.site.stories
        for s in stories:
            self.path[s.n] = f"/{s.published:%Y/%m/%d}/{s.slug}/"
        for i, s in enumerate(stories):
            self.article(s, i)
        self.archive("/", "Riverside Chronicle", "home blog hfeed", stories)
        for section in SECTIONS:
            group = [s for s in stories if s.section == section]
            slug = section.lower()
            self.archive(
                f"/category/{slug}/",
                f"Category: <span>{section}</span>",
                f"archive category category-{slug}",
                group,
            )
        for tag in TAGS:
            group = [s for s in stories if tag in s.tags]
            self.archive(
                f"/tag/{tag}/", f"Tag: <span>{tag}</span>", f"archive tag tag-{tag}", group
            )
        for author in AUTHORS:
            slug = author.lower().replace(" ", "-")
            group = [s for s in stories if s.author == author]
            self.archive(
                f"/author/{slug}/",
                f"Author: <span>{author}</span>",
                f"archive author author-{slug}",
                group,
            )
        months = sorted({s.published.strftime("%Y/%m") for s in stories}, reverse=True)
        for month in months:
            group = [s for s in stories if s.published.strftime("%Y/%m") == month]
            label = datetime.strptime(month, "%Y/%m").strftime("%B %Y")
            self.archive(f"/{month}/", f"Month: <span>{label}</span>", "archive date", group)
        self.site.pages["/about/"] = self.page(
            "About",
            "page-template-default page page-id-2",
            '<article class="page"><h1 class="entry-title">About</h1><div class="entry-content">'
            "<p>The Riverside Chronicle is an independent local newspaper.</p></div></article>",
        )


# --------------------------------------------------------------------------- table layout


class _Table:
    per_page = 10

    def __init__(self, site: HouseSite) -> None:
        self.site = site
        self.path = site.article_path

    def page(self, title: str, center: str) -> str:
        menu = "".join(
            f'<tr><td class="menu"><a href="news.php?cat={k}">{s}</a></td></tr>'
            for k, s in enumerate(SECTIONS, start=1)
        )
        latest = "".join(
            f'<tr><td class="small">&raquo; <a href="{self.path[s.n]}">{escape(s.title)}</a>'
            "</td></tr>"
            for s in self.site.stories[:6]
        )
        return (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            f"<title>Valley Courier - {escape(title)}</title></head>"
            '<body bgcolor="#ffffff" topmargin="0"><table width="960" border="0" cellpadding="0"'
            ' cellspacing="0" align="center"><tr><td colspan="3"><a href="index.php">'
            '<img src="img/logo.gif" border="0" alt="Valley Courier"></a></td></tr><tr>'
            '<td width="160" valign="top"><table width="100%"><tr><td class="menuhead">Sections'
            f'</td></tr><tr><td class="menu"><a href="index.php">Home</a></td></tr>{menu}'
            '<tr><td class="menu"><a href="contact.php">Contact</a></td></tr></table></td>'
            f'<td width="600" valign="top">{center}</td><td width="200" valign="top">'
            '<table width="100%"><tr><td class="menuhead">Latest news</td></tr>'
            f'{latest}</table></td></tr><tr><td colspan="3" align="center" class="small">'
            '&copy; 2024 Valley Courier. All rights reserved. | <a href="contact.php">'
            "Contact</a></td></tr></table></body></html>"
        )

    def listing(self, base: str, title: str, stories: list[Story]) -> None:
        pages = chunks(stories, self.per_page)
        joiner = "&amp;" if "?" in base else "?"
        for number, group in enumerate(pages, start=1):
            rows = "".join(
                f'<tr><td class="date">{s.published:%d.%m.%Y %H:%M}</td><td><a href="'
                f'{self.path[s.n]}"><b>{escape(s.title)}</b></a><br><span class="small">'
                f"{escape(s.excerpt)}</span></td></tr>"
                for s in group
            )
            nav = []
            if number > 1:
                nav.append(f'<a href="{base}{joiner}page={number - 1}">&lt;&lt; Previous</a>')
            if number < len(pages):
                nav.append(f'<a href="{base}{joiner}page={number + 1}">Next &gt;&gt;</a>')
            center = (
                f'<table width="100%" cellpadding="4"><tr><td colspan="2" class="head">{title}'
                f'</td></tr>{rows}<tr><td colspan="2" align="center">{" | ".join(nav)}</td></tr>'
                "</table>"
            )
            path = (
                "/" + base if number == 1 else f"/{base}{joiner}page={number}".replace("&amp;", "&")
            )
            self.site.pages[path] = self.page(title, center)

    def article(self, s: Story, i: int) -> None:
        stories = self.site.stories
        others = "".join(
            f'<li><a href="{self.path[r.n]}">{escape(r.title)}</a></li>'
            for r in (stories[(i + k) % len(stories)] for k in (1, 2, 3, 4, 5))
        )
        text = "<br><br>".join(escape(p) for p in s.paragraphs)
        center = (
            f'<table width="100%" cellpadding="4"><tr><td class="title"><font size="5"><b>'
            f'{escape(s.title)}</b></font></td></tr><tr><td class="date">Posted: '
            f'{s.published:%d.%m.%Y %H:%M} | {s.section}</td></tr><tr><td class="text">{text}'
            f'</td></tr><tr><td class="small">Other news:<ul>{others}</ul>'
            '<a href="javascript:window.print()">Print</a></td></tr></table>'
        )
        self.site.pages[self.path[s.n]] = self.page(s.title, center)

    def build(self) -> None:
        stories = self.site.stories
        for s in stories:
            self.path[s.n] = f"/article.php?id={1000 + s.n}"
        for i, s in enumerate(stories):
            self.article(s, i)
        self.listing("news.php", "Latest news", stories)
        self.site.pages["/"] = self.site.pages["/news.php"]
        self.site.pages["/index.php"] = self.site.pages["/news.php"]
        for k, section in enumerate(SECTIONS, start=1):
            group = [s for s in stories if s.section == section]
            self.listing(f"news.php?cat={k}", section, group)
        self.site.pages["/contact.php"] = self.page(
            "Contact", "<p>Write to us at Main Street 4, Valley Town.</p>"
        )


# --------------------------------------------------------------------------- modern, load more


class _Modern:
    chunk = 20

    def __init__(self, site: HouseSite) -> None:
        self.site = site
        self.path = site.article_path

    def page(self, title: str, og_type: str, jsonld: dict, main: str) -> str:
        nav = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in SECTIONS)
        trending = "".join(
            f'<li><a href="{self.path[s.n]}">{escape(s.title)}</a></li>'
            for s in self.site.stories[2:7]
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)} | The Metro Post</title>"
            f'<meta property="og:type" content="{og_type}">'
            f'<meta property="og:title" content="{escape(title)}">'
            '<meta property="og:site_name" content="The Metro Post">'
            f'<script type="application/ld+json">{json.dumps(jsonld)}</script>'
            '<link rel="preload" href="/_next/static/app.js" as="script"></head>'
            '<body><div id="__next"><header class="Header_root__x1"><a class="Logo" href="/">'
            'The Metro Post</a><nav aria-label="Main" class="Nav_main__k2"><ul>'
            f'<li><a href="/">Home</a></li>{nav}<li><a href="/topic/climate">Climate</a></li>'
            '</ul></nav><a class="Subscribe" href="/subscribe">Subscribe</a></header>'
            f'<main class="Page_main__q7">{main}</main><aside class="Trending_root__p3">'
            f"<h2>Trending</h2><ol>{trending}</ol></aside>"
            '<footer class="Footer_root__z9"><ul><li><a href="/about">About</a></li>'
            '<li><a href="/careers">Careers</a></li><li><a href="/privacy">Privacy</a></li></ul>'
            "<p>© 2024 The Metro Post</p></footer></div>"
            '<script src="/_next/static/app.js"></script></body></html>'
        )

    def card(self, s: Story) -> str:
        return (
            f'<article class="Card_root__a1"><a class="Card_link__b2" href="{self.path[s.n]}">'
            f'<img src="/img/{s.n}.jpg" alt=""><span class="Card_kicker__c3">{s.section}</span>'
            f'<h3 class="Card_title__d4">{escape(s.title)}</h3></a>'
            f'<p class="Card_dek__e5">{escape(s.excerpt)}</p>'
            f'<time datetime="{s.published.isoformat()}">{s.published:%b %-d}</time></article>'
        )

    def stream(self, base: str, title: str, stories: list[Story], home: bool) -> None:
        parts = chunks(stories, self.chunk)
        for number, group in enumerate(parts, start=1):
            if home:
                path = "/" if number == 1 else f"/more/{number}"
                following = f"/more/{number + 1}"
            else:
                path = base if number == 1 else f"{base}?offset={(number - 1) * self.chunk}"
                following = f"{base}?offset={number * self.chunk}"
            more = (
                f'<a class="LoadMore_button__f6" href="{following}">Load more</a>'
                if number < len(parts)
                else ""
            )
            cards = "".join(self.card(s) for s in group)
            main = f'<h1 class="Section_title">{title}</h1><div class="Grid">{cards}</div>{more}'
            jsonld = {"@context": "https://schema.org", "@type": "WebPage", "name": title}
            self.site.pages[path] = self.page(title, "website", jsonld, main)

    def collection(self, slug: str, title: str, stories: list[Story]) -> None:
        cards = "".join(self.card(s) for s in stories)
        jsonld = {
            "@context": "https://schema.org",
            "@type": "CollectionPage",
            "name": title,
            "mainEntity": {
                "@type": "ItemList",
                "itemListElement": [
                    {"@type": "ListItem", "position": k + 1, "url": self.path[s.n]}
                    for k, s in enumerate(stories)
                ],
            },
        }
        intro = f"<p>Everything we have published on {escape(title.lower())}.</p>"
        main = (
            f'<h1 class="Section_title">{escape(title)}</h1>{intro}<div class="Grid">{cards}</div>'
        )
        self.site.pages[f"/special/{slug}"] = self.page(title, "website", jsonld, main)

    def article(self, s: Story, i: int) -> None:
        stories = self.site.stories
        more = "".join(self.card(stories[(i + k) % len(stories)]) for k in (3, 9, 14, 22))
        jsonld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": s.title,
            "datePublished": s.published.isoformat(),
            "author": [{"@type": "Person", "name": s.author}],
            "articleSection": s.section,
        }
        main = (
            f'<article class="Article_root__g7"><span class="Article_kicker">{s.section}</span>'
            f'<h1 class="Article_headline__h8">{escape(s.title)}</h1><div class="Byline">By '
            f'<a href="/authors/{s.author_slug}">{s.author}</a> · <time datetime="'
            f'{s.published.isoformat()}">{s.published:%B %-d, %Y %H:%M}</time></div>'
            f'<div class="Article_body__i9">{_paragraphs(s)}</div></article>'
            f'<section class="MoreStories"><h2>More from {s.section}</h2>{more}</section>'
        )
        self.site.pages[self.path[s.n]] = self.page(s.title, "article", jsonld, main)

    def build(self) -> None:
        stories = self.site.stories
        for s in stories:
            self.path[s.n] = f"/{s.section.lower()}/{s.published:%Y/%m/%d}/{s.slug}"
        for i, s in enumerate(stories):
            self.article(s, i)
        self.stream("/", "Latest news", stories, home=True)
        for section in SECTIONS:
            group = [s for s in stories if s.section == section]
            self.stream(f"/{section.lower()}", section, group, home=False)
        specials = [
            ("the-harbour-tunnel-vote-explained", "The harbour tunnel vote explained"),
            ("everything-about-the-2024-budget-talks", "Everything about the 2024 budget talks"),
        ]
        for k, (slug, title) in enumerate(specials):
            self.collection(slug, title, stories[k * 5 : k * 5 + 12])
        # The home page's top links the collections, as a "Specials" strip.
        strip = "".join(f'<a href="/special/{slug}">{escape(t)}</a> ' for slug, t in specials)
        self.site.pages["/"] = self.site.pages["/"].replace(
            '<main class="Page_main__q7">',
            f'<main class="Page_main__q7"><div class="Specials">{strip}</div>',
        )


# --------------------------------------------------------------------------- numbered links


class _Numbered:
    per_page = 12

    def __init__(self, site: HouseSite) -> None:
        self.site = site
        self.path = site.article_path

    def page(self, title: str, og_type: str, main: str) -> str:
        menu = "".join(f'<a href="/{s.lower()}/">{s}</a>' for s in SECTIONS)
        popular = "".join(
            f'<li><a href="{self.path[s.n]}">{escape(s.title)}</a></li>'
            for s in self.site.stories[4:9]
        )
        dossiers = "".join(f'<li><a href="/dossiers/{d}">{escape(t)}</a></li>' for d, t in DOSSIERS)
        return (
            f"<html><head><title>{escape(title)} - Northern Herald</title>"
            f'<meta property="og:type" content="{og_type}">'
            f'<meta property="og:title" content="{escape(title)}"></head><body>'
            f'<div class="top"><a href="/">Northern Herald</a></div><div class="menu">'
            f'<a href="/">Front page</a>{menu}<a href="/weather/">Weather</a></div>'
            f'<div class="wrap"><div class="col-main">{main}</div><div class="col-side">'
            f"<h3>Most read</h3><ul>{popular}</ul><h3>Dossiers</h3><ul>{dossiers}</ul></div>"
            '</div><div class="bottom"><a href="/imprint/">Imprint</a> · '
            '<a href="/advertise/">Advertise</a> · © Northern Herald</div></body></html>'
        )

    def item(self, s: Story) -> str:
        return (
            f'<div class="item"><h2><a href="{self.path[s.n]}">{escape(s.title)}</a></h2>'
            f'<div class="when">{s.published:%d %B %Y}</div><p>{escape(s.excerpt)}</p></div>'
        )

    def numbers(self, base: str, number: int, last: int) -> str:
        out, gap = [], False
        for k in range(1, last + 1):
            if k in (1, 2, 3, last) or abs(k - number) <= 1:
                href = base if k == 1 else f"{base}?pg={k}"
                out.append(f"<b>{k}</b>" if k == number else f'<a href="{href}">{k}</a>')
                gap = False
            elif not gap:
                out.append("<span>…</span>")
                gap = True
        return f'<div class="pgs">{" ".join(out)}</div>'

    def listing(self, base: str, title: str, stories: list[Story]) -> None:
        pages = chunks(stories, self.per_page)
        for number, group in enumerate(pages, start=1):
            path = base if number == 1 else f"{base}?pg={number}"
            main = (
                f"<h1>{escape(title)}</h1>{''.join(self.item(s) for s in group)}"
                f"{self.numbers(base, number, len(pages))}"
            )
            self.site.pages[path] = self.page(title, "website", main)

    def article(self, s: Story, i: int) -> None:
        stories = self.site.stories
        also = "".join(
            f'<li><a href="{self.path[r.n]}">{escape(r.title)}</a></li>'
            for r in (stories[(i + k) % len(stories)] for k in (2, 6, 11))
        )
        main = (
            f'<div class="story"><h1>{escape(s.title)}</h1><div class="when">'
            f"{s.published:%d %B %Y, %H:%M} · {s.author}</div>{_paragraphs(s)}"
            f'<div class="also"><h3>Read also</h3><ul>{also}</ul></div></div>'
        )
        self.site.pages[self.path[s.n]] = self.page(s.title, "article", main)

    def build(self) -> None:
        stories = self.site.stories
        for s in stories:
            self.path[s.n] = f"/stories/{40000 + s.n}-{s.slug}"
        for i, s in enumerate(stories):
            self.article(s, i)
        self.listing("/", "Latest", stories)
        for section in SECTIONS:
            self.listing(
                f"/{section.lower()}/", section, [s for s in stories if s.section == section]
            )
        for k, (slug, title) in enumerate(DOSSIERS):
            main = f"<h1>{escape(title)}</h1>" + "".join(
                self.item(s) for s in stories[k * 7 : k * 7 + 10]
            )
            self.site.pages[f"/dossiers/{slug}"] = self.page(title, "website", main)


DOSSIERS = [
    ("harbour-redevelopment-plan-2024", "Harbour redevelopment plan 2024"),
    ("the-long-winter-storm-season", "The long winter storm season"),
]

STYLES = {"wordpress": _WordPress, "table": _Table, "modern": _Modern, "numbered": _Numbered}
SIZES = {"wordpress": 300, "table": 200, "modern": 240, "numbered": 180}


def house_site(style: str, count: int | None = None) -> HouseSite:
    """A generated site of ``style`` with ``count`` articles (SIZES by default)."""
    count = count or SIZES[style]
    stories = [make_story(n) for n in range(count, 0, -1)]
    site = HouseSite(style, stories)
    STYLES[style](site).build()
    return site
