"""A generated news site for the benchmarks: N articles of 30-80 KB, listing
pages of 20 links each, newest first, served on 127.0.0.1.

Pages look like a modern news site's: a head with meta tags, JSON-LD and
inline scripts and styles, navigation, the article with its byline, date,
section and tags, related links and a footer. Text is drawn from a Zipf-like
vocabulary, so bodies are as varied as real ones (no two are near-duplicates).
Everything is deterministic: article n is the same page in every run.

    python bench/news_site.py --articles 5000 [--port 0] [--latency-ms 0]   # prints the URL, serves

Pages are rendered once at start-up and served from memory by Twisted, so
the server costs the crawl under test as little CPU as possible.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from itertools import accumulate

PER_LISTING_PAGE = 20
SECTIONS = ["Politics", "Economy", "World", "Culture", "Sport", "Science", "Health", "Local"]
FIRST_DATE = datetime(2024, 1, 1, 6, 0, tzinfo=UTC)

_SYLLABLES = (
    "ka lo mi re su ta ne vi do pa ri co le mu sa te no fi ga be zu ha ly or an el is".split()
)


def _vocabulary(size: int = 6000) -> list[str]:
    rng = random.Random(7)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


VOCABULARY = _vocabulary()
# Zipf-like word frequencies: the n-th word is 1/n as likely as the first.
CUMULATIVE = list(accumulate(1 / (n + 1) for n in range(len(VOCABULARY))))
SCRIPT = "function track(e){window.dataLayer=window.dataLayer||[];dataLayer.push(e)}" * 40 + "\n"
STYLE = ".nav a{color:#222;padding:4px 8px}.teaser h2{font:700 1.4em/1.2 serif}" * 30 + "\n"


def sentence(rng: random.Random) -> str:
    words = rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=rng.randint(8, 22))
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))


def article_path(n: int) -> str:
    day = FIRST_DATE + timedelta(hours=3 * n)
    slug = "-".join(VOCABULARY[(n * 7 + k) % 997] for k in range(4))
    return f"/news/{day:%Y/%m/%d}/story-{n}-{slug}/"


def published(n: int) -> datetime:
    return FIRST_DATE + timedelta(hours=3 * n, minutes=n % 60)


def headline(n: int) -> str:
    rng = random.Random(n * 31 + 1)
    return " ".join(
        rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=rng.randint(6, 12))
    ).capitalize()


def navigation() -> str:
    links = "".join(f'<a href="/section/{s.lower()}/">{s}</a>' for s in SECTIONS * 8)
    return f'<header><nav class="nav">{links}</nav></header>'


def footer() -> str:
    links = "".join(f'<li><a href="/about/{k}/">About {k}</a></li>' for k in range(40))
    return f"<footer><ul>{links}</ul><p>© Bench News</p></footer>"


def article_parts(n: int) -> dict:
    """What article n says: its title, paragraphs, date, author, section and tags."""
    rng = random.Random(n)
    return {
        "size": rng.randint(30_000, 80_000),
        "title": headline(n),
        "paragraphs": [paragraph(rng) for _ in range(rng.randint(6, 18))],
        "caption": sentence(rng),
        "published": published(n),
        "section": SECTIONS[n % len(SECTIONS)],
        "author": f"{VOCABULARY[n % 300].capitalize()} {VOCABULARY[(n * 3) % 500].capitalize()}",
        "tags": sorted({VOCABULARY[(n * k) % 800] for k in (2, 5, 11)}),
    }


def article_page(
    n: int, total: int, when_published: datetime | None = None, path: str | None = None
) -> str:
    """Article n's page. The sites of bench/news_sites.py, which publish
    articles as time goes by, give its date and its (canonical) path."""
    parts = article_parts(n)
    if when_published is not None:
        parts["published"] = when_published
    shown = parts["published"]
    target, title, section, author, tags = (
        parts["size"],
        parts["title"],
        parts["section"],
        parts["author"],
        parts["tags"],
    )
    when = parts["published"].isoformat()
    body = "".join(f"<p>{p}</p>" for p in parts["paragraphs"])
    related = "".join(
        f'<li><a href="{article_path((n + k) % total)}">{headline((n + k) % total)}</a></li>'
        for k in range(1, 9)
    )
    jsonld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": when,
            "author": {"@type": "Person", "name": author},
            "articleSection": section,
        }
    )
    head = (
        f"<head><meta charset='utf-8'><title>{title} | Bench News</title>"
        f'<meta property="og:title" content="{title}">'
        f'<meta property="article:section" content="{section}">'
        f'<meta property="article:published_time" content="{when}">'
        f'<meta name="keywords" content="{", ".join(tags)}">'
        f'<link rel="canonical" href="{path or article_path(n)}">'
        f'<script type="application/ld+json">{jsonld}</script>'
        f"<style>{STYLE}</style>"
    )
    page = (
        f"<!DOCTYPE html><html lang='en'>{head}<script>%PADDING%</script></head><body>"
        f"{navigation()}<main><article>"
        f'<h1 class="headline">{title}</h1>'
        f'<div class="byline">By <a rel="author" href="/author/{n % 300}/">{author}</a> '
        f'<time class="published" datetime="{when}">{shown:%d %B %Y, %H:%M}</time></div>'
        f'<figure><img src="/img/{n}.jpg" alt="">'
        f"<figcaption>{parts['caption']}</figcaption></figure>"
        f'<div class="article-body">{body}</div>'
        f'<ul class="tags">{"".join(f"<li><a href=/tag/{t}/>{t}</a></li>" for t in tags)}</ul>'
        f'</article><aside class="related"><h2>Related</h2><ul>{related}</ul></aside></main>'
        f"{footer()}</body></html>"
    )
    padding = max(0, target - len(page.encode()))
    return page.replace("%PADDING%", (SCRIPT * (padding // len(SCRIPT) + 1))[:padding])


def listing_url(page: int) -> str:
    return "/news/" if page == 1 else f"/news/page/{page}/"


def listing_page(page: int, total: int) -> str:
    newest = total - 1 - (page - 1) * PER_LISTING_PAGE
    ids = [n for n in range(newest, newest - PER_LISTING_PAGE, -1) if n >= 0]
    teasers = "".join(
        f'<div class="teaser"><h2><a href="{article_path(n)}">{headline(n)}</a></h2>'
        f"<p>{sentence(random.Random(n + 5))}</p></div>"
        for n in ids
    )
    last = (total + PER_LISTING_PAGE - 1) // PER_LISTING_PAGE
    nxt = (
        f'<a class="next" rel="next" href="{listing_url(page + 1)}">Older</a>'
        if page < last
        else ""
    )
    return (
        f"<!DOCTYPE html><html><head><title>News, page {page}</title><style>{STYLE}</style>"
        f"<script>{SCRIPT * 8}</script></head><body>{navigation()}"
        f'<main class="latest">{teasers}{nxt}</main>{footer()}</body></html>'
    )


def build_site(total: int) -> dict[str, bytes]:
    """Every page of a site of ``total`` articles: path -> HTML bytes."""
    pages = {"/robots.txt": b"User-agent: *\nAllow: /\n"}
    for n in range(total):
        pages[article_path(n)] = article_page(n, total).encode()
    last = (total + PER_LISTING_PAGE - 1) // PER_LISTING_PAGE
    for page in range(1, last + 1):
        pages[listing_url(page)] = listing_page(page, total).encode()
    return pages


def listing_pages(total: int) -> int:
    return (total + PER_LISTING_PAGE - 1) // PER_LISTING_PAGE


def site_definition(url: str, name: str = "benchnews") -> str:
    """newscrawl's definition of the site: a rule for every field."""
    return f"""\
name: {name}
base_url: {url}/
timezone: Europe/Paris
listing:
  start_urls: [/news/]
  article_links: '.teaser h2 a::attr(href)'
  article_url_pattern: '/news/\\d{{4}}/\\d{{2}}/\\d{{2}}/'
  next_page: 'a.next::attr(href)'
  max_pages: 10000
article:
  title: 'h1.headline'
  body: 'div.article-body'
  published: {{css: 'time.published', attr: datetime}}
  author: '.byline a[rel=author]'
  section: {{meta: 'article:section'}}
  tags: '.tags a'
  drop: ['.related', 'figure']
"""


def serve(total: int, port: int, latency: float = 0.0) -> None:
    """Serve the site; ``latency`` seconds before each response, as a distant
    server would take."""
    from twisted.internet import reactor
    from twisted.web import resource, server

    pages = build_site(total)

    def respond(request, body: bytes) -> None:  # type: ignore[no-untyped-def]
        if not request.finished and not request._disconnected:
            request.write(body)
            request.finish()

    class Pages(resource.Resource):
        isLeaf = True

        def render_GET(self, request):  # type: ignore[no-untyped-def]  # noqa: N802
            body = pages.get(request.path.decode())
            if body is None:
                request.setResponseCode(404)
                body = b"<html><body>Not found</body></html>"
            kind = b"text/plain" if request.path == b"/robots.txt" else b"text/html; charset=utf-8"
            request.setHeader(b"Content-Type", kind)
            if not latency:
                return body
            reactor.callLater(latency, respond, request, body)  # type: ignore[attr-defined]
            return server.NOT_DONE_YET

    site = server.Site(Pages())
    site.log = lambda request: None  # type: ignore[method-assign]  # no access log
    listening = reactor.listenTCP(port, site, interface="127.0.0.1", backlog=256)  # type: ignore[attr-defined]
    print(f"http://127.0.0.1:{listening.getHost().port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every response")
    args = parser.parse_args()
    serve(args.articles, args.port, args.latency_ms / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
