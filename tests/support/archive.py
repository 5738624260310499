"""Test archives. ``Archive``: plain SQL over a test database, as a user would
query it. ``build_archive``: an archive to query, filled by real crawls
through ``python -m crawler.cli crawl`` against sites served on 127.0.0.1: the
demo site, and a small site ("paper") whose articles are written for search,
corrections and top-story changes, with a copy of one story on a second site
("wire")."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import text

from crawler.cli.demo_site import DemoSiteServer
from crawler.cli.main import demo_site_definition
from crawler.scheduling.runner import PROJECT_ROOT
from crawler.storage.database import get_engine
from support.sites import ScriptedSite


class Archive:
    """Plain SQL over the test database, as a user would query it."""

    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)

    def rows(self, sql: str, **params: object) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params).mappings()]

    def scalar(self, sql: str, **params: object) -> object:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()


FILLER = (
    "Residents gathered in the square on Monday morning to hear the announcement. "
    "Officials said more details would follow in the coming weeks. "
    "Several shop owners welcomed the news and asked for a clear timetable. "
    "A public meeting is planned for next month at the community hall."
)

# path -> (title, paragraphs, published, author, section)
PAPER_V1 = {
    "/a/1": (
        "Harbour tram line approved by council",
        ["The council approved the harbour line after a long debate on Monday.", FILLER],
        "2024-03-01T09:00:00+00:00",
        "Ani Petrosyan",
        "City",
    ),
    "/a/2": (
        "Council budget vote delayed",
        [
            "The budget vote was delayed again. One member asked whether the tram "
            "depot would be moved before the elections.",
            FILLER,
        ],
        "2024-03-02T09:00:00+00:00",
        "Davit Hakobyan",
        "Politics",
    ),
    "/a/3": (
        "Old bridge shut for repairs",
        [
            "Drivers were told the river bridge closed on Tuesday for at least a month.",
            "Engineers found cracks in two of the arches. " + FILLER,
        ],
        "2024-03-03T09:00:00+00:00",
        "Ani Petrosyan",
        "City",
    ),
    "/a/4": (
        "Museum festival draws crowds",
        [
            "The river museum stayed open late. A bridge of lanterns was built and "
            "closed the festival on Sunday.",
            FILLER,
        ],
        "2024-03-04T09:00:00+00:00",
        "Lilit Sargsyan",
        "Culture",
    ),
    "/a/5": (
        "Mayor opens new library",
        [
            "The mayor opened the new library on Friday. It holds forty thousand books.",
            "Children from three schools attended the opening. " + FILLER,
        ],
        "2024-03-05T09:00:00+00:00",
        "Davit Hakobyan",
        "City",
    ),
    "/a/6": (
        "Ереван: новый мост открыт",
        [
            "В Ереване открыли новый пешеходный мост через реку Раздан. "
            "Мост соединяет два района города.",
            "Строительство заняло два года. Жители давно ждали открытия моста, "
            "который сократит дорогу до центра.",
        ],
        "2024-03-06T09:00:00+00:00",
        "Anna Ivanova",
        "World",
    ),
}
# The correction seen by the second crawl: a longer headline, one sentence changed.
PAPER_CORRECTED = {
    "/a/5": (
        "Mayor opens new library in the Old Town",
        [
            "The mayor opened the new library on Friday. It holds sixty thousand books.",
            "Children from three schools attended the opening. " + FILLER,
        ],
        "2024-03-05T09:00:00+00:00",
        "Davit Hakobyan",
        "City",
    ),
}
TOP_V1 = ["/a/1", "/a/2", "/a/3"]
TOP_V2 = ["/a/3", "/a/1", "/a/5"]

PAPER = """\
name: paper
base_url: {url}/
language: en
listing:
  start_urls: [/news/]
  article_links: 'ul.news a::attr(href)'
article:
  title: h1
  body: div.story
  published: {{css: time, attr: datetime}}
  author: '{author}'
  section: .section
top_stories:
  pages: [/]
  entries: 'ol.top li a'
"""
WIRE = """\
name: wire
base_url: {url}/wire/
listing:
  start_urls: [/wire/]
  article_links: 'ul.news a::attr(href)'
article:
  title: h1
  body: div.story
"""
DOWN = """\
name: down
base_url: http://127.0.0.1:9/
listing: {start_urls: [/news/]}
article: {body: p}
"""


def article_html(
    title: str, paragraphs: list[str], published: str, author: str, section: str
) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f'<time datetime="{published}">{published}</time><span class="byline">{author}</span>'
        f'<span class="section">{section}</span><div class="story">{body}</div></body></html>'
    )


def listing_html(links: list[str]) -> str:
    items = "".join(f'<li><a href="{href}">story</a></li>' for href in links)
    return f'<html><body><ul class="news">{items}</ul></body></html>'


def home_html(top: list[str], titles: dict[str, str]) -> str:
    items = "".join(f'<li><a href="{path}">{titles[path]}</a></li>' for path in top)
    return f'<html><body><ol class="top">{items}</ol></body></html>'


@dataclass
class CrawledArchive:
    url: str
    demo_url: str
    paper_url: str
    log: list[str] = field(default_factory=list)


def search_template_name(run_folder: Path) -> str:
    """The PostgreSQL database that tests/test_search.py's archive is built in
    once per run and copied from: named after the run's temporary folder."""
    return "newscrawl_search_" + hashlib.sha1(str(run_folder).encode()).hexdigest()[:12]


def shared_archive(
    shared: Path,
    demo_site: DemoSiteServer,
    create: Callable[[], str],
    copy: Callable[[], str],
    full: bool = True,
) -> CrawledArchive:
    """The archive of :func:`build_archive`, built once for all the test
    processes of a run: the first to get here calls ``create`` (an empty
    database; its URL) and builds the archive there, the others waiting on a
    lock in the folder ``shared``; then each calls ``copy``, which makes its
    own copy of that database and returns the copy's URL."""
    shared.mkdir(exist_ok=True)
    record = shared / "archive.json"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            built = build_archive(create(), shared / "build", demo_site, full=full)
            record.write_text(json.dumps(asdict(built)))
        url = copy()
    return CrawledArchive(**{**json.loads(record.read_text()), "url": url})


class Crawler:
    def __init__(self, database: str, sites_dir: Path) -> None:
        self.env = {**os.environ, "NEWSCRAWL_SITES_DIR": str(sites_dir)}
        self.env.pop("NEWSCRAWL_DATABASE_URL", None)
        self.database = database

    def __call__(self, *args: str, ok: bool = True) -> str:
        proc = subprocess.run(
            # AutoThrottle off: these crawls fill an archive to query, quickly.
            [
                sys.executable,
                "-m",
                "crawler.cli",
                "crawl",
                *args,
                "--database",
                self.database,
                "--set",
                "AUTOTHROTTLE_ENABLED=False",
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if ok:
            assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
        return proc.stdout


def publish(site: ScriptedSite, articles: dict, top: list[str]) -> None:
    for path, (title, paragraphs, published, author, section) in articles.items():
        site.page(path, article_html(title, paragraphs, published, author, section))
    site.page("/news/", listing_html(sorted(PAPER_V1)))
    titles = {path: spec[0] for path, spec in {**PAPER_V1, **articles}.items()}
    site.page("/", home_html(top, titles))


def build_archive(
    database: str, folder: Path, demo_site: DemoSiteServer, full: bool = True
) -> CrawledArchive:
    """Crawl the demo site, then the paper twice (a correction and new top
    stories in between), then the wire's copy of the bridge story. ``full``
    adds a crawl whose author selector no longer matches (a health warning)
    and a failed crawl of an unreachable site."""
    sites = folder / "sites"
    sites.mkdir(parents=True)
    demo_site_definition(sites, demo_site.url + "/")
    paper = ScriptedSite()
    try:
        (sites / "paper.yaml").write_text(PAPER.format(url=paper.url, author=".byline"))
        (sites / "wire.yaml").write_text(WIRE.format(url=paper.url))
        (sites / "down.yaml").write_text(DOWN)
        crawl = Crawler(database, sites)
        archive = CrawledArchive(database, demo_site.url, paper.url)

        archive.log.append(crawl("demo"))
        publish(paper, PAPER_V1, TOP_V1)
        archive.log.append(crawl("paper"))
        publish(paper, {**PAPER_V1, **PAPER_CORRECTED}, TOP_V2)
        archive.log.append(crawl("paper", "--refetch"))
        if full:
            (sites / "paper.yaml").write_text(PAPER.format(url=paper.url, author=".gone"))
            archive.log.append(crawl("paper", "--spider", "articles", "--refetch"))
        # The wire runs the bridge story word for word: a duplicate.
        title, paragraphs, published, author, section = PAPER_V1["/a/3"]
        paper.page("/wire/", listing_html(["/wire/s/1"]))
        paper.page(
            "/wire/s/1", article_html("Wire: " + title, paragraphs, published, author, section)
        )
        archive.log.append(crawl("wire"))
        if full:
            archive.log.append(crawl("down", "--set", "RETRY_TIMES=0", ok=False))
        return archive
    finally:
        paper.close()
