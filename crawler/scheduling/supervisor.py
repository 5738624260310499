"""The crawls of ``newscrawl daemon`` (:mod:`crawler.scheduling.daemon`):
starting each scheduled crawl, ending it at its timeout, stopping them all
when the daemon stops, and recording how each one ended.

- A crawl runs in a crawl host (:class:`HostedCrawls`, with the pool of
  :mod:`crawler.scheduling.hosts`): waited for at most the site's
  ``schedule.timeout``, then closed by its host; ``kill_after`` seconds
  later its host is killed. A crawl whose host dies under it is run again at
  once as a process of its own.
- Without hosts (``--crawl-hosts 0``), and for those runs again, a crawl is
  a child process (:func:`crawler.scheduling.runner.start_crawl`) in its own
  process group, waited for at most the site's ``schedule.timeout``: then
  SIGTERM to its group, then, ``kill_after`` seconds later, SIGKILL. With a
  shared Redis queue (:mod:`crawler.scheduling.distributed`) the crawl is
  enqueued for the workers instead.
- The child records its own ``crawl_runs`` row; when it cannot (killed, timed
  out, crashed) the row is closed here as ``timeout``, ``interrupted`` or
  ``failed`` (:func:`crawler.storage.locks.end_runs_of_process`), and each
  run's end is logged with its counts, or with the line ``after_run`` gives
  for it (the daemon's back-off, :mod:`crawler.scheduling.backoff`: a
  failed run's streak and next try).
- On the daemon's stop: no new crawls; running ones get ``grace`` seconds,
  then SIGTERM, then SIGKILL; more stop signals skip the waits.

It logs as ``newscrawl.daemon``: its lines are the daemon's.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from crawler.exceptions import CONFIG_ERROR_EXIT, LEASE_HELD_EXIT
from crawler.scheduling.hosts import HostedCrawl, HostPool, HostUnavailable
from crawler.scheduling.jobs import format_duration
from crawler.scheduling.logs import crawl_log_settings
from crawler.scheduling.runner import describe_exit, start_crawl
from crawler.sites.definitions import Site
from crawler.storage.locks import end_runs_of_process, lease_holder, utcnow
from crawler.storage.status import runs_of_process

logger = logging.getLogger("newscrawl.daemon")

# How long the job threads get to record the ends of the crawls stopped at
# the daemon's stop, and SIGKILLed crawls to be reaped.
REAP_WAIT = 30.0

# Called with each run a crawl ended (after it was closed); returns the run's
# log line, or None for the usual one.
AfterRun = Callable[[dict[str, Any]], str | None]


@dataclass
class Child:
    """A running crawl process."""

    proc: subprocess.Popen[bytes]
    site: str
    spider: str
    launched_at: datetime
    timed_out: bool = False
    stop_reason: str | None = None  # set when the daemon stops it on shutdown
    signalled: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def refused(self) -> str | None:
        """Why the crawl did not start: ``lease``, ``config``, or None."""
        return {LEASE_HELD_EXIT: "lease", CONFIG_ERROR_EXIT: "config"}.get(
            self.proc.returncode or 0
        )

    def died(self) -> str:
        """How the process ended, for a run it could not close."""
        return f"the crawl process {describe_exit(self.proc.returncode)}"

    in_host = False


def _ignore(*_: Any) -> None:
    pass


def format_counts(run: dict[str, Any]) -> str:
    return (
        f"pages {run['pages_fetched']}, new {run['articles_new']}, "
        f"updated {run['articles_updated']}, unchanged {run['articles_unchanged']}, "
        f"rejected {run['items_rejected']}, top-story snapshots {run['top_story_snapshots']}, "
        f"errors {run['errors']}"
    )


class Supervisor:
    """The daemon's running crawls, each waited for by the job thread that
    started it (:meth:`crawl`); :meth:`stop_all` ends them at the daemon's stop.

    ``stopping`` is the daemon's: once set, no crawl starts.
    """

    def __init__(
        self,
        engine: Engine,
        db_url: str,
        host: str,
        stopping: threading.Event,
        *,
        kill_after: float,
        log_file: Path | None,
        crawl_settings: dict[str, str],
        after_run: AfterRun | None = None,
        pool: HostPool | None = None,
    ) -> None:
        self.engine = engine
        self.url = db_url
        self.host = host
        self.stopping = stopping
        self.kill_after = kill_after
        self.log_file = log_file
        self.crawl_settings = crawl_settings
        self.after_run = after_run
        self.children: dict[int, Child] = {}
        # The crawl hosts (None: a process per crawl), the crawls on them, and
        # the sites crawled in processes of their own after they took a host down.
        self.pool = pool
        self.in_hosts = HostedCrawls(self, pool) if pool is not None else None
        self.hosted: dict[str, HostedCrawl] = {}
        self.solo: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0  # crawl() calls under way, children or not
        # Told of each crawl's end with the runs it recorded (the daemon's metrics).
        self.on_crawl_end: Callable[[str, str, list[dict[str, Any]]], None] = _ignore

    # ------------------------------------------------------------------ crawls

    def crawl(self, site_name: str, spider: str, site_of: Callable[[str], Site | None]) -> None:
        """One crawl of ``spider`` for the site (looked up with ``site_of``),
        to its end: called by a job thread."""
        with self._lock:
            if self.stopping.is_set():
                logger.info("%s/%s: not started, the daemon is stopping", site_name, spider)
                return
            site = site_of(site_name)
            self._active += 1
        try:
            if site is None:
                logger.warning(
                    "%s/%s: not started, the site is no longer configured", site_name, spider
                )
                return
            self._crawl(site, spider)
        finally:
            with self._lock:
                self._active -= 1
                self._idle.notify_all()

    def _crawl(self, site: Site, spider: str) -> None:
        from crawler.scheduling.redis_queue import redis_url

        if shared := redis_url():
            enqueue(shared, site, spider)
            self.on_crawl_end(site.name, spider, [])  # the workers record the runs
            return
        if self.in_hosts is not None and site.name not in self.solo:
            self.in_hosts.run(site, spider)
        else:
            self._crawl_in_process(site, spider)

    def running(self) -> int:
        """The crawls running now, in processes of their own and in hosts."""
        with self._lock:
            return len(self.children) + len(self.hosted)

    def _crawl_in_process(self, site: Site, spider: str) -> Child | None:
        """The crawl as a ``scrapy crawl`` process of its own, to its end."""
        timeout = site.schedule.timeout
        child = self._start(site, spider)
        if child is None:
            return None
        logger.info(
            "%s/%s: crawl started (pid %d, timeout %s)",
            site.name,
            spider,
            child.proc.pid,
            format_duration(timeout),
        )
        try:
            self._wait(child, timeout)
        finally:
            with self._lock:
                self.children.pop(child.proc.pid, None)
        try:
            runs = record_end(self.engine, self.host, child, timeout, self.after_run)
        except Exception:
            logger.exception("%s/%s: could not record the end of the crawl", site.name, spider)
            return child
        self.on_crawl_end(site.name, spider, runs)
        return child

    def _start(self, site: Site, spider: str) -> Child | None:
        """The crawl's child process, started; None when the daemon is stopping."""
        launched_at = utcnow()
        with self._lock:
            # Checked again under the lock: a crawl starts before the stop
            # sequence looks at the children, or not at all.
            if self.stopping.is_set():
                return None
            output = open(self.log_file, "ab") if self.log_file else None
            try:
                proc = start_crawl(
                    site.name,
                    spider,
                    settings={**self.crawl_settings, **crawl_log_settings(site.name, spider)},
                    db_url=self.url,
                    output=output,
                    own_session=True,
                    site_file=site.source_file,
                )
            finally:
                if output is not None:
                    output.close()  # the child has its own descriptor
            child = Child(proc, site.name, spider, launched_at)
            self.children[proc.pid] = child
        return child

    def _wait(self, child: Child, timeout: float) -> None:
        """Wait for the child to end; past ``timeout``, stop it."""
        try:
            child.proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            pass
        if not self._time_out(child):  # the stop sequence is already ending it
            child.proc.wait()
            return
        logger.warning(
            "%s/%s: still running after %s (schedule.timeout): stopping it (SIGTERM to pid %d)",
            child.site,
            child.spider,
            format_duration(timeout),
            child.proc.pid,
        )
        self._signal(child, signal.SIGTERM)
        try:
            child.proc.wait(timeout=self.kill_after)
            return
        except subprocess.TimeoutExpired:
            pass
        logger.warning(
            "%s/%s: did not stop within %s of SIGTERM: killing it (SIGKILL)",
            child.site,
            child.spider,
            format_duration(self.kill_after),
        )
        self._signal(child, signal.SIGKILL)
        child.proc.wait()

    def _time_out(self, child: Child | HostedCrawl) -> bool:
        """A crawl past its timeout is marked timed out, unless the daemon's
        stop sequence is already ending it (False)."""
        with self._lock:
            child.timed_out = child.stop_reason is None
        return child.timed_out

    @staticmethod
    def _signal(child: Child, signum: int) -> None:
        if child.proc.returncode is not None:
            return
        child.signalled.add(signum)
        try:
            os.killpg(child.proc.pid, signum)  # the child leads its own process group
        except ProcessLookupError:
            pass

    # ------------------------------------------------------------------ stopping

    def stop_all(self, grace: float, signals: Callable[[], int]) -> None:
        """The daemon's stop: wait ``grace`` seconds for the running crawls,
        then SIGTERM them, then SIGKILL; ``signals()`` counts the stop signals
        received, each one more skips a wait."""
        with self._lock:
            running = len(self.children)
        if running:
            logger.info(
                "waiting up to %s for %d running crawl(s) to finish",
                format_duration(grace),
                running,
            )
        self._wait_idle(grace, signals, signals_before_skip=1)
        reason = f"the daemon stopped and the crawl did not finish within {format_duration(grace)}"
        for signum, wait, word in (
            (signal.SIGTERM, self.kill_after, "stopping"),
            (signal.SIGKILL, REAP_WAIT, "killing"),
        ):
            children = self._mark_stopped(reason)
            if not children:
                break
            logger.warning(
                "%s %d crawl(s) (%s): %s",
                word,
                len(children),
                signal.Signals(signum).name,
                ", ".join(f"{c.site}/{c.spider} pid {c.pid}" for c in children),
            )
            for child in children:
                if isinstance(child, HostedCrawl):
                    assert self.in_hosts is not None
                    self.in_hosts.stop(child, signum)
                else:
                    self._signal(child, signum)
            skip_after = 2 if signum == signal.SIGTERM else 99
            self._wait_idle(wait, signals, signals_before_skip=skip_after)
        self._wait_idle(REAP_WAIT, signals, signals_before_skip=99)  # the ends are recorded
        if self.pool is not None:
            self.pool.close()

    def _mark_stopped(self, reason: str) -> list[Child | HostedCrawl]:
        """The running crawls, each given the stop's reason (unless it
        already timed out)."""
        with self._lock:
            children: list[Child | HostedCrawl] = [*self.children.values(), *self.hosted.values()]
            for child in children:
                if child.stop_reason is None and not child.timed_out:
                    child.stop_reason = reason
        return children

    def _wait_idle(
        self, seconds: float, signals: Callable[[], int], signals_before_skip: int
    ) -> None:
        """Wait until no crawl runs, ``seconds`` pass, or more signals come."""
        deadline = time.monotonic() + seconds
        with self._idle:
            while (
                self._active or self.children or self.hosted
            ) and signals() <= signals_before_skip:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._idle.wait(min(remaining, 0.2))


class HostedCrawls:
    """The supervisor's crawls in crawl hosts (:mod:`crawler.scheduling.hosts`):
    each run to its end, stopped at its timeout, and run again in a process
    of its own when its host dies under it."""

    def __init__(self, supervisor: Supervisor, pool: HostPool) -> None:
        self.s = supervisor
        self.pool = pool

    def run(self, site: Site, spider: str) -> None:
        """The crawl in a crawl host, to its end. When the host dies under it
        (another crawl on it crashed or blocked it, or this one did), the
        crawl is run again at once in a process of its own, where it can
        harm no other; a site whose crawl then dies or hangs there too is
        crawled that way from then on."""
        try:
            crawl = self.pool.submit(site.name, spider, site.source_file, self.s.crawl_settings)
        except HostUnavailable as exc:
            logger.error("%s/%s: %s: crawling it in a process of its own", site.name, spider, exc)
            self.s._crawl_in_process(site, spider)
            return
        if crawl is None:
            logger.info("%s/%s: not started, the daemon is stopping", site.name, spider)
            return
        with self.s._lock:
            self.s.hosted[crawl.id] = crawl
            if self.s.stopping.is_set():  # the stop sequence may have looked already
                crawl.stop_reason = "the daemon stopped"
                self.pool.stop(crawl)
        logger.info(
            "%s/%s: crawl started in %s (timeout %s)",
            site.name,
            spider,
            crawl.host.describe(),
            format_duration(site.schedule.timeout),
        )
        try:
            self._wait(crawl, site.schedule.timeout)
        finally:
            with self.s._lock:
                self.s.hosted.pop(crawl.id, None)
                self.s._idle.notify_all()
        try:
            runs = record_end(
                self.s.engine, self.s.host, crawl, site.schedule.timeout, self.s.after_run
            )
        except Exception:
            logger.exception("%s/%s: could not record the end of the crawl", site.name, spider)
            return
        self.s.on_crawl_end(site.name, spider, runs)
        if crawl.host_died and not crawl.timed_out and crawl.stop_reason is None:
            self._again_alone(site, spider)

    def _again_alone(self, site: Site, spider: str) -> None:
        if self.s.stopping.is_set():
            return
        logger.warning(
            "%s/%s: its crawl host died during the crawl: "
            "crawling it again in a process of its own",
            site.name,
            spider,
        )
        child = self.s._crawl_in_process(site, spider)
        if child is None:
            return
        code = child.proc.returncode
        if child.timed_out or (code is not None and code < 0 and child.stop_reason is None):
            with self.s._lock:
                self.s.solo.add(site.name)
            logger.warning(
                "%s: its crawl %s in a process of its own too: the site is crawled in processes "
                "of its own from now on, away from the crawl hosts (until the daemon restarts)",
                site.name,
                "timed out" if child.timed_out else describe_exit(code),
            )

    def _wait(self, crawl: HostedCrawl, timeout: float) -> None:
        """Wait for a hosted crawl to end; past ``timeout``, stop it; past
        ``kill_after`` more, kill its host (its other crawls are run again)."""
        if crawl.done.wait(timeout):
            return
        if not self.s._time_out(crawl):  # the stop sequence is already ending it
            crawl.done.wait()
            return
        logger.warning(
            "%s/%s: still running after %s (schedule.timeout): stopping it",
            crawl.site,
            crawl.spider,
            format_duration(timeout),
        )
        self.pool.stop(crawl)
        if crawl.done.wait(self.s.kill_after):
            return
        others = len(crawl.host.crawls) - 1
        logger.warning(
            "%s/%s: did not stop within %s: killing its %s and with it %d other crawl(s)",
            crawl.site,
            crawl.spider,
            format_duration(self.s.kill_after),
            crawl.host.describe(),
            max(others, 0),
        )
        crawl.host.kill(f"{crawl.site}/{crawl.spider} did not stop after its timeout")
        crawl.done.wait()

    def stop(self, crawl: HostedCrawl, signum: int) -> None:
        """SIGTERM: the crawl closed as a SIGTERM closes a crawl process;
        SIGKILL: its host killed."""
        if signum == signal.SIGKILL:
            crawl.host.kill("the daemon stopped and its crawls did not close")
        else:
            self.pool.stop(crawl)


def enqueue(url: str, site: Site, spider: str) -> None:
    """One scheduler, many workers: the crawl goes to the shared queue. When
    Redis does not answer, that run is missed (one line logged)."""
    import redis

    from crawler.scheduling.redis_queue import enqueue_crawl, one_line, shown_url

    try:
        enqueue_crawl(url, site.name, spider)
    except redis.RedisError as exc:
        logger.error(
            "%s/%s: crawl not enqueued, cannot reach Redis at %s: %s",
            site.name,
            spider,
            shown_url(url),
            one_line(exc),
        )
        return
    logger.info("%s/%s: crawl enqueued for the workers", site.name, spider)


# ---------------------------------------------------------------------- ends


def record_end(
    engine: Engine,
    host: str,
    child: Child | HostedCrawl,
    timeout: float,
    after_run: AfterRun | None = None,
) -> list[dict[str, Any]]:
    """Close the runs the crawl left open, and log how each run ended (or
    why there is none); the runs, as recorded. A crawl process's runs are
    its pid's; a crawl host runs many crawls, one per site and spider at a
    time (the lease), so a hosted crawl's are its site and spider's too."""
    _close_runs(engine, host, child, timeout)
    runs = runs_of_process(engine, host, child.pid, child.launched_at, _site_spider(child))
    for run in runs:
        _log_run(run, after_run(run) if after_run is not None else None)
    if not runs:
        _log_no_run(engine, child)
    return runs


def _site_spider(child: Child | HostedCrawl) -> tuple[str, str] | None:
    return (child.site, child.spider) if child.in_host else None


def _close_runs(engine: Engine, host: str, child: Child | HostedCrawl, timeout: float) -> None:
    """The crawl's runs still open: ``timeout`` when it timed out,
    ``interrupted`` when the daemon's stop ended it, else ``failed``."""
    if child.timed_out:
        status, reason = (
            "timeout",
            f"timeout: still running after {format_duration(timeout)} (schedule.timeout); "
            "stopped by the daemon",
        )
        from_statuses: tuple[str, ...] = ("running", "interrupted")
    elif child.stop_reason is not None:
        status, reason = "interrupted", f"interrupted: {child.stop_reason}"
        from_statuses = ("running", "interrupted")
    else:
        status, reason = "failed", f"{child.died()} without finishing its run"
        from_statuses = ("running",)
    end_runs_of_process(
        engine,
        host,
        child.pid,
        child.launched_at,
        status,
        reason,
        from_statuses=from_statuses,
        site_spider=_site_spider(child),
    )


def run_line(run: dict[str, Any]) -> str:
    """``run 41 demo/articles finished (finished) in 2.1s: pages 12, ...``:
    how a run ended, with its counts."""
    took = (run["finished_at"] - run["started_at"]).total_seconds()
    return (
        f"run {run['id']} {run['site']}/{run['spider']} {run['status']} "
        f"({run['finish_reason']}) in {format_duration(round(took, 1))}: {format_counts(run)}"
    )


def _log_run(run: dict[str, Any], line: str | None = None) -> None:
    level = logging.INFO if run["status"] == "finished" else logging.WARNING
    logger.log(level, "%s", line if line is not None else run_line(run))


def _log_no_run(engine: Engine, child: Child | HostedCrawl) -> None:
    """Why a crawl recorded no run: the lease held by another process, an
    invalid site definition, or a crash."""
    if child.refused == "lease":
        holder = lease_holder(engine, child.site, child.spider)
        logger.warning(
            "%s/%s: skipped, another process is crawling it (%s)",
            child.site,
            child.spider,
            holder.describe() if holder else "it has finished since",
        )
    elif child.refused == "config":
        logger.error(
            "%s/%s: not crawled, its site definition is invalid or gone (see the message above)",
            child.site,
            child.spider,
        )
    else:
        logger.error("%s/%s: %s before recording a run", child.site, child.spider, child.died())
