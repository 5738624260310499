"""newscrawl's speed, measured side by side with a plain Scrapy baseline in
the same run (``make bench-crawl``, part of ``make bench``; not of ``make test``).

1. Crawl throughput: the baseline spider (bench/baseline_spider.py) and
   ``scrapy crawl articles`` with the full pipeline into SQLite, then into a
   fresh PostgreSQL database, crawl the same generated site
   (bench/news_site.py) with the same settings. Pages/s, articles/s, CPU
   seconds, peak RSS, ratio to the baseline. Then a smaller site, to see
   memory against N; and the smaller site behind a server latency, crawled 4
   requests at a time (newscrawl's default), as a crawl of a real site runs.
2. Re-crawl: the first SQLite crawl again, with nothing new.
3. Extraction: ms per page of newscrawl's configured extraction (rules and
   cleaning) and of ``trafilatura.extract`` on the same pages.
4. Store: rows/s of batched upserts (insert-new, update-unchanged).
5. Daemon memory: RSS of ``newscrawl daemon`` over scheduled runs.

Writes bench/results/crawl-TIME.{json,md} and bench/results/crawl.{json,md};
``--update-docs`` also replaces the crawl table in docs/performance.md.

    .venv/bin/python bench/crawl_bench.py [--articles 5000] [--small 1000] [--daemon-runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
sys.path[:0] = [str(ROOT), str(BENCH)]

import news_site  # noqa: E402

PYTHON = sys.executable
# The same politeness for both crawls: no AutoThrottle, no delay, the same
# concurrency, robots.txt obeyed.
COMMON_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "ROBOTSTXT_OBEY": "True",
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": "False",
    "CLOSESPIDER_PAGECOUNT": "0",
}


@dataclass
class Scenario:
    """A site and the settings both crawls of it use."""

    articles: int
    label: str
    latency_ms: float = 0.0
    polite: bool = False  # 4 requests at a time: newscrawl's default per site

    @property
    def settings(self) -> dict[str, str]:
        # Scrapy 2.19 alone lets a site get CONCURRENT_REQUESTS at once when
        # there is no delay (crawler/middlewares/downloader.py fixes it for newscrawl): the
        # global limit keeps the plain baseline to 4 as well.
        four = {"CONCURRENT_REQUESTS": "4", "CONCURRENT_REQUESTS_PER_DOMAIN": "4"}
        return {**COMMON_SETTINGS, **(four if self.polite else {})}


POSTGRES_ADMIN_URL = os.environ.get(
    "NEWSCRAWL_BENCH_POSTGRES_URL",
    os.environ.get(
        "NEWSCRAWL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


@dataclass
class Process:
    returncode: int
    output: str
    wall: float
    cpu: float  # user + system seconds
    peak_rss_mb: float


def run_process(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 3600) -> Process:
    """Run a child to its end; its own CPU time and peak RSS from wait4()."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        out.seek(0)
        output = out.read()
    return Process(
        proc.returncode, output, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    )


def scrapy_stats(output: str) -> dict[str, float]:
    """The numbers of the stats Scrapy dumps at the end of a crawl."""
    dump = output.rsplit("Dumping Scrapy stats:", 1)[-1]
    return {k: float(v) for k, v in re.findall(r"'([\w/.-]+)': ([\d.]+)[,}]", dump)}


class SiteServer:
    def __init__(self, articles: int, latency_ms: float = 0.0) -> None:
        self.articles = articles
        self.proc = subprocess.Popen(
            [
                PYTHON,
                str(BENCH / "news_site.py"),
                "--articles",
                str(articles),
                "--latency-ms",
                str(latency_ms),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError("the benchmark site did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


# --------------------------------------------------------------------------- crawls


@dataclass
class CrawlResult:
    name: str
    conditions: str
    articles_in_site: int
    pages: int
    articles: int
    seconds: float  # Scrapy's elapsed_time_seconds: engine start to close
    wall: float  # the whole process, start-up included
    cpu: float  # the crawl process and its extraction processes
    peak_rss_mb: float  # the crawl process
    extraction_processes: int = 0
    extraction_rss_mb: float = 0.0  # peak RSS of the extraction processes, summed

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    @property
    def articles_per_s(self) -> float:
        return self.articles / self.seconds if self.seconds else 0.0


def median_run(runs: list[CrawlResult]) -> CrawlResult:
    """The run with the median crawl time (the upper one of an even count)."""
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def as_arguments(settings: dict[str, str]) -> list[str]:
    return [arg for k, v in settings.items() for arg in ("-s", f"{k}={v}")]


# Two Scrapy settings of newscrawl's that make any Scrapy crawl cheaper
# (settings/scrapy_settings.py): the second baseline row shows what they do alone.
NEWSCRAWL_SCRAPY_SETTINGS = {"CONCURRENT_ITEMS": "1", "WARN_ON_GENERATOR_RETURN_VALUE": "False"}


def crawl_baseline(
    site: SiteServer, workdir: Path, scenario: Scenario, tuned: bool = False
) -> CrawlResult:
    settings = as_arguments({**scenario.settings, **(NEWSCRAWL_SCRAPY_SETTINGS if tuned else {})})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRAPY_", "NEWSCRAWL_"))}
    cmd = [
        PYTHON,
        "-m",
        "scrapy",
        "runspider",
        str(BENCH / "baseline_spider.py"),
        "-a",
        f"start_url={site.url}/news/",
        *settings,
    ]
    proc = run_process(cmd, env, cwd=workdir)  # a folder without scrapy.cfg: plain Scrapy
    if proc.returncode != 0:
        raise RuntimeError(f"baseline crawl failed:\n{proc.output[-3000:]}")
    stats = scrapy_stats(proc.output)
    return CrawlResult(
        "Scrapy baseline with newscrawl's CONCURRENT_ITEMS=1"
        if tuned
        else "Scrapy baseline (no extraction, no storage)",
        scenario.label,
        site.articles,
        int(stats.get("response_received_count", 0)),
        int(stats.get("baseline/article_pages", 0)),
        stats.get("elapsed_time_seconds", proc.wall),
        proc.wall,
        proc.cpu,
        proc.peak_rss_mb,
    )


def crawl_newscrawl(
    site: SiteServer, db_url: str, sites_dir: Path, name: str, scenario: Scenario
) -> CrawlResult:
    from crawler.scheduling.runner import crawl_env

    env = crawl_env(db_url)
    env["NEWSCRAWL_SITES_DIR"] = str(sites_dir)
    env["NEWSCRAWL_SPOOL_DIR"] = str(sites_dir.parent / "spool")
    settings = as_arguments(scenario.settings)
    cmd = [PYTHON, "-m", "scrapy", "crawl", "articles", "-a", "site=benchnews", *settings]
    proc = run_process(cmd, env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"newscrawl crawl failed:\n{proc.output[-3000:]}")
    stats = scrapy_stats(proc.output)
    stored = sum(
        int(stats.get(f"newscrawl/articles_{kind}", 0)) for kind in ("new", "updated", "unchanged")
    )
    return CrawlResult(
        name,
        scenario.label,
        site.articles,
        int(stats.get("response_received_count", 0)),
        stored,
        stats.get("elapsed_time_seconds", proc.wall),
        proc.wall,
        proc.cpu,
        proc.peak_rss_mb,
        int(stats.get("newscrawl/extraction_processes", 0)),
        stats.get("newscrawl/extraction_processes/peak_rss_mb", 0.0),
    )


def crawl_postgres(site: SiteServer, sites_dir: Path, scenario: Scenario) -> CrawlResult:
    """A newscrawl crawl into a new PostgreSQL database, dropped afterwards."""
    database = PostgresDatabase()
    try:
        return crawl_newscrawl(site, database.url, sites_dir, "newscrawl → PostgreSQL", scenario)
    finally:
        database.drop()


def write_definition(site: SiteServer, folder: Path, schedule: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "benchnews.yaml").write_text(news_site.site_definition(site.url) + schedule)
    return folder


# --------------------------------------------------------------------------- PostgreSQL


class PostgresDatabase:
    """A fresh PostgreSQL database for one measurement, dropped afterwards."""

    def __init__(self) -> None:
        from sqlalchemy import create_engine, text

        self.admin = create_engine(
            POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        self.name = f"newscrawl_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'create database "{self.name}"'))
        self.url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        from sqlalchemy import text

        from crawler.storage.database import dispose_engines

        dispose_engines()
        with self.admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{self.name}" with (force)'))
        self.admin.dispose()


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        PostgresDatabase().drop()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


# --------------------------------------------------------------------------- extraction


EXTRACTION_ROUNDS = 3


def extraction_bench(pages: int, total: int, definition: Path) -> dict[str, Any]:
    import trafilatura

    from crawler.extraction.cleaning import clean_article
    from crawler.extraction.rules import extract_article
    from crawler.sites.definitions import load_site_file

    site = load_site_file(definition)
    sample = [
        (f"http://127.0.0.1{news_site.article_path(n)}", news_site.article_page(n, total))
        for n in range(0, total, max(1, total // pages))
    ][:pages]
    for url, html in sample[:5]:  # warm-up: imports, caches
        clean_article(extract_article(html, url, site), site)
        trafilatura.extract(html, url=url)

    def per_page(function) -> float:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        for url, html in sample:
            function(url, html)
        return (time.perf_counter() - started) / len(sample) * 1000

    # Alternating rounds, each side's median: the machine's speed drifts.
    newscrawl_runs, trafilatura_runs = [], []
    for _ in range(EXTRACTION_ROUNDS):
        newscrawl_runs.append(
            per_page(lambda url, html: clean_article(extract_article(html, url, site), site))
        )
        trafilatura_runs.append(per_page(lambda url, html: trafilatura.extract(html, url=url)))
    newscrawl_ms = statistics.median(newscrawl_runs)
    trafilatura_ms = statistics.median(trafilatura_runs)
    return {
        "pages": len(sample),
        "mean_page_kb": sum(len(h) for _, h in sample) / len(sample) / 1024,
        "newscrawl_ms": newscrawl_ms,
        "trafilatura_ms": trafilatura_ms,
        "ratio": newscrawl_ms / trafilatura_ms,
    }


# --------------------------------------------------------------------------- store


def bench_articles(count: int) -> list[Any]:
    """Articles as the clean stage hands them to the store: with the body's
    fingerprints computed (their cost is in the extraction figure)."""
    from crawler.extraction.fingerprints import content_fingerprint, simhash
    from crawler.items import Article

    articles = []
    for n in range(count):
        parts = news_site.article_parts(n)
        body = "\n\n".join(parts["paragraphs"])
        articles.append(
            Article(
                url=f"http://bench.example{news_site.article_path(n)}",
                site="benchnews",
                title=parts["title"],
                body=body,
                author=parts["author"],
                section=parts["section"],
                tags=parts["tags"],
                language="en",
                published_at=parts["published"],
                sources={"title": "css", "body": "css"},
                content_hash=content_fingerprint(body),
                simhash=simhash(body),
            )
        )
    return articles


class StoreWriter:
    """The store writing batches into ``db_url``."""

    def __init__(self, db_url: str, drop_search_index: bool = False) -> None:
        from sqlalchemy import text

        from crawler.storage.store import Store

        self.store = Store.open(db_url)
        if drop_search_index:
            with self.store.engine.begin() as conn:
                for trigger in ("insert", "update", "delete"):
                    conn.execute(text(f"drop trigger articles_fts_after_{trigger}"))
                conn.execute(text("drop table articles_fts"))

    def insert_new(self, chunk: list[Any]) -> None:
        self.store.save_articles(chunk)

    update_unchanged = insert_new

    def close(self) -> None:
        from crawler.storage.database import dispose_engines

        dispose_engines()


class PlainSqlite:
    """What SQLite alone costs for the same rows: the store's schema (indexes,
    full-text index and its triggers) created by ``Store.open``, then the rows
    written with the plain ``sqlite3`` module, one multi-row INSERT (new) or
    one UPDATE of ``last_seen_at`` (unchanged) and one commit per batch, with
    none of the store's checks (existing rows, duplicates, aliases, top-story
    links). The store's figures over these are its own cost."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        from crawler.storage.database import dispose_engines
        from crawler.storage.store import Store

        Store.open(f"sqlite:///{path}")
        dispose_engines()
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")

    @staticmethod
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, list | dict):
            return json.dumps(value)
        return value

    def insert_new(self, chunk: list[Any]) -> None:
        from crawler.storage.store import _article_values

        now = datetime.now(UTC)
        rows = [[self.plain(v) for v in _article_values(a, now).values()] for a in chunk]
        columns = list(_article_values(chunk[0], now))
        marks = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * len(rows))
        self.conn.execute("BEGIN")
        self.conn.execute(
            f"INSERT INTO articles ({', '.join(columns)}) VALUES {marks}",
            [v for row in rows for v in row],
        )
        self.conn.execute("COMMIT")

    def update_unchanged(self, chunk: list[Any]) -> None:
        now = self.plain(datetime.now(UTC))
        self.conn.execute("BEGIN")
        self.conn.execute(
            f"UPDATE articles SET last_seen_at = ? WHERE url IN ({', '.join('?' * len(chunk))})",
            [now, *(a.url for a in chunk)],
        )
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def write_in_turn(writers: list[Any], articles: list[Any], batch: int) -> list[dict[str, float]]:
    """Each writer's rows/s, new rows then the same rows unchanged, the writers
    taking turns batch by batch (the first to go changing each batch), so a
    change in the machine's load weighs on all of them alike."""
    batches = [articles[i : i + batch] for i in range(0, len(articles), batch)]
    results: list[dict[str, float]] = [{} for _ in writers]
    for phase in ("insert_new", "update_unchanged"):
        spent = [0.0] * len(writers)
        for n, chunk in enumerate(batches):
            order = list(range(len(writers)))
            for w in order[n % len(order) :] + order[: n % len(order)]:
                started = time.perf_counter()
                getattr(writers[w], phase)(chunk)
                spent[w] += time.perf_counter() - started
        for w, seconds in enumerate(spent):
            results[w][f"{phase}_rows_per_s"] = len(articles) / seconds
    for writer in writers:
        writer.close()
    return results


def store_results(
    results: dict[str, Any], workdir: Path, count: int, rounds: int, pg_problem: str | None
) -> None:
    """The store's rows/s into ``results["store"]``: the store on SQLite and
    the plain ``sqlite3`` ceiling taking turns batch by batch, for ``rounds``
    rounds (their median runs, and the ratio of each round), then without the
    full-text index and on PostgreSQL once."""
    from settings.scrapy_settings import STORE_BATCH_SIZE

    articles = bench_articles(count)
    results["store_rows"], results["store_batch"] = len(articles), STORE_BATCH_SIZE
    store, plain = [], []
    for n in range(rounds):
        writers = [
            StoreWriter(f"sqlite:///{workdir / f'store-{n}.db'}"),
            PlainSqlite(workdir / f"store-plain-{n}.db"),
        ]
        one, other = write_in_turn(writers, articles, STORE_BATCH_SIZE)
        store.append(one)
        plain.append(other)
    key = "insert_new_rows_per_s"
    results["store_rounds"] = [s[key] / p[key] for s, p in zip(store, plain, strict=True)]

    def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
        return sorted(runs, key=lambda r: r[key])[len(runs) // 2]

    def alone(writer: Any) -> dict[str, float]:
        return write_in_turn([writer], articles, STORE_BATCH_SIZE)[0]

    results["store"] = {
        "SQLite": median_of(store),
        # What the full-text index costs: the same, its table and triggers dropped.
        "SQLite without the full-text index": alone(
            StoreWriter(f"sqlite:///{workdir / 'store-no-fts.db'}", drop_search_index=True)
        ),
        "SQLite, plain sqlite3 inserts (no store)": median_of(plain),
    }
    if pg_problem is None:
        database = PostgresDatabase()
        try:
            results["store"]["PostgreSQL"] = alone(StoreWriter(database.url))
        finally:
            database.drop()
    else:
        results["store"]["PostgreSQL"] = {"skipped": pg_problem}


def store_lines(results: dict[str, Any]) -> list[str]:
    """The store's table, and its new rows against plain ``sqlite3``."""
    lines = [
        "| store (batches of "
        f"{results['store_batch']}, {results['store_rows']} rows) | insert new rows/s | "
        "update unchanged rows/s |",
        "|---|---:|---:|",
    ]
    for engine, s in results["store"].items():
        if "skipped" in s:
            lines.append(f"| {engine} | skipped: {s['skipped']} | |")
        else:
            lines.append(
                f"| {engine} | {s['insert_new_rows_per_s']:.0f} | "
                f"{s['update_unchanged_rows_per_s']:.0f} |"
            )
    rounds = results["store_rounds"]
    lines += [
        "",
        f"**Store against plain sqlite3**, new rows, {len(rounds)} rounds, batches in turn: "
        f"**{sorted(rounds)[len(rounds) // 2]:.2f}x** (median; rounds "
        + ", ".join(f"{r:.2f}x" for r in rounds)
        + ").",
    ]
    return lines


# --------------------------------------------------------------------------- daemon


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def daemon_bench(site: SiteServer, workdir: Path, runs: int, every: float) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    from crawler.scheduling.runner import crawl_env

    sites_dir = write_definition(
        site,
        workdir / "daemon-sites",
        f"schedule:\n  articles: {{every: {every}s}}\n  timeout: 10m\n",
    )
    (sites_dir / "benchnews.yaml").write_text(
        (sites_dir / "benchnews.yaml").read_text().replace("max_pages: 10000", "max_pages: 1")
    )
    db_url = f"sqlite:///{workdir / 'daemon.db'}"
    env = crawl_env(db_url)
    env.update(NEWSCRAWL_SITES_DIR=str(sites_dir), NEWSCRAWL_SPOOL_DIR=str(workdir / "spool"))
    cmd = [
        PYTHON,
        "-m",
        "crawler.cli",
        "daemon",
        "--site",
        "benchnews",
        "--max-crawls",
        "1",
        "--log-file",
        str(workdir / "daemon.log"),
        "--database",
        db_url,
        "--metrics-port",
        "0",  # not the default port: a daemon of the machine may hold it
    ]
    daemon = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    engine = create_engine(db_url)
    samples: list[float] = []
    started = time.monotonic()
    try:
        while len(samples) < runs:
            if daemon.poll() is not None:
                raise RuntimeError(
                    f"the daemon exited ({daemon.returncode}); see {workdir}/daemon.log"
                )
            if time.monotonic() - started > runs * every * 4 + 120:
                raise RuntimeError("the daemon did not run its crawls in time")
            time.sleep(0.2)
            try:
                with engine.connect() as conn:
                    done = conn.execute(
                        text("select count(*) from crawl_runs where status <> 'running'")
                    ).scalar_one()
            except Exception:  # noqa: BLE001 - not created yet
                continue
            while len(samples) < min(done, runs):
                samples.append(rss_mb(daemon.pid))
        with engine.connect() as conn:
            statuses = [r[0] for r in conn.execute(text("select status from crawl_runs"))]
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
        engine.dispose()
    return {
        "runs": len(samples),
        "every_s": every,
        "finished": statuses.count("finished"),
        "rss_mb": samples,
        "first_mb": samples[0],
        "last_mb": samples[-1],
        "max_mb": max(samples),
        "growth_after_first_mb": samples[-1] - samples[0],
    }


# --------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    import scrapy
    import sqlalchemy

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory_kb = int(f.readline().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "scrapy": scrapy.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "os": platform.platform(),
    }


def crawl_row(c: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    pages_s = c["pages"] / c["seconds"]
    processes = c.get("extraction_processes", 0)
    extraction = f"{processes} ({c['extraction_rss_mb']:.0f})" if processes else "-"
    ratio = f"{pages_s / (baseline['pages'] / baseline['seconds']):.2f}x" if baseline else "1.00x"
    return (
        f"| {c['name']} | {c['conditions']} | {c['articles_in_site']} | {c['pages']} | "
        f"{c['seconds']:.1f} | "
        f"{pages_s:.0f} | {c['articles'] / c['seconds']:.0f} | {c['cpu']:.1f} | "
        f"{c['peak_rss_mb']:.0f} | {extraction} | {ratio} |"
    )


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Measured {results['date']} on {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB "
        f"memory; Python {m['python']}, Scrapy {m['scrapy']}, SQLAlchemy {m['sqlalchemy']}. "
        f"`make bench-crawl` took {results['seconds']:.0f} s.",
        "",
        "Baseline and newscrawl crawl with the same settings: "
        + ", ".join(f"`{k}={v}`" for k, v in COMMON_SETTINGS.items())
        + " (`CONCURRENT_REQUESTS=4`, `CONCURRENT_REQUESTS_PER_DOMAIN=4`, newscrawl's default per"
        " site, where the conditions say 4 requests at a time).",
        "",
        "| crawl | conditions | articles in site | pages fetched | crawl s | pages/s | "
        "articles/s | "
        "CPU s | peak RSS MB | extraction processes (peak RSS MB) | pages/s vs baseline |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group in results["crawls"]:
        baseline = group[0]
        for crawl in group:
            lines.append(crawl_row(crawl, None if crawl is baseline else baseline))
    if results.get("postgres_skipped"):
        lines.append(f"| newscrawl → PostgreSQL | skipped: {results['postgres_skipped']} |||||||||")
    rounds = results.get("rounds", [])
    if len(rounds) > 1:
        size = results["crawls"][0][0]["articles_in_site"]
        lines += [
            "",
            f"The plain baseline and newscrawl's crawls of the {size:,}-article site ran "
            f"{len(rounds)} times, alternating; their rows show the median run. "
            "newscrawl → SQLite against the baseline, round by round: "
            + ", ".join(f"{r['ratio']:.2f}x" for r in rounds)
            + "."
            + (
                " newscrawl → PostgreSQL: "
                + ", ".join(f"{r['postgresql_ratio']:.2f}x" for r in rounds)
                + "."
                if "postgresql_ratio" in rounds[0]
                else ""
            ),
        ]
        if "wall_ratio" in rounds[0]:

            def median(key: str) -> float:
                return statistics.median(r[key] for r in rounds)

            lines.append(
                "Whole processes (wall clock from start to exit, start-up included), round by "
                "round: newscrawl → SQLite "
                + ", ".join(f"{r['wall_ratio']:.2f}x" for r in rounds)
                + f" (median **{median('wall_ratio'):.2f}x**)"
                + (
                    "; newscrawl → PostgreSQL "
                    + ", ".join(f"{r['postgresql_wall_ratio']:.2f}x" for r in rounds)
                    + f" (median **{median('postgresql_wall_ratio'):.2f}x**)"
                    if "postgresql_wall_ratio" in rounds[0]
                    else ""
                )
                + ". The baseline took "
                + ", ".join(f"{r['baseline_wall_s']:.1f}" for r in rounds)
                + " s."
            )
    r = results["recrawl"]
    lines += [
        "",
        f"**Re-crawl** with nothing new (SQLite, {r['articles_in_site']} articles): "
        f"{r['pages']} pages fetched in {r['seconds']:.2f} s crawl time ({r['wall']:.1f} s with "
        f"start-up), {r['share_of_first'] * 100:.2f}% of the first crawl's "
        f"{r['first_pages']} pages.",
        "",
    ]
    e = results["extraction"]
    lines += [
        f"**Extraction** ({e['pages']} pages of {e['mean_page_kb']:.0f} KB on average): "
        "newscrawl's "
        f"configured rules and cleaning {e['newscrawl_ms']:.1f} ms/page, `trafilatura.extract` "
        f"{e['trafilatura_ms']:.1f} ms/page: **{e['ratio']:.2f}x** the time.",
        "",
        *store_lines(results),
    ]
    d = results["daemon"]
    lines.append("")
    if "skipped" in d:
        lines.append(f"**Daemon memory**: skipped: {d['skipped']}.")
    else:
        lines.append(
            f"**Daemon memory** over {d['runs']} scheduled runs (every {d['every_s']:g} s, "
            f"{d['finished']} finished): RSS {d['first_mb']:.1f} MB after the first, "
            f"{d['last_mb']:.1f} MB after the last (max {d['max_mb']:.1f} MB, "
            f"{d['growth_after_first_mb']:+.1f} MB)."
        )
    return "\n".join(lines) + "\n"


def update_docs(table: str) -> None:
    path = ROOT / "docs" / "performance.md"
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} ... {end} section to replace")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    path.write_text(f"{before}{start}\n{table}{end}{after}", encoding="utf-8")


# --------------------------------------------------------------------------- main


def run_scenario(
    scenario: Scenario,
    workdir: Path,
    args: argparse.Namespace,
    results: dict[str, Any],
    pg_problem: str | None,
    main: bool,
) -> None:
    log(f"{scenario.articles} articles, {scenario.label}")
    site = SiteServer(scenario.articles, scenario.latency_ms)
    number = len(results["crawls"])
    try:
        sites_dir = write_definition(site, workdir / f"sites-{number}")
        group = [crawl_baseline(site, workdir, scenario)]
        log(f"baseline: {group[0].pages} pages in {group[0].seconds:.1f} s")
        if main:
            tuned = crawl_baseline(site, workdir, scenario, tuned=True)
            group.append(tuned)
            log(f"baseline, CONCURRENT_ITEMS=1: {tuned.pages} pages in {tuned.seconds:.1f} s")
        sqlite_url = f"sqlite:///{workdir / f'archive-{number}.db'}"
        first = crawl_newscrawl(site, sqlite_url, sites_dir, "newscrawl → SQLite", scenario)
        group.append(first)
        log(f"newscrawl → SQLite: {first.pages} pages in {first.seconds:.1f} s")
        if main:
            again = crawl_newscrawl(site, sqlite_url, sites_dir, "re-crawl", scenario)
            results["recrawl"] = {
                **asdict(again),
                "first_pages": first.pages,
                "share_of_first": again.pages / first.pages,
            }
            log(f"re-crawl: {again.pages} pages")
            if pg_problem is None:
                pg = crawl_postgres(site, sites_dir, scenario)
                group.append(pg)
                log(f"newscrawl → PostgreSQL: {pg.pages} pages in {pg.seconds:.1f} s")
            else:
                results["postgres_skipped"] = pg_problem
            # The machine's speed drifts from run to run: more rounds of the
            # plain baseline and the SQLite and PostgreSQL crawls, alternating,
            # and each row shows its median run.
            baselines, sqlites = [group[0]], [first]
            postgres = [pg] if pg_problem is None else []
            for round_ in range(2, args.rounds + 1):
                baselines.append(crawl_baseline(site, workdir, scenario))
                url = f"sqlite:///{workdir / f'archive-{number}-{round_}.db'}"
                sqlites.append(
                    crawl_newscrawl(site, url, sites_dir, "newscrawl → SQLite", scenario)
                )
                message = (
                    f"round {round_}: baseline {baselines[-1].seconds:.1f} s, "
                    f"newscrawl → SQLite {sqlites[-1].seconds:.1f} s"
                )
                if postgres:
                    postgres.append(crawl_postgres(site, sites_dir, scenario))
                    message += f", newscrawl → PostgreSQL {postgres[-1].seconds:.1f} s"
                log(message)

            def ratio(crawl: CrawlResult, baseline: CrawlResult) -> float:
                return crawl.pages_per_s / baseline.pages_per_s

            def wall_ratio(crawl: CrawlResult, baseline: CrawlResult) -> float:
                """The same pages, the whole process timed: start-up and exit included."""
                return baseline.wall / crawl.wall

            results["rounds"] = [
                {
                    "baseline_s": b.seconds,
                    "sqlite_s": n.seconds,
                    "ratio": ratio(n, b),
                    "baseline_wall_s": b.wall,
                    "sqlite_wall_s": n.wall,
                    "wall_ratio": wall_ratio(n, b),
                    **(
                        {
                            "postgresql_s": postgres[i].seconds,
                            "postgresql_ratio": ratio(postgres[i], b),
                            "postgresql_wall_s": postgres[i].wall,
                            "postgresql_wall_ratio": wall_ratio(postgres[i], b),
                        }
                        if postgres
                        else {}
                    ),
                }
                for i, (b, n) in enumerate(zip(baselines, sqlites, strict=True))
            ]
            if postgres:
                group[group.index(pg)] = median_run(postgres)
            group[0] = median_run(baselines)
            group[group.index(first)] = median_run(sqlites)
            log("extraction")
            results["extraction"] = extraction_bench(
                args.extraction_pages, scenario.articles, sites_dir / "benchnews.yaml"
            )
            if args.daemon_runs:
                log(f"daemon: {args.daemon_runs} runs every {args.daemon_every:g} s")
                results["daemon"] = daemon_bench(site, workdir, args.daemon_runs, args.daemon_every)
            else:
                results["daemon"] = {"skipped": "--daemon-runs 0"}
        results["crawls"].append([asdict(c) for c in group])
    finally:
        site.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="newscrawl benchmarks against a Scrapy baseline")
    parser.add_argument(
        "--articles", type=int, default=5000, help="articles in the site (default 5000)"
    )
    parser.add_argument(
        "--small",
        type=int,
        default=1000,
        help="a smaller site crawled too, to see memory against N (0: skip)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=100.0,
        help="server latency of the as-deployed comparison (0: skip it)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the baseline and newscrawl's crawls on the main site, alternating; "
        "the table shows each one's median run (default 3)",
    )
    parser.add_argument("--extraction-pages", type=int, default=300)
    parser.add_argument("--daemon-runs", type=int, default=20, help="0: skip the daemon")
    parser.add_argument(
        "--daemon-every", type=float, default=4.0, help="seconds between daemon runs"
    )
    parser.add_argument(
        "--update-docs", action="store_true", help="replace the table in docs/performance.md"
    )
    args = parser.parse_args()

    scenarios = [Scenario(args.articles, "local server, 16 requests at a time")]
    small = args.small if 0 < args.small < args.articles else 0
    if small:
        scenarios.append(Scenario(small, "local server, 16 requests at a time"))
    if args.latency_ms:
        scenarios.append(
            Scenario(
                small or args.articles,
                f"{args.latency_ms:g} ms server latency, 4 requests at a time",
                latency_ms=args.latency_ms,
                polite=True,
            )
        )

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="newscrawl-bench-"))
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "settings": COMMON_SETTINGS,
        "crawls": [],
    }
    pg_problem = postgres_available()
    try:
        for index, scenario in enumerate(scenarios):
            run_scenario(scenario, workdir, args, results, pg_problem, main=index == 0)

        log("store")
        store_results(results, workdir, args.articles, args.rounds, pg_problem)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    results["seconds"] = time.monotonic() - began
    for group in results["crawls"]:
        for crawl in group:
            crawl["pages_per_s"] = crawl["pages"] / crawl["seconds"]
            crawl["articles_per_s"] = crawl["articles"] / crawl["seconds"]
            crawl["ratio_to_baseline"] = (
                crawl["pages_per_s"] / group[0]["pages"] * group[0]["seconds"]
            )
    table = markdown(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for name in (f"crawl-{stamp}", "crawl"):
        (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(table)
    print(table)
    log(f"results in {RESULTS}/crawl.md and crawl.json")
    if args.update_docs:
        update_docs(table)
        log("docs/performance.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
