"""``newscrawl daemon``, ``schedule``, ``status``, ``worker`` and ``enqueue``:
the command-line side of docs/daemon.md and docs/scaling.md."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from crawler.cli.options import (
    LOG_LEVELS,
    add_database,
    add_settings,
    add_spider,
    parse_settings,
    spiders_for,
)
from crawler.sites.definitions import get_site, load_sites


def add_parsers(sub: argparse._SubParsersAction) -> None:
    daemon = sub.add_parser(
        "daemon", help="crawl every configured site on its schedule until stopped (docs/daemon.md)"
    )
    daemon.add_argument(
        "--site",
        dest="sites",
        action="append",
        default=[],
        metavar="NAME",
        help="schedule only this site (repeatable; default: every configured site)",
    )
    daemon.add_argument(
        "--max-crawls",
        type=int,
        metavar="N",
        help="crawls running at once (default: $NEWSCRAWL_MAX_CRAWLS or 2)",
    )
    daemon.add_argument(
        "--grace",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long running crawls may take to finish (default 60)",
    )
    daemon.add_argument(
        "--kill-after",
        type=float,
        default=45.0,
        metavar="SECONDS",
        help="how long a crawl told to stop (SIGTERM) has before SIGKILL (default 45)",
    )
    daemon.add_argument("--log-file", type=Path, metavar="PATH", help="log here (default: stderr)")
    daemon.add_argument(
        "--log-level", choices=LOG_LEVELS, default="INFO", help="the daemon's log level"
    )
    daemon.add_argument(
        "--crawl-log-level",
        choices=LOG_LEVELS,
        help="Scrapy's log level in the crawl processes (default: $NEWSCRAWL_LOG_LEVEL or WARNING)",
    )
    add_settings(daemon, "every crawl")
    add_database(daemon)
    daemon.set_defaults(func=cmd_daemon)

    schedule = sub.add_parser("schedule", help="every scheduled job and its next run time")
    schedule.add_argument("--site", help="only this site (default: every site)")
    schedule.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_database(schedule)
    schedule.set_defaults(func=cmd_schedule)

    status = sub.add_parser(
        "status", help="per site and spider: last run, next run, consecutive failures"
    )
    status.add_argument("--site", help="only this site (default: every site)")
    status.add_argument("--json", action="store_true", help="JSON instead of text")
    add_database(status)
    status.set_defaults(func=cmd_status)

    worker = sub.add_parser(
        "worker", help="crawl from the shared Redis queue (needs NEWSCRAWL_REDIS_URL)"
    )
    worker.add_argument("--site", help="only this site (default: every site)")
    worker.add_argument(
        "--max-crawls", type=int, default=2, help="crawls this worker runs at once (default 2)"
    )
    add_settings(worker, "the crawls")
    add_database(worker)
    worker.set_defaults(func=cmd_worker)

    enqueue = sub.add_parser(
        "enqueue", help="ask the workers for one crawl of a site (needs NEWSCRAWL_REDIS_URL)"
    )
    enqueue.add_argument("site")
    add_spider(enqueue)
    enqueue.set_defaults(func=cmd_enqueue)


def cmd_daemon(args: argparse.Namespace) -> int:
    import os

    from crawler.scheduling.daemon import (
        DEFAULT_CRAWL_LOG_LEVEL,
        DaemonOptions,
        configure_logging,
        default_max_crawls,
        run_daemon,
    )
    from crawler.storage.database import database_url

    max_crawls = args.max_crawls if args.max_crawls is not None else default_max_crawls()
    if max_crawls < 1:
        raise SystemExit("newscrawl: --max-crawls must be at least 1")
    if args.grace < 0 or args.kill_after < 0:
        raise SystemExit("newscrawl: --grace and --kill-after cannot be negative")
    settings = parse_settings(args.settings)
    log_file = args.log_file.resolve() if args.log_file else None
    try:
        configure_logging(args.log_level, log_file)
    except OSError as exc:
        raise SystemExit(f"newscrawl: cannot write the log file {log_file}: {exc}") from None
    options = DaemonOptions(
        db_url=database_url(args.database),
        max_crawls=max_crawls,
        grace=args.grace,
        kill_after=args.kill_after,
        sites=args.sites,
        crawl_settings=settings,
        crawl_log_level=(
            args.crawl_log_level or os.environ.get("NEWSCRAWL_LOG_LEVEL") or DEFAULT_CRAWL_LOG_LEVEL
        ),
        log_file=log_file,
    )
    return run_daemon(options)


def _time(value: object) -> str:
    from datetime import datetime

    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(value, datetime) else "-"


def _iso(value: object) -> str | None:
    from datetime import datetime

    return value.isoformat() if isinstance(value, datetime) else None


def _next_run_text(iso: str | None, source: str) -> str:
    from datetime import datetime

    if iso is None:
        return source
    when = _time(datetime.fromisoformat(iso))
    return when if source == "job store" else f"{when} ({source})"


def _selected_sites(name: str | None) -> dict:
    from crawler.scheduling.jobs import scheduled_sites

    return scheduled_sites(load_sites()) if name is None else {name: get_site(name)}


def _stored_next_runs(url: str) -> dict | None:
    """The next run times the daemon stored, or None (no daemon has run here)."""
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.storage.database import get_engine, safe_url
    from crawler.storage.status import database_exists, stored_next_runs

    if not database_exists(url):
        return None
    try:
        return stored_next_runs(get_engine(url))
    except SQLAlchemyError as exc:
        print(
            f"newscrawl: cannot read the daemon's jobs in {safe_url(url)} ({exc}); "
            "next runs are computed",
            file=sys.stderr,
        )
        return None


def cmd_schedule(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from crawler.scheduling.jobs import job_specs, next_run
    from crawler.sites.durations import format_duration
    from crawler.storage.database import database_url

    specs = job_specs(_selected_sites(args.site).values())
    stored = _stored_next_runs(database_url(args.database))
    now = datetime.now(UTC)
    jobs = []
    for spec in specs:
        when, source = next_run(spec, stored, now)
        jobs.append(
            {
                "id": spec.id,
                "site": spec.site,
                "spider": spec.spider,
                "trigger": spec.kind,
                "schedule": spec.describe(),
                "every_seconds": spec.schedule.every,
                "cron": spec.schedule.cron,
                "timezone": spec.timezone if spec.schedule.cron else "UTC",
                "jitter_seconds": spec.schedule.jitter,
                "timeout_seconds": spec.timeout,
                "misfire_grace_seconds": spec.misfire_grace_time(now),
                "next_run": _iso(when),
                "next_run_source": source,
            }
        )
    if args.json:
        print(json.dumps(jobs, indent=2))
        return 0
    if not jobs:
        print("No jobs: no configured site has an enabled schedule.")
        return 0
    site_width = max(16, *(len(spec.site) + 2 for spec in specs))
    schedule_width = max(34, *(len(job["schedule"]) + 2 for job in jobs))
    print(
        f"{'site':<{site_width}}{'spider':<13}{'schedule':<{schedule_width}}"
        f"{'timeout':>7}{'grace':>8}  next run"
    )
    for job, spec in zip(jobs, specs, strict=True):
        nxt = _next_run_text(job["next_run"], job["next_run_source"])
        print(
            f"{spec.site:<{site_width}}{spec.spider:<13}{job['schedule']:<{schedule_width}}"
            f"{format_duration(spec.timeout):>7}"
            f"{format_duration(job['misfire_grace_seconds']):>8}  {nxt}"
        )
    return 0


RUN_FIELDS = (
    "id",
    "status",
    "finish_reason",
    "trigger",
    "started_at",
    "finished_at",
    "pages_fetched",
    "articles_new",
    "articles_updated",
    "articles_unchanged",
    "items_rejected",
    "top_story_snapshots",
    "errors",
)


def cmd_status(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.storage.database import database_url, safe_url

    try:
        return _print_status(args)
    except SQLAlchemyError as exc:
        url = safe_url(database_url(args.database))
        print(f"newscrawl: cannot read the database {url}: {exc}", file=sys.stderr)
        return 1


def _print_status(args: argparse.Namespace) -> int:
    from crawler.storage.database import database_url, ensure_schema, get_engine

    url = database_url(args.database)
    ensure_schema(url)
    report = status_report(get_engine(url), args.site)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if not report:
        print("No sites.")
    for entry in report:
        _print_status_entry(entry)
    return 0


def _status_pairs(engine: Any, name: str | None) -> tuple[dict, list[tuple[str, str]]]:
    """The configured sites ``status`` covers (one, or all), and every (site,
    spider) to report: those the sites define, then those with runs only."""
    from crawler.scheduling.jobs import SPIDER_PARTS
    from crawler.storage import status as queries

    sites = load_sites()
    with_runs = [pair for pair in queries.sites_with_runs(engine) if name in (None, pair[0])]
    if name is not None and name not in sites and not with_runs:
        get_site(name)  # the "unknown site" error, with the known names
    if name is not None:
        sites = {k: v for k, v in sites.items() if k == name}
    pairs = [
        (site_name, spider)
        for site_name, site in sorted(sites.items())
        for spider, part in SPIDER_PARTS.items()
        if getattr(site, part) is not None
    ]
    return sites, pairs + [pair for pair in with_runs if pair not in pairs]


def status_report(engine: Any, name: str | None) -> list[dict[str, Any]]:
    """``status --json``: per site and spider, the schedule, the last run, the
    next run and its source, the failures in a row and the listing walks."""
    from datetime import UTC, datetime

    from crawler.scheduling.jobs import job_specs, next_run
    from crawler.storage import status as queries
    from crawler.storage.walks import walk_status

    sites, pairs = _status_pairs(engine, name)
    specs = {spec.id: spec for spec in job_specs(sites.values())}
    stored = queries.stored_next_runs(engine)
    walks = walk_status(engine, name)
    now = datetime.now(UTC)
    report = []
    for site, spider in pairs:
        spec = specs.get(f"{site}:{spider}")
        if spec is not None:
            when, source = next_run(spec, stored, now)
        else:
            when, source = None, "disabled" if site in sites else "not configured"
        last = queries.last_run(engine, site, spider)
        report.append(
            {
                "site": site,
                "spider": spider,
                "schedule": spec.describe() if spec else None,
                "last_run": ({k: _iso(last[k]) or last[k] for k in RUN_FIELDS} if last else None),
                "next_run": _iso(when),
                "next_run_source": source,
                "consecutive_failures": queries.consecutive_failures(engine, site, spider),
                "walks": _walks_entry(walks.get((site, spider))),
            }
        )
    return report


def _print_status_entry(entry: dict[str, Any]) -> None:
    from datetime import datetime

    from crawler.cli.reporting import run_outcome
    from crawler.scheduling.daemon import format_counts

    last = entry["last_run"]
    schedule = entry["schedule"] or entry["next_run_source"]
    print(f"{entry['site']}/{entry['spider']}  ({schedule})")
    if last is None:
        print("  last run  none")
    else:
        started = _time(datetime.fromisoformat(last["started_at"]))
        if last["status"] == "running":
            print(f"  last run  #{last['id']} running since {started} ({last['trigger']})")
        else:
            outcome = run_outcome(last["status"], last["finish_reason"])
            print(
                f"  last run  #{last['id']} {outcome}, "
                f"started {started} ({last['trigger']}): {format_counts(last)}"
            )
    nxt = _next_run_text(entry["next_run"], entry["next_run_source"])
    print(f"  next run  {nxt}")
    print(f"  failures  {entry['consecutive_failures']} in a row")
    if entry["walks"] is not None:
        print(f"  walks     {_walks_text(entry['walks'])}")


def _walks_entry(walks: Any) -> dict[str, Any] | None:
    """The listing walks of a site's spider, for ``status`` (crawler/storage/walks.py)."""
    if walks is None:
        return None
    return {
        "listings": walks.listings,
        "incomplete": walks.incomplete,
        "incomplete_since": _iso(walks.incomplete_since),
        "crawls": walks.crawls,
        "pages_read": walks.pages_read,
    }


def _walks_text(walks: dict[str, Any]) -> str:
    if not walks["incomplete"]:
        return f"{walks['listings']} listing(s), every walk complete"
    from datetime import datetime

    since = _time(datetime.fromisoformat(walks["incomplete_since"]))
    return (
        f"{walks['incomplete']} of {walks['listings']} listing(s) incomplete since {since} "
        f"({walks['crawls']} crawl(s), {walks['pages_read']} page(s) read): "
        "resumed by the next crawl"
    )


# --------------------------------------------------------------------------- distributed


def _redis_url_or_exit() -> str:
    from crawler.scheduling.distributed import REDIS_URL_ENV, redis_url

    url = redis_url()
    if not url:
        raise SystemExit(f"newscrawl: set {REDIS_URL_ENV} (e.g. redis://127.0.0.1:6379/0)")
    return url


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from crawler.scheduling.worker import Worker

    url = _redis_url_or_exit()
    if args.site:
        get_site(args.site)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s"
    )
    return Worker(
        url, args.database, args.site, args.max_crawls, settings=parse_settings(args.settings)
    ).run()


def cmd_enqueue(args: argparse.Namespace) -> int:
    from crawler.scheduling.distributed import enqueue_crawl

    url = _redis_url_or_exit()
    for spider in spiders_for(args.site, args.spider):
        enqueue_crawl(url, args.site, spider)
        print(f"enqueued a crawl of {args.site}/{spider}")
    return 0
