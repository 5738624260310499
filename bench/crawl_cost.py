"""The cost of a crawl that finds nothing new, against a plain Scrapy spider
fetching the same pages.

Serves one generated site of ``--articles`` articles with a top-stories block
(bench/news_sites.py, publishing nothing during the run), crawls it once with
each spider to store everything, then, ``--rounds`` times in turn:

- ``newscrawl crawl SITE --spider top_stories`` and ``--spider articles``
  (the whole command: its own process, the crawl process it starts, and
  their children), each finding nothing new: they fetch robots.txt and one
  page (the home page, the first listing page);
- the plain Scrapy spider (bench/baseline_spider.py, ``-a follow=false``)
  fetching the same two pages, run with ``scrapy runspider`` outside the
  project;
- the same crawl as the daemon runs it, in a crawl host
  (crawler/scheduling/hosts.py) started once before the rounds: the host
  process's CPU seconds during the crawl (``/proc``) plus this process's
  for handing it over, waiting and recording its end as the daemon's
  supervisor does (``time.process_time``).

CPU seconds are user + system of each command's whole process tree
(``wait4``); the table gives medians and the ratio of newscrawl's to the
baseline's, round by round.

    .venv/bin/python bench/crawl_cost.py [--articles 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from crawl_bench import BENCH, PYTHON, RESULTS, log, machine, run_process
from daemon_bench import Options, definition

from crawler.scheduling.daemon import DEFAULT_CRAWL_LOG_LEVEL
from crawler.scheduling.hosts import HostPool
from crawler.scheduling.logs import daemon_crawl_settings
from crawler.scheduling.supervisor import record_end
from crawler.storage.database import get_engine
from crawler.storage.locks import this_host

# spider: the page the plain spider starts from, the one that spider fetches
SPIDERS = {"top_stories": "/", "articles": "/news/"}


def serve(articles: int) -> tuple[subprocess.Popen[str], str]:
    """One site, every article already published, none published while it runs."""
    server = subprocess.Popen(
        [
            *(PYTHON, str(BENCH / "news_sites.py"), "--sites=1"),
            *(f"--start={time.time()}", "--per-hour=0"),
            f"--backlog={articles}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = json.loads(server.stdout.readline())["ports"][0]
    return server, f"http://127.0.0.1:{port}"


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    proc = run_process(cmd, env, cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.output[-3000:]}")
    return proc.cpu


def process_cpu(pid: int) -> float:
    """User + system seconds of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HostedCrawls:
    """Crawls of one site in a crawl host, as the daemon runs them."""

    def __init__(self, url: str, site_file: Path, log_file: Path) -> None:
        self.url = url
        self.site_file = str(site_file)
        self.settings = daemon_crawl_settings(DEFAULT_CRAWL_LOG_LEVEL, {})
        self.pool = HostPool(url, 1, 1, self.settings, log_file)
        self.engine = get_engine(url)

    def crawl(self, spider: str) -> float:
        """One crawl to its end, recorded; the CPU seconds it cost."""
        host = self.pool.hosts[0] if self.pool.hosts else None
        before = time.process_time() + (process_cpu(host.proc.pid) if host else 0.0)
        crawl = self.pool.submit("costsite", spider, self.site_file, self.settings)
        assert crawl is not None
        crawl.done.wait()
        [run] = record_end(self.engine, this_host(), crawl, 60.0)
        if run["status"] != "finished":
            raise RuntimeError(f"the hosted crawl ended {run['status']}: {run['finish_reason']}")
        return time.process_time() + process_cpu(crawl.host.proc.pid) - before

    def close(self) -> None:
        self.pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server, url = serve(args.articles)
    try:
        with tempfile.TemporaryDirectory(prefix="crawl-cost-") as folder:
            workdir = Path(folder)
            sites = workdir / "sites"
            sites.mkdir()
            defaults = Options(sites=1, factor=1, span=0, per_hour=0, backlog=0, max_crawls=1)
            (sites / "costsite.yaml").write_text(definition(url, "costsite", defaults))
            env = {
                **os.environ,
                "NEWSCRAWL_SITES_DIR": str(sites),
                "NEWSCRAWL_DATABASE_URL": f"sqlite:///{workdir / 'news.db'}",
                "NEWSCRAWL_SPOOL_DIR": str(workdir / "spool"),
                "NEWSCRAWL_LOG_LEVEL": "WARNING",
            }
            plain = {k: v for k, v in os.environ.items() if not k.startswith("NEWSCRAWL_")}
            crawl = [PYTHON, "-m", "crawler.cli", "crawl", "costsite", "--spider"]
            baseline = [
                *(PYTHON, "-m", "scrapy", "runspider", str(BENCH / "baseline_spider.py")),
                *("-a", "follow=false", "-s", "LOG_LEVEL=WARNING", "-s", "TELNETCONSOLE_ENABLED=0"),
            ]
            for spider in ("articles", "top_stories"):  # store everything first
                run([*crawl, spider], env, workdir)
            os.environ.update(env)  # for the crawl host
            hosted = HostedCrawls(
                env["NEWSCRAWL_DATABASE_URL"], sites / "costsite.yaml", workdir / "host.log"
            )
            try:
                for spider in SPIDERS:  # the host's start-up, paid once
                    hosted.crawl(spider)
                cpu: dict[str, list[float]] = {}
                for round_ in range(args.rounds):
                    for spider, start in SPIDERS.items():
                        plain_run = [*baseline, "-a", f"start_url={url}{start}"]
                        cpu.setdefault(f"baseline {spider}", []).append(
                            run(plain_run, plain, workdir)
                        )
                        cpu.setdefault(spider, []).append(run([*crawl, spider], env, workdir))
                        cpu.setdefault(f"host {spider}", []).append(hosted.crawl(spider))
                    log(
                        f"round {round_ + 1}: "
                        + ", ".join(f"{k} {v[-1]:.3f}" for k, v in cpu.items())
                    )
            finally:
                hosted.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(cpu, args)
    return 0


def report(cpu: dict[str, list[float]], args: argparse.Namespace) -> None:
    print("| crawl | spider, nothing new | CPU s | plain Scrapy CPU s | ratio | rounds |")
    print("|---|---|---:|---:|---:|---|")
    for how, key in (("`newscrawl crawl`", "{}"), ("the daemon's, in a crawl host", "host {}")):
        for spider, start in SPIDERS.items():
            ours, base = cpu[key.format(spider)], cpu[f"baseline {spider}"]
            ratios = [a / b for a, b in zip(ours, base, strict=True)]
            print(
                f"| {how} | `{spider}` (robots.txt, `{start}`) | {statistics.median(ours):.3f} | "
                f"{statistics.median(base):.2f} | {statistics.median(ratios):.2f}x | "
                f"{', '.join(f'{r:.2f}x' for r in ratios)} |"
            )
    about = machine()
    print(
        f"\n{args.articles} articles, {args.rounds} rounds, {about['cpus']} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}; ratio: median of the rounds' ratios"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"crawl-cost-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"cpu_s": cpu, "articles": args.articles, "machine": about}))


if __name__ == "__main__":
    raise SystemExit(main())
