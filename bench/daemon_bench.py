"""How many sites one `newscrawl daemon` keeps current on this machine.

For each number of sites N (``--sites 100 300 1000``), in one run:

1. One server process (bench/news_sites.py) serves N generated news sites on
   127.0.0.1, one port each, each publishing ``--per-hour`` articles an hour
   (a few, as a real outlet's feed does), compressed by ``--factor``.
2. Each site gets a definition (listing + top stories) in a temporary sites
   folder, with newscrawl's default schedules divided by the factor: top
   stories every 15 min, articles every hour, jitter 30 s and 2 min, timeout
   30 min (at 60x: 15 s, 60 s, 0.5 s, 2 s, 30 s).
3. A real `newscrawl daemon` (SQLite, ``--crawl-hosts`` and ``--max-crawls``
   as given, else the daemon's defaults) crawls them
   for ``--span`` seconds, then is stopped with SIGTERM.

What is reported, from the daemon's process tree, its ``crawl_runs`` and
``articles`` rows and the scheduler's job store (read once a second while it
runs: each job's next run time is a due crawl):

- crawls due, started on time (a run of the job started within the
  interval after the due time), missed, and the lag of those started on time
  (run row's ``started_at`` minus the due time, p50/p95; it includes the
  jitter and the crawl process's start-up);
- CPU seconds of the whole process tree (daemon, crawl processes, their
  extraction processes) over the span, per crawl run and per article
  stored, and as a share of the machine's CPUs;
- peak RSS of the whole tree (sampled twice a second);
- articles published (up to one articles interval before the end, so every
  one of them had a scheduled crawl after it) against those stored;
- freshness: an article's publication at the server to its row's
  ``first_seen_at``, p50/p95, for articles published during the span;
- the machine's load average at the start and the end: the machine may be
  shared, and a busy neighbour slows every figure.

    .venv/bin/python bench/daemon_bench.py [--sites 100 300] [--factor 60] [--span 180]

Prints a Markdown table and writes bench/results/daemon-TIME.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawl_bench import BENCH, PYTHON, RESULTS, ROOT, log, machine
from news_site import site_definition
from news_sites import SITE_STRIDE, STORY, Timeline

# newscrawl's default schedules (docs/sites.md#schedule), in seconds.
DEFAULTS = {
    "top_stories": 15 * 60,
    "top_stories_jitter": 30,
    "articles": 3600,
    "articles_jitter": 120,
    "timeout": 30 * 60,
}


@dataclass
class Options:
    sites: int
    factor: float
    span: float
    per_hour: float
    backlog: int
    max_crawls: int
    crawl_hosts: int = 0

    def seconds(self, key: str) -> float:
        return DEFAULTS[key] / self.factor


def definition(url: str, name: str, options: Options) -> str:
    """The benchmark site's definition, with a top-stories block and the
    default schedules compressed."""
    s = options.seconds
    return site_definition(url, name) + (
        "top_stories:\n"
        "  pages: [/]\n"
        "  entries: 'ol.top li a'\n"
        "schedule:\n"
        f"  articles: {{every: {s('articles'):g}, jitter: {s('articles_jitter'):g}}}\n"
        f"  top_stories: {{every: {s('top_stories'):g}, jitter: {s('top_stories_jitter'):g}}}\n"
        f"  timeout: {s('timeout'):g}\n"
    )


def site_name(site: int) -> str:
    return f"site{site:04d}"


TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (field 3 on)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:  # gone
        return None


def tree(pid: int) -> list[int]:
    """The process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_rss_mb(pid: int) -> float:
    total = 0
    for member in tree(pid):
        fields = proc_stat(member)
        if fields:
            total += int(fields[21]) * PAGE  # rss, in pages
    return total / 1024 / 1024


def cpu_seconds(fields: list[str], children: bool = True) -> float:
    """utime + stime (+ cutime + cstime: reaped children's time)."""
    ticks = fields[11:15] if children else fields[11:13]
    return sum(int(t) for t in ticks) / TICKS


def tree_cpu(pid: int) -> float:
    """CPU seconds of the process and all its descendants, living or reaped
    (a reaped child's time is in its parent's cutime and cstime)."""
    return sum(cpu_seconds(f) for f in map(proc_stat, tree(pid)) if f)


def unix(value: Any) -> float:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


@dataclass
class Watch:
    """What is read while the daemon runs."""

    dues: dict[str, set[float]] = field(default_factory=dict)
    peak_rss_mb: float = 0.0

    def read_jobs(self, db: Path) -> None:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                rows = conn.execute("select id, next_run_time from apscheduler_jobs").fetchall()
        except sqlite3.Error:  # not created yet, or busy: next time
            return
        for job, when in rows:
            if when is not None:
                self.dues.setdefault(job, set()).add(float(when))

    def follow(self, daemon: subprocess.Popen[bytes], db: Path, end: float) -> None:
        """Until ``end``: the tree's RSS twice a second, the job store once a second."""
        next_jobs = 0.0
        while time.time() < end:
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited ({daemon.returncode}); see {db.parent}")
            self.peak_rss_mb = max(self.peak_rss_mb, tree_rss_mb(daemon.pid))
            if time.time() >= next_jobs:
                self.read_jobs(db)
                next_jobs = time.time() + 1.0
            time.sleep(0.5)


def run_daemon(options: Options, workdir: Path) -> dict[str, Any]:
    start = time.time() + 2
    server = subprocess.Popen(
        [
            PYTHON,
            str(BENCH / "news_sites.py"),
            f"--sites={options.sites}",
            f"--start={start}",
            f"--per-hour={options.per_hour}",
            f"--factor={options.factor}",
            f"--backlog={options.backlog}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())["ports"]
        sites_dir = workdir / "sites"
        sites_dir.mkdir()
        for site, port in enumerate(ports):
            name = site_name(site)
            (sites_dir / f"{name}.yaml").write_text(
                definition(f"http://127.0.0.1:{port}", name, options)
            )
        timeline = Timeline(
            options.sites, start, options.per_hour * options.factor / 3600, options.backlog
        )
        return watch_daemon(options, workdir, sites_dir, timeline)
    finally:
        server.terminate()
        server.wait(timeout=30)


def watch_daemon(
    options: Options, workdir: Path, sites_dir: Path, timeline: Timeline
) -> dict[str, Any]:
    from crawler.scheduling.runner import crawl_env

    db = workdir / "daemon.db"
    env = crawl_env(f"sqlite:///{db}")
    env.update(NEWSCRAWL_SITES_DIR=str(sites_dir), NEWSCRAWL_SPOOL_DIR=str(workdir / "spool"))
    cmd = [
        *(PYTHON, "-m", "crawler.cli", "daemon", "--database", f"sqlite:///{db}"),
        *("--max-crawls", str(options.max_crawls), "--metrics-port", "0"),
        *("--crawl-hosts", str(options.crawl_hosts)),
        *("--log-file", str(workdir / "daemon.log"), "--grace", "10", "--kill-after", "10"),
    ]
    while time.time() < timeline.start:
        time.sleep(0.05)
    load_before = os.getloadavg()
    daemon = subprocess.Popen(cmd, env=env, cwd=workdir, stdin=subprocess.DEVNULL)
    try:
        began = time.time()
        watch = Watch()
        watch.follow(daemon, db, began + options.span)
        cpu = tree_cpu(daemon.pid)
        ended = time.time()
        load_after = os.getloadavg()
        daemon_own = proc_stat(daemon.pid)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(daemon.pid, 0)
    daemon.returncode = os.waitstatus_to_exitcode(status)
    with sqlite3.connect(db) as conn:
        runs = conn.execute(
            "select site, spider, started_at, status, articles_new, pages_fetched from crawl_runs"
        ).fetchall()
        articles = conn.execute("select site, url, first_seen_at from articles").fetchall()
    return {
        **measure(options, timeline, watch, runs, articles, began, ended),
        "cpu_s": cpu,
        "daemon_own_cpu_s": cpu_seconds(daemon_own, children=False) if daemon_own else None,
        "cpu_s_with_stop": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": watch.peak_rss_mb,
        "load_before": load_before,
        "load_after": load_after,
        "daemon_exit": daemon.returncode,
    }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def schedule_lags(
    options: Options, dues: dict[str, set[float]], starts: dict[str, list[float]], end: float
) -> dict[str, Any]:
    """Each due time whose whole interval lies in the span is on time when a
    run of its job started within that interval (each run answers one due)."""
    lags: list[float] = []
    due = missed = 0
    for job, times in dues.items():
        interval = options.seconds(job.partition(":")[2])
        runs = sorted(starts.get(job, []))
        used = 0
        for when in sorted(t for t in times if t + interval <= end):
            due += 1
            while used < len(runs) and runs[used] < when:
                used += 1
            if used < len(runs) and runs[used] < when + interval:
                lags.append(runs[used] - when)
                used += 1
            else:
                missed += 1
    return {
        "crawls_due": due,
        "started_on_time": len(lags),
        "missed": missed,
        "lag_p50_s": percentile(lags, 50),
        "lag_p95_s": percentile(lags, 95),
    }


def measure(
    options: Options,
    timeline: Timeline,
    watch: Watch,
    runs: list[tuple],
    articles: list[tuple],
    began: float,
    ended: float,
) -> dict[str, Any]:
    starts: dict[str, list[float]] = {}
    in_span = []
    for site, spider, started_at, status, new, pages in runs:
        started = unix(started_at)
        starts.setdefault(f"{site}:{spider}", []).append(started)
        if started <= ended:
            in_span.append((status, new or 0, pages or 0))
    stored: dict[tuple[int, int], float] = {}
    for site, url, first_seen in articles:
        match = STORY.match("/" + url.split("/", 3)[3])
        if match:
            stored[(int(site[4:]), int(match.group(1)))] = unix(first_seen)
    # Published during the span, early enough for a scheduled crawl to follow.
    last = ended - options.seconds("articles")
    published = [
        (s, k)
        for s in range(options.sites)
        for k in range(timeline.backlog, timeline.count(s, last))
    ]
    kept = [key for key in published if stored.get(key, float("inf")) <= ended]
    fresh = [
        stored[(s, k)] - timeline.published_at(s, k)
        for (s, k), when in stored.items()
        if k >= timeline.backlog and when <= ended
    ]
    statuses: dict[str, int] = {}
    for status, _, _ in in_span:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        **schedule_lags(options, watch.dues, starts, ended),
        "span_s": ended - began,
        "crawl_runs": len(in_span),
        "run_statuses": statuses,
        "pages_fetched": sum(p for _, _, p in in_span),
        "articles_stored": sum(1 for when in stored.values() if when <= ended),
        "articles_published": len(published),
        "articles_published_stored": len(kept),
        "freshness_p50_s": percentile(fresh, 50),
        "freshness_p95_s": percentile(fresh, 95),
        "site_stride": SITE_STRIDE,
    }


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def row(r: dict[str, Any]) -> str:
    o = r["options"]
    cpus = r["machine"]["cpus"]
    share = r["cpu_s"] / r["span_s"] / cpus
    per_crawl = r["cpu_s"] / r["crawl_runs"] if r["crawl_runs"] else None
    per_article = r["cpu_s"] / r["articles_stored"] if r["articles_stored"] else None
    return (
        f"| {r['design']} | {o['sites']} | {o['factor']:g}x ({o['sites'] * o['factor']:g}) | "
        f"{r['span_s']:.0f} | {o['max_crawls']} | {r['crawls_due']} | "
        f"{r['started_on_time']} ({r['started_on_time'] / max(1, r['crawls_due']):.0%}) | "
        f"{fmt(r['lag_p50_s'])} / {fmt(r['lag_p95_s'])} | {r['crawl_runs']} | "
        f"{fmt(per_crawl, 2)} | {fmt(per_article, 3)} | {share:.0%} | {r['peak_rss_mb']:.0f} | "
        f"{r['articles_published']} / {r['articles_published_stored']} | "
        f"{fmt(r['freshness_p50_s'])} / {fmt(r['freshness_p95_s'])} | "
        f"{r['load_before'][0]:.1f} → {r['load_after'][0]:.1f} |"
    )


HEADER = (
    "| design | sites | factor (sites at the real schedule) | span s | max crawls | crawls due "
    "| started on time | lag p50 / p95 s | crawl runs | CPU s / crawl | CPU s / article "
    "| CPU share | peak RSS MB | articles published / stored | freshness p50 / p95 s "
    "| load avg (1 min) |\n|---|" + "---:|" * 15
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, nargs="+", default=[100], help="N, one run each")
    parser.add_argument("--factor", type=float, default=60.0, help="schedule compression")
    parser.add_argument("--span", type=float, default=180.0, help="seconds the daemon runs")
    parser.add_argument("--per-hour", type=float, default=3.0, help="articles per site per hour")
    parser.add_argument("--backlog", type=int, default=5, help="articles per site at the start")
    parser.add_argument(
        "--crawl-hosts",
        type=int,
        default=os.cpu_count() or 1,
        help="the daemon's --crawl-hosts (default: one per CPU, as the daemon's; 0: a process "
        "per crawl)",
    )
    parser.add_argument(
        "--max-crawls", type=int, help="the daemon's --max-crawls (default: the daemon's)"
    )
    parser.add_argument("--design", help="the row's label (default: from --crawl-hosts)")
    parser.add_argument("--keep", type=Path, help="keep each run's folder (log, database) here")
    args = parser.parse_args()
    if args.max_crawls is None:
        from crawler.scheduling.daemon import default_max_crawls

        args.max_crawls = default_max_crawls(args.crawl_hosts)
    if args.design is None:
        args.design = (
            f"crawl hosts ({args.crawl_hosts})" if args.crawl_hosts else "one process per crawl"
        )
    # Stopped with SIGTERM: the daemon and the sites are stopped too (finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    about = machine()
    results = []
    for sites in args.sites:
        options = Options(
            sites,
            args.factor,
            args.span,
            args.per_hour,
            args.backlog,
            args.max_crawls,
            args.crawl_hosts,
        )
        log(f"{sites} sites at {args.factor:g}x for {args.span:g} s")
        with tempfile.TemporaryDirectory(prefix="daemon-bench-") as folder:
            workdir = Path(folder)
            if args.keep:
                workdir = args.keep / f"sites-{sites}"
                workdir.mkdir(parents=True)
            result = run_daemon(options, workdir)
        result.update(options=options.__dict__, machine=about, design=args.design)
        results.append(result)
        log(row(result))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"daemon-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(HEADER)
    for result in results:
        print(row(result))
    print(
        f"\n{about['cpus']} CPUs ({about['cpu_model']}), Python {about['python']}, "
        f"Scrapy {about['scrapy']}; raw results in {out.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
