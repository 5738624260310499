"""``newscrawl db upgrade`` and ``db current``: the database schema."""

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
    from crawler.storage.database import current_revision, database_url

    print(current_revision(database_url(args.database)) or "empty (run `newscrawl db upgrade`)")
    return 0
