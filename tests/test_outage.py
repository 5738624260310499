"""Nothing scraped is lost: a database that goes away in the middle of a
crawl (and comes back during it, or only after it), and a crawl process
killed with SIGKILL halfway.

PostgreSQL is reached through a TCP proxy that the test cuts and restores,
which looks to the crawl exactly like a server stopped and started again
(new connections refused, open ones dropped) without touching the shared
server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.archive import Archive
from support.database_proxy import DatabaseProxy
from support.sites import (
    ScriptedSite,
    article_html,
    listing_html,
    paragraphs,
    site_definition,
)

from crawler.scheduling.runner import PROJECT_ROOT, crawl_env
from crawler.storage.database import ensure_schema

PASSWORD = "outage-Secret-4711"
ARTICLES = 24
FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "STORE_BATCH_SIZE=4")


@pytest.fixture
def news(tmp_path, monkeypatch):
    """A site of ARTICLES stories served slowly enough to cut the database mid-crawl."""
    site = ScriptedSite()
    links = [f"/a/{n}" for n in range(ARTICLES)]
    site.page("/news/", listing_html(links))
    for n, link in enumerate(links):
        site.slow(link, article_html(f"Story {n}", paragraphs(n)), delay=0.25)
    define_news(site, tmp_path, monkeypatch)
    yield site
    site.close()


def define_news(site: ScriptedSite, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``news`` site of ``site``, with its sites folder and spool under ``folder``."""
    sites = folder / "sites"
    sites.mkdir()
    (sites / "news.yaml").write_text(site_definition("news", site.url, ["/news/"]))
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(sites))
    monkeypatch.setenv("NEWSCRAWL_SPOOL_DIR", str(folder / "spool"))
    site.spool = folder / "spool"


@pytest.fixture
def proxied(postgres_url):
    """(the crawl's URL through the proxy, with a password; the direct URL; the proxy)"""
    ensure_schema(postgres_url)
    host_port = postgres_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = DatabaseProxy((host, int(port)))
    user = postgres_url.split("://", 1)[1].split("@", 1)[0]
    name = postgres_url.rsplit("/", 1)[1]
    url = f"postgresql+psycopg://{user}:{PASSWORD}@127.0.0.1:{proxy.port}/{name}"
    yield url, postgres_url, proxy
    if proxy._listener is None:
        proxy.restore()


def crawl_command(*settings: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "articles",
        "-a",
        "site=news",
        *FAST,
        *settings,
    ]


def start_crawl(db_url: str, *settings: str) -> subprocess.Popen:
    """A crawl in the background, its output (stdout and stderr) in one pipe."""
    return subprocess.Popen(
        crawl_command(*settings),
        cwd=PROJECT_ROOT,
        env=crawl_env(db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_crawl(db_url: str, *settings: str) -> str:
    proc = subprocess.run(
        crawl_command(*settings),
        cwd=PROJECT_ROOT,
        env=crawl_env(db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def wait_for(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def articles_fetched(site: ScriptedSite) -> int:
    return sum(p.startswith("/a/") for p in site.fetched())


def assert_every_story_once(archive: Archive) -> None:
    rows = archive.rows("select url, title, body, content_hash, version from articles")
    assert len(rows) == ARTICLES
    by_number = {int(r["url"].rsplit("/", 1)[1]): r for r in rows}
    assert sorted(by_number) == list(range(ARTICLES))
    for n, row in by_number.items():
        assert (row["title"], row["version"]) == (f"Story {n}", 1)
        assert row["body"] == "\n\n".join(paragraphs(n))
        assert row["content_hash"]


class Output:
    """The output of a background crawl, read as it comes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait(self) -> str:
        self.proc.wait(timeout=120)
        self._thread.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        assert self.proc.returncode == 0, self.text[-3000:]
        return self.text


def stored_count(url: str) -> int:
    return Archive(url).scalar("select count(*) from articles") or 0


def crawl_through_an_outage(proxied: tuple, until: str) -> str:
    """A crawl whose first batch is stored, then the database goes away until
    the crawl logs ``until``, and comes back before the crawl ends. Its output."""
    url, direct, proxy = proxied
    output = Output(start_crawl(url, "-s", "STORE_OUTAGE_WAIT=30"))
    wait_for(lambda: stored_count(direct) > 0)
    proxy.cut()
    wait_for(lambda: until in output.text)
    proxy.restore()
    return output.wait()


def test_database_back_during_the_crawl(news, proxied):
    direct = proxied[1]
    text = crawl_through_an_outage(proxied, until="database unreachable")

    archive = Archive(direct)
    assert_every_story_once(archive)
    run = archive.rows("select * from crawl_runs")[0]
    assert (run["status"], run["articles_new"]) == ("finished", ARTICLES)
    assert run["finish_reason"].startswith("finished; database unreachable (")
    assert run["finish_reason"].endswith("items spooled, all stored once it was back")
    assert "database reachable again" in text
    assert PASSWORD not in text
    assert not list(news.spool.glob("*/*.jsonl"))  # all written, nothing left


def test_database_back_only_after_the_crawl(news, proxied):
    url, direct, proxy = proxied
    output = Output(start_crawl(url, "-s", "STORE_OUTAGE_WAIT=1"))
    wait_for(lambda: stored_count(direct) > 0)
    proxy.cut()
    text = output.wait()
    assert "its row waits in the spool" in text
    assert PASSWORD not in text
    assert len(list(news.spool.glob("*/*.jsonl"))) == 1

    # The database is back; the next crawl writes the spool first.
    proxy.restore()
    mark = len(news.request_log)
    output = run_crawl(url)
    assert PASSWORD not in output
    archive = Archive(direct)
    assert_every_story_once(archive)
    # Those it stored were known: the second crawl fetched none of them again.
    assert articles_fetched_since(news, mark) == 0
    first, second = archive.rows("select * from crawl_runs order by id")
    assert first["status"] == "finished"
    assert "left in the spool for the next crawl" in first["finish_reason"]
    assert "this row written later from the spool" in first["finish_reason"]
    assert second["finish_reason"].startswith("finished; ")
    assert "left in the spool by earlier crawls stored at the start" in second["finish_reason"]
    assert first["articles_new"] + second["articles_new"] == ARTICLES
    assert not list(news.spool.glob("*/*.jsonl"))


def articles_fetched_since(site: ScriptedSite, mark: int) -> int:
    return sum(p.startswith("/a/") for p in site.fetched(mark))


@pytest.mark.e2e
def test_killed_crawl_is_completed_by_the_next(news, database_url, archive):
    ensure_schema(database_url)
    crawl = start_crawl(database_url)
    # Halfway: some batches written, more pages in flight.
    wait_for(lambda: (archive.scalar("select count(*) from articles") or 0) >= ARTICLES // 3)
    os.kill(crawl.pid, signal.SIGKILL)
    crawl.communicate(timeout=30)
    assert crawl.returncode == -signal.SIGKILL
    killed = archive.rows("select * from crawl_runs")[0]
    assert killed["status"] == "running"  # nobody could say otherwise yet
    assert archive.scalar("select count(*) from articles") < ARTICLES

    run_crawl(database_url)

    assert_every_story_once(archive)
    first, second = archive.rows("select * from crawl_runs order by id")
    assert first["status"] == "interrupted"
    assert f"pid {crawl.pid}" in first["finish_reason"]
    assert first["finished_at"] is not None
    assert (second["status"], second["finish_reason"]) == ("finished", "finished")
    assert archive.scalar("select count(*) from article_revisions") == 0


class Stats(dict):
    """The part of Scrapy's stats collector the batch writer uses."""

    def inc_value(self, key: str, count: int = 1) -> None:
        self[key] = self.get(key, 0) + count

    def set_value(self, key: str, value: object) -> None:
        self[key] = value

    def get_value(self, key: str, default: object = None) -> object:
        return self.get(key, default)


# Another writer holds the database's lock while the store retries for real.
@pytest.mark.e2e
def test_sqlite_locked_past_its_busy_timeout(tmp_path, archive, database_url):
    import asyncio
    import sqlite3

    from sqlalchemy import create_engine

    from crawler.items import Article
    from crawler.storage.spool import Spool
    from crawler.storage.store import Store
    from crawler.storage.writer import BatchWriter

    ensure_schema(database_url)
    stats = Stats()
    writer = BatchWriter(
        database_url,
        batch_size=2,
        stats=stats,
        spool=Spool(tmp_path / "spool", database_url),
        outage_wait=10,
    )
    # A store that waits 0.1 s for a lock instead of newscrawl's 30 s.
    writer.store = Store(create_engine(database_url, connect_args={"timeout": 0.1}))
    articles = [
        Article(
            url=f"http://paper.test/a/{n}",
            site="paper",
            title=f"Story {n}",
            body="\n\n".join(paragraphs(n)),
        )
        for n in range(6)
    ]
    other_writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    other_writer.execute("begin immediate")

    async def crawl() -> None:
        for article in articles[:4]:
            await writer.add(article)
        # Both batches wait in the spool while the other writer holds the lock.
        assert (stats["newscrawl/spool/spooled"], writer.spool.pending) == (4, True)
        asyncio.get_running_loop().call_later(0.5, other_writer.execute, "rollback")
        for article in articles[4:]:
            await writer.add(article)
        await writer.close()

    asyncio.run(crawl())
    other_writer.close()
    assert archive.scalar("select count(*) from articles") == 6
    assert stats["newscrawl/articles_new"] == 6
    assert stats["newscrawl/spool/stored"] >= 4 and "newscrawl/spool/left" not in stats
    assert not list((tmp_path / "spool").glob("*/*.jsonl"))


def test_spool_folders_tell_databases_apart(tmp_path, monkeypatch):
    from crawler.storage.spool import Spool

    monkeypatch.chdir(tmp_path)
    here = Spool(tmp_path / "spool", "sqlite:///newscrawl.db")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    there = Spool(tmp_path / "spool", "sqlite:///newscrawl.db")
    assert here.folder != there.folder  # two files called newscrawl.db
    with_password = Spool(tmp_path / "spool", f"postgresql+psycopg://news:{PASSWORD}@db/news")
    without = Spool(tmp_path / "spool", "postgresql+psycopg://news@db/news")
    other_password = Spool(tmp_path / "spool", "postgresql+psycopg://news:x@db/news")
    assert with_password.folder == other_password.folder == without.folder
    with_password.append({"kind": "rejected", "rows": []})
    assert PASSWORD not in (with_password.folder / "database.txt").read_text()
    assert PASSWORD not in str(with_password.path)
    with_password.close()


def test_a_listing_page_read_while_the_database_is_down_loses_no_link(
    tmp_path, monkeypatch, proxied
):
    direct = proxied[1]
    site = ScriptedSite()
    links = [f"/a/{n}" for n in range(ARTICLES)]
    half = ARTICLES // 2
    site.page("/news/", listing_html(links[:half], "/news/2"))
    # The second listing page arrives once the database is gone: its links
    # cannot be checked against what is stored.
    site.slow("/news/2", listing_html(links[half:]), delay=5.0)
    for n, link in enumerate(links):
        site.slow(link, article_html(f"Story {n}", paragraphs(n)), delay=0.1)
    define_news(site, tmp_path, monkeypatch)
    try:
        text = crawl_through_an_outage(proxied, until="links followed without checking")
        assert site.count("/news/2") == 1
        assert [site.count(link) for link in links] == [1] * ARTICLES
    finally:
        site.close()
    assert f"{half} article links followed without checking which are stored" in text
    assert f"'newscrawl/links_unchecked': {half}" in text
    assert PASSWORD not in text
    archive = Archive(direct)
    assert_every_story_once(archive)
    run = archive.rows("select * from crawl_runs")[0]
    assert (run["status"], run["articles_new"]) == ("finished", ARTICLES)
