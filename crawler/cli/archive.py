"""``newscrawl capture`` and ``reextract``: the pages kept in the archive
(docs/archive.md), printed, or extracted again with today's site definitions."""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.cli.options import add_database, check_site, end_time, open_archive, start_time
from crawler.exceptions import NOT_FOUND_EXIT

if TYPE_CHECKING:
    from crawler.cli.reextract import Tally


def add_parsers(sub: argparse._SubParsersAction) -> None:
    capture = sub.add_parser(
        "capture", help="an article's page as it was fetched, from the archive's WARC files"
    )
    capture.add_argument("article", metavar="ID|URL", help="the article's id, or its URL")
    shown = capture.add_mutually_exclusive_group()
    shown.add_argument(
        "--html", action="store_true", help="the page as the server sent it (the default)"
    )
    shown.add_argument(
        "--warc", action="store_true", help="the whole WARC record: its headers, HTTP headers, page"
    )
    capture.add_argument(
        "--capture",
        type=int,
        metavar="N",
        help="the Nth capture as `newscrawl show` lists them, 1 the oldest (default: the latest)",
    )
    add_archive(capture)
    capture.set_defaults(func=cmd_capture)

    again = sub.add_parser(
        "reextract",
        help="extract stored articles again from their captures, with today's site definitions",
    )
    again.add_argument("--site", help="only this site (default: every site)")
    again.add_argument(
        "--since",
        type=start_time,
        metavar="TIME",
        help="captures fetched at or after TIME (default: no lower bound)",
    )
    again.add_argument(
        "--until",
        type=end_time,
        metavar="TIME",
        help="captures fetched at or before TIME (default: no upper bound)",
    )
    again.add_argument(
        "--article", type=int, metavar="ID", help="only this article (default: every one selected)"
    )
    again.add_argument(
        "--dry-run",
        action="store_true",
        help="print how many articles would change and the first diffs; write nothing",
    )
    again.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="worker processes reading pages (default: the CPUs, at most 4; 1 reads here)",
    )
    add_archive(again)
    again.set_defaults(func=cmd_reextract)


def add_archive(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--archive-dir",
        metavar="DIR",
        help="the WARC files' folder (default: $NEWSCRAWL_ARCHIVE_DIR, else archive/ "
        "beside a SQLite database, or in the working folder)",
    )
    add_database(parser)


def _folder(args: argparse.Namespace) -> Path | None:
    from crawler.storage.database import database_url
    from crawler.storage.warc import ARCHIVE_DIR_ENV, archive_dir

    setting = args.archive_dir or os.environ.get(ARCHIVE_DIR_ENV)
    folder = archive_dir(setting, database_url(args.database))
    if folder is None:
        print(f"newscrawl: no archive directory ({ARCHIVE_DIR_ENV} is off)", file=sys.stderr)
    return folder


def cmd_capture(args: argparse.Namespace) -> int:
    from crawler.storage import queries
    from crawler.storage.captures import article_captures, full_record
    from crawler.storage.warc import ArchiveUnavailable, read_raw, record_parts

    engine = open_archive(args.database)
    folder = _folder(args)
    if engine is None or folder is None:
        return NOT_FOUND_EXIT
    article = queries.find_article(engine, args.article)
    if article is None:
        print(f"newscrawl: no article with the id or URL {args.article!r}", file=sys.stderr)
        return NOT_FOUND_EXIT
    captures = article_captures(engine, article["id"])
    number = args.capture or len(captures)
    if not captures or not 1 <= number <= len(captures):
        print(
            f"newscrawl: article {article['id']} has {len(captures)} captures"
            + (f", no capture {number}" if captures else " (see docs/archive.md)"),
            file=sys.stderr,
        )
        return NOT_FOUND_EXIT
    capture = captures[number - 1]
    if not args.warc:
        capture = full_record(engine, capture) or capture
    try:
        raw = read_raw(folder, capture.warc_file, capture.warc_offset, capture.warc_length)
        data = gzip.decompress(raw) if args.warc else record_parts(raw)[1]
    except ArchiveUnavailable as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return NOT_FOUND_EXIT
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def cmd_reextract(args: argparse.Namespace) -> int:
    from crawler.cli import reextract
    from crawler.storage.store import Store

    engine = open_archive(args.database)
    folder = _folder(args)
    if engine is None or folder is None:
        return NOT_FOUND_EXIT
    check_site(engine, args.site)
    store = Store(engine)
    tally = reextract.Tally()
    jobs = reextract.select_jobs(store, tally, args.site, args.since, args.until, args.article)
    processes = args.processes or reextract.default_processes()
    reextract.reextract(
        store,
        jobs,
        folder,
        tally,
        processes,
        args.dry_run,
        _progress if sys.stderr.isatty() else None,
    )
    print_tally(tally, args.dry_run)
    return 0


def _progress(tally: Tally, total: int) -> None:
    print(
        f"\rreextract: {tally.read}/{total} read, {tally.changed} changed",
        end="",
        file=sys.stderr,
    )
    if tally.read >= total:
        print(file=sys.stderr)


def print_tally(t: Tally, dry_run: bool) -> None:
    verb = "would change" if dry_run else "changed"
    print(
        f"{t.selected} articles with captures: {t.skipped} read with this definition already, "
        f"{t.read} read again: {t.changed} {verb}, {t.unchanged} unchanged, {t.failed} failed"
    )
    for problem in t.problems[:10]:
        print(f"  {problem}")
    for diff in t.diffs:
        print()
        print(diff)
    if dry_run:
        print("\n(dry run: nothing written)")
