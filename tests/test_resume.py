"""No story left behind: a crawl interrupted at any point is continued by the
next ordinary crawl, which stores every listed article exactly once and
fetches none that was already stored.

The site: 300 articles, 20 to a listing page over 15 pages, newest first.
Each test interrupts a first crawl at one point (SIGKILL of the whole process
tree before, after and near the end of its batches, or during pagination;
Ctrl-C; SIGTERM to ``newscrawl crawl``; the daemon's timeout; a database
outage and then SIGKILL), then crawls again without special arguments.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.archive import Archive
from support.database_proxy import DatabaseProxy
from support.sites import NewsSite, ScriptedSite, host

from crawler.scheduling.runner import PROJECT_ROOT, crawl_env
from crawler.storage.database import ensure_schema

# Every test here crawls a site through real processes and interrupts them.
pytestmark = pytest.mark.e2e

ARTICLES = 150
PER_PAGE = 10
BATCH = 10
SETTINGS = (
    "-s", "AUTOTHROTTLE_ENABLED=False",
    "-s", f"STORE_BATCH_SIZE={BATCH}",
    "-s", "EXTRACTION_PROCESSES=1",
)  # fmt: skip


@pytest.fixture
def news(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NewsSite]:
    server = host(ScriptedSite(), tmp_path, monkeypatch)
    site = NewsSite(server, delay=0.01, per_page=PER_PAGE)
    site.publish(ARTICLES)
    (server.sites_dir / "news.yaml").write_text(
        f"name: news\nbase_url: {server.url}/\n"
        "listing:\n  start_urls: ['/news/']\n"
        "  article_links: 'ul.news a::attr(href)'\n"
        "  next_page: 'a[rel=\"next\"]::attr(href)'\n"
        "article:\n  body: 'div.story'\n  min_body_length: 50\n"
        "schedule:\n  articles: {every: 1h}\n  timeout: 15s\n"
    )
    yield site
    server.close()


def start(command: list[str], db_url: str, log: Path) -> subprocess.Popen[bytes]:
    """A process in a session of its own, as a terminal would start it."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=crawl_env(db_url),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def scrapy_crawl(db_url: str, log: Path, *settings: str) -> subprocess.Popen[bytes]:
    """``scrapy crawl``; ``settings`` (``-s NAME=VALUE``) override SETTINGS."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", "articles", "-a", "site=news", *SETTINGS]
    return start([*cmd, *settings], db_url, log)


def newscrawl_crawl(db_url: str, log: Path) -> subprocess.Popen[bytes]:
    settings = [f"--set={SETTINGS[i + 1]}" for i in range(0, len(SETTINGS), 2)]
    cmd = [sys.executable, "-m", "crawler.cli", "crawl", "news", "--spider", "articles"]
    return start([*cmd, *settings], db_url, log)


def wait_for(condition: Callable[[], object], what: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            text = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}:\n{text}")
        time.sleep(0.02)


def stored(archive: Archive) -> int:
    try:
        return int(archive.scalar("select count(*) from articles") or 0)
    except Exception:  # noqa: BLE001 - the schema may not exist yet
        return 0


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the process and everything it started (its session)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def resume_and_check(news: NewsSite, archive: Archive, db_url: str, log: Path) -> None:
    """Ordinary crawls until one ends with nothing new; every article stored
    once, and none that was stored fetched again."""
    news.set_delay(0)
    before = {r["url"].rsplit("/", 1)[1] for r in archive.rows("select url from articles")}
    assert len(before) < news.published, "the interruption came too late to test anything"
    mark = len(news.server.request_log)
    proc = scrapy_crawl(db_url, log)
    assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]
    fetched = news.articles_fetched(mark)
    again = sorted({p.rsplit("/", 1)[1] for p in fetched} & before, key=int)
    assert again == [], f"stored articles fetched again: {again}"
    assert len(fetched) == len(set(fetched))
    urls = [r["url"] for r in archive.rows("select url from articles")]
    assert len(urls) == len(set(urls)) == news.published
    assert {u.rsplit("/", 1)[1] for u in urls} == {str(n) for n in range(1, news.published + 1)}
    # Every run's row counts what it stored (an interrupted one too): they add up.
    runs = archive.rows("select status, articles_new from crawl_runs order by id")
    assert runs[-1]["status"] == "finished"
    assert sum(r["articles_new"] for r in runs) == news.published
    # The walk is complete now: the next crawl reads one listing page, fetches
    # nothing (so it needs no extraction process to read articles).
    mark = len(news.server.request_log)
    proc = scrapy_crawl(db_url, log, "-s", "EXTRACTION_PROCESSES=0")
    assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]
    assert news.articles_fetched(mark) == []
    assert [p for p in news.server.fetched(mark) if p.startswith("/news")] == ["/news/"]


def killed_run(archive: Archive) -> dict:
    [run] = archive.rows("select * from crawl_runs order by id limit 1")
    return run


@pytest.mark.parametrize(
    "point",
    ["before the first batch", "after one batch", "near the end", "during pagination"],
)
def test_sigkill_of_the_process_tree_is_resumed(point, news, any_database_url, tmp_path):
    archive = Archive(any_database_url)
    ensure_schema(any_database_url)
    log = tmp_path / "crawl.log"
    proc = scrapy_crawl(any_database_url, log)
    if point == "before the first batch":
        wait_for(lambda: len(news.articles_fetched()) >= 3, "three article pages served", log)
    elif point == "after one batch":
        wait_for(lambda: stored(archive) >= BATCH, "one batch stored", log)
    elif point == "near the end":
        wait_for(lambda: stored(archive) >= ARTICLES - 50, "most articles stored", log)
    else:
        wait_for(lambda: news.server.count("/news/5") > 0, "listing page 5 served", log)
    kill_tree(proc)
    if point == "after one batch":
        news.publish(25)  # the site moves on meanwhile: every page shifts
    # The killed run's row counts what it stored, batch by batch.
    run = killed_run(archive)
    assert run["status"] == "running"  # until the next crawl finds its process gone
    assert run["articles_new"] == stored(archive)
    if point in ("after one batch", "near the end"):
        assert run["articles_new"] > 0 and run["pages_fetched"] > run["articles_new"]
    resume_and_check(news, archive, any_database_url, log)


def test_ctrl_c_then_ordinary_crawls(news, any_database_url, tmp_path):
    database_url, archive = any_database_url, Archive(any_database_url)
    ensure_schema(database_url)
    log = tmp_path / "crawl.log"
    proc = newscrawl_crawl(database_url, log)
    wait_for(lambda: stored(archive) >= BATCH, "one batch stored", log)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
    assert proc.wait(timeout=120) != 0
    assert killed_run(archive)["status"] == "interrupted"
    resume_and_check(news, archive, database_url, log)


def test_sigterm_to_newscrawl_crawl_then_ordinary_crawls(news, any_database_url, tmp_path):
    database_url, archive = any_database_url, Archive(any_database_url)
    ensure_schema(database_url)
    log = tmp_path / "crawl.log"
    proc = newscrawl_crawl(database_url, log)
    wait_for(lambda: stored(archive) >= BATCH, "one batch stored", log)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    wait_for(lambda: killed_run(archive)["status"] != "running", "the run closed", log)
    assert killed_run(archive)["status"] == "interrupted"
    status = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "status", "--site", "news"],
        cwd=PROJECT_ROOT,
        env=crawl_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "incomplete" in status.stdout and "resumed" in status.stdout, status.stdout
    runs = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "runs", "--site", "news"],
        cwd=PROJECT_ROOT,
        env=crawl_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "interrupted: interrupted" not in runs.stdout, runs.stdout
    assert "listing walk incomplete: the next crawl continues it" in runs.stdout, runs.stdout
    resume_and_check(news, archive, database_url, log)


def test_the_daemons_timeout_then_ordinary_crawls(news, any_database_url, tmp_path):
    database_url, archive = any_database_url, Archive(any_database_url)
    ensure_schema(database_url)
    # Slower than the 15 s timeout allows for 150 articles (4 at a time: about
    # 25 s), which leaves a crawl process starting on a busy machine time to
    # record its run.
    news.set_delay(0.6)
    log = tmp_path / "daemon.log"
    daemon = start(
        [
            sys.executable, "-m", "crawler.cli", "daemon", "--site", "news",
            "--kill-after", "1", "--log-file", str(log),
            *[f"--set={SETTINGS[i + 1]}" for i in range(0, len(SETTINGS), 2)],
        ],
        database_url,
        tmp_path / "daemon.out",
    )  # fmt: skip
    try:
        wait_for(
            lambda: stored(archive) and killed_run(archive)["status"] == "timeout",
            "a crawl stopped by its timeout",
            log,
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
    resume_and_check(news, archive, database_url, tmp_path / "crawl.log")


def test_an_outage_then_sigkill_then_ordinary_crawls(news, postgres_url, tmp_path):
    ensure_schema(postgres_url)
    archive = Archive(postgres_url)
    host, port = postgres_url.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = DatabaseProxy((host, int(port)))
    user = postgres_url.split("://", 1)[1].split("@", 1)[0]
    proxied = f"postgresql+psycopg://{user}@127.0.0.1:{proxy.port}/{postgres_url.rsplit('/', 1)[1]}"
    log = tmp_path / "crawl.log"
    proc = scrapy_crawl(proxied, log)
    wait_for(lambda: stored(archive) >= BATCH, "one batch stored", log)
    proxy.cut()
    served = len(news.articles_fetched())
    wait_for(
        lambda: len(news.articles_fetched()) >= served + 3 * BATCH, "pages read in the outage", log
    )
    kill_tree(proc)
    proxy.restore()
    resume_and_check(news, archive, proxied, log)
    proxy.cut()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rfind(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def test_a_worker_killed_with_requests_in_hand_loses_nothing(
    news, postgres_url, redis_url, tmp_path, monkeypatch
):
    import redis

    monkeypatch.setenv("NEWSCRAWL_REDIS_URL", redis_url)
    monkeypatch.setenv("NEWSCRAWL_WORKER_IDLE_SECONDS", "2")
    server = redis.Redis.from_url(redis_url)
    for key in server.scan_iter("newscrawl:news:*"):
        server.delete(key)
    ensure_schema(postgres_url)
    archive = Archive(postgres_url)
    settings = [f"--set={SETTINGS[i + 1]}" for i in range(0, len(SETTINGS), 2)]
    cli = [sys.executable, "-m", "crawler.cli"]

    def worker(n: int) -> subprocess.Popen[bytes]:
        return start(
            [*cli, "worker", "--site", "news", *settings], postgres_url, tmp_path / f"w{n}"
        )

    def crawl_through_workers(count: int) -> list[subprocess.Popen[bytes]]:
        workers = [worker(n) for n in range(count)]
        subprocess.run(
            [*cli, "enqueue", "news", "--spider", "articles"],
            env=crawl_env(postgres_url),
            check=True,
        )
        return workers

    started: list[subprocess.Popen[bytes]] = []
    try:
        started += crawl_through_workers(2)
        first = started[0]
        wait_for(lambda: stored(archive) >= 2 * BATCH, "two batches stored", tmp_path / "w0")
        for pid in [first.pid, *descendants(first.pid)]:
            os.kill(pid, signal.SIGKILL)  # the worker and its crawl, requests in hand
        first.wait(timeout=30)
        # The other worker ends the crawl; the lost requests keep the walk open.
        wait_for(
            lambda: archive.scalar("select count(*) from crawl_runs where status = 'finished'"),
            "the surviving worker's crawl",
            tmp_path / "w1",
        )
        assert archive.scalar("select completed_at from listing_walks") is None
        news.set_delay(0)
        before = {r["url"].rsplit("/", 1)[1] for r in archive.rows("select url from articles")}
        mark = len(news.server.request_log)
        started += crawl_through_workers(1)
        wait_for(
            lambda: archive.scalar("select completed_at from listing_walks") is not None,
            "the walk completed",
            tmp_path / "w0",
        )
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
        for key in server.scan_iter("newscrawl:news:*"):
            server.delete(key)
    fetched = {p.rsplit("/", 1)[1] for p in news.articles_fetched(mark)}
    assert fetched & before == set()
    urls = [r["url"] for r in archive.rows("select url from articles")]
    assert len(urls) == len(set(urls)) == ARTICLES
