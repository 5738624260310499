"""``newscrawl db upgrade`` and ``db current``: the database schema.

``db upgrade`` creates the archive when there is none (a SQLite file, or the
tables of an empty PostgreSQL database); ``db current`` only reads, and
refuses a SQLite file that does not exist (exit status 1)."""

from __future__ import annotations

import argparse

from crawler.cli.options import add_database


def add_parsers(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="create or upgrade the schema")
    add_database(upgrade)
    upgrade.set_defaults(func=cmd_upgrade)
    current = db_sub.add_parser("current", help="print the schema revision")
    add_database(current)
    current.set_defaults(func=cmd_current)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from crawler.storage.database import current_revision, database_url, safe_url, upgrade

    url = database_url(args.database)
    upgrade(url)
    print(f"{safe_url(url)}: schema at revision {current_revision(url)}")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    """The schema revision, as it is (never upgraded, never created: a
    missing SQLite file is refused with exit status 1)."""
    import sys

    from sqlalchemy.engine import make_url

    from crawler.exceptions import NOT_FOUND_EXIT
    from crawler.storage.database import current_revision, database_url
    from crawler.storage.status import database_exists

    url = database_url(args.database)
    if not database_exists(url):
        print(
            f"newscrawl: no archive at {make_url(url).database}: `newscrawl db upgrade` "
            "creates one, or pass --database URL / set NEWSCRAWL_DATABASE_URL",
            file=sys.stderr,
        )
        return NOT_FOUND_EXIT
    print(current_revision(url) or "empty (run `newscrawl db upgrade`)")
    return 0
