"""Options and values shared by the ``newscrawl`` command groups: the
database, ``--set`` Scrapy settings, the spiders and log levels, and times
given on the command line (argparse ``type=`` functions).

Times follow one rule, crawler/sites/times.py: a date, an ISO-8601 time or
words dateparser reads (``yesterday``, ``2 days ago``), UTC unless the value
has an offset; a day as the end of a range (``--until``, ``--to``) includes
the whole day. A bad value makes argparse exit with status 2, naming the
option and the accepted forms.
"""

from __future__ import annotations

import argparse
from datetime import datetime

SPIDERS = ("articles", "top_stories")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that says every option's default: ``(default: X)`` is added to an
    option whose help does not say it already. An option without a value of
    its own (None, off) says in its help what leaving it out means."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or "default" in text:
            return text
        if isinstance(action, argparse._StoreTrueAction):
            return text + " (default: off)"
        if action.default not in (None, [], argparse.SUPPRESS):
            return text + " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """``newscrawl``'s parsers (the command parsers too): options' defaults in
    their help."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)


def package_version() -> str:
    """The installed newscrawl's version (pyproject.toml's, once installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("newscrawl")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


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
        type=setting_pair,
        default=[],
        metavar="NAME=VALUE",
        help=f"a Scrapy setting for {scope} (repeatable; default: none)",
    )


def add_spider(parser: argparse.ArgumentParser) -> None:
    """``--spider articles|top_stories|all`` (default all): see :func:`spiders_for`."""
    parser.add_argument(
        "--spider",
        choices=(*SPIDERS, "all"),
        default="all",
        help="which spider; all is every spider the site defines",
    )


def setting_pair(pair: str) -> str:
    """A ``--set`` value, checked as argparse reads it: a bad one is a usage
    error (exit status 2) naming the option."""
    name, sep, _ = pair.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {pair!r}")
    return pair


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` options as a dict of Scrapy settings."""
    return dict(pair.partition("=")[::2] for pair in map(setting_pair, pairs))


def open_archive(db: str | None):  # type: ignore[no-untyped-def]
    """The engine of an existing archive, its schema brought up to date; None
    (with one line on stderr) when a SQLite file is missing: only a crawl
    creates an archive, so a mistyped path never makes an empty one."""
    import sys
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from crawler.storage.database import database_url, ensure_schema, get_engine

    url = database_url(db)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).exists():
            print(
                f"newscrawl: no archive at {parsed.database}: crawl a site to create one "
                "(newscrawl crawl SITE, or make demo), or pass --database URL / set "
                "NEWSCRAWL_DATABASE_URL",
                file=sys.stderr,
            )
            return None
    ensure_schema(url)
    return get_engine(url)


def check_site(engine, site: str | None) -> None:  # type: ignore[no-untyped-def]
    """``--site``: a site with a definition or rows in the archive; any other
    name raises SiteConfigError listing the known ones (exit status 2)."""
    if site is None:
        return
    from crawler.sites.definitions import SiteConfigError, load_sites
    from crawler.storage.queries import stored_sites

    try:
        defined = set(load_sites())
    except SiteConfigError:  # a broken definition elsewhere does not stop a query
        defined = set()
    known = sorted(defined | set(stored_sites(engine)))
    if site not in known:
        listed = ", ".join(known) if known else "none yet"
        raise SiteConfigError(f"unknown site {site!r}; known sites: {listed}")


def spiders_for(site_name: str, choice: str) -> list[str]:
    """The spiders ``--spider`` names for a site: ``all`` is every spider the
    site defines (an unknown site raises SiteConfigError)."""
    return crawl_targets(site_name, choice)[0]


def crawl_targets(site_name: str, choice: str) -> tuple[list[str], str]:
    """The spiders ``--spider`` names for a site (:func:`spiders_for`), and
    the file that defines the site, which its crawl processes then read alone."""
    from crawler.sites.definitions import get_site

    site = get_site(site_name)
    return (site.spiders if choice == "all" else [choice]), site.source_file


# --------------------------------------------------------------------------- times
# One rule for every command and the spiders: crawler/sites/times.py.


def _read(value: str, end: bool = False) -> datetime:
    from crawler.sites.times import read_time

    try:
        return read_time(value, end=end)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def start_time(value: str) -> datetime:
    """A moment; a day means its first instant (00:00 UTC)."""
    return _read(value)


def end_time(value: str) -> datetime:
    """The inclusive end of a range; a day means its last instant, so that
    ``--until 2024-03-05`` includes the whole of 5 March (UTC)."""
    return _read(value, end=True)


def time_text(value: str) -> str:
    """The value for a spider's ``-a since=``/``-a until=``, read here so that
    relative words mean the moment the command was given: a day as
    ``YYYY-MM-DD``, a moment as ISO 8601 with ``Z``."""
    from crawler.sites.times import day_or_moment, iso_time

    try:
        when = day_or_moment(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return iso_time(when) if isinstance(when, datetime) else when.isoformat()
