"""Throughput of one and of two `newscrawl worker` processes on the same site.

Serves a generated site of N articles on 127.0.0.1 (each page answers after a
fixed latency, as a remote server would), then in the same run crawls it with
one worker and with two workers through Redis into a fresh PostgreSQL
database each time, and reports pages/s and the ratio. Needs Redis at
127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432 (as in CI).

    .venv/bin/python bench/workers_bench.py [--articles 600] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import redis  # noqa: E402
import test_distributed as site_module  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

ADMIN = os.environ.get(
    "NEWSCRAWL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("NEWSCRAWL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def crawl_with(workers: int, site_url: str, articles: int, listing: str) -> dict:
    name = f"bench{uuid.uuid4().hex[:8]}"
    db = f"newscrawl_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{db}"'))
    url = ADMIN.rsplit("/", 1)[0] + f"/{db}"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / f"{name}.yaml").write_text(
            f"name: {name}\nbase_url: {site_url}/\n"
            "listing:\n  start_urls: [/news/1]\n  article_links: 'ul.news a::attr(href)'\n"
            + (
                "  next_page: 'a[rel=\"next\"]::attr(href)'\n  max_pages: 1000\n"
                if listing == "next"
                else f"  page_url_template: '/news/{{page}}'\n  max_pages: {articles // 20}\n"
            )
            + "article:\n  body: 'div.story'\n"
        )
        env = {
            **os.environ,
            "NEWSCRAWL_SITES_DIR": folder,
            "NEWSCRAWL_DATABASE_URL": url,
            "NEWSCRAWL_REDIS_URL": REDIS,
        }
        cli = [sys.executable, "-m", "crawler.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
        settings = [
            "--set",
            "AUTOTHROTTLE_ENABLED=False",
            "--set",
            "NEWSCRAWL_WORKER_IDLE_SECONDS=2",
            "--set",
            "LOG_LEVEL=WARNING",
        ]
        procs = [
            subprocess.Popen(
                # Several workers on one machine: no metrics endpoint (one port each).
                [*cli, "worker", "--site", name, "--metrics-port", "0", *settings],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        time.sleep(2)  # workers up and watching
        engine = create_engine(url)
        start = time.monotonic()
        subprocess.run(
            [*cli, "enqueue", name, "--spider", "articles"],
            env=env,
            check=True,
            capture_output=True,
        )
        while True:
            with engine.connect() as conn:
                stored = conn.execute(text("select count(*) from articles")).scalar()
            if stored >= articles:
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - start
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=120)
        with engine.connect() as conn:
            runs = conn.execute(text("select arguments, pages_fetched from crawl_runs")).all()
        engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'drop database "{db}" with (force)'))
    admin.dispose()
    server = redis.Redis.from_url(REDIS)
    for key in server.scan_iter(f"newscrawl:{name}:*"):
        server.delete(key)
    shares: dict[str, int] = {}
    for arguments, pages in runs:
        shares[arguments["worker"]] = shares.get(arguments["worker"], 0) + pages
    return {
        "workers": workers,
        "listing": listing,
        "seconds": elapsed,
        "articles_per_second": articles / elapsed,
        "pages_by_worker": sorted(shares.values(), reverse=True),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per article page")
    args = parser.parse_args()
    site = site_module.SlowNewsSite(args.articles, args.latency)
    try:
        # "next": listing pages found one after another (a next link), a serial
        # chain no number of workers shortens; "template": all listing pages
        # known at the start (page_url_template), so the work can spread.
        results = [
            crawl_with(n, site.url, args.articles, lst)
            for lst in ("next", "template")
            for n in (1, 2)
        ]
    finally:
        site.close()
    print("| pagination | workers | seconds | articles/s | pages by worker |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['listing']} | {r['workers']} | {r['seconds']:.1f} | "
            f"{r['articles_per_second']:.1f} | {r['pages_by_worker']} |"
        )
    ratios = {}
    for listing in ("next", "template"):
        one, two = (r for r in results if r["listing"] == listing)
        ratios[listing] = two["articles_per_second"] / one["articles_per_second"]
        print(f"\n{listing}: two workers / one worker = {ratios[listing]:.2f}x")
    print(
        f"({args.articles} articles, {args.latency * 1000:.0f} ms per article page, "
        f"{os.cpu_count()} cores)"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "workers.json").write_text(json.dumps({"results": results, "ratios": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
