"""``newscrawl browse`` in a real headless browser: Debian's Chromium loads
the pages Datasette serves for the crawled archive (support/archive.py: the
demo site, the paper with its correction and changing top stories, the
wire's copy) and hands back the rendered DOM, which is checked, and a
screenshot of each page: the first screen, the articles with their facets,
an article, the top stories of a site and a day, the corrections, a search
with awkward text.

The screenshots go to the test's temporary folder, and with
``NEWSCRAWL_SCREENSHOTS=DIR`` to DIR as well, for a person to look at:

    NEWSCRAWL_SCREENSHOTS=screenshots .venv/bin/python -m pytest tests/test_browser.py

Without Chromium the tests are skipped, saying how to install it; under CI
(``CI`` set, as .ci/run does) they fail instead."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from support.archive import CrawledArchive

from crawler.scheduling.runner import PROJECT_ROOT
from crawler.storage.database import get_engine

pytestmark = pytest.mark.e2e

INSTALL = "apt-get install chromium (Debian's package)"
SCREENSHOTS_ENV = "NEWSCRAWL_SCREENSHOTS"
AWKWARD = 'covid-19 "U.S." O\'Brien'
INTERNAL = ("alembic_version", "apscheduler_jobs", "crawl_locks", "listing_walks", "articles_fts")


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = f"Chromium is not installed: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Browser:
    """Headless Chromium, one process per page: the DOM after loading, or a
    screenshot of the window."""

    executable: str
    profile: Path
    screenshots: list[Path]

    def run(self, url: str, *options: str) -> str:
        command = [
            self.executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile}",
            *options,
            url,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    def dom(self, url: str) -> str:
        """The page as the browser built it, serialised, entities decoded."""
        return html.unescape(self.run(url, "--dump-dom"))

    def screenshot(self, url: str, name: str, height: int = 1000) -> Path:
        folder = self.screenshots[0]
        path = folder / f"{name}.png"
        self.run(url, f"--screenshot={path}", f"--window-size=1400,{height}")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000  # a page, not an empty window
        for other in self.screenshots[1:]:
            shutil.copy(path, other / path.name)
        return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except OSError:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"Datasette did not start: {log.read_text()}"
            time.sleep(0.3)


@pytest.fixture(scope="module")
def served(crawled_archive: CrawledArchive, tmp_path_factory) -> Iterator[str]:
    """``newscrawl browse --no-open`` serving the crawled archive; its address."""
    chromium_path()
    port = free_port()
    log = tmp_path_factory.mktemp("browse") / "browse.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "browse", "--no-open", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env={**os.environ, "NEWSCRAWL_DATABASE_URL": crawled_archive.url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/-/versions.json", server, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Browser:
    folders = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get(SCREENSHOTS_ENV):
        folders.append(Path(os.environ[SCREENSHOTS_ENV]))
        folders[-1].mkdir(parents=True, exist_ok=True)
    return Browser(chromium_path(), tmp_path_factory.mktemp("chromium-profile"), folders)


def one(archive: CrawledArchive, statement: str, **params: object) -> dict:
    with get_engine(archive.url).connect() as conn:
        return dict(conn.execute(text(statement), params).mappings().one())


def test_the_first_screen(served, browser):
    dom = browser.dom(served + "/")
    assert '<form class="nc-search" action="/archive/article_list"' in dom
    assert 'name="_search"' in dom
    for view in ("article_list", "top_story_spans", "corrections", "crawl_history"):
        assert f'href="/archive/{view}' in dom
    for heading in ("Articles", "Top stories", "Corrections", "Crawl runs"):
        assert f"<h2>{heading}</h2>" in dom
    for name in INTERNAL:
        assert name not in dom
    browser.screenshot(served + "/", "1-home")


def test_the_articles_with_their_facets(served, browser, crawled_archive):
    url = served + "/archive/article_list"
    dom = browser.dom(url)
    facets = re.findall(r'<p class="facet-info-name">\s*<strong>([^<]+)', dom)
    assert {name.strip() for name in facets} == {"site", "section", "author", "tags (array)"}
    longest = one(
        crawled_archive,
        "select a.id, a.body, l.excerpt from articles a join article_list l using (id) "
        "order by length(a.body) desc limit 1",
    )
    assert longest["excerpt"] in dom and len(longest["excerpt"]) <= 201
    assert longest["body"][:300] not in dom  # the excerpt, not the body
    assert f'<a href="/archive/articles/{longest["id"]}" class="nc-title">' in dom
    for hidden in ("content_hash", "simhash", "sources"):
        assert f'data-column="{hidden}"' not in dom
    browser.screenshot(url, "2-articles", height=1400)


def test_an_article_in_full(served, browser, crawled_archive):
    corrected = one(crawled_archive, "select id, title, body from articles where version = 2")
    url = f"{served}/archive/articles/{corrected['id']}"
    dom = browser.dom(url)
    assert f'<h2 class="nc-headline">{corrected["title"]}</h2>' in dom
    for paragraph in corrected["body"].split("\n\n"):
        assert f"<p>{paragraph}</p>" in dom
    assert f'href="/archive/corrections?article_id={corrected["id"]}">what changed</a>' in dom
    browser.screenshot(url, "3-article")


def test_the_top_stories_of_a_site_on_a_day(served, browser, crawled_archive):
    # The paper's last day of snapshots, and the stories they showed, from the table.
    day = one(crawled_archive, "select date(max(captured_at)) as day from top_stories")["day"]
    stories = one(
        crawled_archive,
        "select count(distinct url) as n from top_stories "
        "where site = 'paper' and date(captured_at) = :day",
        day=day,
    )["n"]
    assert stories >= 1
    url = f"{served}/archive/top_story_spans?" + urlencode({"site": "paper", "day": day})
    dom = browser.dom(url)
    assert f"{stories} row{'s' if stories != 1 else ''} where" in dom
    assert dom.count('class="nc-bar"') == stories  # a bar on the day per story
    assert "Mayor opens new library in the Old Town" in dom  # linked by its article
    browser.screenshot(url, "4-top-stories")


def test_the_corrections_with_the_changed_paragraphs(served, browser):
    url = served + "/archive/corrections"
    dom = browser.dom(url)
    # support/archive.py's correction: forty thousand books became sixty thousand.
    assert "<del>forty</del>" in dom and "<ins>sixty</ins>" in dom
    assert "Children from three schools" not in dom  # an unchanged paragraph
    assert "Mayor opens new library <ins>in the Old Town</ins>" in dom  # the title
    browser.screenshot(url, "5-corrections", height=900)


def test_a_search_with_awkward_text(served, browser):
    home = browser.dom(served + "/")
    action = re.search(r'<form class="nc-search" action="([^"]+)"', home)
    assert action is not None
    for query, expected in [(AWKWARD, 0), ('"river bridge closed"', 1)]:
        # What the first screen's form asks for, as a browser sends it.
        url = served + action.group(1) + "?" + urlencode({"_search": query})
        dom = browser.dom(url)
        assert f"{expected} row" in dom and f'search matches "{query}"' in dom
        assert 'class="message-error"' not in dom
    browser.screenshot(served + action.group(1) + "?" + urlencode({"_search": AWKWARD}), "6-search")
    found = served + action.group(1) + "?" + urlencode({"_search": "bridge OR tram"})
    browser.screenshot(found, "7-search-found")
