"""``newscrawl browse``: the SQLite archive in Datasette, opening on a first
screen for a reader of news (a search box; the articles, top stories,
corrections and crawl runs of the reader views, migration 0008), with
full-text search, column descriptions, facets and canned queries, and the
archive's internal tables hidden (an optional extra: ``pip install
'newscrawl[browse]'``). What the pages show is in ``browse_pages``.

Datasette serves SQLite files only; a PostgreSQL archive is queried with the
SQL in docs/schema.md.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from crawler.cli.browse_pages import READER_PLUGIN, TEMPLATES, reader_plugin
from crawler.storage.search import SQLITE_FTS_TABLE, datasette_match

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
FACET_TIME_LIMIT_MS = 1000
SEARCH_PLUGIN = "newscrawl_search"
INSTALL_HINT = "pip install 'newscrawl[browse]' (or `make install`, which installs it)"

ARTICLE_COLUMNS = {
    "id": "Article id",
    "site": "Site definition name",
    "url": "Canonical URL: the article's identity",
    "title": "Full headline",
    "body": "Plain text, paragraphs separated by a blank line",
    "author": "Byline; several authors joined with ', '",
    "section": "Section or category",
    "tags": "Tags (JSON list)",
    "language": "The site's language code",
    "published_at": "Publication time (UTC)",
    "published_raw": "The date text as found on the page",
    "published_tz_known": (
        "Whether that text carried its own time zone; empty for a date without a time"
    ),
    "first_seen_at": "When newscrawl first stored it (UTC)",
    "last_seen_at": "When newscrawl last fetched it (UTC)",
    "content_hash": "SHA-256 of the normalised body",
    "version": "1, plus one for every change of title or body",
    "duplicate_of": "Id of the first stored copy of the same story; empty for an original",
    "sources": "Which kind of rule filled each field",
    "simhash": "64-bit SimHash of the body",
}

LATEST_ARTICLES = """\
select id, published_at as "published (UTC)", site, title, section, author, url
from articles
where duplicate_of is null
order by published_at desc, id desc
limit 100"""

# :at accepts a date or an ISO-8601 time (with Z or an offset); empty = now.
TOP_STORIES_AT = """\
select t.site, t.page_url as page, t.captured_at as "snapshot (UTC)", t.rank, t.title,
       t.url, t.article_id
from top_stories t
join (
  select site, page_url, max(captured_at) as captured_at
  from top_stories
  where julianday(captured_at) <= julianday(coalesce(nullif(:at, ''), 'now'))
  group by site, page_url
) latest
  on t.site = latest.site and t.page_url = latest.page_url
 and t.captured_at = latest.captured_at
order by t.site, t.page_url, t.rank"""

RECENT_CORRECTIONS = """\
select r.captured_at as "changed (UTC)", a.site, a.id as article_id,
       r.version as "old version", r.title as "old title", a.title as "current title", a.url
from article_revisions r
join articles a on a.id = r.article_id
order by r.captured_at desc
limit 100"""

ARTICLES_PER_DAY = """\
select date(published_at) as "day (UTC)", site, count(*) as articles
from articles
where duplicate_of is null and published_at is not null
group by 1, site
order by 1 desc, site"""


def datasette_metadata(database_name: str) -> dict[str, Any]:
    """Datasette metadata for an archive served under ``database_name``."""
    tables = {**table_metadata(), **view_metadata(), **hidden_tables()}
    return {
        "title": "newscrawl archive",
        "description": "Articles, revisions, top stories and crawl runs. Times are UTC.",
        "databases": {database_name: {"tables": tables, "queries": canned_queries()}},
    }


# The archive's machinery, not its news: listed by Datasette only under
# "hidden tables" (FTS5's tables, articles_fts and its shadows, Datasette
# hides by itself).
HIDDEN_TABLES = ("alembic_version", "apscheduler_jobs", "crawl_locks", "listing_walks")


def hidden_tables() -> dict[str, Any]:
    return {name: {"hidden": True} for name in HIDDEN_TABLES}


def article_list_metadata() -> dict[str, Any]:
    """``article_list``: full-text search in the language of ``newscrawl
    search``, newest first, facets by site, section, author and tag (tags as
    an array)."""
    return {
        "title": "Articles",
        "description": (
            "Every article once (copies of a story left out), newest first. "
            "The title opens the whole article; the search box reads the syntax "
            "of newscrawl search."
        ),
        "fts_table": SQLITE_FTS_TABLE,
        "fts_pk": "id",
        "sort_desc": "published_at",
        "facets": ["site", "section", "author", {"array": "tags"}],
        "facet_size": 8,
        "columns": {
            "published_at": "Publication time (UTC)",
            "excerpt": "The body's first 200 characters, cut at a word",
            "tags": "Tags (JSON list)",
            "url": "The article on its site",
        },
    }


def view_metadata() -> dict[str, Any]:
    """The reader views (migration 0008, docs/schema.md): titles, facets and
    column descriptions."""
    return {
        "article_list": article_list_metadata(),
        "top_story_spans": {
            "title": "Top stories over time",
            "description": (
                "For each site and day (UTC), each story seen in its top stories: best "
                "rank, first and last snapshot that day and the time between them "
                "(the bar is the day's 24 hours). Choose a site and a day below."
            ),
            "facets": ["site", "day"],
            "columns": {
                "best_rank": "1 for the top story",
                "title": "The latest headline shown that day",
                "span_seconds": "From the first to the last snapshot showing it that day",
                "snapshots": "Snapshots of the block that showed it",
            },
        },
        "corrections": {
            "title": "Corrections",
            "description": (
                "Every revision of a stored article, newest first: the title before and "
                "after, and the paragraphs that changed (words struck through were "
                "removed, marked words added)."
            ),
            "sort_desc": "changed_at",
            "facets": ["site"],
            "columns": {
                "changed_at": "When the change was seen (UTC)",
                "old_paragraphs": "Paragraphs of the old version that the new one lacks",
                "new_paragraphs": "Paragraphs of the new version that the old one lacked",
            },
        },
        "crawl_history": {
            "title": "Crawl runs",
            "description": "Every crawl, the latest first, with its counts and problems.",
            "sort_desc": "id",
            "facets": ["site", "spider", "status", "trigger"],
            "columns": {"duration_seconds": "From start to finish"},
        },
    }


def table_metadata() -> dict[str, Any]:
    """What Datasette shows of each table: descriptions, sorting, facets and
    full-text search on articles."""
    return {
        "articles": {
            "description": "One row per article (docs/schema.md).",
            "fts_table": SQLITE_FTS_TABLE,
            "fts_pk": "id",
            # No "searchmode": "raw", which hands the text to FTS5 as its own
            # syntax (covid-19 is an error there). Datasette passes it through
            # escape_fts(): `newscrawl browse` puts search_plugin() in place of
            # Datasette's, for the language of `newscrawl search`; a Datasette
            # run by hand with this metadata searches every word and "phrase".
            "label_column": "title",
            "sort_desc": "published_at",
            "facets": ["site", "section"],
            "columns": ARTICLE_COLUMNS,
        },
        "article_revisions": {
            "description": "Earlier states of articles that changed.",
            "sort_desc": "captured_at",
            "columns": {
                "version": "The version this state was",
                "captured_at": "When the change was seen (UTC)",
            },
        },
        "article_aliases": {
            "description": "Other URLs that led to a stored article.",
        },
        "top_stories": {
            "description": "Ranked snapshots of top-stories blocks.",
            "sort_desc": "captured_at",
            "facets": ["site", "page_url"],
            "columns": {
                "captured_at": "When the page was fetched (UTC)",
                "rank": "1 for the first story of the block",
                "page_url": "The page the block was seen on",
            },
        },
        "crawl_runs": {
            "description": "One row per crawl, with counts and extraction health.",
            "sort_desc": "id",
            "facets": ["site", "spider", "status"],
        },
        "rejected_items": {
            "description": "Items a pipeline refused, with the reason.",
            "sort_desc": "id",
            "facets": ["site", "stage"],
        },
    }


def canned_queries() -> dict[str, Any]:
    """The canned queries the archive offers in Datasette."""
    return {
        "latest_articles": {
            "title": "Latest articles",
            "description": "The 100 newest articles, duplicates left out.",
            "sql": LATEST_ARTICLES,
        },
        "top_stories_at": {
            "title": "Top stories at a time",
            "description": (
                "The latest snapshot of every top-stories page at or before :at "
                "(a date or an ISO-8601 time in UTC, e.g. 2024-03-05T14:30:00Z; "
                "empty for now)."
            ),
            "sql": TOP_STORIES_AT,
        },
        "recent_corrections": {
            "title": "Recent corrections",
            "description": "Articles whose title or body changed, newest change first.",
            "sql": RECENT_CORRECTIONS,
        },
        "articles_per_day": {
            "title": "Articles per day per site",
            "sql": ARTICLES_PER_DAY,
        },
    }


def database_name(path: Path) -> str:
    """The name Datasette serves a database file under: its file name without the extension."""
    return path.stem


def datasette_installed() -> bool:
    return importlib.util.find_spec("datasette") is not None


def write_metadata(path: Path, database_file: Path) -> None:
    document = datasette_metadata(database_name(database_file))
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def search_plugin() -> ModuleType:
    """A Datasette plugin: the search box reads the query language of
    ``newscrawl search`` (crawler/storage/search.py). Datasette runs the text
    of ``?_search=`` through the SQL function ``escape_fts()``; this plugin
    defines it again on every connection, after Datasette's own (trylast).
    A module, as Datasette lists its plugins by module name."""
    from datasette import hookimpl

    @hookimpl(trylast=True)
    def prepare_connection(conn: Any) -> None:
        conn.create_function("escape_fts", 1, datasette_match, deterministic=True)

    plugin = ModuleType(SEARCH_PLUGIN)
    plugin.prepare_connection = prepare_connection  # type: ignore[attr-defined]
    return plugin


def run_datasette(arguments: list[str]) -> None:
    """Datasette's command line with search_plugin() and the reader's pages
    (``python -m crawler.cli.browse``)."""
    from datasette.cli import cli
    from datasette.plugins import pm

    pm.register(search_plugin(), name=SEARCH_PLUGIN)
    pm.register(reader_plugin(), name=READER_PLUGIN)
    cli.main(args=arguments, prog_name="datasette")


def datasette_command(
    database_file: Path, metadata_file: Path, host: str, port: int, open_browser: bool
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "crawler.cli.browse",  # run_datasette(), below
        "serve",
        str(database_file),
        "--metadata",
        str(metadata_file),
        "--template-dir",
        str(TEMPLATES),
        # Facets are set per table and view; a suggestion of every column
        # that could be one is noise to a reader (each column's menu has it).
        "--setting",
        "suggest_facets",
        "off",
        # A facet gets up to a second, not Datasette's 0.2 s: the tags of
        # 50,000 articles take 0.3 s, and facets are how a reader narrows.
        "--setting",
        "facet_time_limit_ms",
        str(FACET_TIME_LIMIT_MS),
        "--host",
        host,
        "--port",
        str(port),
    ]
    if open_browser:
        command.append("--open")
    return command


def serve(
    database_file: Path, metadata_file: Path, host: str, port: int, open_browser: bool
) -> int:
    """Run Datasette until it stops; its exit status. SIGINT and SIGTERM sent to
    this process are passed on, so Datasette never outlives it."""
    process = subprocess.Popen(
        datasette_command(database_file, metadata_file, host, port, open_browser)
    )

    def pass_on(signum: int, _frame: object) -> None:
        process.send_signal(signum)

    previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:
            process.kill()
            process.wait()


if __name__ == "__main__":
    run_datasette(sys.argv[1:])
