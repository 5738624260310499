"""Options and values shared by the ``newscrawl`` subcommands."""

from __future__ import annotations

import argparse

SPIDERS = ("articles", "top_stories")


def add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy database URL (default: $NEWSCRAWL_DATABASE_URL or sqlite:///newscrawl.db)",
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
