"""What ``newscrawl daemon`` and ``newscrawl worker`` measure, as Prometheus
metrics in a registry of their own (never prometheus_client's global one);
served by :mod:`crawler.scheduling.endpoint`.

- :class:`CrawlMetrics`: counters and the duration histogram grow from each
  run row as a crawl process ends (the supervisor's and the worker's hook);
  the gauges of each site and spider are read from the database by the
  functions ``newscrawl status`` reads (:mod:`crawler.storage.status`), for
  every scheduled site and spider at start-up and on a reload (so a restarted
  daemon tells true values at once), and again after each of its crawls.
- :class:`SpoolDepth`: the items waiting in the spool, counted on each scrape.
- :class:`StateCollector`: gauges of the process's own state, read on each scrape.

Labels are bounded: site, spider, run status, field and column names, never
a URL. The metrics and their meaning are listed in docs/daemon.md ("Metrics
and health").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from crawler.extraction.health import HEALTH_FIELDS, warning_field
from crawler.storage.runs import RunRows
from crawler.storage.spool import items_waiting, short_error, spool_dir, spool_files
from crawler.storage.status import (
    LAST_RUN_COLUMNS,
    consecutive_failures,
    last_run,
    last_success,
)

logger = logging.getLogger("newscrawl.metrics")

Pair = tuple[str, str]  # (site, spider)

# Crawls take from a second (nothing new) to hours (a backfill).
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
# The statuses a run ends with (docs/daemon.md, "Run statuses").
END_STATUSES = ("finished", "failed", "timeout", "interrupted")


class CrawlMetrics:
    """The crawl metrics of one process, labelled by site and spider."""

    def __init__(self, engine: Any, registry: CollectorRegistry) -> None:
        self.engine = engine
        self._lock = threading.Lock()  # one refresh at a time; the tracked pairs
        self._tracked: set[Pair] = set()
        pair = ["site", "spider"]

        def counter(name: str, doc: str, labels: list[str] = pair) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def gauge(name: str, doc: str, labels: list[str] = pair) -> Gauge:
            return Gauge(name, doc, labels, registry=registry)

        self.crawls = counter(
            "newscrawl_crawls", "Crawls ended, by the status of their run", [*pair, "status"]
        )
        self.pages = counter("newscrawl_pages_fetched", "Pages fetched by the crawls ended")
        self.new = counter("newscrawl_articles_new", "Articles stored for the first time")
        self.updated = counter("newscrawl_articles_updated", "Articles stored as a new version")
        self.rejected = counter("newscrawl_items_rejected", "Items refused (rejected_items rows)")
        self.warnings = counter(
            "newscrawl_extraction_health_warnings",
            "Extraction-health warnings of the runs ended: a field's fill rate collapsed",
            ["site", "field"],
        )
        self.duration = Histogram(
            "newscrawl_crawl_duration_seconds",
            "How long the crawls ended ran, from their runs' start to end",
            pair,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.last_success = gauge(
            "newscrawl_last_success_timestamp_seconds",
            "When the latest successful run ended, in seconds since the epoch",
        )
        self.failures = gauge(
            "newscrawl_consecutive_failures", "Failed and timed-out runs since the last success"
        )
        self.last_run = gauge(
            "newscrawl_last_run",
            "A count of the latest run (its crawl_runs column)",
            [*pair, "column"],
        )
        self.fill_rate = gauge(
            "newscrawl_field_fill_rate",
            "Share of the articles of the latest run with articles in which the field was found",
            [*pair, "field"],
        )
        self.interval = gauge(
            "newscrawl_schedule_interval_seconds",
            "Seconds between two scheduled runs (for a cron schedule, its next two times)",
        )

    # ------------------------------------------------------------------ pairs

    def track(self, pairs: Mapping[Pair, float | None]) -> threading.Thread:
        """Watch these sites and spiders (with their schedule's interval, or
        None): the gauges of pairs no longer watched go, the new ones start at
        zero, and every pair's gauges are read from the database in a
        background thread (returned)."""
        with self._lock:
            for gone in self._tracked - set(pairs):
                self._forget(gone)
            self._tracked = set(pairs)
            for pair, interval in pairs.items():
                self._start_at_zero(pair)
                if interval is None:
                    self.interval.remove(*pair)
                else:
                    self.interval.labels(*pair).set(interval)
        thread = threading.Thread(
            target=self._refresh_all, args=(sorted(pairs),), name="metrics-refresh", daemon=True
        )
        thread.start()
        return thread

    def _start_at_zero(self, pair: Pair) -> None:
        """Series that exist before the first crawl, so that ``increase()``
        sees the first one."""
        for status in END_STATUSES:
            self.crawls.labels(*pair, status)
        for metric in (self.pages, self.new, self.updated, self.rejected, self.duration):
            metric.labels(*pair)
        for field in HEALTH_FIELDS:
            self.warnings.labels(pair[0], field)

    def _forget(self, pair: Pair) -> None:
        for metric in (self.last_success, self.failures, self.interval):
            metric.remove(*pair)
        for column in LAST_RUN_COLUMNS:
            self.last_run.remove(*pair, column)
        for field in HEALTH_FIELDS:
            self.fill_rate.remove(*pair, field)

    def _refresh_all(self, pairs: list[Pair]) -> None:
        for pair in pairs:
            try:
                self.refresh(*pair)
            except Exception as exc:
                logger.warning(
                    "metrics: could not read the runs of %s/%s: %s", *pair, short_error(exc)
                )
                return  # the database does not answer: the next crawl tries again

    def refresh(self, site: str, spider: str) -> None:
        """The pair's gauges, from the database, by the functions ``newscrawl
        status`` reads."""
        pair = (site, spider)
        with self._lock:
            if pair not in self._tracked:
                return
            success = last_success(self.engine, site, spider)
            if success is None:
                self.last_success.remove(*pair)
            else:
                self.last_success.labels(*pair).set(success.timestamp())
            self.failures.labels(*pair).set(consecutive_failures(self.engine, site, spider))
            last = last_run(self.engine, site, spider)
            if last is not None and last["status"] != "running":
                for column in LAST_RUN_COLUMNS:
                    self.last_run.labels(*pair, column).set(last[column] or 0)
            rates = RunRows(self.engine).recent_fill_rates(site, spider, limit=1)
            for field in HEALTH_FIELDS:
                rate = rates[0].get(field) if rates else None
                if rate is None:
                    self.fill_rate.remove(*pair, field)
                else:
                    self.fill_rate.labels(*pair, field).set(rate)

    # ------------------------------------------------------------------ runs

    def crawl_ended(self, site: str, spider: str, runs: list[dict[str, Any]]) -> None:
        """A crawl process of the pair ended, having recorded ``runs``: count
        them, and read the pair's gauges again. Never raises: a metric does
        not fail a crawl."""
        try:
            for run in runs:
                self.count(run)
            self.refresh(site, spider)
        except Exception as exc:
            logger.warning(
                "metrics of %s/%s not updated: %s", site, spider, short_error(exc), exc_info=True
            )

    def count(self, run: dict[str, Any]) -> None:
        """One ended run (a ``crawl_runs`` row) into the counters."""
        if run["status"] == "running":
            return
        pair = (run["site"], run["spider"])
        self.crawls.labels(*pair, run["status"]).inc()
        self.pages.labels(*pair).inc(run["pages_fetched"] or 0)
        self.new.labels(*pair).inc(run["articles_new"] or 0)
        self.updated.labels(*pair).inc(run["articles_updated"] or 0)
        self.rejected.labels(*pair).inc(run["items_rejected"] or 0)
        if run["finished_at"] is not None and run["started_at"] is not None:
            took = (run["finished_at"] - run["started_at"]).total_seconds()
            self.duration.labels(*pair).observe(max(took, 0.0))
        fields = {warning_field(w) for w in run.get("health_warnings") or ()}
        for field in sorted(f for f in fields if f is not None):
            self.warnings.labels(run["site"], field).inc()


class SpoolDepth:
    """Collector: the items the crawls of this database keep in the spool,
    waiting to be written, counted on each scrape. A file is read again only
    when it (or its count of records written) changed."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.root = root
        self.db_url = db_url
        self._counted: dict[Path, tuple[tuple[int, ...], int]] = {}

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counted: dict[Path, tuple[tuple[int, ...], int]] = {}
        try:
            paths = spool_files(self.root, self.db_url)
        except OSError as exc:  # an unreadable folder: the other metrics still answer
            logger.warning("metrics: cannot read the spool folder %s: %s", self.root, exc)
            paths = []
        for path in paths:
            stamp = _stamp(path)
            if stamp is None:
                continue  # written and removed meanwhile
            before = self._counted.get(path)
            items = before[1] if before and before[0] == stamp else items_waiting(path)
            counted[path] = (stamp, items)
        self._counted = counted
        yield GaugeMetricFamily(
            "newscrawl_spool_items",
            "Scraped items kept in the spool while the database was unreachable, not written yet",
            value=sum(items for _, items in counted.values()),
        )
        yield GaugeMetricFamily(
            "newscrawl_spool_files", "Spool files holding them", value=len(counted)
        )


def _stamp(path: Path) -> tuple[int, ...] | None:
    """What changes when a spool file is appended to or partly written."""
    try:
        stat = path.stat()
    except OSError:
        return None
    try:
        done = path.with_name(path.name + ".done").stat().st_mtime_ns
    except OSError:
        done = 0
    return (stat.st_size, stat.st_mtime_ns, done, stat.st_ino)


class StateCollector:
    """Collector: gauges of the process's own state (``(name, help, value)``
    from ``read``), read on each scrape."""

    def __init__(self, read: Callable[[], Iterable[tuple[str, str, float]]]) -> None:
        self.read = read

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, doc, value in self.read():
            yield GaugeMetricFamily(name, doc, value=value)


def spool_root(settings: Mapping[str, str]) -> Path:
    """The spool folder of the crawls started with these Scrapy settings."""
    return spool_dir(settings.get("NEWSCRAWL_SPOOL_DIR"))
