"""``newscrawl daemon``: an APScheduler 3 ``BlockingScheduler`` that runs every
scheduled site and spider in its crawl hosts (long-lived processes running
many crawls each, :mod:`crawler.scheduling.hosts`), or each crawl as its own
``scrapy crawl`` process (``--crawl-hosts 0``).

- Jobs come from the site definitions (:mod:`crawler.scheduling.jobs`), one per
  site and spider, id ``SITE:SPIDER``, kept in the database by a
  ``SQLAlchemyJobStore`` so a restart resumes the schedule. ``max_instances=1``
  (a crawl never overlaps itself), ``coalesce=True`` and a misfire grace time
  (missed runs run once, not as a burst). The executor's thread pool has
  ``max_crawls`` threads: the number of crawls running at once.
- A job hands its crawl to a crawl host, or starts a child process
  (:func:`crawler.scheduling.runner.start_crawl`) in its own process group,
  and waits for it, at most the site's ``schedule.timeout``: then the crawl
  is stopped, then killed. The crawl records its own ``crawl_runs`` row;
  when it cannot (killed, timed out, crashed) the daemon closes the row as
  ``timeout``, ``interrupted`` or ``failed``. The crawls are the
  :class:`~crawler.scheduling.supervisor.Supervisor`'s; this module schedules
  the jobs, holds the daemon's lease and handles signals. Each crawl takes its lease
  (:mod:`crawler.storage.locks`), so a manual backfill of the same site and
  spider and the daemon never crawl at the same time.
- A job whose crawls fail backs off: its next try waits longer after each
  failure in a row, and it is back on its schedule after a success
  (:mod:`crawler.scheduling.backoff`, which also gives a failed run's line).
- SIGTERM or SIGINT: no new crawls; running ones get ``grace`` seconds to
  finish, then are stopped (Scrapy closes them as ``interrupted``), then
  killed.
  A second signal skips the rest of the wait. Exit status 0.
- SIGHUP: the site definitions are read again and the jobs added, changed or
  removed to match, without a restart. A definition with an error is
  reported and the current schedule kept.

The scheduler's job store must not be shared by two schedulers: the daemon
holds a lease of its own (:data:`DAEMON_LEASE`), and a second daemon on the
same database refuses to start (exit status 3). The lease is kept when the
daemon stops, marked released: ``newscrawl status`` tells from it whether a
daemon runs and when one last ran.

Before it starts, the daemon refuses, in one line (logged, and on stderr too
with ``--log-file``): an invalid site definition or an unknown ``--site``
(exit status 2); with ``NEWSCRAWL_REDIS_URL`` set, the ``distributed`` extra
missing (2) or Redis not answering (1); a database it cannot use (1); once
it holds its lease, a metrics port it cannot listen on (1). A
daemon with no job (no site of the user's own, or none with an enabled
schedule) starts, runs idle, and says so as a warning.

Its ``/metrics`` and ``/healthz`` are :mod:`crawler.scheduling.endpoint`'s.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.exc import SQLAlchemyError

from crawler.exceptions import CONFIG_ERROR_EXIT, LEASE_HELD_EXIT
from crawler.scheduling.backoff import Backoff
from crawler.scheduling.endpoint import DEFAULT_METRICS_HOST, Endpoint, MetricsUnavailable
from crawler.scheduling.hosts import HostLimits, HostPool, env_whole_number
from crawler.scheduling.jobs import (
    JobSpec,
    format_duration,
    job_specs,
    plan_jobs,
    scheduled_sites,
    why_no_jobs,
)
from crawler.scheduling.logs import LOG_DATEFORMAT, LOG_FORMAT, daemon_crawl_settings
from crawler.scheduling.redis_queue import DistributedUnavailable
from crawler.scheduling.supervisor import Child as Child
from crawler.scheduling.supervisor import Supervisor
from crawler.scheduling.supervisor import describe_exit as describe_exit
from crawler.scheduling.supervisor import format_counts as format_counts
from crawler.sites.definitions import Site, SiteConfigError, load_sites
from crawler.storage.database import ensure_schema, get_engine, safe_url
from crawler.storage.locks import (
    DAEMON_LEASE,
    DEFAULT_LEASE_TTL,
    LeaseHeld,
    LeaseRenewer,
    acquire_lease,
    close_orphaned_runs,
    this_host,
    utcnow,
)

logger = logging.getLogger("newscrawl.daemon")

MAX_CRAWLS_ENV = "NEWSCRAWL_MAX_CRAWLS"
DEFAULT_MAX_CRAWLS = 2  # each crawl a process of its own (--crawl-hosts 0)
# In crawl hosts, a crawl waiting for the network costs next to nothing.
CRAWLS_PER_HOST = 8
DEFAULT_GRACE = 60.0
# How long a crawl that was sent SIGTERM (its timeout, or the daemon stopping)
# has to close before SIGKILL: on SIGTERM Scrapy waits for the downloads in
# flight (up to DOWNLOAD_TIMEOUT, 30 s) and then writes what it has.
DEFAULT_KILL_AFTER = 45.0
DEFAULT_CRAWL_LOG_LEVEL = "WARNING"

# The daemon of this process, for the job function (jobs are stored by
# reference to a module-level function with plain arguments).
_running: Daemon | None = None


# The longest the main thread sleeps at once (seconds). The kernel may hand
# SIGTERM, SIGINT or SIGHUP to any thread; its Python handler then runs only
# when the main thread next runs Python code, which for an idle daemon could
# be an hour later (its next crawl).
MAIN_THREAD_NAP = 0.5


class WakefulScheduler(BlockingScheduler):
    """APScheduler's ``BlockingScheduler`` whose main thread wakes at least
    every MAIN_THREAD_NAP seconds while it waits for the next job, so that a
    signal is handled at once whichever thread received it. Jobs are still
    looked at only when one is due or the job list changed."""

    def _main_loop(self) -> None:
        wait_seconds: float | None = threading.TIMEOUT_MAX
        while self.state != STATE_STOPPED:
            if wait_seconds is None:  # paused: until woken
                wait_seconds = threading.TIMEOUT_MAX
            deadline = time.monotonic() + wait_seconds
            while not self._event.wait(max(min(MAIN_THREAD_NAP, deadline - time.monotonic()), 0)):
                if time.monotonic() >= deadline:
                    break
            self._event.clear()
            wait_seconds = self._process_jobs()


def run_scheduled_crawl(site: str, spider: str) -> None:
    """The job function: one crawl of ``spider`` for ``site``, in a child process."""
    daemon = _running
    if daemon is None:
        raise RuntimeError("no newscrawl daemon runs in this process")
    daemon.crawl(site, spider)


def default_max_crawls(crawl_hosts: int = 0) -> int:
    """``NEWSCRAWL_MAX_CRAWLS``, else :data:`CRAWLS_PER_HOST` per crawl host
    (2 with none: each crawl a process); ValueError for a value that is not
    a whole number of at least 1."""
    number = env_whole_number(MAX_CRAWLS_ENV, 1)
    if number is None:
        return CRAWLS_PER_HOST * crawl_hosts if crawl_hosts else DEFAULT_MAX_CRAWLS
    return number


@dataclass
class DaemonOptions:
    db_url: str
    max_crawls: int = DEFAULT_MAX_CRAWLS
    grace: float = DEFAULT_GRACE
    kill_after: float = DEFAULT_KILL_AFTER
    sites: Sequence[str] = ()  # empty: every configured site
    crawl_settings: dict[str, str] = field(default_factory=dict)
    crawl_log_level: str = DEFAULT_CRAWL_LOG_LEVEL
    log_file: Path | None = None
    lease_ttl: float = DEFAULT_LEASE_TTL
    metrics_port: int = 0  # the command line's default is 9410; 0: no endpoint
    metrics_host: str = DEFAULT_METRICS_HOST
    crawl_hosts: int = 0  # 0: a process per crawl; the command line's default is one per CPU
    host_limits: HostLimits | None = None  # None: HostLimits.from_env()


def configure_logging(level: str = "INFO", log_file: Path | None = None) -> None:
    """One line per event, to stderr or to a file (reopened when rotated)."""
    handler: logging.Handler
    if log_file is not None:
        handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATEFORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler's INFO lines repeat ours; its warnings (a run skipped because
    # the previous one still runs, a run missed) are kept.
    if logging.getLevelName(level) > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)


class Daemon:
    def __init__(self, options: DaemonOptions) -> None:
        self.options = options
        self.url = options.db_url
        self.engine = get_engine(self.url)
        self.host = this_host()
        self.sites: dict[str, Site] = {}  # the scheduled ones
        self.known_sites: dict[str, Site] = {}  # every definition
        self.stopping = threading.Event()
        self.backoff = Backoff(self.engine, lambda: self.sites)  # failing sites wait longer
        self.pool = (
            HostPool(
                self.url,
                options.crawl_hosts,
                per_host=-(-options.max_crawls // options.crawl_hosts),
                settings=self.crawl_settings,
                log_file=options.log_file,
                limits=options.host_limits,
                stopping=self.stopping,
            )
            if options.crawl_hosts
            else None
        )
        self.supervisor = Supervisor(
            self.engine,
            self.url,
            self.host,
            self.stopping,
            kill_after=options.kill_after,
            log_file=options.log_file,
            crawl_settings=self.crawl_settings,
            after_run=self.backoff.after_run,
            pool=self.pool,
        )
        self.metrics = Endpoint.for_daemon(options, self.engine, self.supervisor)
        self.scheduler: BlockingScheduler | None = None
        self._signals = 0
        self._renewer: LeaseRenewer | None = None
        self._reloading = threading.Lock()  # one SIGHUP reload at a time

    # ------------------------------------------------------------------ setup

    def load_sites(self) -> dict[str, Site]:
        sites = load_sites()
        self.known_sites = sites
        if not self.options.sites:
            chosen = scheduled_sites(sites)
            skipped = sorted(set(sites) - set(chosen))
            if skipped:
                logger.info(
                    "bundled example sites not scheduled (name them with --site): %s",
                    ", ".join(skipped),
                )
            return chosen
        unknown = [name for name in self.options.sites if name not in sites]
        if unknown:
            known = ", ".join(sorted(sites)) or "none"
            raise SiteConfigError(
                f"unknown site {', '.join(map(repr, unknown))} (known sites: {known})"
            )
        return {name: sites[name] for name in self.options.sites}

    @property
    def crawl_settings(self) -> dict[str, str]:
        return daemon_crawl_settings(self.options.crawl_log_level, self.options.crawl_settings)

    def _build_scheduler(self) -> BlockingScheduler:
        store = SQLAlchemyJobStore(engine=self.engine)
        scheduler = WakefulScheduler(
            jobstores={"default": store},
            executors={"default": ThreadPoolExecutor(self.options.max_crawls)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        # Read the stored jobs before the scheduler starts: unchanged jobs keep
        # their next run time (and so their misfire handling after a pause).
        store.start(scheduler, "default")
        stored = {job.id: job.name for job in store.get_all_jobs()}
        plan = plan_jobs(job_specs(self.sites.values()), stored)
        for job_id in plan.remove:
            store.remove_job(job_id)
            logger.info("job %s removed: its site or spider is no longer scheduled", job_id)
        now = utcnow()
        for spec in plan.add:
            self._add_job(scheduler, spec, now)
        for spec in plan.keep:
            logger.info("job %s: %s (unchanged)", spec.id, spec.describe())
        return scheduler

    def _add_job(self, scheduler: BlockingScheduler, spec: JobSpec, now: datetime) -> None:
        add_job(scheduler, spec, self.backoff.first_run(spec, now), now)

    # ------------------------------------------------------------------ run

    def run(self) -> int:
        global _running
        self.sites = self.load_sites()
        check_distributed()
        ensure_schema(self.url)
        try:
            lease, _ = acquire_lease(self.engine, *DAEMON_LEASE, ttl=self.options.lease_ttl)
        except LeaseHeld as exc:
            return refuse(
                f"another newscrawl daemon is running on {safe_url(self.url)} "
                f"({exc.holder.describe()}); one daemon per database",
                LEASE_HELD_EXIT,
                self.options.log_file,
            )
        self._renewer = LeaseRenewer(
            self.engine,
            lease,
            self.options.lease_ttl,
            on_lost=self._on_lease_lost,
            keep_record=True,  # newscrawl status: when the daemon last ran
        ).start()
        try:
            close_orphaned_runs(self.engine, self.host)
            self.scheduler = self._build_scheduler()
            _running = self
            self._install_signal_handlers()  # before /metrics answers: SIGHUP may follow
            self.metrics.serve_daemon(self, self._renewer)  # MetricsUnavailable: a busy port
            specs = job_specs(self.sites.values())
            logger.info(
                "newscrawl daemon started (pid %d): %d jobs, at most %d crawls at once, %s, "
                "database %s",
                os.getpid(),
                len(specs),
                self.options.max_crawls,
                f"in up to {self.options.crawl_hosts} crawl host(s)"
                if self.options.crawl_hosts
                else "each in a process of its own",
                safe_url(self.url),
            )
            self.warn_if_idle(specs)
            if not self.stopping.is_set():
                self.scheduler.start()
            self.supervisor.stop_all(self.options.grace, signals=lambda: self._signals)
        finally:
            _running = None
            self._renewer.stop(release=True)
            self._restore_signal_handlers()
        logger.info("newscrawl daemon stopped")
        return 1 if self._renewer.lost else 0

    def warn_if_idle(self, specs: list[JobSpec]) -> None:
        if not specs:
            warn_idle(why_no_jobs(self.known_sites, self.sites), self.options.log_file)

    def _on_lease_lost(self) -> None:
        # Another daemon took over this database's scheduler (this one could not
        # renew its lease for too long): two schedulers must not share a job store.
        logger.error("the daemon lease was taken over by another daemon: stopping")
        self.stopping.set()
        self._shutdown_scheduler()

    # ------------------------------------------------------------------ signals

    def _install_signal_handlers(self) -> None:
        self._previous_handlers: dict[int, Any] = {}
        for signum, handler in (
            (signal.SIGTERM, self._on_stop_signal),
            (signal.SIGINT, self._on_stop_signal),
            (signal.SIGHUP, self._on_reload_signal),
        ):
            self._previous_handlers[signum] = signal.signal(signum, handler)

    def _restore_signal_handlers(self) -> None:
        for signum, handler in getattr(self, "_previous_handlers", {}).items():
            signal.signal(signum, handler)

    # Signal handlers run in the main thread between two bytecodes, possibly
    # while it holds the scheduler's locks: they only set flags and hand the
    # work to a thread.

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        self._signals += 1
        if self._signals == 1:
            self.stopping.set()
            threading.Thread(
                target=self._shutdown_scheduler, args=(signum,), name="shutdown"
            ).start()

    def _on_reload_signal(self, _signum: int, _frame: Any) -> None:
        if not self.stopping.is_set():
            threading.Thread(target=self.reload, name="reload").start()

    def _on_started(self, _event: Any) -> None:
        self.backoff.resume(self.scheduler)  # before any job runs
        if self.stopping.is_set():  # a signal came before the scheduler ran
            threading.Thread(target=self._shutdown_scheduler, name="shutdown").start()

    def _shutdown_scheduler(self, signum: int | None = None) -> None:
        if signum is not None:
            logger.info(
                "%s received: no new crawls; a second signal stops running crawls at once",
                signal.Signals(signum).name,
            )
        if self.scheduler is None:
            return  # not built yet: run() sees `stopping` and does not start it
        try:
            self.scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass  # not started yet: _on_started or run() sees `stopping`

    def reload(self) -> None:
        """Read the site definitions again and bring the jobs in line with them."""
        with self._reloading:
            self._reload()

    def _reload(self) -> None:
        assert self.scheduler is not None
        try:
            sites = self.load_sites()
        except SiteConfigError as exc:
            logger.error(
                "SIGHUP: site definitions not reloaded, the schedule is unchanged: %s", exc
            )
            return
        specs = job_specs(sites.values())
        stored = {job.id: job.name for job in self.scheduler.get_jobs()}
        plan = plan_jobs(specs, stored)
        # Replaced whole: a crawl starting meanwhile sees the old or the new sites.
        self.sites = sites
        for job_id in plan.remove:
            try:
                self.scheduler.remove_job(job_id)
                logger.info("job %s removed: its site or spider is no longer scheduled", job_id)
            except JobLookupError:
                pass
        now = utcnow()
        for spec in plan.add:
            self._add_job(self.scheduler, spec, now)
        logger.info(
            "SIGHUP: site definitions reloaded: %d jobs (%d added or changed, %d removed, "
            "%d unchanged)",
            len(specs),
            len(plan.add),
            len(plan.remove),
            len(plan.keep),
        )
        self.warn_if_idle(specs)

    # ------------------------------------------------------------------ crawls

    def crawl(self, site_name: str, spider: str) -> None:
        """One scheduled crawl, run to its end by the supervisor (a job thread)."""
        self.supervisor.crawl(site_name, spider, lambda name: self.sites.get(name))


def add_job(
    scheduler: BlockingScheduler, spec: JobSpec, next_run_time: datetime, now: datetime
) -> None:
    """The job of a site and spider, replacing one of the same id, logged."""
    scheduler.add_job(
        run_scheduled_crawl,
        trigger=spec.trigger(),
        args=[spec.site, spec.spider],
        id=spec.id,
        name=spec.signature,
        replace_existing=True,
        next_run_time=next_run_time,
        misfire_grace_time=spec.misfire_grace_time(now),
        coalesce=True,
        max_instances=1,
    )
    logger.info(
        "job %s: %s, timeout %s, misfire grace %s",
        spec.id,
        spec.describe(),
        format_duration(spec.timeout),
        format_duration(spec.misfire_grace_time(now)),
    )


def check_distributed() -> None:
    """With ``NEWSCRAWL_REDIS_URL`` set the daemon enqueues crawls: the
    ``distributed`` extra must be installed and Redis must answer."""
    from crawler.scheduling.redis_queue import reachable, redis_url, require_extra

    url = redis_url()
    if url:
        require_extra()
        reachable(url)


def refuse(message: str, status: int, log_file: Path | None) -> int:
    """The daemon does not start: the reason logged, and on stderr too when the
    log goes to a file (whoever started the daemon sees it at once)."""
    logger.error("%s", message)
    if log_file is not None:
        print(f"newscrawl: {message}", file=sys.stderr)
    return status


def warn_idle(reason: str, log_file: Path | None) -> None:
    """Say loudly that the daemon has no job, and why: a warning logged, and
    on stderr too when the log goes to a file."""
    message = (
        f"no jobs: {reason}; the daemon runs idle until the site definitions change "
        "(SIGHUP reloads them)"
    )
    logger.warning("%s", message)
    if log_file is not None:
        print(f"newscrawl: warning: {message}", file=sys.stderr)


def run_daemon(options: DaemonOptions) -> int:
    daemon = None
    try:
        daemon = Daemon(options)
        return daemon.run()
    except MetricsUnavailable as exc:
        return refuse(str(exc), 1, options.log_file)
    except SiteConfigError as exc:
        return refuse(str(exc), CONFIG_ERROR_EXIT, options.log_file)
    except DistributedUnavailable as exc:
        return refuse(str(exc), exc.status, options.log_file)
    except SQLAlchemyError as exc:
        from crawler.storage.spool import short_error

        message = f"cannot use the database {safe_url(options.db_url)}: {short_error(exc)}"
        return refuse(message, 1, options.log_file)
    finally:
        if daemon is not None:
            daemon.metrics.stop()
