"""Distributed crawling: two real worker processes share one crawl through
Redis (127.0.0.1:6379) and store into PostgreSQL; every article once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text
from support.sites import listing_html
from support.stories import article_html, story

ARTICLES = 300
PER_PAGE = 20


class SlowNewsSite:
    """A site of ``articles`` articles whose article pages take ``latency`` s each."""

    def __init__(self, articles: int = ARTICLES, latency: float = 0.1) -> None:
        self.articles = articles
        self.latency = latency
        self.log: list[str] = []
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with lock:
                    owner.log.append(self.path)
                body, status = owner.page(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def page(self, path: str) -> tuple[bytes, int]:
        if path == "/robots.txt":
            return b"User-agent: *\n", 200
        if path.startswith("/news/"):
            page = int(path.rsplit("/", 1)[1] or 1)
            first = (page - 1) * PER_PAGE + 1
            links = [f"/a/{n}" for n in range(first, min(first + PER_PAGE, self.articles + 1))]
            nxt = f"/news/{page + 1}" if first + PER_PAGE <= self.articles else None
            return listing_html(links, nxt).encode(), 200
        if path.startswith("/a/"):
            n = int(path.rsplit("/", 1)[1])
            time.sleep(self.latency)
            return article_html(f"Story {n}", story(1000 + n), None).encode(), 200
        return b"not found", 404

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def shared_crawl_of(
    site: SlowNewsSite, tmp_path: Path, redis_url: str, postgres_url: str
) -> tuple[str, dict[str, str]]:
    """A definition of ``site`` under a name of its own, and the environment
    of the workers that crawl it through Redis into PostgreSQL."""
    name = f"dist{uuid.uuid4().hex[:8]}"
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / f"{name}.yaml").write_text(
        f"name: {name}\nbase_url: {site.url}/\n"
        "listing:\n  start_urls: [/news/1]\n  article_links: 'ul.news a::attr(href)'\n"
        "  next_page: 'a[rel=\"next\"]::attr(href)'\n  max_pages: 100\n"
        "article:\n  body: 'div.story'\n"
    )
    env = {
        **os.environ,
        "NEWSCRAWL_SITES_DIR": str(sites),
        "NEWSCRAWL_DATABASE_URL": postgres_url,
        "NEWSCRAWL_REDIS_URL": redis_url,
    }
    return name, env


def test_two_workers_share_one_crawl(tmp_path, redis_url, postgres_url):
    site = SlowNewsSite()
    name, env = shared_crawl_of(site, tmp_path, redis_url, postgres_url)
    settings = [
        "--set",
        "AUTOTHROTTLE_ENABLED=False",
        "--set",
        "CONCURRENT_REQUESTS_PER_DOMAIN=2",
        "--set",
        "NEWSCRAWL_WORKER_IDLE_SECONDS=3",
        "--set",
        "LOG_LEVEL=INFO",
    ]
    cli = [sys.executable, "-m", "crawler.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    workers = [
        subprocess.Popen(
            [*cli, "worker", "--site", name, *settings],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    engine = create_engine(postgres_url)
    try:
        subprocess.run([*cli, "enqueue", name, "--spider", "articles"], env=env, check=True)
        deadline = time.monotonic() + 180
        runs: list = []
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                runs = (
                    conn.execute(
                        text("select * from crawl_runs where site = :s order by id"), {"s": name}
                    )
                    .mappings()
                    .all()
                )
                stored = conn.execute(text("select count(*) from articles")).scalar()
            from crawler.scheduling.distributed import pending

            if (
                stored == ARTICLES
                and runs
                and all(r["status"] != "running" for r in runs)
                and not pending(redis_url, name, "articles")
            ):
                break
            time.sleep(0.5)
        with engine.connect() as conn:
            urls = [r[0] for r in conn.execute(text("select url from articles"))]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=60)[0].decode() for w in workers]
        engine.dispose()
        site.close()
        import redis

        server = redis.Redis.from_url(redis_url)
        for key in server.scan_iter(f"newscrawl:{name}:*"):
            server.delete(key)

    assert [w.returncode for w in workers] == [0, 0], outputs
    # Every article stored exactly once, and no article page fetched twice.
    assert len(urls) == len(set(urls)) == ARTICLES
    fetched = [p for p in site.log if p.startswith("/a/")]
    assert len(fetched) == len(set(fetched)) == ARTICLES
    # Both workers took part; each share of the crawl is recorded as a run.
    assert {r["trigger"] for r in runs} == {"worker"}
    assert {r["status"] for r in runs} == {"finished"}
    assert sum(r["articles_new"] for r in runs) == ARTICLES
    working = {r["arguments"]["worker"] for r in runs if r["pages_fetched"] > 0}
    assert len(working) == 2, (runs, outputs)


def test_with_redis_the_daemon_enqueues_instead_of_crawling(tmp_path, redis_url, database_url):
    import redis

    name = f"sched{uuid.uuid4().hex[:8]}"
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / f"{name}.yaml").write_text(
        f"name: {name}\nbase_url: http://127.0.0.1:9/\n"
        "schedule:\n  articles: {every: 1s}\n  top_stories: {every: 1h, enabled: false}\n"
    )
    env = {**os.environ, "NEWSCRAWL_SITES_DIR": str(sites), "NEWSCRAWL_REDIS_URL": redis_url}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "daemon"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = redis.Redis.from_url(redis_url)
    seeds = f"newscrawl:{name}:articles:seeds"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.llen(seeds) < 2:
            time.sleep(0.2)
        enqueued = server.llen(seeds)
    finally:
        daemon.send_signal(signal.SIGTERM)
        output = daemon.communicate(timeout=60)[0].decode()
        server.delete(seeds)
    assert daemon.returncode == 0, output
    assert enqueued >= 2, output
    assert f"{name}/articles: crawl enqueued for the workers" in output
    # The daemon crawled nothing itself: the workers record the runs.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from crawl_runs")).scalar() == 0
    engine.dispose()


def test_a_worker_whose_crawl_host_dies_closes_its_run_and_crawls_on(
    tmp_path, redis_url, postgres_url
):
    """A worker runs its crawls in a crawl host; killed under a crawl, the
    host's run is closed ``failed`` and the worker starts another host for
    what is still queued."""
    from support.daemons import children_of, wait_for

    site = SlowNewsSite(articles=200, latency=0.2)
    name, env = shared_crawl_of(site, tmp_path, redis_url, postgres_url)
    cli = [sys.executable, "-m", "crawler.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    output = tmp_path / "worker.out"
    with open(output, "wb") as out:
        worker = subprocess.Popen(
            [*cli, "worker", "--site", name, "--crawl-hosts", "1",
             "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "NEWSCRAWL_WORKER_IDLE_SECONDS=3"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    engine = create_engine(postgres_url)

    def runs() -> list:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text("select * from crawl_runs where site = :s order by id"), {"s": name}
                ).mappings()
            )

    def hosts() -> list[int]:
        return [
            pid
            for pid in children_of(worker.pid)
            if b"crawler.scheduling.host" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]

    try:
        subprocess.run([*cli, "enqueue", name, "--spider", "articles"], env=env, check=True)
        wait_for(lambda: len([p for p in site.log if p.startswith("/a/")]) >= 10, "articles")
        [host] = hosts()
        os.kill(host, signal.SIGKILL)
        failed = wait_for(
            lambda: [r for r in runs() if r["status"] == "failed"], "the run closed failed"
        )[0]
        assert failed["finish_reason"].startswith(
            f"its crawl host 1 (pid {host}) was killed by SIGKILL"
        ), failed
        wait_for(lambda: [r for r in runs() if r["status"] == "finished"], "a run after it")
        assert [p for p in hosts() if p != host]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        final = runs()
        engine.dispose()
        site.close()
        import redis

        server = redis.Redis.from_url(redis_url)
        for key in server.scan_iter(f"newscrawl:{name}:*"):
            server.delete(key)
    assert worker.returncode == 0, output.read_text(errors="replace")[-3000:]
    assert all(r["status"] in ("failed", "finished") for r in final)
