"""Failing sites back off: a job whose crawls fail is tried less and less
often, and returns to its schedule after the first success.

After the n-th failed crawl in a row (a failure as
:mod:`crawler.storage.failures` defines it), the job's next run is pushed to
the crawl's end plus :func:`backoff_delay`: the job's period (its interval,
or the gap between two cron times) times 2^(n-1), at most the site's
``schedule.max_backoff`` (6 hours by default), never less than the period
itself, plus up to the schedule's jitter. So: the period after the first
failure, twice it after the second, four times after the third, and so on
up to the cap. A finished run ends the streak: the job's next run is then
its trigger's own, and the run's line in the log says the site is back.

The next run is changed in the scheduler's job store (``modify_job``), so a
restarted daemon keeps it. At the daemon's start (and for a job added or
changed by SIGHUP) a job whose site is in a failure streak does not run at
once: its next run is the last failure's end plus the back-off, when that is
later than the run planned.

Each failed crawl is one line of the daemon's log, with the streak, the
reason and the next try (:meth:`Backoff.after_run`), e.g. ``run 41
gazette/articles failed (3 in a row) in 1.2s: no page could be fetched (2
download errors); ...; next try in 4h (back-off)``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from crawler.scheduling.jobs import JobSpec, format_duration, site_job_specs
from crawler.scheduling.supervisor import run_line
from crawler.sites.definitions import Site
from crawler.sites.times import human_time
from crawler.storage.failures import is_failure, one_line
from crawler.storage.locks import utcnow
from crawler.storage.spool import short_error
from crawler.storage.status import consecutive_failures, last_failure

logger = logging.getLogger("newscrawl.daemon")

DEFAULT_MAX_BACKOFF = 6 * 3600.0


def backoff_delay(period: float, failures: int, cap: float = DEFAULT_MAX_BACKOFF) -> float:
    """Seconds from the end of the ``failures``-th failed crawl in a row to
    the next try: ``period`` × 2^(failures-1), at most ``cap`` but never less
    than ``period``; 0 without a failure."""
    if failures < 1:
        return 0.0
    doubled = period * 2.0 ** min(failures - 1, 64)
    return max(period, min(doubled, cap))


def held_until(spec: JobSpec, failures: int, ended_at: datetime | None) -> datetime | None:
    """When the back-off lets a job whose last failed crawl ended at
    ``ended_at`` run again (no jitter), or None without a failure."""
    if failures < 1 or ended_at is None:
        return None
    return ended_at + timedelta(seconds=backoff_delay(spec.period(), failures, spec.max_backoff))


class Backoff:
    """The daemon's back-off, over its scheduled sites (``sites()``, read
    anew each time: SIGHUP replaces them) and its scheduler, once started
    (:meth:`resume`)."""

    def __init__(self, engine: Engine, sites: Callable[[], Mapping[str, Site]]) -> None:
        self.engine = engine
        self.sites = sites
        self.scheduler: Any = None

    def spec_of(self, site: str, spider: str) -> JobSpec | None:
        """The job of a site and spider, or None when it is not scheduled."""
        found = self.sites().get(site)
        specs = site_job_specs(found) if found is not None else []
        return next((spec for spec in specs if spec.spider == spider), None)

    # ------------------------------------------------------------------ after a crawl

    def after_run(self, run: dict[str, Any]) -> str | None:
        """Called with each run a crawl of the daemon ended; returns the
        run's log line, or None for the usual one. A failed run pushes back
        its job's next run (the line says why it failed, how many failed in a
        row and when the next try is); a finished run after failures says the
        site is back."""
        spec = self.spec_of(run["site"], run["spider"])
        if spec is None or self.scheduler is None:
            return None
        try:
            return self._after_run(spec, run)
        except SQLAlchemyError as exc:  # the run's usual line is logged all the same
            logger.error("%s: no back-off after run %s: %s", spec.id, run["id"], short_error(exc))
            return None

    def _after_run(self, spec: JobSpec, run: dict[str, Any]) -> str | None:
        if is_failure(run["status"]):
            failures = consecutive_failures(self.engine, spec.site, spec.spider)
            delay = backoff_delay(spec.period(), failures, spec.max_backoff)
            delay += random.uniform(0, spec.schedule.jitter or 0)
            self._push(spec, utcnow() + timedelta(seconds=delay))
            return failure_line(run, failures, delay)
        if run["status"] == "finished":
            before = consecutive_failures(self.engine, spec.site, spec.spider, before=run["id"])
            if before:
                return (
                    f"{run_line(run)}; back after {before} failed crawl"
                    f"{'' if before == 1 else 's'} in a row, on its schedule again "
                    f"({spec.describe()})"
                )
        return None

    def _push(self, spec: JobSpec, when: datetime) -> None:
        """The job's next run, no earlier than ``when``."""
        job = self.scheduler.get_job(spec.id)
        if job is None or job.next_run_time is None:  # removed, or paused
            return
        if job.next_run_time < when:
            self.scheduler.modify_job(spec.id, next_run_time=when)

    # ------------------------------------------------------------------ at the start

    def first_run(self, spec: JobSpec, now: datetime) -> datetime | None:
        """When a job added now first runs: as planned
        (:meth:`JobSpec.first_run_time`), or later if its site is in a
        failure streak and the back-off holds it."""
        planned = spec.first_run_time(now)
        held = self._held(spec)
        if planned is None or held is None or held <= planned:
            return planned
        self._log_held(spec, held)
        return held

    def resume(self, scheduler: Any) -> None:
        """At the daemon's start (``scheduler`` just started, no job run yet):
        the stored jobs whose sites are in a failure streak wait for the end
        of their back-off."""
        self.scheduler = scheduler
        for job in self.scheduler.get_jobs():
            site, _, spider = job.id.partition(":")
            spec = self.spec_of(site, spider)
            held = self._held(spec) if spec is not None else None
            if spec is None or held is None or job.next_run_time is None:
                continue
            if held > job.next_run_time:
                self.scheduler.modify_job(job.id, next_run_time=held)
                self._log_held(spec, held)

    def _held(self, spec: JobSpec) -> datetime | None:
        failures = consecutive_failures(self.engine, spec.site, spec.spider)
        if not failures:
            return None
        failure = last_failure(self.engine, spec.site, spec.spider)
        return held_until(spec, failures, failure["finished_at"] if failure else None)

    def _log_held(self, spec: JobSpec, held: datetime) -> None:
        failures = consecutive_failures(self.engine, spec.site, spec.spider)
        failure = last_failure(self.engine, spec.site, spec.spider)
        logger.warning(
            "job %s: %d failed crawl%s in a row (last: %s); next try %s (back-off)",
            spec.id,
            failures,
            "" if failures == 1 else "s",
            failure["reason"] if failure else "-",
            human_time(held),
        )


def failure_line(run: dict[str, Any], failures: int, delay: float) -> str:
    """``run 41 example/articles failed (3 in a row) in 2.1s: REASON; next try
    in 4h (back-off)``: the daemon's one line about a failed crawl."""
    took = ""
    if run.get("started_at") is not None and run.get("finished_at") is not None:
        seconds = (run["finished_at"] - run["started_at"]).total_seconds()
        took = f" in {format_duration(round(seconds, 1))}"
    return (
        f"run {run['id']} {run['site']}/{run['spider']} {run['status']} "
        f"({failures} in a row){took}: {one_line(run['finish_reason'])}; "
        f"next try in {format_duration(round(delay))} (back-off)"
    )
