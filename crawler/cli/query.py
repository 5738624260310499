"""``newscrawl summary``, ``articles``, ``show``, ``search``, ``top-stories``,
``runs``, ``export``, ``browse``: the read-only commands of docs/querying.md."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from crawler.cli.options import (
    SPIDERS,
    add_database,
    check_site,
    end_time,
    open_archive,
    start_time,
)
from crawler.exceptions import NOT_FOUND_EXIT, QUERY_ERROR_EXIT

RUN_STATUSES = ("running", "finished", "failed", "timeout", "interrupted")
# The corrections ``summary`` lists, most recent first.
CORRECTIONS_SHOWN = 5


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a number, 0 for no limit, got {value!r}")
    return number


def add_parsers(sub: argparse._SubParsersAction) -> None:
    def output(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="one JSON document instead of a table"
        )
        add_database(parser)

    def limit(parser: argparse.ArgumentParser, default: int | None, what: str = "rows") -> None:
        shown = "all" if default is None else default
        parser.add_argument(
            "--limit",
            type=_limit,
            default=default,
            metavar="N",
            help=f"at most N {what}, 0 for all (default {shown})",
        )

    def article_filters(parser: argparse.ArgumentParser, duplicates: bool = False) -> None:
        """The filters of articles, search and export; ``duplicates``: whether
        copies of stories stored earlier are included by default."""
        parser.add_argument("--site", help="only this site (default: every site)")
        parser.add_argument(
            "--since",
            type=start_time,
            metavar="TIME",
            help="published at or after TIME: a date, an ISO-8601 time or words such as "
            "'yesterday' (UTC unless it has an offset; default: no lower bound)",
        )
        parser.add_argument(
            "--until",
            type=end_time,
            metavar="TIME",
            help="published at or before TIME; a date includes that whole day "
            "(default: no upper bound)",
        )
        parser.add_argument(
            "--section", help="only this section, the whole name, any case (default: every one)"
        )
        parser.add_argument(
            "--author", help="only bylines containing this text, any case (default: any)"
        )
        parser.add_argument(
            "--duplicates",
            dest="include_duplicates",
            action=argparse.BooleanOptionalAction,
            default=duplicates,
            help="include copies of stories stored earlier (duplicate_of set), or leave them "
            f"out (default: {'included' if duplicates else 'left out'})",
        )
        # The flags of newscrawl 0.1, still read: docs/querying.md, "Duplicates".
        for old, value in (("--include-duplicates", True), ("--exclude-duplicates", False)):
            parser.add_argument(
                old,
                dest="include_duplicates",
                action="store_const",
                const=value,
                default=argparse.SUPPRESS,
                help=argparse.SUPPRESS,
            )

    summary = sub.add_parser(
        "summary", help="what the database holds: counts, newest articles, top stories"
    )
    summary.add_argument("--site", help="only this site (default: every site)")
    limit(summary, 10, "newest articles")
    output(summary)
    summary.set_defaults(func=cmd_summary)

    articles = sub.add_parser("articles", help="list articles, newest first")
    article_filters(articles)
    limit(articles, 20)
    output(articles)
    articles.set_defaults(func=cmd_articles)

    show = sub.add_parser("show", help="one article in full: metadata, body, versions, captures")
    show.add_argument("article", metavar="ID|URL", help="the article's id, or its URL")
    show.add_argument(
        "--diff", action="store_true", help="a unified diff between consecutive versions"
    )
    output(show)
    show.set_defaults(func=cmd_show)

    search = sub.add_parser(
        "search", help="full-text search over titles and bodies, best match first"
    )
    search.add_argument(
        "words",
        nargs="*",
        metavar="QUERY",
        help='words, "a phrase", OR, NOT or -word, prefix*, (groups), title:word, '
        "NEAR(a b, N): the same on SQLite and PostgreSQL (docs/querying.md#search); "
        "several are joined by spaces; one starting with - goes after -- or in --query",
    )
    search.add_argument(
        "--query",
        metavar="TEXT",
        help="the query as one argument, instead of QUERY, e.g. --query=-vaccine (default: QUERY)",
    )
    article_filters(search)
    limit(search, 20)
    output(search)
    search.set_defaults(func=cmd_search)

    top = sub.add_parser(
        "top-stories", help="top stories at a moment (default now) or over a time range"
    )
    top.add_argument("--site", help="only this site (default: every site)")
    top.add_argument(
        "--at",
        type=start_time,
        metavar="TIME",
        help="the latest snapshot of each page at or before TIME (a date means 00:00 UTC; "
        "default: now)",
    )
    top.add_argument(
        "--from",
        dest="start",
        type=start_time,
        metavar="TIME",
        help="every story shown from TIME on, with its span and best rank (default: a "
        "moment, --at, not a range)",
    )
    top.add_argument(
        "--to",
        dest="end",
        type=end_time,
        metavar="TIME",
        help="... up to TIME (a date includes that whole day; default now)",
    )
    limit(top, None)
    output(top)
    top.set_defaults(func=cmd_top_stories)

    runs = sub.add_parser("runs", help="crawl history: counts and extraction health")
    runs.add_argument("--site", help="only this site (default: every site)")
    runs.add_argument("--spider", choices=SPIDERS, help="only this spider (default: both)")
    runs.add_argument(
        "--status", choices=RUN_STATUSES, help="only runs that ended so (default: any)"
    )
    limit(runs, 20)
    output(runs)
    runs.set_defaults(func=cmd_runs)

    export = sub.add_parser(
        "export",
        help="every column of the articles as JSON Lines or CSV, or their captures as WARC",
    )
    export.add_argument(
        "--format",
        choices=("jsonl", "csv", "warc"),
        help="JSON Lines, CSV or WARC (the articles' captures, docs/archive.md) "
        "(default: from the name of -o, csv for FILE.csv, warc for FILE.warc.gz, else jsonl)",
    )
    export.add_argument(
        "--captures",
        action="store_true",
        help="JSON Lines and CSV: add where each article's latest capture is "
        "(default: the articles' columns only)",
    )
    article_filters(export, duplicates=True)
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)"
    )
    add_database(export)
    export.set_defaults(func=cmd_export)

    browse = sub.add_parser(
        "browse", help="open the SQLite archive in Datasette (the `browse` extra)"
    )
    browse.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    browse.add_argument("--port", type=int, default=8001, help="default 8001; 0 picks a free one")
    browse.add_argument("--no-open", action="store_true", help="do not open a web browser")
    browse.add_argument(
        "--write-metadata",
        type=Path,
        metavar="FILE",
        help="only write the Datasette metadata to FILE, for `datasette serve -m FILE` "
        "(default: serve the archive)",
    )
    add_database(browse)
    browse.set_defaults(func=cmd_browse)


def print_summary(db: str | None, site: str | None, limit: int, as_json: bool = False) -> int:
    """What ``summary`` (and ``demo``, at its end) prints: the counts per site,
    the newest articles, the current top stories and the recent corrections;
    an exit status (a missing archive, or an unknown ``site``, is refused)."""
    from datetime import UTC, datetime

    from crawler.cli.reporting import cut_note, format_summary
    from crawler.storage import queries
    from crawler.storage.database import database_url, safe_url

    engine = open_archive(db)
    if engine is None:
        return NOT_FOUND_EXIT
    check_site(engine, site)
    filters = queries.ArticleFilters(site=site)
    summary = {
        "database": safe_url(database_url(db)),
        "sites": [vars(counts) for counts in queries.site_counts(engine, site)],
        "newest_articles": queries.list_articles(engine, filters, limit or None),
        "top_stories": queries.top_stories_at(engine, datetime.now(UTC), site),
        "recent_corrections": queries.recent_corrections(engine, site, CORRECTIONS_SHOWN),
    }
    total = _cut_total(
        len(summary["newest_articles"]), limit, lambda: queries.count_articles(engine, filters)
    )
    shown = len(summary["newest_articles"])
    # `demo` prints the summary too: the note names the command with --limit.
    note = cut_note(shown, total, "newscrawl summary") if total is not None else None
    if as_json:
        _print_json(summary)
        if note:
            print(note, file=sys.stderr)
    else:
        print(format_summary(summary, note))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    return print_summary(args.database, args.site, args.limit, args.json)


def _cut_total(shown: int, limit: int | None, total: Callable[[], int]) -> int | None:
    """How many rows a listing of ``shown`` rows was cut from by ``limit``;
    None when it shows them all (``total`` is called only when it may not)."""
    if not limit or shown < limit:
        return None
    count = total()
    return count if count > shown else None


def report_cut(shown: int, limit: int | None, total: Callable[[], int], as_json: bool) -> None:
    """``showing 20 of 64; --limit N for more, --limit 0 for all`` under a
    listing that ``--limit`` cut: on stdout after a table, on stderr with
    ``--json`` (stdout stays one JSON document). ``total`` counts the rows
    the same filters match (called only when ``shown`` reaches ``limit``)."""
    from crawler.cli.reporting import cut_note

    count = _cut_total(shown, limit, total)
    if count is not None:
        print(cut_note(shown, count), file=sys.stderr if as_json else sys.stdout)


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The archive of ``--database`` (None when it is missing, said on
    stderr), ``--site`` checked against the sites known."""
    engine = open_archive(args.database)
    if engine is not None:
        check_site(engine, getattr(args, "site", None))
    return engine


def _article_filters(args: argparse.Namespace, include_duplicates: bool):  # type: ignore[no-untyped-def]
    from crawler.storage.queries import ArticleFilters

    return ArticleFilters(
        site=args.site,
        since=args.since,
        until=args.until,
        section=args.section,
        author=args.author,
        include_duplicates=include_duplicates,
    )


def _count(number: int, noun: str) -> str:
    """``2 warnings``, ``1 warning``, or "" for none."""
    return f"{number} {noun}{'s' if number != 1 else ''}" if number else ""


def _print_json(document: object) -> None:
    from crawler.cli.reporting import dump_json

    dump_json(document, sys.stdout)


def cmd_articles(args: argparse.Namespace) -> int:
    from crawler.cli.reporting import ARTICLE_COLUMNS, format_table
    from crawler.storage.queries import count_articles, list_articles

    engine = _open(args)
    if engine is None:
        return NOT_FOUND_EXIT
    filters = _article_filters(args, args.include_duplicates)
    rows = list_articles(engine, filters, args.limit or None)
    if args.json:
        _print_json(rows)
    elif not rows:
        print("No articles match.")
    else:
        print(format_table(ARTICLE_COLUMNS, rows))
    report_cut(len(rows), args.limit, lambda: count_articles(engine, filters), args.json)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from crawler.cli.reporting import format_article, version_diffs
    from crawler.storage import queries
    from crawler.storage.captures import article_captures

    engine = _open(args)
    if engine is None:
        return NOT_FOUND_EXIT
    article = queries.find_article(engine, args.article)
    if article is None:
        print(f"newscrawl: no article with the id or URL {args.article!r}", file=sys.stderr)
        return NOT_FOUND_EXIT
    revisions = queries.article_revisions(engine, article["id"])
    aliases = queries.article_aliases(engine, article["id"])
    captures = [asdict(c) for c in article_captures(engine, article["id"])]
    diffs = version_diffs(article, revisions) if args.diff else None
    if args.json:
        _print_json(
            {**article, "aliases": aliases, "revisions": revisions, "captures": captures}
            | ({"diffs": diffs} if diffs is not None else {})
        )
        return 0
    original = article["duplicate_of"]
    titles = queries.article_titles(engine, [original] if original is not None else [])
    print(format_article(article, revisions, aliases, titles.get(original or 0), diffs, captures))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from crawler.cli.reporting import ARTICLE_COLUMNS, Column, field, format_table
    from crawler.storage.search import (
        SearchQueryError,
        count_matches,
        mark_snippet,
        search_articles,
        split_snippet,
    )

    if args.words and args.query is not None:
        print("newscrawl search: give the query once, as QUERY or --query", file=sys.stderr)
        return QUERY_ERROR_EXIT
    query = args.query if args.query is not None else " ".join(args.words)
    engine = _open(args)
    if engine is None:
        return NOT_FOUND_EXIT
    filters = _article_filters(args, args.include_duplicates)
    try:
        hits = search_articles(engine, query, filters, args.limit or None)
    except SearchQueryError as exc:
        shown = query if len(query) <= 60 else query[:57] + "..."
        print(
            f"newscrawl search: cannot search for {shown!r}: {exc}; see docs/querying.md#search",
            file=sys.stderr,
        )
        return QUERY_ERROR_EXIT
    rows = []
    for position, hit in enumerate(hits, 1):
        snippet, highlights = split_snippet(hit.snippet or "")
        rows.append(
            {
                "rank": position,
                **vars(hit),
                "snippet": snippet,
                "highlights": highlights,
                "marked": mark_snippet(hit.snippet or ""),
            }
        )
    if args.json:
        _print_json([{k: v for k, v in row.items() if k != "marked"} for row in rows])
    elif not rows:
        print("No articles match.")
    else:
        columns = [Column("#", field("rank"), align_right=True), *ARTICLE_COLUMNS]
        print(format_table(columns, rows, below=lambda row: [" ".join(row["marked"].split())]))
    report_cut(len(rows), args.limit, lambda: count_matches(engine, query, filters), args.json)
    return 0


def cmd_top_stories(args: argparse.Namespace) -> int:
    if args.at is not None and (args.start is not None or args.end is not None):
        print("newscrawl top-stories: --at cannot be combined with --from/--to", file=sys.stderr)
        return QUERY_ERROR_EXIT
    engine = _open(args)
    if engine is None:
        return NOT_FOUND_EXIT
    if args.start is None and args.end is None:
        _top_stories_at(engine, args)
    else:
        _top_stories_between(engine, args)
    return 0


def _top_stories_at(engine, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    """``top-stories [--at TIME]``: the latest snapshot of each page then."""
    from datetime import UTC, datetime

    from crawler.cli.reporting import format_table, human_time, top_story_columns
    from crawler.storage import queries

    at = args.at or datetime.now(UTC)
    every = queries.top_stories_at(engine, at, args.site)
    rows = every[: args.limit or None]
    if args.json:
        _print_json(rows)
    elif not rows:
        print(f"No top-stories snapshot at or before {human_time(at)}.")
    else:
        print(f"Top stories at {human_time(at)} (the latest snapshot of each page):")
        print(format_table(top_story_columns(rows), rows))
    report_cut(len(rows), args.limit, lambda: len(every), args.json)


def _top_stories_between(engine, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    """``top-stories --from TIME --to TIME``: every story seen in the range."""
    from functools import partial

    from crawler.cli.reporting import Column, field, format_table
    from crawler.sites.durations import format_duration
    from crawler.storage import queries

    scope = (args.start, args.end, args.site)
    rows = queries.top_stories_between(engine, *scope, args.limit or None)
    for row in rows:
        row["span_seconds"] = int((row["last_seen"] - row["first_seen"]).total_seconds())
    if args.json:
        _print_json(rows)
    elif not rows:
        print("No top stories in that range.")
    else:
        columns = [
            Column("best", field("best_rank"), align_right=True),
            Column("site", field("site")),
            Column("title", field("title"), max_width=60),
            Column("first seen", field("first_seen")),
            Column("last seen", field("last_seen")),
            Column("span", lambda r: format_duration(r["span_seconds"])),
            Column("snapshots", field("snapshots"), align_right=True),
            Column("url", field("url")),
        ]
        print(format_table(columns, rows))
    total = partial(queries.count_top_stories_between, engine, *scope)
    report_cut(len(rows), args.limit, total, args.json)


def cmd_runs(args: argparse.Namespace) -> int:
    from crawler.storage.queries import count_runs, list_runs

    engine = _open(args)
    if engine is None:
        return NOT_FOUND_EXIT
    scope = (args.site, args.spider, args.status)
    rows = list_runs(engine, *scope, args.limit or None)
    if args.json:
        _print_json(rows)
    elif not rows:
        print("No runs match.")
    else:
        print(_runs_table(rows))
    report_cut(len(rows), args.limit, lambda: count_runs(engine, *scope), args.json)
    return 0


def _runs_table(rows: list[dict]) -> str:
    """The runs, one line each, with why a run did not finish and its
    health warnings under it."""
    from crawler.cli.reporting import Column, field, format_table, run_outcome
    from crawler.sites.durations import format_duration

    def took(run: dict) -> str:
        end = run["finished_at"]
        # Whole seconds: a table has no use for the fraction.
        return format_duration(int((end - run["started_at"]).total_seconds())) if end else "-"

    def notes(run: dict) -> list[str]:
        out = []
        if run["status"] != "finished" and run["finish_reason"]:
            out.append(run_outcome(run["status"], run["finish_reason"], "{}: {}"))
        if run.get("walk_incomplete") and run["status"] != "running":
            out.append("listing walk incomplete: the next crawl continues it")
        return out + [f"warning: {w}" for w in run["health_warnings"] or []]

    columns = [
        Column("id", field("id"), align_right=True),
        Column("site", field("site")),
        Column("spider", field("spider")),
        Column("started", field("started_at")),
        Column("took", took, align_right=True),
        Column("status", field("status")),
        Column("pages", field("pages_fetched"), align_right=True),
        Column("skipped", field("pages_skipped_known"), align_right=True),
        Column("new", field("articles_new"), align_right=True),
        Column("updated", field("articles_updated"), align_right=True),
        Column("same", field("articles_unchanged"), align_right=True),
        Column("rejected", field("items_rejected"), align_right=True),
        Column("errors", field("errors"), align_right=True),
        Column("health", lambda r: _count(len(r["health_warnings"] or []), "warning") or "ok"),
    ]
    return format_table(columns, rows, below=notes)


def cmd_export(args: argparse.Namespace) -> int:
    from crawler.cli.export import ExportTargetError, check_target, export_articles, export_format
    from crawler.storage.warc import ArchiveUnavailable

    target = None
    if args.output is not None:
        # Checked before anything is queried: a path that cannot be written is
        # a usage error.
        try:
            target = check_target(args.output)
        except ExportTargetError as exc:
            print(f"newscrawl: cannot write {args.output}: {exc}", file=sys.stderr)
            return QUERY_ERROR_EXIT
    engine = _open(args)
    if engine is None:
        return NOT_FOUND_EXIT
    filters = _article_filters(args, args.include_duplicates)
    fmt = export_format(args.format, args.output)
    what = "WARC records" if fmt == "warc" else "articles"
    if target is None:
        try:
            count = export_articles(engine, filters, fmt, sys.stdout, args.captures)
        except ArchiveUnavailable as exc:
            print(f"newscrawl: {exc}", file=sys.stderr)
            return NOT_FOUND_EXIT
        sys.stdout.flush()
        print(f"newscrawl: exported {count} {what}", file=sys.stderr)
        return 0
    return _export_to(engine, filters, fmt, target, args.captures)


def _export_to(engine, filters, fmt: str, target, captures: bool) -> int:  # type: ignore[no-untyped-def]
    """``export -o FILE``: a regular file is written beside the target and
    renamed at the end (an interrupted export never leaves a truncated file
    under the name asked for); a device or FIFO is written in place
    (crawler/cli/export.py). A file that cannot be opened is refused as a
    bad -o (status 2); a write that fails on the way (a full disk), status 1."""
    from crawler.cli.export import ExportTargetError, export_articles, open_target
    from crawler.storage.warc import ArchiveUnavailable

    try:
        with open_target(target) as out:
            count = export_articles(engine, filters, fmt, out, captures)
    except ArchiveUnavailable as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return NOT_FOUND_EXIT
    except ExportTargetError as exc:
        print(f"newscrawl: cannot write {target.given}: {exc}", file=sys.stderr)
        return QUERY_ERROR_EXIT
    except OSError as exc:
        print(f"newscrawl: cannot write {target.given}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    name = {"csv": "CSV", "warc": "WARC"}.get(fmt, "JSON Lines")
    what = "WARC records" if fmt == "warc" else "articles"
    print(f"newscrawl: exported {count} {what} to {target.given} as {name}", file=sys.stderr)
    return 0


def cmd_browse(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from crawler.cli import browse
    from crawler.storage.database import database_url, safe_url

    url = database_url(args.database)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        print(
            f"newscrawl: browse opens SQLite archives in Datasette; {safe_url(url)} is "
            f"{parsed.get_backend_name()}. Query it with any SQL client: the tables and "
            "example SQL are in docs/schema.md",
            file=sys.stderr,
        )
        return QUERY_ERROR_EXIT
    if open_archive(url) is None:
        return NOT_FOUND_EXIT
    database_file = Path(parsed.database or "").resolve()
    if args.write_metadata is not None:
        browse.write_metadata(args.write_metadata, database_file)
        print(f"Datasette metadata written to {args.write_metadata}")
        return 0
    if not browse.datasette_installed():
        print(f"newscrawl: Datasette is not installed: {browse.INSTALL_HINT}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="newscrawl-browse-") as folder:
        metadata = Path(folder) / "metadata.json"
        browse.write_metadata(metadata, database_file)
        name = browse.database_name(database_file)
        print(
            f"Serving {database_file} with Datasette at http://{args.host}:{args.port}/{name} "
            "(Ctrl-C stops it)",
            flush=True,
        )
        return browse.serve(database_file, metadata, args.host, args.port, not args.no_open)
