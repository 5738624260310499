"""``newscrawl crawl``, ``demo`` and ``demo-site``: crawl a site now, and the
bundled demo site (served, or served and crawled)."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from crawler.cli.options import (
    LOG_LEVELS,
    SPIDERS,
    add_database,
    add_settings,
    add_spider,
    parse_settings,
    spiders_for,
    time_text,
)
from crawler.exceptions import CONFIG_ERROR_EXIT, LEASE_HELD_EXIT
from crawler.sites.definitions import BUNDLED_SITES_DIR


def add_parsers(sub: argparse._SubParsersAction) -> None:
    crawl = sub.add_parser("crawl", help="crawl one configured site now")
    crawl.add_argument("site", help="site name (see `newscrawl sites list`)")
    add_spider(crawl)
    crawl.add_argument(
        "--pages",
        type=int,
        metavar="N",
        help="follow pagination N pages deep (default: until known articles, max_pages)",
    )
    # Read here (relative words mean now), passed on as a date or an ISO time.
    crawl.add_argument(
        "--since",
        metavar="TIME",
        type=time_text,
        help="only articles published at or after TIME: a date, an ISO-8601 time or words "
        "such as 'yesterday' (UTC unless it has an offset; default: no lower bound)",
    )
    crawl.add_argument(
        "--until",
        metavar="TIME",
        type=time_text,
        help="only articles published at or before TIME; a date includes that whole day "
        "(default: no upper bound)",
    )
    crawl.add_argument("--refetch", action="store_true", help="fetch stored articles again")
    crawl.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="Scrapy's log level for the crawl (default: $NEWSCRAWL_LOG_LEVEL or INFO)",
    )
    add_settings(crawl, "this crawl")
    add_database(crawl)
    crawl.set_defaults(func=cmd_crawl)

    demo = sub.add_parser(
        "demo", help="serve the demo site, crawl it into the database and show the result"
    )
    demo.add_argument("--port", type=int, default=8765, help="port of the demo site")
    add_database(demo)
    demo.set_defaults(func=cmd_demo)

    demo_site = sub.add_parser("demo-site", help="serve the bundled demo news site")
    demo_site.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo_site.add_argument("--port", type=int, default=8765, help="port to listen on")
    demo_site.set_defaults(func=cmd_demo_site)


def run_site(
    site: str,
    spiders: list[str],
    arguments: dict[str, str],
    settings: dict[str, str],
    db: str | None,
) -> int:
    """Crawl ``spiders`` of ``site`` one after the other, each in its own
    process, printing each run; the exit status of the whole."""
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
    spiders = spiders_for(args.site, args.spider)
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
    settings = parse_settings(args.settings)
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
    from crawler.cli.query import print_summary

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
