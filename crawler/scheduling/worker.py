"""``newscrawl worker``: one process of a distributed crawl.

It watches the shared Redis frontier and, for every site and spider with
work waiting (a seed from the daemon or ``newscrawl enqueue``, or queued
requests), runs ``scrapy crawl SPIDER -a site=SITE -a worker=true`` as a child
process. The child takes requests from the shared queue until there has been
nothing to do for ``NEWSCRAWL_WORKER_IDLE_SECONDS``, and records its share of
the crawl as a ``crawl_runs`` row (trigger ``worker``). Start as many workers
as you like, on any machines that reach Redis and the database.

Redis going away while a worker runs is logged once (and its return once);
the worker keeps polling, and its running crawls carry on with what they have.

With a metrics port (``newscrawl worker``'s default is 9411), the worker
serves ``/metrics`` and ``/healthz`` (:mod:`crawler.scheduling.endpoint`):
the runs its crawls record are counted as they end, as the daemon counts its own.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from datetime import datetime
from typing import Any

from crawler.scheduling.endpoint import DEFAULT_METRICS_HOST, Endpoint
from crawler.scheduling.hosts import HostedCrawl, HostLimits, HostPool, HostUnavailable
from crawler.scheduling.logs import crawl_log_settings
from crawler.scheduling.redis_queue import one_line, pending, shown_url
from crawler.scheduling.runner import crawl_command, crawl_env
from crawler.sites.definitions import load_sites
from crawler.storage.database import database_url, ensure_schema, get_engine
from crawler.storage.locks import end_runs_of_process, this_host, utcnow
from crawler.storage.status import runs_of_process

logger = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        redis_url: str,
        db_url: str | None = None,
        site: str | None = None,
        max_crawls: int = 2,
        poll_seconds: float = 1.0,
        settings: dict[str, str] | None = None,
        metrics_port: int = 0,  # the command line's default is 9411; 0: no endpoint
        metrics_host: str = DEFAULT_METRICS_HOST,
        crawl_hosts: int = 0,
        host_limits: HostLimits | None = None,  # None: HostLimits.from_env()
    ) -> None:
        self.redis_url = redis_url
        self.db_url = database_url(db_url)
        self.site = site
        self.max_crawls = max_crawls
        self.poll_seconds = poll_seconds
        self.settings = settings or {}
        # Each crawl a process of its own, or in crawl hosts (crawler/scheduling/hosts.py).
        self.children: dict[tuple[str, str], subprocess.Popen[bytes] | HostedCrawl] = {}
        self.pool = (
            HostPool(
                self.db_url,
                crawl_hosts,
                per_host=-(-max_crawls // crawl_hosts),
                settings={"NEWSCRAWL_RUN_TRIGGER": "worker", **self.settings},
                log_file=None,
                limits=host_limits,
            )
            if crawl_hosts
            else None
        )
        self.launched_at: dict[tuple[str, str], datetime] = {}
        self.engine = get_engine(self.db_url)
        self.metrics = Endpoint(metrics_host, metrics_port, self.engine, self.db_url, self.settings)
        self.site_files: dict[str, str] = {}  # site name -> its definition file
        self.stopping = False
        self.redis_down = False  # the last poll could not reach Redis
        self.name = f"{socket.gethostname()}:{os.getpid()}"  # recorded in crawl_runs.arguments

    def targets(self) -> list[tuple[str, str]]:
        sites = load_sites()
        chosen = [sites[self.site]] if self.site else list(sites.values())
        # Each crawl reads its own site's file alone (crawler.sites.definitions.get_site).
        self.site_files = {s.name: s.source_file for s in chosen}
        return [(s.name, spider) for s in chosen for spider in s.spiders]

    def stop(self, *_: Any) -> None:
        self.stopping = True

    def run(self) -> int:
        """Crawl until SIGTERM or SIGINT; :class:`MetricsUnavailable` (before
        anything starts) when the metrics port cannot be had."""
        ensure_schema(self.db_url)
        targets = self.targets()
        self.metrics.serve_worker(self)
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.metrics.track(dict.fromkeys(targets))
        logger.info("worker watching %d site/spider queues", len(targets))
        try:
            while not self.stopping:
                self.reap()
                self.poll(targets)
                time.sleep(self.poll_seconds)
            for child in self.children.values():
                if isinstance(child, HostedCrawl):
                    self.pool.stop(child)  # type: ignore[union-attr]
                else:
                    child.send_signal(signal.SIGTERM)  # Scrapy closes the crawl as `shutdown`
            for child in self.children.values():
                if isinstance(child, HostedCrawl):
                    child.done.wait()
                else:
                    child.wait()
            self.reap()
        finally:
            if self.pool is not None:
                self.pool.close()
            self.metrics.stop()
        return 0

    def poll(self, targets: list[tuple[str, str]]) -> None:
        """Start a crawl for each target with work waiting, while slots are free."""
        import redis

        try:
            for target in targets:
                if target in self.children or len(self.children) >= self.max_crawls:
                    continue
                if pending(self.redis_url, *target):
                    self.launch(*target)
        except redis.RedisError as exc:
            if not self.redis_down:
                logger.error(
                    "cannot reach Redis at %s: %s; trying again every %gs",
                    shown_url(self.redis_url),
                    one_line(exc),
                    self.poll_seconds,
                )
            self.redis_down = True
            return
        if self.redis_down:
            logger.info("Redis at %s answers again", shown_url(self.redis_url))
            self.redis_down = False

    def launch(self, site: str, spider: str) -> None:
        settings = {
            "NEWSCRAWL_RUN_TRIGGER": "worker",
            **crawl_log_settings(site, spider),  # the worker's own log format
            **self.settings,
        }
        command = crawl_command(site, spider, {"worker": self.name}, settings)
        logger.info("crawling %s/%s from the shared queue", site, spider)
        self.launched_at[(site, spider)] = utcnow()
        if self.pool is not None:
            try:
                crawl = self.pool.submit(
                    site, spider, self.site_files.get(site), settings, {"worker": self.name}
                )
            except HostUnavailable as exc:
                logger.error("%s/%s: %s: crawling it in a process of its own", site, spider, exc)
            else:
                if crawl is not None:
                    self.children[(site, spider)] = crawl
                return
        env = crawl_env(self.db_url, self.site_files.get(site))
        self.children[(site, spider)] = subprocess.Popen(command, env=env)

    def reap(self) -> None:
        for target, child in list(self.children.items()):
            if isinstance(child, HostedCrawl):
                if not child.done.is_set():
                    continue
                logger.info("%s/%s crawl ended in %s", *target, child.host.describe())
                if child.host_died:
                    self.close_runs(target, child)
            elif child.poll() is not None:
                logger.info("%s/%s crawl ended with status %s", *target, child.returncode)
            else:
                continue
            del self.children[target]
            self.ended(
                target, child.pid, self.launched_at.pop(target), isinstance(child, HostedCrawl)
            )

    def close_runs(self, target: tuple[str, str], crawl: HostedCrawl) -> None:
        """The crawl's host died under it: its run is closed ``failed``; what
        it had queued stays in the shared queue for the next crawl."""
        reason = f"{crawl.died()} without finishing its run"
        logger.warning("%s/%s: %s", *target, reason)
        try:
            end_runs_of_process(
                self.engine, this_host(), crawl.pid, crawl.launched_at, "failed", reason,
                site_spider=target,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the database is away: closed as orphans later
            logger.warning("could not close the run of %s/%s: %s", *target, exc)

    def ended(
        self, target: tuple[str, str], pid: int, launched_at: datetime, hosted: bool = False
    ) -> None:
        """A crawl ended: its runs into the metrics. A crawl host runs many
        crawls, one per site and spider at a time: a hosted crawl's runs are
        its pid's and its site and spider's."""
        if not self.metrics.enabled:
            return
        try:
            runs = runs_of_process(
                self.engine, this_host(), pid, launched_at, target if hosted else None
            )
        except Exception as exc:  # noqa: BLE001 - the database is away: the metric waits
            logger.warning("metrics: could not read the runs of %s/%s: %s", *target, exc)
            runs = []
        self.metrics.crawl_ended(*target, runs)
