"""Articles extracted again from their captures (``newscrawl reextract``,
declared in crawler/cli/archive.py):
the latest capture of each selected article read from the archive, through
the same reading as a crawl's (crawler/extraction/reader.py) with today's
site definition, in worker processes. A changed title or body becomes a new
version of the article, its earlier text kept in ``article_revisions`` with
the reason ``re-extraction``.

Each capture read is marked with the hash of the definition it was read
with (``captures.extracted_with``), in the transaction that stores its
batch: an interrupted run keeps what it stored, and the next run skips what
was read with the same definition. A crawl marks its captures with the
definition it used, so only captures read with an older definition are
read again.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from w3lib.encoding import http_content_type_encoding

from crawler.exceptions import PatternTimeout, UndecodablePage
from crawler.extraction.reader import decode, read_article_page
from crawler.extraction.validation import article_problems
from crawler.items import Article
from crawler.sites.definitions import Site, definition_hash, get_site
from crawler.storage.captures import Capture, full_record, latest_article_captures
from crawler.storage.store import Store
from crawler.storage.warc import ArchiveUnavailable, read_record

BATCH = 100  # articles stored (and their captures marked) per transaction
DIFFS_SHOWN = 3
SLICE = 2000  # jobs handed to the worker processes at a time


@dataclass(frozen=True)
class Job:
    """One article to read again: its capture, and the record holding the page."""

    capture_id: int
    article_id: int
    site: str
    warc_file: str
    offset: int
    length: int


@dataclass
class Outcome:
    job: Job
    article: Article | None = None
    problem: str | None = None
    unread: bool = False  # the record could not be read: tried again next run


@dataclass
class Tally:
    selected: int = 0
    skipped: int = 0  # read with this definition already
    read: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0  # no record, or the page no longer gives a valid article
    diffs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_sites: dict[str, Site] = {}


def _site(name: str) -> Site:
    if name not in _sites:
        _sites[name] = get_site(name)
    return _sites[name]


def read_again(job: Job, folder: Path) -> Outcome:
    """The article of a job's page as a crawl would extract it today."""
    try:
        headers, payload = read_record(folder, job.warc_file, job.offset, job.length)
        content_type = _header(headers, b"content-type")
        encoding = http_content_type_encoding(content_type) or ""
        capture_url = _header(headers, b"warc-target-uri")
        decoded = decode(payload, encoding, capture_url)
        site = _site(job.site)
        article = read_article_page(decoded.text, capture_url, site, False, datetime.now(UTC))
    except ArchiveUnavailable as exc:
        return Outcome(job, problem=str(exc), unread=True)
    except (UndecodablePage, PatternTimeout) as exc:
        return Outcome(job, problem=str(exc))
    if article is None:
        return Outcome(job, problem="the page is no longer read as an article")
    problems = article_problems(article, site.article.min_body_length, datetime.now(UTC))
    if problems:
        return Outcome(job, problem="; ".join(problems))
    return Outcome(job, article=article)


def _header(headers: bytes, name: bytes) -> str:
    for line in headers.split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""


def select_jobs(
    store: Store,
    tally: Tally,
    site: str | None,
    since: datetime | None,
    until: datetime | None,
    article_id: int | None,
) -> list[Job]:
    """The latest capture of each selected article not yet read with its
    site's current definition."""
    jobs = []
    for capture in latest_article_captures(store.engine, site, since, until, article_id):
        tally.selected += 1
        if capture.extracted_with == definition_hash(_site(capture.site)):
            tally.skipped += 1
            continue
        record = full_record(store.engine, capture)
        if record is None:
            tally.failed += 1
            tally.problems.append(f"article {capture.article_id}: its full record is missing")
            continue
        jobs.append(_job(capture, record))
    return jobs


def _job(capture: Capture, record: Capture) -> Job:
    assert capture.article_id is not None
    return Job(
        capture.id,
        capture.article_id,
        capture.site,
        record.warc_file,
        record.warc_offset,
        record.warc_length,
    )


def outcomes(jobs: list[Job], folder: Path, processes: int) -> Iterator[Outcome]:
    """The jobs read again, in order: in ``processes`` worker processes (1: here)."""
    if processes <= 1 or len(jobs) < 2:
        for job in jobs:
            yield read_again(job, folder)
        return
    with ProcessPoolExecutor(max_workers=processes) as pool:
        # A slice at a time: the jobs of a large archive are not all queued at once.
        for start in range(0, len(jobs), SLICE):
            part = jobs[start : start + SLICE]
            yield from pool.map(_read_again_in, part, [folder] * len(part), chunksize=16)


def _read_again_in(job: Job, folder: Path) -> Outcome:
    return read_again(job, folder)


def reextract(
    store: Store,
    jobs: list[Job],
    folder: Path,
    tally: Tally,
    processes: int = 1,
    dry_run: bool = False,
    progress: Callable[[Tally, int], None] | None = None,
) -> Tally:
    """Read ``jobs`` again and store what changed, a batch at a time."""
    batch: list[Outcome] = []
    for outcome in outcomes(jobs, folder, processes):
        tally.read += 1
        batch.append(outcome)
        if len(batch) >= BATCH:
            _store_batch(store, batch, tally, dry_run)
            batch = []
            if progress is not None:
                progress(tally, len(jobs))
    _store_batch(store, batch, tally, dry_run)
    if progress is not None:
        progress(tally, len(jobs))
    return tally


def _store_batch(store: Store, batch: list[Outcome], tally: Tally, dry_run: bool) -> None:
    if not batch:
        return
    current = store.article_texts([o.job.article_id for o in batch])
    changed: list[tuple[int, Article]] = []
    for outcome in batch:
        if outcome.article is None:
            tally.failed += 1
            tally.problems.append(f"article {outcome.job.article_id}: {outcome.problem}")
            continue
        old_title, old_body = current.get(outcome.job.article_id, ("", ""))
        article = outcome.article
        if article.title == old_title and article.body == old_body:
            tally.unchanged += 1
            continue
        tally.changed += 1
        changed.append((outcome.job.article_id, article))
        if len(tally.diffs) < DIFFS_SHOWN:
            tally.diffs.append(_diff(outcome.job.article_id, old_title, old_body, article))
    if dry_run:
        return
    marks: dict[str, list[int]] = {}
    for outcome in (o for o in batch if not o.unread):
        marks.setdefault(definition_hash(_site(outcome.job.site)), []).append(
            outcome.job.capture_id
        )
    store.save_reextracted(changed, marks)


def _diff(article_id: int, old_title: str, old_body: str, article: Article) -> str:
    old = [old_title, "", *old_body.splitlines()]
    new = [article.title or "", "", *(article.body or "").splitlines()]
    lines = difflib.unified_diff(
        old,
        new,
        f"article {article_id} (stored)",
        f"article {article_id} (re-extracted)",
        lineterm="",
    )
    return "\n".join(lines)


def default_processes() -> int:
    return max(1, min(os.cpu_count() or 1, 4))
