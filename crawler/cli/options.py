"""Options and values shared by the ``newscrawl`` command groups: the
database, ``--set`` Scrapy settings, the spiders and log levels, and times
given on the command line (argparse ``type=`` functions).

Both a date (``2024-03-05``) and an ISO-8601 time (``2024-03-05T14:30``,
``2024-03-05 14:30:00+04:00``, ``...Z``) are accepted. A time without an
offset is UTC. A date is midnight UTC at its start, except as the end of a
range (``--until``, ``--to``), where it includes the whole day. A bad value
makes argparse exit with status 2, naming the option and the expected form.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time

SPIDERS = ("articles", "top_stories")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXPECTED = "a date YYYY-MM-DD or an ISO-8601 time such as 2024-03-05T14:30:00Z"


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


def add_spider(parser: argparse.ArgumentParser) -> None:
    """``--spider articles|top_stories|all`` (default all): see :func:`spiders_for`."""
    parser.add_argument("--spider", choices=(*SPIDERS, "all"), default="all")


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` options as a dict of Scrapy settings."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"newscrawl: --set takes NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


def spiders_for(site_name: str, choice: str) -> list[str]:
    """The spiders ``--spider`` names for a site: ``all`` is every spider the
    site defines (an unknown site raises SiteConfigError)."""
    from crawler.sites.definitions import get_site

    site = get_site(site_name)
    return site.spiders if choice == "all" else [choice]


# --------------------------------------------------------------------------- times


def _parse_time(value: str) -> tuple[datetime, bool]:
    """The time given, in UTC, and whether it was a date alone."""
    text = value.strip()
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC), True
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC), False
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"expected {EXPECTED}, got {value!r}") from None


def start_time(value: str) -> datetime:
    """A moment; a date means its first instant (00:00 UTC)."""
    return _parse_time(value)[0]


def end_time(value: str) -> datetime:
    """The inclusive end of a range; a date means its last instant, so that
    ``--until 2024-03-05`` includes the whole of 5 March (UTC)."""
    moment, is_date = _parse_time(value)
    return datetime.combine(moment.date(), time.max, UTC) if is_date else moment


def time_text(value: str) -> str:
    """The value as given, once it reads as a date or time (for options passed
    on to a spider, which reads them in the site's time zone)."""
    _parse_time(value)
    return value.strip()
