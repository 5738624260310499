"""The HTTP endpoint of ``newscrawl daemon`` and ``newscrawl worker``:
``GET /metrics`` (Prometheus's text format, by prometheus_client, from the
process's own registry: :mod:`crawler.scheduling.metrics`) and ``GET
/healthz`` (200 when healthy, 503 with the reason otherwise), on a wsgiref
server thread, 127.0.0.1:9410 for the daemon and :9411 for a worker by
default (``--metrics-port``, ``--metrics-host``, or ``NEWSCRAWL_METRICS_PORT``
and ``NEWSCRAWL_METRICS_HOST``; port 0: no endpoint at all).

- :class:`Endpoint`: what the daemon and the worker hold: the registry, the
  crawl metrics, the spool depth, and once started the server.
- :class:`Health`: the answer of ``/healthz``. The process's own state is read
  at once; the database (and Redis) are asked in a thread, one probe at a
  time, and a probe that does not answer within :data:`HEALTH_TIMEOUT`
  seconds is an unhealthy answer: a hung database never hangs the endpoint.
- :class:`MetricsServer`: the server; a port it cannot listen on is
  :class:`MetricsUnavailable`, one line for the user.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app

from crawler.scheduling.jobs import JobSpec, job_specs
from crawler.scheduling.metrics import CrawlMetrics, Pair, SpoolDepth, StateCollector, spool_root
from crawler.storage.database import ping
from crawler.storage.locks import lease_holder
from crawler.storage.spool import short_error

METRICS_PORT_ENV = "NEWSCRAWL_METRICS_PORT"
METRICS_HOST_ENV = "NEWSCRAWL_METRICS_HOST"
DAEMON_METRICS_PORT = 9410
WORKER_METRICS_PORT = 9411
DEFAULT_METRICS_HOST = "127.0.0.1"
HEALTH_TIMEOUT = 5.0  # seconds /healthz waits for the database (and Redis)

Probe = Callable[[], str | None]  # None when all is well, else why not
State = Callable[[], Iterable[tuple[str, str, float]]]


class MetricsUnavailable(Exception):
    """The endpoint cannot listen where it was asked to; one line for the user."""


def metrics_port(given: int | None, default: int) -> int:
    """``--metrics-port``, else ``NEWSCRAWL_METRICS_PORT``, else the
    command's default; ValueError for a value that is not a port."""
    if given is None:
        value = os.environ.get(METRICS_PORT_ENV, "").strip()
        if not value:
            return default
        try:
            given = int(value)
        except ValueError:
            raise ValueError(f"{METRICS_PORT_ENV} must be a port number, got {value!r}") from None
        what = METRICS_PORT_ENV
    else:
        what = "--metrics-port"
    if not 0 <= given <= 65535:
        raise ValueError(f"{what} must be a port from 1 to 65535, or 0 for none; got {given}")
    return given


def metrics_host(given: str | None) -> str:
    """``--metrics-host``, else ``NEWSCRAWL_METRICS_HOST``, else 127.0.0.1."""
    return given or os.environ.get(METRICS_HOST_ENV, "").strip() or DEFAULT_METRICS_HOST


# --------------------------------------------------------------------------- health


class _Probe:
    """One probe running in a thread of its own."""

    def __init__(self, probe: Probe) -> None:
        self.reason: str | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(probe,), name="health-probe", daemon=True).start()

    def _run(self, probe: Probe) -> None:
        try:
            self.reason = probe()
        except Exception as exc:  # noqa: BLE001 - any failure is an unhealthy answer
            self.reason = f"the health probe failed: {short_error(exc)}"
        finally:
            self.done.set()


class Health:
    """``/healthz``'s answer: None when healthy, else the reason. ``state``
    reads the process's own state, ``probe`` asks its database (and Redis);
    ``what`` names what the probe asks, for the timeout's message."""

    def __init__(
        self, state: Probe, probe: Probe, what: str, timeout: float = HEALTH_TIMEOUT
    ) -> None:
        self.state = state
        self.probe = probe
        self.what = what
        self.timeout = timeout
        self._lock = threading.Lock()
        self._probe: _Probe | None = None

    def __call__(self) -> str | None:
        reason = self.state()
        if reason is not None:
            return reason
        with self._lock:
            if self._probe is None or self._probe.done.is_set():
                self._probe = _Probe(self.probe)  # else: join the one still waiting
            probe = self._probe
        if probe.done.wait(self.timeout):
            return probe.reason
        return f"{self.what} did not answer within {self.timeout:g}s"


def daemon_health(engine: Any, stopping: threading.Event, renewer: Any) -> Health:
    """The daemon is healthy while it holds its lease (its renewer has not
    lost it, it is not stopping, and the lease's row in the database still
    names it: reading that row is the database's probe)."""

    def state() -> str | None:
        if renewer.lost:
            return "the daemon lost its lease to another daemon"
        if stopping.is_set():
            return "the daemon is stopping"
        return None

    def probe() -> str | None:
        lease = renewer.lease
        try:
            holder = lease_holder(engine, lease.site, lease.spider)
        except Exception as exc:  # noqa: BLE001 - the database's own error, in one line
            return f"the database does not answer: {short_error(exc)}"
        if holder is None or holder.owner != lease.owner:
            who = f" ({holder.describe()})" if holder is not None else ""
            return f"the daemon lease is no longer this daemon's{who}"
        return None

    return Health(state, probe, "the database")


def worker_health(engine: Any, redis_url: str, stopping: Callable[[], bool]) -> Health:
    """A worker is healthy while it is not stopping and Redis and its
    database answer."""
    from crawler.scheduling.redis_queue import DistributedUnavailable, reachable

    def state() -> str | None:
        return "the worker is stopping" if stopping() else None

    def probe() -> str | None:
        try:
            ping(engine)
        except Exception as exc:  # noqa: BLE001 - the database's own error, in one line
            return f"the database does not answer: {short_error(exc)}"
        try:
            reachable(redis_url)
        except DistributedUnavailable as exc:
            return str(exc)
        return None

    return Health(state, probe, "the database or Redis")


# --------------------------------------------------------------------------- server


def wsgi_app(registry: CollectorRegistry, health: Callable[[], str | None]) -> Callable:
    """``/metrics`` from the registry, ``/healthz`` from ``health``; 404 elsewhere."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            reason = health()
            status = "200 OK" if reason is None else "503 Service Unavailable"
            body = "ok\n" if reason is None else f"unhealthy: {reason}\n"
        else:
            status, body = "404 Not Found", "not found: see /metrics and /healthz\n"
        data = body.encode()
        start_response(
            status,
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
        )
        return [data]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # no line per scrape


def listen_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        why = f"port {port} is already in use"
    elif exc.errno == errno.EACCES:
        why = f"no permission to listen on port {port}"
    elif isinstance(exc, socket.gaierror):
        why = f"unknown host {host!r}"
    else:
        why = exc.strerror or str(exc)
    return (
        f"cannot serve metrics on {host}:{port}: {why} "
        "(--metrics-port PORT chooses another port, --metrics-port 0 turns it off)"
    )


class MetricsServer:
    """``app`` served on ``host:port`` from a thread of this process."""

    def __init__(self, host: str, port: int, app: Callable) -> None:
        server_class = _Server6 if ":" in host else _Server
        try:
            self._server = make_server(host, port, app, server_class, _QuietHandler)
        except OSError as exc:
            raise MetricsUnavailable(listen_error(host, port, exc)) from None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.5}, name="metrics"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


# --------------------------------------------------------------------------- endpoint


class Endpoint:
    """The metrics and health of one daemon or worker; with port 0, nothing:
    no server, no metric kept, no database read for them."""

    def __init__(
        self, host: str, port: int, engine: Any, db_url: str, settings: Mapping[str, str]
    ) -> None:
        self.host = host
        self.port = port
        self.enabled = port != 0
        self.registry = CollectorRegistry()
        self.crawls = CrawlMetrics(engine, self.registry)
        self.engine = engine
        self.server: MetricsServer | None = None
        self._lock = threading.Lock()
        self._daemon: Any = None  # the daemon served, whose sites are followed
        self._sites: Any = None  # its sites, as last tracked
        if self.enabled:
            self.registry.register(SpoolDepth(spool_root(settings), db_url))
            ProcessCollector(registry=self.registry)

    def track(self, pairs: Mapping[Pair, float | None]) -> None:
        """The sites and spiders of this process (see :meth:`CrawlMetrics.track`)."""
        if self.enabled:
            self.crawls.track(pairs)

    def track_jobs(self, specs: Iterable[JobSpec]) -> None:
        """The daemon's jobs, with their intervals."""
        self.track({(spec.site, spec.spider): spec.period() for spec in specs})

    def crawl_ended(self, site: str, spider: str, runs: list[dict[str, Any]]) -> None:
        """A crawl process ended, having recorded ``runs``: the supervisor's
        and the worker's hook."""
        if self.enabled:
            self.follow()
            self.crawls.crawl_ended(site, spider, runs)

    @classmethod
    def for_daemon(cls, options: Any, engine: Any, supervisor: Any) -> Endpoint:
        """The endpoint of a daemon (its ``DaemonOptions``), told of the end of
        each crawl its supervisor runs."""
        endpoint = cls(
            options.metrics_host,
            options.metrics_port,
            engine,
            options.db_url,
            options.crawl_settings,
        )
        supervisor.on_crawl_end = endpoint.crawl_ended
        return endpoint

    def serve(self, health: Health, state: State) -> None:
        """Listen; :class:`MetricsUnavailable` when the port cannot be had."""
        if not self.enabled:
            return
        from prometheus_client import disable_created_metrics

        disable_created_metrics()  # no *_created series beside each counter
        self.registry.register(StateCollector(state))
        self.server = MetricsServer(self.host, self.port, wsgi_app(self.registry, health))

    def serve_daemon(self, daemon: Any, renewer: Any) -> None:
        """The daemon's endpoint, once it holds its lease (``renewer``'s). The
        jobs of the daemon's sites are tracked now, and again when its sites
        change (a SIGHUP reload), seen at the next scrape or crawl's end."""
        if not self.enabled:
            return
        stopping = daemon.stopping

        def state() -> Iterator[tuple[str, str, float]]:
            self.follow()
            up = not stopping.is_set()
            yield ("newscrawl_daemon_up", "1 while the daemon schedules crawls", float(up))
            held = "1 while the daemon holds its lease (_daemon/scheduler in crawl_locks)"
            yield ("newscrawl_daemon_lease_held", held, float(not renewer.lost))
            running = float(daemon.supervisor.running())
            yield ("newscrawl_running_crawls", "Crawl processes running now", running)

        self.serve(daemon_health(self.engine, stopping, renewer), state)
        self._daemon = daemon
        self.follow()

    def follow(self) -> None:
        """Track the daemon's jobs again if its sites were replaced (the
        daemon replaces them whole)."""
        with self._lock:
            if self._daemon is None or self._daemon.sites is self._sites:
                return
            self._sites = self._daemon.sites
        self.track_jobs(job_specs(self._sites.values()))

    def serve_worker(self, worker: Any) -> None:
        """A worker's endpoint (its ``stopping``, ``redis_down`` and ``children``)."""

        def state() -> Iterator[tuple[str, str, float]]:
            yield ("newscrawl_worker_up", "1 until the worker stops", float(not worker.stopping))
            redis_up = "1 while the worker's last look at Redis got an answer"
            yield ("newscrawl_redis_up", redis_up, float(not worker.redis_down))
            running = len(worker.children)
            yield ("newscrawl_running_crawls", "Crawl processes running now", float(running))

        health = worker_health(self.engine, worker.redis_url, lambda: worker.stopping)
        self.serve(health, state)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
