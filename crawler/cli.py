"""The ``newscrawl`` command line."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import OperationalError

from crawler.config import BUNDLED_SITES_DIR, SiteConfigError, get_site, load_sites

CONFIG_ERROR_EXIT = 2
LEASE_HELD_EXIT = 3  # crawler.storage.locks.LEASE_HELD_EXIT
SPIDERS = ("articles", "top_stories")


def _add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy database URL (default: $NEWSCRAWL_DATABASE_URL or sqlite:///newscrawl.db)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscrawl", description="Crawl news sites into a SQL archive."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = sub.add_parser("crawl", help="crawl one configured site now")
    crawl.add_argument("site", help="site name (see `newscrawl sites list`)")
    crawl.add_argument("--spider", choices=(*SPIDERS, "all"), default="all")
    crawl.add_argument("--pages", type=int, metavar="N", help="follow pagination N pages deep")
    crawl.add_argument(
        "--since",
        metavar="DATE",
        help="only articles published on or after DATE (YYYY-MM-DD or ISO-8601)",
    )
    crawl.add_argument(
        "--until", metavar="DATE", help="only articles published before the end of DATE"
    )
    crawl.add_argument("--refetch", action="store_true", help="fetch stored articles again")
    crawl.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="Scrapy's log level for the crawl (default: $NEWSCRAWL_LOG_LEVEL or INFO)",
    )
    crawl.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for this crawl (repeatable)",
    )
    _add_database(crawl)

    demo = sub.add_parser(
        "demo", help="serve the demo site, crawl it into the database and show the result"
    )
    demo.add_argument("--port", type=int, default=8765)
    _add_database(demo)

    demo_site = sub.add_parser("demo-site", help="serve the bundled demo news site")
    demo_site.add_argument("--host", default="127.0.0.1")
    demo_site.add_argument("--port", type=int, default=8765)

    summary = sub.add_parser("summary", help="what the database holds")
    summary.add_argument("--site")
    summary.add_argument("--limit", type=int, default=10, help="newest articles to show")
    _add_database(summary)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="create or upgrade the schema")
    _add_database(upgrade)
    current = db_sub.add_parser("current", help="print the schema revision")
    _add_database(current)

    sites = sub.add_parser("sites", help="site definitions")
    sites_sub = sites.add_subparsers(dest="sites_command", required=True, metavar="ACTION")
    sites_sub.add_parser("list", help="validate every site definition and list them")
    check = sites_sub.add_parser(
        "check", help="fetch a listing page and an article and show what each rule finds"
    )
    check.add_argument("site", help="site name")
    check.add_argument("url", nargs="?", help="an article URL (default: the first listing link)")
    check.add_argument("--json", action="store_true", help="print JSON")
    new = sites_sub.add_parser("new", help="draft a site definition from a home page")
    new.add_argument("url", help="the site's home page")
    new.add_argument("--name", help="site name (default: from the host name)")
    new.add_argument("-o", "--output", metavar="FILE", help="write the YAML here (default: stdout)")

    worker = sub.add_parser(
        "worker", help="crawl from the shared Redis queue (needs NEWSCRAWL_REDIS_URL)"
    )
    worker.add_argument("--site", help="only this site (default: every site)")
    worker.add_argument(
        "--max-crawls", type=int, default=2, help="crawls this worker runs at once (default 2)"
    )
    worker.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for the crawls (repeatable)",
    )
    _add_database(worker)
    enqueue = sub.add_parser(
        "enqueue", help="ask the workers for one crawl of a site (needs NEWSCRAWL_REDIS_URL)"
    )
    enqueue.add_argument("site")
    enqueue.add_argument("--spider", choices=(*SPIDERS, "all"), default="all")

    extract = sub.add_parser(
        "extract", help="extract one page (a file, standard input or a URL) and print it"
    )
    extract.add_argument(
        "source", nargs="?", default="-", help="a file, - for standard input, or an http(s) URL"
    )
    extract.add_argument("--site", help="use this site's rules (default: generic extraction)")
    extract.add_argument("--url", help="the page's URL, for a file or standard input")
    extract.add_argument("--json", action="store_true", help="every field with its source")

    _add_daemon_parsers(sub)
    _add_query_parsers(sub)
    return parser


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _add_daemon_parsers(sub: argparse._SubParsersAction) -> None:
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
    daemon.add_argument("--log-file", type=Path, metavar="PATH", help="log here, not to stderr")
    daemon.add_argument(
        "--log-level", choices=LOG_LEVELS, default="INFO", help="the daemon's log level"
    )
    daemon.add_argument(
        "--crawl-log-level",
        choices=LOG_LEVELS,
        help="Scrapy's log level in the crawl processes (default: $NEWSCRAWL_LOG_LEVEL or WARNING)",
    )
    daemon.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for every crawl (repeatable)",
    )
    _add_database(daemon)

    schedule = sub.add_parser("schedule", help="every scheduled job and its next run time")
    schedule.add_argument("--site", help="only this site")
    schedule.add_argument("--json", action="store_true", help="JSON instead of a table")
    _add_database(schedule)

    status = sub.add_parser(
        "status", help="per site and spider: last run, next run, consecutive failures"
    )
    status.add_argument("--site", help="only this site")
    status.add_argument("--json", action="store_true", help="JSON instead of text")
    _add_database(status)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except SiteConfigError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    except KeyboardInterrupt:
        return 130
    except OperationalError as exc:
        # The database is unreachable or refuses us: one line, password masked.
        from crawler.storage.database import database_url, safe_url

        url = safe_url(database_url(getattr(args, "database", None)))
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0]
        print(f"newscrawl: cannot use the database {url}: {reason}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`newscrawl export | head`): stop quietly.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "crawl":
        return cmd_crawl(args)
    if args.command == "demo":
        return cmd_demo(args)
    if args.command == "demo-site":
        return cmd_demo_site(args)
    if args.command == "extract":
        return cmd_extract(args)
    if args.command == "worker":
        return cmd_worker(args)
    if args.command == "enqueue":
        return cmd_enqueue(args)
    if args.command == "summary":
        return cmd_summary(args)
    if args.command == "db":
        return cmd_db(args)
    if args.command == "sites":
        return cmd_sites(args)
    if args.command == "daemon":
        return cmd_daemon(args)
    if args.command == "schedule":
        return cmd_schedule(args)
    if args.command == "status":
        return cmd_status(args)
    if args.command in QUERY_COMMANDS:
        return QUERY_COMMANDS[args.command](args)
    raise AssertionError(args.command)


def _spiders_for(site_name: str, choice: str) -> list[str]:
    site = get_site(site_name)
    if choice != "all":
        return [choice]
    spiders = []
    if site.listing is not None:
        spiders.append("articles")
    if site.top_stories is not None:
        spiders.append("top_stories")
    return spiders


def _parse_settings(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"newscrawl: --set takes NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


def run_site(
    site: str,
    spiders: list[str],
    arguments: dict[str, str],
    settings: dict[str, str],
    db: str | None,
) -> int:
    from crawler.runner import run_crawl
    from crawler.storage.queries import format_time

    status = 0
    for spider in spiders:
        result = run_crawl(site, spider, arguments, settings, db)
        if result.exit_code == CONFIG_ERROR_EXIT:
            return CONFIG_ERROR_EXIT
        for run in result.runs:
            print(
                f"run {run['id']}: {site}/{spider} {run['status']} ({run['finish_reason']}) "
                f"at {format_time(run['finished_at'])}: pages {run['pages_fetched']}, "
                f"new {run['articles_new']}, updated {run['articles_updated']}, "
                f"unchanged {run['articles_unchanged']}, rejected {run['items_rejected']}, "
                f"top-story snapshots {run['top_story_snapshots']}"
            )
        if result.exit_code == LEASE_HELD_EXIT:
            status = LEASE_HELD_EXIT  # another process crawls it; its message is above
        elif not result.ok and status != LEASE_HELD_EXIT:
            status = 1
    return status


def _check_date_option(name: str, value: str) -> None:
    from datetime import date, datetime

    try:
        date.fromisoformat(value)
        return
    except ValueError:
        pass
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(
            f"newscrawl: --{name} takes a date YYYY-MM-DD or an ISO-8601 time, got {value!r}"
        ) from None


def cmd_crawl(args: argparse.Namespace) -> int:
    spiders = _spiders_for(args.site, args.spider)
    arguments = {}
    if args.pages is not None:
        if args.pages < 1:
            raise SystemExit("newscrawl: --pages must be at least 1")
        arguments["pages"] = str(args.pages)
    for name in ("since", "until"):
        value = getattr(args, name)
        if value is not None:
            _check_date_option(name, value)
            arguments[name] = value
    if args.refetch:
        arguments["refetch"] = "true"
    settings = _parse_settings(args.settings)
    if args.log_level:
        settings["LOG_LEVEL"] = args.log_level
    return run_site(args.site, spiders, arguments, settings, args.database)


def cmd_demo_site(args: argparse.Namespace) -> int:
    from crawler.demo_site import DemoSiteServer

    server = DemoSiteServer(args.host, args.port)
    print(f"DemoNews is served at {server.url}/  (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def demo_site_definition(folder: Path, base_url: str) -> Path:
    """Write the bundled demo definition with another base URL into ``folder``."""
    import yaml

    data = yaml.safe_load((BUNDLED_SITES_DIR / "demo.yaml").read_text(encoding="utf-8"))
    data["base_url"] = base_url
    path = folder / "demo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    import os

    from crawler.demo_site import DemoSiteServer

    try:
        server = DemoSiteServer("127.0.0.1", args.port)
    except OSError as exc:
        print(
            f"newscrawl: cannot serve the demo site on 127.0.0.1:{args.port} ({exc}); "
            "pass --port with a free port",
            file=sys.stderr,
        )
        return 1
    print(f"DemoNews is served at {server.url}/", flush=True)
    previous = os.environ.get("NEWSCRAWL_SITES_DIR")
    with server, tempfile.TemporaryDirectory(prefix="newscrawl-demo-") as folder:
        if args.port != 8765:
            demo_site_definition(Path(folder), server.url + "/")
            os.environ["NEWSCRAWL_SITES_DIR"] = os.pathsep.join(p for p in (previous, folder) if p)
        try:
            status = run_site("demo", list(SPIDERS), {}, {"LOG_LEVEL": "WARNING"}, args.database)
        finally:
            if previous is None:
                os.environ.pop("NEWSCRAWL_SITES_DIR", None)
            else:
                os.environ["NEWSCRAWL_SITES_DIR"] = previous
    print()
    print_summary(args.database, "demo", limit=10)
    return status


def print_summary(db: str | None, site: str | None, limit: int) -> None:
    from crawler.storage import queries
    from crawler.storage.database import database_url, ensure_schema, get_engine, safe_url

    url = database_url(db)
    ensure_schema(url)
    engine = get_engine(url)
    print(f"Database: {safe_url(url)}")
    counts = queries.site_counts(engine, site)
    if not counts:
        print("Nothing stored yet.")
        return
    print(f"{'site':<16}{'articles':>10}{'top-story rows':>16}{'runs':>7}{'rejected':>10}")
    for c in counts:
        print(f"{c.site:<16}{c.articles:>10}{c.top_story_rows:>16}{c.runs:>7}{c.rejected:>10}")
    print("\nNewest articles:")
    for row in queries.newest_articles(engine, site, limit):
        print(f"  {queries.format_time(row['published_at'])}  [{row['site']}] {row['title']}")
        print(f"      {row['url']}")
    print("\nCurrent top stories:")
    stories = queries.current_top_stories(engine, site)
    if not stories:
        print("  none")
    page = None
    for row in stories:
        if (row["site"], row["page_url"]) != page:
            page = (row["site"], row["page_url"])
            print(
                f"  [{row['site']}] {row['page_url']} at {queries.format_time(row['captured_at'])}"
            )
        print(f"    {row['rank']}. {row['title']}")
        print(f"       {row['url']}")


def cmd_summary(args: argparse.Namespace) -> int:
    print_summary(args.database, args.site, args.limit)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from crawler.storage.database import current_revision, database_url, safe_url, upgrade

    url = database_url(args.database)
    if args.db_command == "upgrade":
        upgrade(url)
        print(f"{safe_url(url)}: schema at revision {current_revision(url)}")
    else:
        print(current_revision(url) or "empty (run `newscrawl db upgrade`)")
    return 0


def cmd_sites(args: argparse.Namespace) -> int:
    if args.sites_command == "check":
        return cmd_sites_check(args)
    if args.sites_command == "new":
        return cmd_sites_new(args)
    sites = load_sites()
    for name, site in sorted(sites.items()):
        spiders = [
            s for s, part in (("articles", site.listing), ("top_stories", site.top_stories)) if part
        ]
        print(f"{name:<16}{site.base_url:<40}{', '.join(spiders):<24}{site.source_file}")
    return 0


def _redis_url_or_exit() -> str:
    from crawler.distributed import REDIS_URL_ENV, redis_url

    url = redis_url()
    if not url:
        raise SystemExit(f"newscrawl: set {REDIS_URL_ENV} (e.g. redis://127.0.0.1:6379/0)")
    return url


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from crawler.worker import Worker

    url = _redis_url_or_exit()
    if args.site:
        get_site(args.site)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s"
    )
    return Worker(
        url, args.database, args.site, args.max_crawls, settings=_parse_settings(args.settings)
    ).run()


def cmd_enqueue(args: argparse.Namespace) -> int:
    from crawler.distributed import enqueue_crawl

    url = _redis_url_or_exit()
    for spider in _spiders_for(args.site, args.spider):
        enqueue_crawl(url, args.site, spider)
        print(f"enqueued a crawl of {args.site}/{spider}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    import json

    from crawler.onboarding import FetchError, extract_page, fetch, generic_site

    source = args.source
    try:
        if source.startswith(("http://", "https://")):
            url, html = fetch(source)
        elif source == "-":
            url, html = args.url or "http://localhost/", sys.stdin.read()
        else:
            path = Path(source)
            if not path.is_file():
                print(f"newscrawl: {source}: no such file", file=sys.stderr)
                return CONFIG_ERROR_EXIT
            from w3lib.encoding import html_to_unicode

            url = args.url or path.resolve().as_uri().replace("file://", "http://localhost")
            _, html = html_to_unicode(None, path.read_bytes())
    except FetchError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return 1
    site = get_site(args.site) if args.site else generic_site(url)
    result = extract_page(html, url, site)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        body = result["fields"]["body"]["value"]
        if not body:
            print("newscrawl: no article body found", file=sys.stderr)
            return 1
        print(body)
    return 0


def cmd_sites_check(args: argparse.Namespace) -> int:
    import json

    from crawler.onboarding import FetchError, check_article, fetch, first_article_url

    site = get_site(args.site)
    report: dict = {"site": site.name, "listing": None}
    try:
        url = args.url
        if url is None:
            page_url, _, links, next_page = first_article_url(site)
            report["listing"] = {
                "url": page_url,
                "article_links": len(links),
                "next_page": next_page,
            }
            if not links:
                print(
                    f"newscrawl: no article links on {page_url}: check listing.article_links "
                    "and article_url_pattern",
                    file=sys.stderr,
                )
                return 1
            url = links[0]
        final, html = fetch(url)
    except FetchError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return 1
    checks = check_article(html, final, site)
    report["article"] = final
    report["fields"] = {
        c.field: {"value": c.value, "source": c.source, "verdict": c.verdict} for c in checks
    }
    broken = [c.field for c in checks if c.has_rules and not c.rules_matched]
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        if report["listing"]:
            listing = report["listing"]
            print(
                f"listing  {listing['url']}: {listing['article_links']} article links, "
                f"next page: {listing['next_page'] or 'none'}"
            )
        print(f"article  {final}")
        for c in checks:
            value = c.value if not isinstance(c.value, list) else ", ".join(c.value)
            text = (str(value)[:70] + "...") if value and len(str(value)) > 70 else value
            flag = "  " if c.verdict == "ok" or not c.has_rules else "!!"
            print(f"{flag} {c.field:<13}{c.verdict:<44}{text if text else '-'}")
        if broken:
            print(f"\nrules that matched nothing: {', '.join(broken)}")
    missing = [c.field for c in checks if c.field in ("title", "body") and not c.value]
    return 1 if missing else 0


def cmd_sites_new(args: argparse.Namespace) -> int:
    from crawler.onboarding import FetchError, draft_site

    try:
        text, notes = draft_site(args.url, args.name)
    except FetchError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- daemon


def cmd_daemon(args: argparse.Namespace) -> int:
    import os

    from crawler.daemon import (
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
    settings = _parse_settings(args.settings)
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
    from crawler.scheduling import scheduled_sites

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
    import json
    from datetime import UTC, datetime

    from crawler.scheduling import format_duration, job_specs, next_run
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
    import json
    from datetime import UTC, datetime

    from crawler.daemon import format_counts
    from crawler.scheduling import SPIDER_PARTS, job_specs, next_run
    from crawler.storage import status as queries
    from crawler.storage.database import database_url, ensure_schema, get_engine

    url = database_url(args.database)
    ensure_schema(url)
    engine = get_engine(url)
    sites = load_sites()
    with_runs = [pair for pair in queries.sites_with_runs(engine) if args.site in (None, pair[0])]
    if args.site is not None and args.site not in sites and not with_runs:
        get_site(args.site)  # the "unknown site" error, with the known names
    if args.site is not None:
        sites = {k: v for k, v in sites.items() if k == args.site}
    specs = {spec.id: spec for spec in job_specs(sites.values())}
    pairs = [
        (name, spider)
        for name, site in sorted(sites.items())
        for spider, part in SPIDER_PARTS.items()
        if getattr(site, part) is not None
    ]
    pairs += [pair for pair in with_runs if pair not in pairs]
    stored = queries.stored_next_runs(engine)
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
            }
        )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if not report:
        print("No sites.")
    for entry in report:
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
                print(
                    f"  last run  #{last['id']} {last['status']} ({last['finish_reason']}), "
                    f"started {started} ({last['trigger']}): {format_counts(last)}"
                )
        nxt = _next_run_text(entry["next_run"], entry["next_run_source"])
        print(f"  next run  {nxt}")
        print(f"  failures  {entry['consecutive_failures']} in a row")
    return 0


# --------------------------------------------------------------------------- querying
# articles, show, search, top-stories, runs, export, browse (docs/querying.md)

RUN_STATUSES = ("running", "finished", "failed", "timeout", "interrupted")
QUERY_ERROR_EXIT = 2
NOT_FOUND_EXIT = 1


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a number, 0 for no limit, got {value!r}")
    return number


def _add_query_parsers(sub: argparse._SubParsersAction) -> None:
    from crawler.time_options import end_time, start_time

    def output(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="one JSON document instead of a table"
        )
        _add_database(parser)

    def limit(parser: argparse.ArgumentParser, default: int | None) -> None:
        shown = "all" if default is None else default
        parser.add_argument(
            "--limit",
            type=_limit,
            default=default,
            metavar="N",
            help=f"at most N rows, 0 for all (default {shown})",
        )

    def article_filters(parser: argparse.ArgumentParser, duplicates: bool = True) -> None:
        parser.add_argument("--site", help="only this site")
        parser.add_argument(
            "--since",
            type=start_time,
            metavar="TIME",
            help="published at or after TIME: a date YYYY-MM-DD (00:00 UTC) or an ISO-8601 "
            "time (UTC unless it has an offset)",
        )
        parser.add_argument(
            "--until",
            type=end_time,
            metavar="TIME",
            help="published at or before TIME; a date includes that whole day",
        )
        parser.add_argument("--section", help="only this section (the whole name, any case)")
        parser.add_argument("--author", help="only bylines containing this text (any case)")
        if duplicates:
            parser.add_argument(
                "--include-duplicates",
                action="store_true",
                help="also copies of stories stored earlier (duplicate_of set)",
            )

    articles = sub.add_parser("articles", help="list articles, newest first")
    article_filters(articles)
    limit(articles, 20)
    output(articles)

    show = sub.add_parser("show", help="one article in full: metadata, body, versions")
    show.add_argument("article", metavar="ID|URL", help="the article's id, or its URL")
    show.add_argument(
        "--diff", action="store_true", help="a unified diff between consecutive versions"
    )
    output(show)

    search = sub.add_parser(
        "search", help="full-text search over titles and bodies, best match first"
    )
    search.add_argument(
        "query",
        metavar="QUERY",
        help='SQLite: FTS5 syntax (words, "a phrase", AND/OR/NOT, prefix*); '
        'PostgreSQL: web search syntax (words, "a phrase", or, -word)',
    )
    article_filters(search)
    limit(search, 20)
    output(search)

    top = sub.add_parser(
        "top-stories", help="top stories at a moment (default now) or over a time range"
    )
    top.add_argument("--site", help="only this site")
    top.add_argument(
        "--at",
        type=start_time,
        metavar="TIME",
        help="the latest snapshot of each page at or before TIME (a date means 00:00 UTC)",
    )
    top.add_argument(
        "--from",
        dest="start",
        type=start_time,
        metavar="TIME",
        help="every story shown from TIME on, with its span and best rank",
    )
    top.add_argument(
        "--to",
        dest="end",
        type=end_time,
        metavar="TIME",
        help="... up to TIME (a date includes that whole day; default now)",
    )
    limit(top, None)
    output(top)

    runs = sub.add_parser("runs", help="crawl history: counts and extraction health")
    runs.add_argument("--site", help="only this site")
    runs.add_argument("--spider", choices=SPIDERS, help="only this spider")
    runs.add_argument("--status", choices=RUN_STATUSES, help="only runs that ended so")
    limit(runs, 20)
    output(runs)

    export = sub.add_parser(
        "export", help="every column of the articles as JSON Lines or CSV, streamed"
    )
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default jsonl")
    article_filters(export, duplicates=False)
    export.add_argument(
        "--exclude-duplicates",
        action="store_true",
        help="leave out copies of stories stored earlier (exported by default)",
    )
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE, not to stdout"
    )
    _add_database(export)

    browse = sub.add_parser(
        "browse", help="open the SQLite archive in Datasette (the `browse` extra)"
    )
    browse.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    browse.add_argument("--port", type=int, default=8001, help="default 8001; 0 picks a free one")
    browse.add_argument("--no-open", action="store_true", help="do not open a web browser")
    browse.add_argument(
        "--write-metadata",
        type=Path,
        metavar="FILE",
        help="only write the Datasette metadata to FILE (for `datasette serve -m FILE`)",
    )
    _add_database(browse)


def _archive_engine(db: str | None):  # type: ignore[no-untyped-def]
    """The engine of an existing archive, its schema brought up to date; None
    (with a message) when a SQLite file is missing: a query never creates one."""
    from sqlalchemy.engine import make_url

    from crawler.storage.database import database_url, ensure_schema, get_engine

    url = database_url(db)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).exists():
            print(
                f"newscrawl: no archive at {parsed.database} "
                "(crawl a site first, or pass --database / set NEWSCRAWL_DATABASE_URL)",
                file=sys.stderr,
            )
            return None
    ensure_schema(url)
    return get_engine(url)


def _article_filters(args: argparse.Namespace, include_duplicates: bool):  # type: ignore[no-untyped-def]
    from crawler.storage.queries import ArticleFilters

    return ArticleFilters(
        site=args.site,
        since=args.since,
        until=args.until,
        section=args.section,
        author=args.author,
        include_duplicates=include_duplicates,
    )


def _count(number: int, noun: str) -> str:
    """``2 warnings``, ``1 warning``, or "" for none."""
    return f"{number} {noun}{'s' if number != 1 else ''}" if number else ""


def _print_json(document: object) -> None:
    from crawler.reporting import dump_json

    dump_json(document, sys.stdout)


def cmd_articles(args: argparse.Namespace) -> int:
    from crawler.reporting import Column, field, format_table
    from crawler.storage.queries import list_articles

    engine = _archive_engine(args.database)
    if engine is None:
        return NOT_FOUND_EXIT
    filters = _article_filters(args, args.include_duplicates)
    rows = list_articles(engine, filters, args.limit or None)
    if args.json:
        _print_json(rows)
    elif not rows:
        print("No articles match.")
    else:
        columns = [
            Column("id", field("id"), align_right=True),
            Column("published (UTC)", field("published_at")),
            Column("site", field("site")),
            Column("title", field("title"), max_width=72),
            Column("url", field("url")),
        ]
        print(format_table(columns, rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from crawler.reporting import format_article, version_diffs
    from crawler.storage import queries

    engine = _archive_engine(args.database)
    if engine is None:
        return NOT_FOUND_EXIT
    article = queries.find_article(engine, args.article)
    if article is None:
        print(f"newscrawl: no article with the id or URL {args.article!r}", file=sys.stderr)
        return NOT_FOUND_EXIT
    revisions = queries.article_revisions(engine, article["id"])
    aliases = queries.article_aliases(engine, article["id"])
    diffs = version_diffs(article, revisions) if args.diff else None
    if args.json:
        _print_json(
            {**article, "aliases": aliases, "revisions": revisions}
            | ({"diffs": diffs} if diffs is not None else {})
        )
        return 0
    original = article["duplicate_of"]
    titles = queries.article_titles(engine, [original] if original is not None else [])
    print(format_article(article, revisions, aliases, titles.get(original or 0), diffs))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from crawler.reporting import Column, field, format_table
    from crawler.storage.search import (
        SearchQueryError,
        mark_snippet,
        search_articles,
        split_snippet,
    )

    engine = _archive_engine(args.database)
    if engine is None:
        return NOT_FOUND_EXIT
    filters = _article_filters(args, args.include_duplicates)
    try:
        hits = search_articles(engine, args.query, filters, args.limit or None)
    except SearchQueryError as exc:
        print(
            f"newscrawl search: cannot read the query {args.query!r}: {exc}. Use words, "
            '"a phrase", AND, OR, NOT, prefix* (put words with punctuation in double quotes); '
            "see docs/querying.md",
            file=sys.stderr,
        )
        return QUERY_ERROR_EXIT
    rows = []
    for position, hit in enumerate(hits, 1):
        snippet, highlights = split_snippet(hit.snippet or "")
        rows.append(
            {
                "rank": position,
                **vars(hit),
                "snippet": snippet,
                "highlights": highlights,
                "marked": mark_snippet(hit.snippet or ""),
            }
        )
    if args.json:
        _print_json([{k: v for k, v in row.items() if k != "marked"} for row in rows])
    elif not rows:
        print("No articles match.")
    else:
        columns = [
            Column("#", field("rank"), align_right=True),
            Column("id", field("id"), align_right=True),
            Column("published (UTC)", field("published_at")),
            Column("site", field("site")),
            Column("title", field("title"), max_width=72),
            Column("url", field("url")),
        ]
        print(format_table(columns, rows, below=lambda row: [" ".join(row["marked"].split())]))
    return 0


def cmd_top_stories(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from crawler.reporting import Column, field, format_duration, format_table, table_time
    from crawler.storage import queries

    if args.at is not None and (args.start is not None or args.end is not None):
        print("newscrawl top-stories: --at cannot be combined with --from/--to", file=sys.stderr)
        return QUERY_ERROR_EXIT
    engine = _archive_engine(args.database)
    if engine is None:
        return NOT_FOUND_EXIT
    if args.start is None and args.end is None:
        at = args.at or datetime.now(UTC)
        rows = queries.top_stories_at(engine, at, args.site)[: args.limit or None]
        if args.json:
            _print_json(rows)
            return 0
        if not rows:
            print(f"No top-stories snapshot at or before {table_time(at)}.")
            return 0
        print(f"Top stories at {table_time(at)} (the latest snapshot of each page):")
        columns = [
            Column("snapshot (UTC)", field("captured_at")),
            Column("site", field("site")),
            Column("rank", field("rank"), align_right=True),
            Column("title", field("title"), max_width=72),
            Column("url", field("url")),
        ]
        if len({(r["site"], r["page_url"]) for r in rows}) > len({r["site"] for r in rows}):
            columns.insert(2, Column("page", field("page_url")))
        print(format_table(columns, rows))
        return 0
    rows = queries.top_stories_between(engine, args.start, args.end, args.site, args.limit or None)
    for row in rows:
        row["span_seconds"] = int((row["last_seen"] - row["first_seen"]).total_seconds())
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("No top stories in that range.")
        return 0
    columns = [
        Column("best", field("best_rank"), align_right=True),
        Column("site", field("site")),
        Column("title", field("title"), max_width=60),
        Column("first seen (UTC)", field("first_seen")),
        Column("last seen (UTC)", field("last_seen")),
        Column("span", lambda r: format_duration(r["last_seen"] - r["first_seen"])),
        Column("snapshots", field("snapshots"), align_right=True),
        Column("url", field("url")),
    ]
    print(format_table(columns, rows))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from crawler.reporting import Column, field, format_duration, format_table
    from crawler.storage.queries import list_runs

    engine = _archive_engine(args.database)
    if engine is None:
        return NOT_FOUND_EXIT
    rows = list_runs(engine, args.site, args.spider, args.status, args.limit or None)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("No runs match.")
        return 0

    def took(run: dict) -> str:
        end = run["finished_at"]
        return format_duration(end - run["started_at"]) if end is not None else "-"

    def notes(run: dict) -> list[str]:
        out = []
        if run["status"] != "finished" and run["finish_reason"]:
            out.append(f"{run['status']}: {run['finish_reason']}")
        return out + [f"warning: {w}" for w in run["health_warnings"] or []]

    columns = [
        Column("id", field("id"), align_right=True),
        Column("site", field("site")),
        Column("spider", field("spider")),
        Column("started (UTC)", field("started_at")),
        Column("took", took, align_right=True),
        Column("status", field("status")),
        Column("pages", field("pages_fetched"), align_right=True),
        Column("skipped", field("pages_skipped_known"), align_right=True),
        Column("new", field("articles_new"), align_right=True),
        Column("updated", field("articles_updated"), align_right=True),
        Column("same", field("articles_unchanged"), align_right=True),
        Column("rejected", field("items_rejected"), align_right=True),
        Column("errors", field("errors"), align_right=True),
        Column("health", lambda r: _count(len(r["health_warnings"] or []), "warning") or "ok"),
    ]
    print(format_table(columns, rows, below=notes))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import os

    from crawler.export import export_articles

    engine = _archive_engine(args.database)
    if engine is None:
        return NOT_FOUND_EXIT
    filters = _article_filters(args, include_duplicates=not args.exclude_duplicates)
    if args.output is None:
        count = export_articles(engine, filters, args.format, sys.stdout)
        sys.stdout.flush()
        print(f"newscrawl: exported {count} articles", file=sys.stderr)
        return 0
    # Written beside the target and renamed at the end: an interrupted export
    # never leaves a truncated file under the name asked for.
    partial = args.output.with_name(args.output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            count = export_articles(engine, filters, args.format, out)
        os.replace(partial, args.output)
    except OSError as exc:
        print(f"newscrawl: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        partial.unlink(missing_ok=True)
    print(f"newscrawl: exported {count} articles to {args.output}", file=sys.stderr)
    return 0


def cmd_browse(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from crawler import browse
    from crawler.storage.database import database_url, safe_url

    url = database_url(args.database)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        print(
            f"newscrawl: browse opens SQLite archives in Datasette; {safe_url(url)} is "
            f"{parsed.get_backend_name()}. Query it with any SQL client: the tables and "
            "example SQL are in docs/schema.md",
            file=sys.stderr,
        )
        return QUERY_ERROR_EXIT
    if _archive_engine(url) is None:
        return NOT_FOUND_EXIT
    database_file = Path(parsed.database or "").resolve()
    if args.write_metadata is not None:
        browse.write_metadata(args.write_metadata, database_file)
        print(f"Datasette metadata written to {args.write_metadata}")
        return 0
    if not browse.datasette_installed():
        print(f"newscrawl: Datasette is not installed: {browse.INSTALL_HINT}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="newscrawl-browse-") as folder:
        metadata = Path(folder) / "metadata.json"
        browse.write_metadata(metadata, database_file)
        name = browse.database_name(database_file)
        print(
            f"Serving {database_file} with Datasette at http://{args.host}:{args.port}/{name} "
            "(Ctrl-C stops it)",
            flush=True,
        )
        return browse.serve(database_file, metadata, args.host, args.port, not args.no_open)


QUERY_COMMANDS = {
    "articles": cmd_articles,
    "show": cmd_show,
    "search": cmd_search,
    "top-stories": cmd_top_stories,
    "runs": cmd_runs,
    "export": cmd_export,
    "browse": cmd_browse,
}


if __name__ == "__main__":
    sys.exit(main())
