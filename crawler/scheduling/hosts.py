"""The daemon's crawl hosts: long-lived processes that each run many crawls
(:mod:`crawler.scheduling.host`), started, fed, watched and replaced here.

- A crawl goes to an idle host, else to a new one while fewer than ``size``
  run (the crawls spread over the CPUs), else to the host running the
  fewest. A host that is full (``per_host`` crawls at once) gets none; when
  every host is full the crawl waits for a place.
- A host is *recycled*: after ``host_crawls`` crawls, or once its memory has
  grown by more than ``rss_growth_mb`` since its first beat, it takes no new
  crawl, finishes its running ones and exits; another is started for the
  next crawl.
- A host whose beats stop for ``beat_timeout`` seconds (its reactor is
  blocked by a crawl stuck in a callback) is killed with its process group;
  its crawls end as the daemon's supervisor decides
  (:mod:`crawler.scheduling.supervisor`).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from crawler.scheduling.host import HOST_LOG_FILE_ENV, HOST_SETTINGS_ENV
from crawler.scheduling.runner import crawl_env, describe_exit
from crawler.storage.locks import utcnow

logger = logging.getLogger("newscrawl.daemon")

HOSTS_ENV = "NEWSCRAWL_CRAWL_HOSTS"
HOST_CRAWLS_ENV = "NEWSCRAWL_HOST_CRAWLS"
HOST_RSS_GROWTH_ENV = "NEWSCRAWL_HOST_RSS_GROWTH_MB"
HOST_BEAT_TIMEOUT_ENV = "NEWSCRAWL_HOST_BEAT_TIMEOUT"
DEFAULT_HOST_CRAWLS = 500
DEFAULT_RSS_GROWTH_MB = 300.0
# A host's reactor that has not beaten for this long is blocked: killed.
DEFAULT_BEAT_TIMEOUT = 60.0
# How long a new host may take to start (imports, the database) before the
# daemon gives up on it: a loaded machine can take seconds.
START_TIMEOUT = 120.0
# How long a host told to exit, with no crawl left, has before SIGKILL.
EXIT_WAIT = 10.0


def env_whole_number(name: str, minimum: int) -> int | None:
    """The whole number in the environment variable ``name``, None when it is
    unset or empty; ValueError for anything else than a whole number of at
    least ``minimum``."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


def default_hosts() -> int:
    """``NEWSCRAWL_CRAWL_HOSTS``, else one host per CPU (0: a process per
    crawl); ValueError for a value that is not a whole number of at least 0."""
    number = env_whole_number(HOSTS_ENV, 0)
    return max(os.cpu_count() or 1, 1) if number is None else number


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"{name} must be more than 0, got {value}")
    return number


@dataclass(frozen=True)
class HostLimits:
    """When a crawl host is replaced: after ``crawls`` crawls, after growing
    by ``rss_growth_mb``, or after ``beat_timeout`` seconds without a beat."""

    crawls: int = DEFAULT_HOST_CRAWLS
    rss_growth_mb: float = DEFAULT_RSS_GROWTH_MB
    beat_timeout: float = DEFAULT_BEAT_TIMEOUT

    @classmethod
    def from_env(cls) -> HostLimits:
        """``NEWSCRAWL_HOST_CRAWLS``, ``NEWSCRAWL_HOST_RSS_GROWTH_MB`` and
        ``NEWSCRAWL_HOST_BEAT_TIMEOUT``, else the defaults; ValueError for a
        value that is not a whole number of at least 1 (crawls) or a number
        above 0 (the others). The commands read them with their other options,
        so a bad value is one line before anything starts."""
        return cls(
            env_whole_number(HOST_CRAWLS_ENV, 1) or DEFAULT_HOST_CRAWLS,
            _env_number(HOST_RSS_GROWTH_ENV, DEFAULT_RSS_GROWTH_MB),
            _env_number(HOST_BEAT_TIMEOUT_ENV, DEFAULT_BEAT_TIMEOUT),
        )


class HostUnavailable(Exception):
    """No crawl host runs and none could be started."""


@dataclass
class HostedCrawl:
    """A crawl handed to a host, as the daemon follows it."""

    id: str
    site: str
    spider: str
    host: CrawlHost
    launched_at: datetime
    done: threading.Event = field(default_factory=threading.Event)
    run_id: int | None = None
    refused: str | None = None  # lease, config, database, exiting
    error: str | None = None
    host_died: bool = False
    timed_out: bool = False
    stop_reason: str | None = None  # the daemon's stop

    in_host = True

    @property
    def pid(self) -> int:
        return self.host.proc.pid

    def died(self) -> str:
        """How the crawl ended without closing its run."""
        if self.host_died:
            how = describe_exit(self.host.proc.returncode)
            if self.host.killed_for:
                how += f" ({self.host.killed_for})"
            return f"its {self.host.describe()} {how}"
        if self.refused:
            return f"it did not start ({self.refused}: {self.error})"
        return f"the crawl ended in its {self.host.describe()} ({self.error or 'no run row'})"


class CrawlHost:
    """One host process and what the daemon knows of it."""

    def __init__(self, number: int, proc: subprocess.Popen[bytes], pool: HostPool) -> None:
        self.number = number
        self.proc = proc
        self.pool = pool
        self.crawls: dict[str, HostedCrawl] = {}
        self.started = 0  # crawls handed to it
        self.draining = False
        self.dead = False
        self.ready = False  # it said so: its beats are watched from then on
        self.killed_for: str | None = None
        self.last_beat = time.monotonic()
        self.first_rss: float | None = None
        self.rss = 0.0
        self._write = threading.Lock()
        self.reader = threading.Thread(target=self._read, name=f"crawl-host-{number}", daemon=True)

    def describe(self) -> str:
        return f"crawl host {self.number} (pid {self.proc.pid})"

    def send(self, order: dict[str, Any]) -> bool:
        data = (json.dumps(order) + "\n").encode()
        with self._write:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
                return True
            except (OSError, ValueError):  # gone; its reader sees the end
                return False

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                self.pool._on_event(self, event)
        self.proc.wait()
        self.pool._on_exit(self)

    def kill(self, reason: str) -> None:
        """SIGKILL the host's process group (its extraction processes too)."""
        if self.killed_for is None:
            self.killed_for = reason
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class HostPool:
    """The daemon's crawl hosts."""

    def __init__(
        self,
        db_url: str,
        size: int,
        per_host: int,
        settings: dict[str, str],
        log_file: Path | None,
        *,
        limits: HostLimits | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.url = db_url
        self.size = size
        self.per_host = max(per_host, 1)
        self.settings = settings
        self.log_file = log_file
        limits = limits or HostLimits.from_env()
        self.host_crawls = limits.crawls
        self.rss_growth_mb = limits.rss_growth_mb
        self.beat_timeout = limits.beat_timeout
        self.stopping = stopping or threading.Event()
        self.hosts: list[CrawlHost] = []
        self.closed = False
        self._numbers = itertools.count(1)
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._watch = threading.Thread(target=self._watchdog, name="host-watch", daemon=True)
        self._watch.start()

    # ------------------------------------------------------------------ crawls

    def submit(
        self,
        site: str,
        spider: str,
        site_file: str | None,
        settings: dict[str, str],
        arguments: dict[str, str] | None = None,
    ) -> HostedCrawl | None:
        """Hand a crawl to a host (waiting for a place when all are full);
        None once the pool is closed."""
        with self._lock:
            while True:
                if self.closed or self.stopping.is_set():
                    return None
                host = self._choose()
                if host is not None:
                    break
                if not any(not h.dead for h in self.hosts):
                    raise HostUnavailable("no crawl host could be started")
                self._lock.wait(0.5)
            crawl = HostedCrawl(str(next(self._ids)), site, spider, host, utcnow())
            host.crawls[crawl.id] = crawl
            host.started += 1
            if host.started >= self.host_crawls:
                self._drain(host, f"it has run {host.started} crawls")
        sent = host.send(
            {
                "op": "start",
                "id": crawl.id,
                "site": site,
                "site_file": site_file,
                "spider": spider,
                "arguments": arguments or {},
                "settings": settings,
            }
        )
        if not sent:
            self._end_with_host(host, crawl)
        return crawl

    def _choose(self) -> CrawlHost | None:
        """An idle host, else a new one while there are fewer than ``size``
        (the crawls spread over the CPUs), else the least busy with room."""
        live = [h for h in self.hosts if not h.dead and not h.draining]
        room = [h for h in live if len(h.crawls) < self.per_host]
        if any(not h.crawls for h in room):
            return min(room, key=lambda h: len(h.crawls))
        if len(live) < self.size:
            return self._start_host()
        if room:
            return min(room, key=lambda h: len(h.crawls))
        return None

    def _start_host(self) -> CrawlHost | None:
        number = next(self._numbers)
        env = crawl_env(self.url)
        env[HOST_SETTINGS_ENV] = json.dumps(self.settings)
        if self.log_file is not None:  # reopened by the host when rotated
            env[HOST_LOG_FILE_ENV] = str(self.log_file)
        output: IO[Any] | None = open(self.log_file, "ab") if self.log_file else None
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "crawler.scheduling.host"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=output,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            logger.error("could not start a crawl host: %s", exc)
            return None
        finally:
            if output is not None:
                output.close()
        host = CrawlHost(number, proc, self)
        self.hosts.append(host)
        host.reader.start()
        logger.info("%s started", host.describe())
        return host

    def stop(self, crawl: HostedCrawl) -> None:
        """Close one crawl, as a SIGTERM closes a crawl process."""
        crawl.host.send({"op": "stop", "id": crawl.id})

    def running(self) -> list[HostedCrawl]:
        with self._lock:
            return [c for h in self.hosts for c in h.crawls.values()]

    # ------------------------------------------------------------------ events

    def _on_event(self, host: CrawlHost, event: dict[str, Any]) -> None:
        kind = event.get("ev")
        host.last_beat = time.monotonic()
        host.ready = True
        if kind == "beat":
            host.rss = float(event.get("rss_mb") or 0.0)
            if host.first_rss is None:
                host.first_rss = host.rss
            with self._lock:
                for cid, info in (event.get("crawls") or {}).items():
                    crawl = host.crawls.get(cid)
                    if crawl is not None and info.get("run") is not None:
                        crawl.run_id = int(info["run"])
                grown = host.rss - (host.first_rss or host.rss)
                if grown > self.rss_growth_mb and not host.draining:
                    self._drain(host, f"its memory grew by {grown:.0f} MB to {host.rss:.0f} MB")
        elif kind == "ended":
            with self._lock:
                crawl = host.crawls.pop(str(event.get("id")), None)
                self._lock.notify_all()
            if crawl is None:
                return
            if event.get("run") is not None:
                crawl.run_id = int(event["run"])
            crawl.refused = event.get("refused")
            crawl.error = event.get("error")
            crawl.done.set()
            self._exit_if_drained(host)

    def _on_exit(self, host: CrawlHost) -> None:
        with self._lock:
            host.dead = True
            left = list(host.crawls.values())
            host.crawls.clear()
            if host in self.hosts:
                self.hosts.remove(host)
            self._lock.notify_all()
        if left or host.killed_for:
            logger.warning(
                "%s %s%s%s",
                host.describe(),
                describe_exit(host.proc.returncode),
                f" ({host.killed_for})" if host.killed_for else "",
                f" during {len(left)} crawl(s): " + ", ".join(f"{c.site}/{c.spider}" for c in left)
                if left
                else "",
            )
        else:
            logger.info("%s exited", host.describe())
        for crawl in left:
            crawl.host_died = True
            crawl.done.set()

    def _end_with_host(self, host: CrawlHost, crawl: HostedCrawl) -> None:
        with self._lock:
            host.crawls.pop(crawl.id, None)
        crawl.host_died = True
        crawl.done.set()

    # ------------------------------------------------------------------ recycling

    def _drain(self, host: CrawlHost, why: str) -> None:
        """No new crawl for this host; it exits when its crawls are over."""
        host.draining = True
        logger.info(
            "%s takes no new crawl, %s: it exits after its running crawls", host.describe(), why
        )
        self._exit_if_drained(host)

    def _exit_if_drained(self, host: CrawlHost) -> None:
        if host.draining and not host.crawls and not host.dead:
            host.send({"op": "exit"})

    def _watchdog(self) -> None:
        while not self.closed:
            time.sleep(1.0)
            now = time.monotonic()
            for host in list(self.hosts):
                silent = now - host.last_beat
                allowed = self.beat_timeout if host.ready else max(self.beat_timeout, START_TIMEOUT)
                if not host.dead and silent > allowed and host.killed_for is None:
                    logger.warning(
                        "%s has not answered for %.0f s (a crawl blocks it): killing it",
                        host.describe(),
                        silent,
                    )
                    host.kill(f"no answer for {silent:.0f} s")

    # ------------------------------------------------------------------ the end

    def close(self, wait: float = EXIT_WAIT) -> None:
        """Every host told to exit once its crawls end; SIGKILL to those still
        there after ``wait`` seconds."""
        with self._lock:
            self.closed = True
            hosts = list(self.hosts)
            self._lock.notify_all()
        for host in hosts:
            host.draining = True
            host.send({"op": "exit"})
        deadline = time.monotonic() + wait
        for host in hosts:
            try:
                host.proc.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                host.kill("it did not exit when the daemon stopped")
                host.proc.wait()
            host.reader.join(timeout=5)
