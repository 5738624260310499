"""The cost of the page archive (docs/archive.md), measured side by side in
the same run (``make bench-archive``, part of ``make bench``):

1. Crawl throughput with capture on and off: ``scrapy crawl articles`` of
   the same generated site (bench/news_site.py) into new SQLite databases,
   alternating off and on, each side's median. Target: on within 10% of off.
2. Disk per 1,000 articles: the WARC files against the SQLite database of
   the same crawl; then a second crawl with ``refetch=true`` (every page
   unchanged: revisit records) and what it added.
3. Re-extraction: ``newscrawl reextract`` of every article after a change of
   the definition, articles per second with 1 and 2 worker processes,
   against the first extraction of the same pages in one process (reading,
   rules and cleaning of the crawl, from memory).

Writes bench/results/archive-TIME.{json,md} and bench/results/archive.{json,md}.

    .venv/bin/python bench/archive_bench.py [--articles 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import news_site  # noqa: E402
from crawl_bench import (  # noqa: E402
    PYTHON,
    RESULTS,
    Scenario,
    SiteServer,
    crawl_newscrawl,
    log,
    machine,
    run_process,
    write_definition,
)


def folder_bytes(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern))


def crawl(site: SiteServer, workdir: Path, sites: Path, name: str, archive: str) -> dict[str, Any]:
    """One crawl into a new database under ``workdir/name``, capture ``archive``."""
    folder = workdir / name
    folder.mkdir()
    os.environ["NEWSCRAWL_ARCHIVE_DIR"] = archive
    result = crawl_newscrawl(
        site, f"sqlite:///{folder / 'news.db'}", sites, name, Scenario(site.articles, "")
    )
    return {"folder": folder, "result": result}


def throughput(site: SiteServer, workdir: Path, sites: Path, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[Any]] = {"off": [], "on": []}
    for number in range(rounds):
        for side in ("off", "on"):
            archive = "off" if side == "off" else str(workdir / f"{side}-{number}" / "archive")
            done = crawl(site, workdir, sites, f"{side}-{number}", archive)
            runs[side].append(done)
            log(f"capture {side}: {done['result'].pages_per_s:.0f} pages/s")
    off = statistics.median(r["result"].pages_per_s for r in runs["off"])
    on = statistics.median(r["result"].pages_per_s for r in runs["on"])
    # CPU seconds of the crawl process and its extraction processes: what
    # capture adds, less sensitive than pages/s to what else the machine runs.
    off_cpu = statistics.median(r["result"].cpu for r in runs["off"])
    on_cpu = statistics.median(r["result"].cpu for r in runs["on"])
    return {
        "off_pages_per_s": off,
        "on_pages_per_s": on,
        "ratio": on / off,
        "off_cpu_s": off_cpu,
        "on_cpu_s": on_cpu,
        "cpu_ratio": on_cpu / off_cpu,
        "runs": runs,
    }


def disk(site: SiteServer, first: dict[str, Any], sites: Path) -> dict[str, Any]:
    """Bytes per 1,000 articles of the first capture-on crawl, then of a refetch."""
    folder: Path = first["folder"]
    articles = first["result"].articles
    warc = folder_bytes(folder / "archive", "*.warc.gz")
    database = folder_bytes(folder, "news.db*")
    from crawler.scheduling.runner import crawl_env

    env = crawl_env(f"sqlite:///{folder / 'news.db'}")
    env.update(NEWSCRAWL_SITES_DIR=str(sites), NEWSCRAWL_ARCHIVE_DIR=str(folder / "archive"))
    cmd = [PYTHON, "-m", "scrapy", "crawl", "articles", "-a", "site=benchnews"]
    proc = run_process([*cmd, "-a", "refetch=true", "-s", "AUTOTHROTTLE_ENABLED=False"], env, ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"refetch crawl failed:\n{proc.output[-3000:]}")
    revisits = folder_bytes(folder / "archive", "*.warc.gz") - warc
    per = 1000 / articles
    return {
        "articles": articles,
        "warc_per_1000_mb": warc * per / 1e6,
        "database_per_1000_mb": database * per / 1e6,
        "refetch_warc_per_1000_mb": revisits * per / 1e6,
    }


def first_extraction(total: int, definition: Path) -> float:
    """Articles per second of the crawl's reading of a page (decode, rules,
    cleaning), the same pages from memory, in one process."""
    from crawler.extraction.reader import decode, read_article_page
    from crawler.sites.definitions import load_site_file

    site = load_site_file(definition)
    pages = [
        (
            f"{site.base_url.rstrip('/')}{news_site.article_path(n)}",
            news_site.article_page(n, total),
        )
        for n in range(total)
    ]
    started = time.perf_counter()
    for url, html in pages:
        text = decode(html.encode("utf-8"), "utf-8", url).text
        read_article_page(text, url, site, False, datetime.now(UTC))
    return len(pages) / (time.perf_counter() - started)


def reextraction(first: dict[str, Any], sites: Path, processes: int) -> float:
    """Articles per second of ``newscrawl reextract`` after the definition changed."""
    folder: Path = first["folder"]
    definition = sites / "benchnews.yaml"
    # A changed definition that extracts the same (one more element dropped,
    # found nowhere): every capture is read again.
    text = definition.read_text()
    definition.write_text(
        re.sub(r"drop: \[.*\]", f"drop: ['.related', 'figure', '.none-{processes}']", text)
    )
    assert definition.read_text() != text
    env = dict(os.environ, NEWSCRAWL_SITES_DIR=str(sites))
    cmd = [
        PYTHON, "-m", "crawler.cli", "reextract", "--processes", str(processes),
        "--database", f"sqlite:///{folder / 'news.db'}", "--archive-dir", str(folder / "archive"),
    ]  # fmt: skip
    proc = run_process(cmd, env, ROOT)
    if proc.returncode != 0 or " read again" not in proc.output:
        raise RuntimeError(f"reextract failed:\n{proc.output[-3000:]}")
    read = int(proc.output.split(" read again")[0].rsplit(" ", 1)[-1])
    return read / proc.wall


def markdown(r: dict[str, Any]) -> str:
    t, d = r["throughput"], r["disk"]
    x = r["reextract"]
    return "\n".join(
        [
            f"Page archive, {r['articles']} articles of bench/news_site.py, "
            f"{r['rounds']} rounds alternating, medians ({r['when']}, "
            f"{r['machine']['cpus']} CPUs):",
            "",
            "| measure | value | against | ratio |",
            "|---|---|---|---|",
            f"| crawl, capture on (pages/s) | {t['on_pages_per_s']:.0f} | capture off: "
            f"{t['off_pages_per_s']:.0f} | {t['ratio']:.2f}x |",
            f"| crawl, capture on (CPU seconds) | {t['on_cpu_s']:.1f} | capture off: "
            f"{t['off_cpu_s']:.1f} | {t['cpu_ratio']:.2f}x |",
            f"| disk per 1,000 articles: WARC files | {d['warc_per_1000_mb']:.1f} MB | "
            f"SQLite database: {d['database_per_1000_mb']:.1f} MB | "
            f"{d['warc_per_1000_mb'] / d['database_per_1000_mb']:.2f}x |",
            f"| a refetch of unchanged pages adds (revisit records) | "
            f"{d['refetch_warc_per_1000_mb']:.2f} MB | the first capture: "
            f"{d['warc_per_1000_mb']:.1f} MB | "
            f"{d['refetch_warc_per_1000_mb'] / d['warc_per_1000_mb']:.3f}x |",
            f"| reextract, 1 process (articles/s) | {x['one']:.0f} | first extraction, "
            f"in memory: {x['first']:.0f} | {x['one'] / x['first']:.2f}x |",
            f"| reextract, 2 processes (articles/s) | {x['two']:.0f} | first extraction, "
            f"in memory: {x['first']:.0f} | {x['two'] / x['first']:.2f}x |",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    site = SiteServer(args.articles)
    try:
        with tempfile.TemporaryDirectory(prefix="newscrawl-archive-bench-") as tmp:
            workdir = Path(tmp)
            sites = write_definition(site, workdir / "sites")
            log(f"crawls of {args.articles} articles, capture off and on")
            speed = throughput(site, workdir, sites, args.rounds)
            first_on = speed["runs"]["on"][0]
            log("disk, and a refetch of unchanged pages")
            space = disk(site, first_on, sites)
            log("re-extraction")
            first = first_extraction(args.articles, sites / "benchnews.yaml")
            one = reextraction(first_on, sites, 1)
            two = reextraction(first_on, sites, 2)
    finally:
        site.close()
    del speed["runs"]
    results = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "articles": args.articles,
        "rounds": args.rounds,
        "machine": machine(),
        "throughput": speed,
        "disk": space,
        "reextract": {"first": first, "one": one, "two": two},
    }
    table = markdown(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for name in (f"archive-{stamp}", "archive"):
        (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2))
        (RESULTS / f"{name}.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
