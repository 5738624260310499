"""``newscrawl daemon``, ``schedule``, ``status``, ``worker`` and ``enqueue``:
the command-line side of docs/daemon.md and docs/scaling.md."""

from __future__ import annotations

import argparse
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
from crawler.cli.reporting import Column, dump_json, field, format_table, jsonable
from crawler.exceptions import CONFIG_ERROR_EXIT
from crawler.sites.definitions import get_site, load_sites
from crawler.sites.times import human_time, iso_time
from crawler.storage.status import LAST_RUN_COLUMNS


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
        help="crawls running at once (default: $NEWSCRAWL_MAX_CRAWLS, else 8 per crawl host, "
        "2 with --crawl-hosts 0)",
    )
    daemon.add_argument(
        "--crawl-hosts",
        type=int,
        metavar="N",
        help="long-lived processes that run the crawls, many each (default: "
        "$NEWSCRAWL_CRAWL_HOSTS or one per CPU; 0: each crawl a scrapy crawl process of its own)",
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
    add_metrics(daemon, 9410)
    daemon.set_defaults(func=cmd_daemon)

    schedule = sub.add_parser("schedule", help="every scheduled job and its next run time")
    schedule.add_argument("--site", help="only this site (default: every site)")
    schedule.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_database(schedule)
    schedule.set_defaults(func=cmd_schedule)

    status = sub.add_parser(
        "status",
        help="whether a daemon runs; per site and spider: last run, next run, failures in a row",
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
        "--max-crawls",
        type=int,
        default=2,
        metavar="N",
        help="crawls this worker runs at once (default 2)",
    )
    worker.add_argument(
        "--crawl-hosts",
        type=int,
        default=1,
        metavar="N",
        help="long-lived processes that run this worker's crawls (default 1; "
        "0: each crawl a scrapy crawl process of its own)",
    )
    add_settings(worker, "the crawls")
    add_database(worker)
    add_metrics(worker, 9411)
    worker.set_defaults(func=cmd_worker)

    enqueue = sub.add_parser(
        "enqueue", help="ask the workers for one crawl of a site (needs NEWSCRAWL_REDIS_URL)"
    )
    enqueue.add_argument("site")
    add_spider(enqueue)
    enqueue.set_defaults(func=cmd_enqueue)


def add_metrics(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help=f"serve /metrics and /healthz on this port; 0: none "
        f"(default: $NEWSCRAWL_METRICS_PORT or {port})",
    )
    parser.add_argument(
        "--metrics-host",
        metavar="HOST",
        help="the address to serve them on (default: $NEWSCRAWL_METRICS_HOST or 127.0.0.1)",
    )


def _metrics_address(args: argparse.Namespace, default_port: int) -> tuple[str, int]:
    """The metrics endpoint's host and port (ValueError: not a port)."""
    from crawler.scheduling.endpoint import metrics_host, metrics_port

    return metrics_host(args.metrics_host), metrics_port(args.metrics_port, default_port)


def _error(message: str, status: int = CONFIG_ERROR_EXIT) -> int:
    """One line on stderr, and the exit status to return."""
    print(f"newscrawl: {message}", file=sys.stderr)
    return status


def cmd_daemon(args: argparse.Namespace) -> int:
    import os

    from crawler.scheduling.daemon import (
        DEFAULT_CRAWL_LOG_LEVEL,
        DaemonOptions,
        configure_logging,
        default_max_crawls,
        run_daemon,
    )
    from crawler.scheduling.endpoint import DAEMON_METRICS_PORT
    from crawler.scheduling.hosts import HostLimits, default_hosts
    from crawler.storage.database import database_url

    try:
        crawl_hosts = args.crawl_hosts if args.crawl_hosts is not None else default_hosts()
        if crawl_hosts < 0:
            raise ValueError(f"--crawl-hosts must be 0 or more, got {crawl_hosts}")
        host_limits = HostLimits.from_env() if crawl_hosts else None
        max_crawls = (
            args.max_crawls if args.max_crawls is not None else default_max_crawls(crawl_hosts)
        )
        metrics_host, metrics_port = _metrics_address(args, DAEMON_METRICS_PORT)
    except ValueError as exc:
        return _error(str(exc))
    if max_crawls < 1:
        return _error(f"--max-crawls must be at least 1, got {max_crawls}")
    if args.grace < 0 or args.kill_after < 0:
        return _error("--grace and --kill-after cannot be negative")
    settings = parse_settings(args.settings)
    log_file = args.log_file.resolve() if args.log_file else None
    try:
        configure_logging(args.log_level, log_file)
    except OSError as exc:
        return _error(f"cannot write the log file {log_file}: {exc.strerror or exc}")
    options = DaemonOptions(
        db_url=database_url(args.database),
        max_crawls=max_crawls,
        crawl_hosts=crawl_hosts,
        host_limits=host_limits,
        grace=args.grace,
        kill_after=args.kill_after,
        sites=args.sites,
        crawl_settings=settings,
        crawl_log_level=(
            args.crawl_log_level or os.environ.get("NEWSCRAWL_LOG_LEVEL") or DEFAULT_CRAWL_LOG_LEVEL
        ),
        log_file=log_file,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )
    return run_daemon(options)


# --------------------------------------------------------------------------- schedule

# How each source of a next run reads in text (the time comes first where there is one).
NEXT_RUN_TEXT = {
    "job store": "{when}",
    "computed": "{when} (computed)",
    "paused": "paused",
    "at daemon start": "at daemon start",
    "disabled": "disabled (enabled: false in its schedule)",
    "not scheduled": "not scheduled: a bundled example runs only when named (daemon --site {site})",
    "not configured": "not configured (no site definition, or none for this spider)",
}


def _next_run_text(entry: dict[str, Any]) -> str:
    from datetime import datetime

    when = entry["next_run"]
    return NEXT_RUN_TEXT[entry["next_run_source"]].format(
        when=human_time(datetime.fromisoformat(when)) if when else "-", site=entry["site"]
    )


def _stored_next_runs(url: str) -> dict | None:
    """The next run times the daemon stored, or None (no daemon has run here,
    or there is no archive yet: ``schedule`` never creates one)."""
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.storage.database import get_engine, safe_url
    from crawler.storage.spool import short_error
    from crawler.storage.status import database_exists, stored_next_runs

    if not database_exists(url):
        return None
    try:
        return stored_next_runs(get_engine(url))
    except SQLAlchemyError as exc:
        print(
            f"newscrawl: cannot read the daemon's jobs in {safe_url(url)} ({short_error(exc)}); "
            "next runs are computed",
            file=sys.stderr,
        )
        return None


def _jobs(sites: dict, name: str | None, stored: dict | None) -> tuple[dict, list, str | None]:
    """The sites and jobs ``schedule`` and ``status`` show, by one rule
    (crawler.scheduling.jobs.shown_sites), and why there is no job."""
    from crawler.scheduling.jobs import job_specs, scheduled_sites, shown_sites, why_no_jobs

    shown = shown_sites(sites, name, stored)
    specs = job_specs(shown.values())
    if specs:
        return shown, specs, None
    if name is not None and name not in sites:
        return shown, specs, f"{name} has no site definition"
    return shown, specs, why_no_jobs(sites, shown or scheduled_sites(sites))


def cmd_schedule(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from crawler.scheduling.jobs import next_run
    from crawler.storage.database import database_url

    sites = load_sites()
    if args.site is not None:
        get_site(args.site)  # the unknown-site error, with the known names
    stored = _stored_next_runs(database_url(args.database))
    _, specs, reason = _jobs(sites, args.site, stored)
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
                "next_run": iso_time(when),
                "next_run_source": source,
            }
        )
    if args.json:
        dump_json(jobs, sys.stdout)
    elif not jobs:
        print(f"No jobs: {reason}.")
    else:
        print(format_table(SCHEDULE_COLUMNS, jobs))
    return 0


def _duration(name: str) -> Any:
    from crawler.sites.durations import format_duration

    return lambda row: format_duration(row[name])


SCHEDULE_COLUMNS = (
    Column("site", field("site")),
    Column("spider", field("spider")),
    Column("schedule", field("schedule")),
    Column("timeout", _duration("timeout_seconds"), align_right=True),
    Column("grace", _duration("misfire_grace_seconds"), align_right=True),
    Column("next run", _next_run_text),
)


# --------------------------------------------------------------------------- status

RUN_FIELDS = (
    "id",
    "status",
    "finish_reason",
    "trigger",
    "started_at",
    "finished_at",
    *LAST_RUN_COLUMNS,
    "health_warnings",
)


def cmd_status(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.cli.options import check_site, open_archive
    from crawler.exceptions import NOT_FOUND_EXIT
    from crawler.storage.database import database_url, safe_url
    from crawler.storage.spool import short_error

    try:
        engine = open_archive(args.database)
        if engine is None:
            return NOT_FOUND_EXIT
        check_site(engine, args.site)
        report = status_report(engine, args.site)
    except SQLAlchemyError as exc:
        url = safe_url(database_url(args.database))
        return _error(f"cannot read the database {url}: {short_error(exc)}", 1)
    if args.json:
        dump_json(report, sys.stdout)
        return 0
    print(f"daemon    {_daemon_text(report['daemon'])}")
    if report["no_jobs"]:
        print(f"No jobs: {report['no_jobs']}.")
    for entry in report["sites"]:
        print()
        _print_status_entry(entry)
    return 0


def _status_pairs(engine: Any, shown: dict, name: str | None) -> list[tuple[str, str]]:
    """Every (site, spider) ``status`` reports: those of the sites shown (as
    ``schedule`` shows them), then those with runs only."""
    from crawler.scheduling.jobs import SPIDER_PARTS
    from crawler.storage import status as queries

    with_runs = [pair for pair in queries.sites_with_runs(engine) if name in (None, pair[0])]
    pairs = [
        (site_name, spider)
        for site_name, site in sorted(shown.items())
        for spider, part in SPIDER_PARTS.items()
        if getattr(site, part) is not None
    ]
    return pairs + [pair for pair in with_runs if pair not in pairs]


def _unscheduled(site: str, spider: str, sites: dict, shown: dict) -> str:
    """Why a (site, spider) of ``status`` has no job."""
    from crawler.scheduling.jobs import SPIDER_PARTS

    defined = sites.get(site)
    if defined is None or getattr(defined, SPIDER_PARTS.get(spider, ""), None) is None:
        return "not configured"
    return "disabled" if site in shown else "not scheduled"


def status_report(engine: Any, name: str | None) -> dict[str, Any]:
    """``status --json``: the daemon, and per site and spider the schedule,
    the last run, the next run and its source, when the last successful run
    ended, the failures in a row and the listing walks. The figures are read
    by the functions the metrics of ``daemon`` and ``worker`` read
    (crawler/scheduling/metrics.py)."""
    from datetime import UTC, datetime

    from crawler.scheduling.jobs import next_run
    from crawler.storage import status as queries
    from crawler.storage.walks import walk_status

    sites = load_sites()
    stored = queries.stored_next_runs(engine)
    shown, specs, reason = _jobs(sites, name, stored)
    by_id = {spec.id: spec for spec in specs}
    walks = walk_status(engine, name)
    now = datetime.now(UTC)
    entries = []
    for site, spider in _status_pairs(engine, shown, name):
        spec = by_id.get(f"{site}:{spider}")
        if spec is not None:
            when, source = next_run(spec, stored, now)
        else:
            when, source = None, _unscheduled(site, spider, sites, shown)
        last = queries.last_run(engine, site, spider)
        entries.append(
            {
                "site": site,
                "spider": spider,
                "schedule": spec.describe() if spec else None,
                "last_run": {k: last[k] for k in RUN_FIELDS} if last else None,
                "next_run": iso_time(when),
                "next_run_source": source,
                "last_success": queries.last_success(engine, site, spider),
                "consecutive_failures": queries.consecutive_failures(engine, site, spider),
                "walks": _walks_entry(walks.get((site, spider))),
            }
        )
    return {"daemon": _daemon_entry(engine), "no_jobs": reason, "sites": jsonable(entries)}


def _daemon_entry(engine: Any) -> dict[str, Any]:
    """Whether a daemon runs on this database now, and when one last ran (its lease)."""
    from crawler.storage.locks import daemon_state

    state = daemon_state(engine)
    return {
        "running": state.running,
        "state": state.state,
        "host": state.host,
        "pid": state.pid,
        "started_at": iso_time(state.started_at),
        "stopped_at": iso_time(state.stopped_at),
    }


def _daemon_text(daemon: dict[str, Any]) -> str:
    """One line: whether a daemon runs now, and when one last ran."""
    from datetime import datetime

    def when(name: str) -> str:
        value = daemon[name]
        return human_time(datetime.fromisoformat(value)) if value else "-"

    who = f"pid {daemon['pid']} on {daemon['host']}"
    text = {
        "running": f"running: {who}, since {when('started_at')}",
        "stopped": f"not running; it last ran from {when('started_at')} to {when('stopped_at')}",
        "ended": f"not running; it last ran from {when('started_at')} and ended without "
        "releasing its lease (killed, or its machine stopped)",
        "expired": f"not running; it last ran from {when('started_at')} and stopped renewing "
        f"its lease, which expired {when('stopped_at')}",
    }.get(daemon["state"])
    if text is None:
        return "not running; no daemon has run on this database"
    return text if daemon["state"] == "running" else f"{text} ({who})"


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
        started = human_time(datetime.fromisoformat(last["started_at"]))
        if last["status"] == "running":
            print(f"  last run  #{last['id']} running since {started} ({last['trigger']})")
        else:
            outcome = run_outcome(last["status"], last["finish_reason"])
            print(
                f"  last run  #{last['id']} {outcome}, "
                f"started {started} ({last['trigger']}): {format_counts(last)}"
            )
    print(f"  next run  {_next_run_text(entry)}")
    success = entry["last_success"]
    print(f"  success   {human_time(datetime.fromisoformat(success)) if success else 'none yet'}")
    print(f"  failures  {entry['consecutive_failures']} in a row")
    for warning in (last or {}).get("health_warnings") or ():
        print(f"  health    {warning}")
    if entry["walks"] is not None:
        print(f"  walks     {_walks_text(entry['walks'])}")


def _walks_entry(walks: Any) -> dict[str, Any] | None:
    """The listing walks of a site's spider, for ``status`` (crawler/storage/walks.py)."""
    if walks is None:
        return None
    return {
        "listings": walks.listings,
        "incomplete": walks.incomplete,
        "incomplete_since": iso_time(walks.incomplete_since),
        "crawls": walks.crawls,
        "pages_read": walks.pages_read,
    }


def _walks_text(walks: dict[str, Any]) -> str:
    if not walks["incomplete"]:
        return f"{walks['listings']} listing(s), every walk complete"
    from datetime import datetime

    since = human_time(datetime.fromisoformat(walks["incomplete_since"]))
    return (
        f"{walks['incomplete']} of {walks['listings']} listing(s) incomplete since {since} "
        f"({walks['crawls']} crawl(s), {walks['pages_read']} page(s) read): "
        "resumed by the next crawl"
    )


# --------------------------------------------------------------------------- distributed


def _distributed_or_error() -> str | int:
    """The Redis URL once the extra, NEWSCRAWL_REDIS_URL and Redis are checked;
    else the exit status, after one line on stderr."""
    from crawler.scheduling.redis_queue import DistributedUnavailable, ready

    try:
        return ready()
    except DistributedUnavailable as exc:
        return _error(str(exc), exc.status)


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    if args.site:
        get_site(args.site)
    if args.max_crawls < 1:
        return _error(f"--max-crawls must be at least 1, got {args.max_crawls}")
    if args.crawl_hosts < 0:
        return _error(f"--crawl-hosts must be 0 or more, got {args.crawl_hosts}")
    from crawler.scheduling.endpoint import WORKER_METRICS_PORT, MetricsUnavailable
    from crawler.scheduling.hosts import HostLimits

    try:
        metrics_host, metrics_port = _metrics_address(args, WORKER_METRICS_PORT)
        host_limits = HostLimits.from_env() if args.crawl_hosts else None
    except ValueError as exc:
        return _error(str(exc))
    settings = parse_settings(args.settings)
    url = _distributed_or_error()
    if isinstance(url, int):
        return url
    from crawler.scheduling.logs import LOG_DATEFORMAT, LOG_FORMAT
    from crawler.scheduling.worker import Worker

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, datefmt=LOG_DATEFORMAT)
    worker = Worker(
        url,
        args.database,
        args.site,
        args.max_crawls,
        settings=settings,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        crawl_hosts=args.crawl_hosts,
        host_limits=host_limits,
    )
    try:
        return worker.run()
    except MetricsUnavailable as exc:
        return _error(str(exc), 1)


def cmd_enqueue(args: argparse.Namespace) -> int:
    site = get_site(args.site)
    spiders = spiders_for(args.site, args.spider)
    missing = [spider for spider in spiders if spider not in site.spiders]
    if missing:
        return _error(
            f"site {site.name} has no {missing[0]} spider (its spiders: {', '.join(site.spiders)})"
        )
    url = _distributed_or_error()
    if isinstance(url, int):
        return url
    from crawler.scheduling.redis_queue import enqueue_crawl

    for spider in spiders:
        enqueue_crawl(url, args.site, spider)
        print(f"enqueued a crawl of {args.site}/{spider}")
    return 0
