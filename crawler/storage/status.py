"""Read-only queries behind ``newscrawl status``, ``newscrawl schedule`` and the
daemon's run log, back-off and metrics: the runs of a process, the last run,
the last successful run, the failure streak and the last failure of each
site and spider (a failure as :mod:`crawler.storage.failures` defines it),
and the next run times the daemon's scheduler stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, column, func, inspect, select, table
from sqlalchemy.engine import make_url

from crawler.storage.failures import FAILED_STATUSES, NEUTRAL_STATUSES, one_line
from crawler.storage.models import CrawlRunRow

# APScheduler's SQLAlchemyJobStore table (created and written by APScheduler).
JOBS_TABLE = "apscheduler_jobs"


# The counts of a run that ``newscrawl status`` and the metrics show, as
# crawl_runs columns.
LAST_RUN_COLUMNS = (
    "pages_fetched",
    "articles_new",
    "articles_updated",
    "articles_unchanged",
    "items_rejected",
    "top_story_snapshots",
    "errors",
)


def runs_of_process(
    engine: Engine,
    host: str,
    pid: int,
    started_after: datetime,
    site_spider: tuple[str, str] | None = None,
) -> list[dict]:
    """The runs of one process (pid on host) started after ``started_after``;
    of one site and spider alone when ``site_spider`` is given (a crawl host
    runs many)."""
    where = [
        CrawlRunRow.host == host,
        CrawlRunRow.pid == pid,
        CrawlRunRow.started_at >= started_after,
    ]
    if site_spider is not None:
        where += [CrawlRunRow.site == site_spider[0], CrawlRunRow.spider == site_spider[1]]
    stmt = select(CrawlRunRow).where(*where).order_by(CrawlRunRow.id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def last_success(engine: Engine, site: str, spider: str) -> datetime | None:
    """When the latest successful run of the site's spider ended: the newest
    run that is neither failed nor timed out, running nor interrupted (those
    that end a failure streak in :func:`consecutive_failures`); None before
    the first."""
    stmt = (
        select(CrawlRunRow.finished_at)
        .where(
            CrawlRunRow.site == site,
            CrawlRunRow.spider == spider,
            CrawlRunRow.status.not_in((*FAILED_STATUSES, *NEUTRAL_STATUSES)),
        )
        .order_by(CrawlRunRow.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(stmt).scalar()


def last_run(engine: Engine, site: str, spider: str) -> dict | None:
    stmt = (
        select(CrawlRunRow)
        .where(CrawlRunRow.site == site, CrawlRunRow.spider == spider)
        .order_by(CrawlRunRow.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def consecutive_failures(engine: Engine, site: str, spider: str, before: int | None = None) -> int:
    """How many of the latest runs failed (``failed`` or ``timeout``:
    :mod:`crawler.storage.failures`) since the last finished one; with
    ``before``, among the runs before the run of that id.

    Runs still going or interrupted (stopped from outside) neither count nor
    end the streak.
    """
    pair = [CrawlRunRow.site == site, CrawlRunRow.spider == spider]
    if before is not None:
        pair.append(CrawlRunRow.id < before)
    last_finished = (
        select(func.coalesce(func.max(CrawlRunRow.id), 0))
        .where(*pair, CrawlRunRow.status.not_in((*FAILED_STATUSES, *NEUTRAL_STATUSES)))
        .scalar_subquery()
    )
    stmt = (
        select(func.count())
        .select_from(CrawlRunRow)
        .where(*pair, CrawlRunRow.status.in_(FAILED_STATUSES), CrawlRunRow.id > last_finished)
    )
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def last_failure(engine: Engine, site: str, spider: str) -> dict | None:
    """The latest failed run of a site and spider (``id``, ``status``,
    ``finished_at`` and ``reason``: its ``finish_reason`` in one line), or
    None when none failed."""
    stmt = (
        select(
            CrawlRunRow.id, CrawlRunRow.status, CrawlRunRow.finished_at, CrawlRunRow.finish_reason
        )
        .where(
            CrawlRunRow.site == site,
            CrawlRunRow.spider == spider,
            CrawlRunRow.status.in_(FAILED_STATUSES),
        )
        .order_by(CrawlRunRow.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    failure = dict(row)
    failure["reason"] = one_line(failure.pop("finish_reason"))
    return failure


def last_failure_reason(engine: Engine, site: str, spider: str) -> str | None:
    """Why the latest failed run of a site and spider failed, in one line."""
    failure = last_failure(engine, site, spider)
    return failure["reason"] if failure is not None else None


def sites_with_runs(engine: Engine) -> list[tuple[str, str]]:
    stmt = select(CrawlRunRow.site, CrawlRunRow.spider).distinct()
    with engine.connect() as conn:
        return sorted((r.site, r.spider) for r in conn.execute(stmt))


def database_exists(url: str) -> bool:
    """False for a SQLite file that is not there yet (reading must not create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    name = parsed.database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        return name.startswith("file:")
    return Path(name).exists()


def stored_next_runs(engine: Engine) -> dict[str, datetime | None] | None:
    """Job id -> next run time (None: paused) as the daemon's scheduler stored
    them, or None when no daemon has run on this database."""
    if not inspect(engine).has_table(JOBS_TABLE):
        return None
    jobs = table(JOBS_TABLE, column("id"), column("next_run_time"))
    with engine.connect() as conn:
        return {
            job_id: datetime.fromtimestamp(ts, UTC) if ts is not None else None
            for job_id, ts in conn.execute(select(jobs.c.id, jobs.c.next_run_time))
        }
