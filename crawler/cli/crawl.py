"""``newscrawl crawl``, ``demo`` and ``demo-site``: crawl a site now, and the
bundled demo site (served, or served and crawled).

A crawl is quiet: Scrapy's log goes to a file, a terminal shows one progress
line while each spider runs, and each run ends with one line saying how it
went (crawler/cli/progress.py says where the log goes and what is printed).
Exit status: 0 when every run finished; 1 when one did not (failed, an
unreachable site, interrupted by the crawl itself) or the demo site's port is
taken; 2 for bad usage or a bad site definition; 3 when another process holds
the crawl's lease; 130 or 143 when stopped by SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from crawler.cli.options import (
    LOG_LEVELS,
    SPIDERS,
    add_database,
    add_settings,
    add_spider,
    crawl_targets,
    parse_settings,
    time_text,
)
from crawler.cli.progress import CrawlOutput, summary_line
from crawler.exceptions import CONFIG_ERROR_EXIT, CRAWL_FAILED_EXIT, LEASE_HELD_EXIT
from crawler.sites.definitions import BUNDLED_SITES_DIR


def positive_int(value: str) -> int:
    """A whole number, 1 or more (argparse ``type=``)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def add_parsers(sub: argparse._SubParsersAction) -> None:
    crawl = sub.add_parser("crawl", help="crawl one configured site now")
    crawl.add_argument("site", help="site name (see `newscrawl sites list`)")
    add_spider(crawl)
    crawl.add_argument(
        "--pages",
        type=positive_int,
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
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="Scrapy's log on stderr instead of a log file: -v at INFO, -vv at DEBUG "
        "(default: into a log file, see --log-file)",
    )
    crawl.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="Scrapy's log level; the log then goes to stderr unless --log-file is given "
        "(default: $NEWSCRAWL_LOG_LEVEL or INFO, into a log file)",
    )
    crawl.add_argument(
        "--log-file",
        type=Path,
        metavar="PATH",
        help="append Scrapy's log to PATH (default: a new file per command in "
        "$NEWSCRAWL_LOG_DIR or ~/.local/state/newscrawl/logs, its path printed at the end)",
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
    output: CrawlOutput | None = None,
    site_file: str | None = None,
) -> int:
    """Crawl ``spiders`` of ``site`` one after the other, each in its own
    process, with a progress line while each runs (``output``'s: on a
    terminal), a line for each run and where the log went; the exit status of
    the whole. Without ``output`` the log goes to stderr, as Scrapy prints it.
    ``site_file``: the file defining the site, which the crawls read alone."""
    from crawler.scheduling.runner import run_crawl

    output = output or CrawlOutput()
    status = 0
    for spider in spiders:
        label = f"{site}/{spider}"
        try:
            result = run_crawl(
                site,
                spider,
                arguments,
                {**settings, **output.settings()},
                db,
                on_progress=output.on_progress(label),
                site_file=site_file,
            )
        finally:
            output.clear()
        if result.exit_code == CONFIG_ERROR_EXIT and result.stopped_by is None:
            return CONFIG_ERROR_EXIT  # the crawl said why, above
        report_runs(label, result)
        if result.stopped_by is not None:
            # SIGINT or SIGTERM, passed on to the crawl and waited for: no
            # further spider; 130 or 143, as a shell reports a process it killed.
            name = signal.Signals(result.stopped_by).name
            print(f"newscrawl: {label}: crawl stopped ({name})", file=sys.stderr)
            status = 128 + result.stopped_by
            break
        if result.exit_code == LEASE_HELD_EXIT:
            status = LEASE_HELD_EXIT  # another process crawls it; its message is above
        elif not result.ok and status != LEASE_HELD_EXIT:
            status = CRAWL_FAILED_EXIT
    if output.log_file is not None:
        print(f"log: {output.log_file}", file=sys.stdout if status == 0 else sys.stderr)
    return status


def report_runs(label: str, result: Any) -> None:
    """A line for each run of a crawl: on stdout when it finished, else on
    stderr with why; a crawl that ended before its run began says how."""
    sys.stdout.flush()
    for run in result.runs:
        if run["status"] == "finished":
            print(summary_line(run), flush=True)
        else:
            print(f"newscrawl: {summary_line(run)}", file=sys.stderr)
    code = result.exit_code
    if result.runs or result.stopped_by is not None or code in (0, LEASE_HELD_EXIT):
        return
    ended = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    print(f"newscrawl: {label}: the crawl process {ended} before its run began", file=sys.stderr)


def cmd_crawl(args: argparse.Namespace) -> int:
    spiders, site_file = crawl_targets(args.site, args.spider)
    arguments = {}
    if args.pages is not None:
        arguments["pages"] = str(args.pages)
    for name in ("since", "until"):
        if getattr(args, name) is not None:
            arguments[name] = getattr(args, name)
    if args.refetch:
        arguments["refetch"] = "true"
    settings = parse_settings(args.settings)
    output = CrawlOutput.choose(args.site, args.verbose, args.log_level, args.log_file)
    return run_site(args.site, spiders, arguments, settings, args.database, output, site_file)


def cmd_demo_site(args: argparse.Namespace) -> int:
    from crawler.cli.demo_site import DemoSiteServer

    try:
        server = DemoSiteServer(args.host, args.port, corrections=True)
    except OSError as exc:
        print(
            f"newscrawl: cannot serve the demo site on {args.host}:{args.port} ({exc}); "
            "pass --port with a free port",
            file=sys.stderr,
        )
        return CRAWL_FAILED_EXIT
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
        server = DemoSiteServer("127.0.0.1", args.port, corrections=True)
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
            output = CrawlOutput.choose("demo")
            status = run_site("demo", list(SPIDERS), {}, {}, args.database, output)
        finally:
            if previous is None:
                os.environ.pop("NEWSCRAWL_SITES_DIR", None)
            else:
                os.environ["NEWSCRAWL_SITES_DIR"] = previous
    print()
    print_summary(args.database, "demo", limit=10)
    return status
