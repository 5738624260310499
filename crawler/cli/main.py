"""The ``newscrawl`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import OperationalError

from crawler.cli.daemon import add_daemon_parsers, cmd_daemon, cmd_schedule, cmd_status
from crawler.cli.options import LOG_LEVELS, SPIDERS, add_settings
from crawler.cli.options import add_database as _add_database
from crawler.cli.options import parse_settings as _parse_settings
from crawler.cli.query import QUERY_COMMANDS, add_query_parsers
from crawler.cli.time_options import time_text
from crawler.exceptions import CONFIG_ERROR_EXIT, LEASE_HELD_EXIT
from crawler.sites.definitions import BUNDLED_SITES_DIR, SiteConfigError, get_site, load_sites


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscrawl", description="Crawl news sites into a SQL archive."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = sub.add_parser("crawl", help="crawl one configured site now")
    crawl.add_argument("site", help="site name (see `newscrawl sites list`)")
    crawl.add_argument("--spider", choices=(*SPIDERS, "all"), default="all")
    crawl.add_argument("--pages", type=int, metavar="N", help="follow pagination N pages deep")
    # Checked here, passed on as written: the spider reads a date in the site's time zone.
    crawl.add_argument(
        "--since",
        metavar="DATE",
        type=time_text,
        help="only articles published on or after DATE (YYYY-MM-DD or ISO-8601)",
    )
    crawl.add_argument(
        "--until",
        metavar="DATE",
        type=time_text,
        help="only articles published before the end of DATE",
    )
    crawl.add_argument("--refetch", action="store_true", help="fetch stored articles again")
    crawl.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="Scrapy's log level for the crawl (default: $NEWSCRAWL_LOG_LEVEL or INFO)",
    )
    add_settings(crawl, "this crawl")
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
    add_settings(worker, "the crawls")
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

    add_daemon_parsers(sub)
    add_query_parsers(sub)
    return parser


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
        from crawler.storage.spool import short_error

        url = safe_url(database_url(getattr(args, "database", None)))
        print(f"newscrawl: cannot use the database {url}: {short_error(exc)}", file=sys.stderr)
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
    return site.spiders if choice == "all" else [choice]


def run_site(
    site: str,
    spiders: list[str],
    arguments: dict[str, str],
    settings: dict[str, str],
    db: str | None,
) -> int:
    from crawler.scheduling.runner import run_crawl
    from crawler.storage.queries import format_time

    status = 0
    for spider in spiders:
        result = run_crawl(site, spider, arguments, settings, db)
        if result.exit_code == CONFIG_ERROR_EXIT and result.stopped_by is None:
            return CONFIG_ERROR_EXIT
        for run in result.runs:
            print(
                f"run {run['id']}: {site}/{spider} {run['status']} ({run['finish_reason']}) "
                f"at {format_time(run['finished_at'])}: pages {run['pages_fetched']}, "
                f"new {run['articles_new']}, updated {run['articles_updated']}, "
                f"unchanged {run['articles_unchanged']}, rejected {run['items_rejected']}, "
                f"top-story snapshots {run['top_story_snapshots']}"
            )
        if result.stopped_by is not None:
            # SIGINT or SIGTERM, passed on to the crawl and waited for: no
            # further spider; 130 or 143, as a shell reports a process it killed.
            name = signal.Signals(result.stopped_by).name
            print(f"newscrawl: {site}/{spider}: crawl stopped ({name})", file=sys.stderr)
            return 128 + result.stopped_by
        if result.exit_code == LEASE_HELD_EXIT:
            status = LEASE_HELD_EXIT  # another process crawls it; its message is above
        elif not result.ok and status != LEASE_HELD_EXIT:
            status = 1
    return status


def cmd_crawl(args: argparse.Namespace) -> int:
    spiders = _spiders_for(args.site, args.spider)
    arguments = {}
    if args.pages is not None:
        if args.pages < 1:
            raise SystemExit("newscrawl: --pages must be at least 1")
        arguments["pages"] = str(args.pages)
    for name in ("since", "until"):
        if getattr(args, name) is not None:
            arguments[name] = getattr(args, name)
    if args.refetch:
        arguments["refetch"] = "true"
    settings = _parse_settings(args.settings)
    if args.log_level:
        settings["LOG_LEVEL"] = args.log_level
    return run_site(args.site, spiders, arguments, settings, args.database)


def cmd_demo_site(args: argparse.Namespace) -> int:
    from crawler.cli.demo_site import DemoSiteServer

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

    from crawler.cli.demo_site import DemoSiteServer

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
    _warn_nested_quantifiers(sites)
    return 0


def _warn_nested_quantifiers(sites: dict) -> None:
    """One warning line on stderr per pattern that repeats a quantified group
    (``(a+)+``): it can backtrack for long on some pages, which then hit the
    time bound of crawler/sites/patterns.py and are rejected."""
    from crawler.sites.definitions import site_patterns
    from crawler.sites.patterns import TIMEOUT, nested_quantifiers

    for name, site in sorted(sites.items()):
        for key, pattern in site_patterns(site):
            if nested_quantifiers(pattern):
                print(
                    f"warning: site {name}: {key} {pattern!r} has nested quantifiers and can "
                    f"backtrack for long; a page where it takes over {TIMEOUT:g} s is rejected",
                    file=sys.stderr,
                )


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
        url, args.database, args.site, args.max_crawls, settings=_parse_settings(args.settings)
    ).run()


def cmd_enqueue(args: argparse.Namespace) -> int:
    from crawler.scheduling.distributed import enqueue_crawl

    url = _redis_url_or_exit()
    for spider in _spiders_for(args.site, args.spider):
        enqueue_crawl(url, args.site, spider)
        print(f"enqueued a crawl of {args.site}/{spider}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    import json

    from crawler.cli.onboarding import FetchError, extract_page, fetch, generic_site

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

    from crawler.cli.onboarding import FetchError, check_article, fetch, first_article_url

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
    from crawler.cli.onboarding import FetchError, draft_site

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


if __name__ == "__main__":
    sys.exit(main())
