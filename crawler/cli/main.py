"""The ``newscrawl`` command: the top parser, the parsers of each command
group (one module per group, each declaring its commands next to their
handlers with ``set_defaults(func=...)``), and the errors every command
reports the same way."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError

from crawler.cli import archive, crawl, daemon, db, query, sites
from crawler.cli.crawl import demo_site_definition
from crawler.cli.options import Parser, package_version
from crawler.exceptions import CONFIG_ERROR_EXIT
from crawler.sites.definitions import SiteConfigError

# In the order of README.md's command table.
COMMAND_GROUPS = (crawl, daemon, query, archive, sites, db)

__all__ = ["COMMAND_GROUPS", "build_parser", "demo_site_definition", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="newscrawl", description="Crawl news sites into a SQL archive.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
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


if __name__ == "__main__":
    sys.exit(main())
