"""Query benchmark: search, top stories at a moment, and export memory on a
generated 100,000-article SQLite archive.

    .venv/bin/python bench/query_bench.py            # or: make bench-query
    .venv/bin/python bench/query_bench.py --articles 20000 --reuse

The archive is built through the migrations (so the FTS5 triggers index every
row as it is inserted, as during a crawl) with batched inserts of synthetic
articles, plus a year of top-stories snapshots (24 a day, 10 stories each, two
sites). Then:

- ``search``: the median latency of each query (in-process, the query only,
  after one warm-up) and of the whole ``newscrawl search`` command;
- ``top-stories --at``: the median over moments spread across the year;
- ``export``: peak RSS of ``newscrawl export`` of the whole archive and of a
  tenth of it, each its own process (``ru_maxrss`` from ``wait4``), against the
  peak RSS of a process that only imports the command line and of one that
  runs ``newscrawl articles --limit 1``.

Results go to bench/results/query.json and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.storage.database import (  # noqa: E402
    dispose_engines,
    ensure_schema,
    get_engine,
    head_revision,
)
from crawler.storage.models import ArticleRow, TopStoryRow  # noqa: E402
from crawler.storage.queries import ArticleFilters, top_stories_at  # noqa: E402
from crawler.storage.search import search_articles  # noqa: E402

RESULTS = ROOT / "bench" / "results"
START = datetime(2024, 1, 1, tzinfo=UTC)
SITES = ("alpha", "beta", "gamma", "delta")
SECTIONS = ("Politics", "Economy", "Society", "Culture", "Sport", "Technology")
# Real words the queries look for, mixed into the synthetic vocabulary at
# frequencies from "in almost every article" to "in about one in a hundred".
TOPICS = {
    "election": 0.01,
    "budget": 0.003,
    "bridge": 0.002,
    "museum": 0.001,
    "harbour": 0.0005,
    "tram": 0.0002,
    "ceasefire": 0.00004,
}
QUERIES = [
    "election",  # in nearly every article
    "harbour",
    "ceasefire",  # in about one article in a hundred
    '"harbour bridge"',  # phrase
    "budget OR museum",
    "election NOT budget",
    "tram AND harbour",
    "electi*",  # prefix
]
BODY_WORDS = 220
TITLE_WORDS = 9


def vocabulary(rng: random.Random, size: int = 6000) -> tuple[list[str], list[float]]:
    """Pseudo-words with Zipf-like frequencies, plus the topic words."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = sorted({"".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(size)})
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    total = sum(weights)
    share = sum(TOPICS.values())
    weights = [w / total * (1 - share) for w in weights]
    words += list(TOPICS)
    weights += list(TOPICS.values())
    cumulative, running = [], 0.0
    for weight in weights:
        running += weight
        cumulative.append(running)
    return words, cumulative


def sentence_text(rng: random.Random, words: list[str], cumulative: list[float], n: int) -> str:
    picked = rng.choices(words, cum_weights=cumulative, k=n)
    sentences, i = [], 0
    while i < n:
        length = rng.randint(8, 20)
        chunk = picked[i : i + length]
        sentences.append(" ".join(chunk).capitalize() + ".")
        i += length
    paragraphs = [" ".join(sentences[j : j + 4]) for j in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


def generate_articles(url: str, count: int, batch: int = 5000) -> float:
    """Insert ``count`` articles in batches; seconds taken (text generation included)."""
    rng = random.Random(20241129)
    words, cumulative = vocabulary(rng)
    engine = get_engine(url)
    started = time.perf_counter()
    now = datetime.now(UTC)
    span = timedelta(days=365)
    for first in range(0, count, batch):
        rows = []
        for n in range(first, min(first + batch, count)):
            title = sentence_text(rng, words, cumulative, TITLE_WORDS).rstrip(".")
            body = sentence_text(rng, words, cumulative, BODY_WORDS)
            published = START + span * (n / count) + timedelta(seconds=rng.randint(0, 600))
            rows.append(
                {
                    "site": SITES[n % len(SITES)],
                    "url": f"https://{SITES[n % len(SITES)]}.example/news/{n}",
                    "title": title,
                    "body": body,
                    "author": f"Author {n % 250}",
                    "section": SECTIONS[n % len(SECTIONS)],
                    "tags": [SECTIONS[(n * 7) % len(SECTIONS)], f"tag{n % 40}"],
                    "language": "en",
                    "published_at": published,
                    "published_raw": published.isoformat(),
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "content_hash": hashlib.sha256(body.encode()).hexdigest(),
                    "version": 1,
                    "duplicate_of": None,
                    "sources": {"title": "selector", "body": "selector"},
                    "published_tz_known": True,
                    "simhash": None,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(ArticleRow.__table__), rows)
    return time.perf_counter() - started


def generate_top_stories(url: str, days: int = 365, per_day: int = 24, ranks: int = 10) -> int:
    """A year of hourly snapshots of the home page of two sites."""
    rng = random.Random(7)
    engine = get_engine(url)
    with engine.connect() as conn:
        max_id = conn.execute(select(func.max(ArticleRow.id))).scalar_one()
    rows: list[dict] = []
    total = 0
    for site in SITES[:2]:
        story = rng.randint(1, max_id)
        for hour in range(days * per_day):
            captured = START + timedelta(hours=hour, minutes=rng.randint(0, 5))
            if hour % 3 == 0:
                story = rng.randint(1, max_id)  # a new lead story every three hours
            for rank in range(1, ranks + 1):
                article = story if rank == 1 else rng.randint(1, max_id)
                rows.append(
                    {
                        "site": site,
                        "captured_at": captured,
                        "rank": rank,
                        "title": f"Story {article}",
                        "url": f"https://{site}.example/news/{article}",
                        "article_id": article,
                        "page_url": f"https://{site}.example/",
                        "run_id": None,
                    }
                )
            if len(rows) >= 20000:
                with engine.begin() as conn:
                    conn.execute(insert(TopStoryRow.__table__), rows)
                total += len(rows)
                rows = []
    with engine.begin() as conn:
        conn.execute(insert(TopStoryRow.__table__), rows)
    return total + len(rows)


def timed(call, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    call()  # warm-up: the page cache, SQLAlchemy's statement cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "max_ms": round(max(samples), 2),
        "rows": len(result),
    }


# Linux carries a process's peak RSS across fork and exec: a child forked from
# this (large) process would report at least this process's size. A small
# launcher in between starts each measured command and reports its rusage.
RSS_LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(child.pid, 0)
elapsed = time.perf_counter() - started
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(child.stderr.read().decode())
print(usage.ru_maxrss, elapsed)
"""


def child_peak_rss(command: list[str]) -> tuple[int, float]:
    """Run ``command``; its peak RSS in KiB (Linux) and its wall time in seconds."""
    proc = subprocess.run(
        [sys.executable, "-c", RSS_LAUNCHER, *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed: {proc.stderr}")
    rss, elapsed = proc.stdout.split()
    return int(rss), float(elapsed)


def match_count(path: Path, query: str) -> int:
    with sqlite3.connect(path) as conn:
        sql = "select count(*) from articles_fts where articles_fts match ?"
        return conn.execute(sql, (query,)).fetchone()[0]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def command_median_ms(command: list[str], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def build(path: Path, articles: int, reuse: bool) -> dict:
    """The archive at ``path``, generated unless ``reuse`` finds one built by the
    same schema; how it was built."""
    url = f"sqlite:///{path}"
    built_file = path.with_suffix(".json")
    if reuse and path.exists() and built_file.exists():
        built = json.loads(built_file.read_text())
        if built.get("revision") == head_revision():
            return {**built, "url": url, "reused": True}
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ensure_schema(url)
    load_seconds = generate_articles(url, articles)
    snapshots_started = time.perf_counter()
    top_rows = generate_top_stories(url)
    snapshot_seconds = time.perf_counter() - snapshots_started
    with sqlite3.connect(path) as conn:
        conn.execute("analyze")
        conn.execute("pragma wal_checkpoint(truncate)")
    built = {
        "revision": head_revision(),
        "load_seconds": round(load_seconds, 1),
        "articles_per_second": round(articles / load_seconds),
        "top_story_rows": top_rows,
        "top_story_seconds": round(snapshot_seconds, 1),
    }
    built_file.write_text(json.dumps(built, indent=2) + "\n")
    return {**built, "url": url, "reused": False}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per measurement")
    parser.add_argument(
        "--reuse", action="store_true", help="keep an archive of the same size from a last run"
    )
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"query-archive-{args.articles}.db"
    built = build(path, args.articles, args.reuse)
    url = built["url"]
    engine = get_engine(url)
    filters = ArticleFilters()

    searches = {
        query: {
            **timed(lambda q=query: search_articles(engine, q, filters, 20), args.repeat),
            "matches": match_count(path, query),
        }
        for query in QUERIES
    }
    rng = random.Random(3)
    moments = [START + timedelta(hours=rng.uniform(0, 365 * 24)) for _ in range(args.repeat)]
    moment_iter = iter(moments * 2)
    top_all = timed(lambda: top_stories_at(engine, next(moment_iter)), args.repeat - 1)
    moment_iter = iter(moments * 2)
    top_site = timed(lambda: top_stories_at(engine, next(moment_iter), "alpha"), args.repeat - 1)
    dispose_engines()

    database = ["--database", url]
    search_command_ms = command_median_ms(cli("search", "election", *database))
    top_command_ms = command_median_ms(cli("top-stories", "--at", "2024-06-01T12:00", *database))

    import_rss, _ = child_peak_rss([sys.executable, "-c", "import crawler.cli.main"])
    query_rss, _ = child_peak_rss(cli("articles", "--limit", "1", *database))
    tenth = (START + timedelta(days=36.5)).isoformat()
    export_tenth_rss, _ = child_peak_rss(
        cli("export", "--until", tenth, "-o", os.devnull, *database)
    )
    export_rss, export_seconds = child_peak_rss(cli("export", "-o", os.devnull, *database))
    export_csv_rss, export_csv_seconds = child_peak_rss(
        cli("export", "--format", "csv", "-o", os.devnull, *database)
    )

    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "archive": {
            "articles": args.articles,
            "body_words": BODY_WORDS,
            "file_mb": round(path.stat().st_size / 2**20, 1),
            **{k: v for k, v in built.items() if k != "url"},
        },
        "search": searches,
        "search_command_median_ms": search_command_ms,
        "top_stories_at": {"all_sites": top_all, "one_site": top_site},
        "top_stories_command_median_ms": top_command_ms,
        "export": {
            "baseline_import_rss_kib": import_rss,
            "baseline_query_rss_kib": query_rss,
            "jsonl_tenth_rss_kib": export_tenth_rss,
            "jsonl_rss_kib": export_rss,
            "jsonl_seconds": round(export_seconds, 1),
            "csv_rss_kib": export_csv_rss,
            "csv_seconds": round(export_csv_seconds, 1),
            "jsonl_rss_over_query_baseline": round(export_rss / query_rss, 2),
            "jsonl_rss_over_import_baseline": round(export_rss / import_rss, 2),
            "jsonl_rss_full_over_tenth": round(export_rss / export_tenth_rss, 2),
        },
    }
    (RESULTS / "query.json").write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    return 0


def markdown(results: dict) -> str:
    archive = results["archive"]
    lines = [
        f"Archive: {archive['articles']:,} articles ({archive['body_words']} words each), "
        f"{archive.get('top_story_rows', '?')} top-story rows, {archive['file_mb']} MB; "
        f"SQLite {results['machine']['sqlite']}, {results['machine']['cpus']} CPUs.",
    ]
    if not archive["reused"]:
        lines.append(
            f"Built in {archive['load_seconds']} s "
            f"({archive['articles_per_second']:,} articles/s, FTS5 triggers included)."
        )
    lines += [
        "",
        "| measurement | articles matched | median | min | max | rows shown |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for query, m in results["search"].items():
        lines.append(
            f"| search `{query}` | {m['matches']:,} | {m['median_ms']} ms | {m['min_ms']} ms "
            f"| {m['max_ms']} ms | {m['rows']} |"
        )
    for label, m in results["top_stories_at"].items():
        lines.append(
            f"| top-stories --at ({label.replace('_', ' ')}) | | {m['median_ms']} ms "
            f"| {m['min_ms']} ms | {m['max_ms']} ms | {m['rows']} |"
        )
    lines += [
        f"| `newscrawl search election` (whole command) | | "
        f"{results['search_command_median_ms']} ms | | | 20 |",
        f"| `newscrawl top-stories --at ...` (whole command) | | "
        f"{results['top_stories_command_median_ms']} ms | | | 20 |",
    ]
    e = results["export"]
    mib = 1024
    lines += [
        "",
        "| process | peak RSS |",
        "|---|---:|",
        f"| `python -c 'import crawler.cli.main'` (baseline) | "
        f"{e['baseline_import_rss_kib'] / mib:.0f} MiB |",
        f"| `newscrawl articles --limit 1` (baseline) | "
        f"{e['baseline_query_rss_kib'] / mib:.0f} MiB |",
        f"| `newscrawl export` of a tenth | {e['jsonl_tenth_rss_kib'] / mib:.0f} MiB |",
        f"| `newscrawl export` (jsonl, all, {e['jsonl_seconds']} s) | "
        f"{e['jsonl_rss_kib'] / mib:.0f} MiB |",
        f"| `newscrawl export --format csv` (all, {e['csv_seconds']} s) | "
        f"{e['csv_rss_kib'] / mib:.0f} MiB |",
        "",
        f"Export peak RSS: {e['jsonl_rss_over_query_baseline']}x the query baseline, "
        f"{e['jsonl_rss_over_import_baseline']}x the import baseline, "
        f"{e['jsonl_rss_full_over_tenth']}x the export of a tenth.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
