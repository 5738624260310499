"""Options and values shared by the ``newscrawl`` subcommands."""

from __future__ import annotations

import argparse

SPIDERS = ("articles", "top_stories")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy database URL (default: $NEWSCRAWL_DATABASE_URL or sqlite:///newscrawl.db)",
    )


def add_settings(parser: argparse.ArgumentParser, scope: str) -> None:
    """``--set NAME=VALUE`` (repeatable): Scrapy settings for ``scope``."""
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"a Scrapy setting for {scope} (repeatable)",
    )


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` options as a dict of Scrapy settings."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"newscrawl: --set takes NAME=VALUE, got {pair!r}")
        out[name] = value
    return out
