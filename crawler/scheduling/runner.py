"""Running a crawl: ``scrapy crawl`` in its own process, its run row read back.

One process per crawl: memory is returned when it ends, a crash stays
contained, and the Twisted reactor is never restarted.

A crawl process is never left running by the process that started it:
:func:`run_crawl` passes SIGINT and SIGTERM on to it and waits for it, and
every crawl process is told its parent's pid (:data:`PARENT_PID_ENV`) so it
stops by itself when that process is killed
(:mod:`crawler.extensions.parent_watch`).

Asked for it (``on_progress``), :func:`run_crawl` gives the child the write
end of a pipe, on which it reports its counts while it runs
(:mod:`crawler.extensions.progress`), and hands each report on while it
waits. Nothing else changes: the child's output is ours, as before.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

from crawler.extensions import PARENT_PID_ENV, PROGRESS_FD_SETTING
from crawler.sites.definitions import SITE_FILE_ENV
from crawler.storage import queries
from crawler.storage.database import database_url, ensure_schema, get_engine

SETTINGS_MODULE = "settings.scrapy_settings"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How often a crawl that reports its progress is checked for its end (seconds).
PROGRESS_POLL = 0.25

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass
class CrawlResult:
    spider: str
    exit_code: int
    runs: list[Any]
    stopped_by: int | None = None  # the signal (SIGINT, SIGTERM) that stopped the crawl

    @property
    def ok(self) -> bool:
        return (
            self.exit_code == 0
            and bool(self.runs)
            and all(r["status"] == "finished" for r in self.runs)
        )


def crawl_command(
    site: str, spider: str, arguments: dict[str, str], settings: dict[str, str]
) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"site={site}"]
    for key, value in arguments.items():
        cmd += ["-a", f"{key}={value}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def crawl_env(db_url: str, site_file: str | None = None) -> dict[str, str]:
    """The environment of a crawl process. ``site_file``: the file defining
    its site, which the crawl then reads alone (:data:`SITE_FILE_ENV`)."""
    env = dict(os.environ)
    env.pop(SITE_FILE_ENV, None)
    if site_file:
        env[SITE_FILE_ENV] = site_file
    env["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE
    env["NEWSCRAWL_DATABASE_URL"] = db_url
    # The crawl stops by itself if this process is killed (crawler.extensions.parent_watch).
    env[PARENT_PID_ENV] = str(os.getpid())
    # The project packages must import even when run from another folder.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


def start_crawl(
    site: str,
    spider: str,
    arguments: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    db_url: str | None = None,
    *,
    output: IO[Any] | None = None,
    own_session: bool = False,
    pass_fds: tuple[int, ...] = (),
    site_file: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start one spider for one site in a child process and return at once.

    ``output`` receives the child's stdout and stderr (default: ours).
    ``own_session`` puts the child in a session and process group of its own,
    so a Ctrl-C in the terminal reaches only its parent, which decides when
    the child stops, and the parent can signal the child's whole group.
    ``pass_fds``: descriptors the child inherits (the progress pipe).
    ``site_file``: the file defining the site, read alone by the child.
    """
    return subprocess.Popen(
        crawl_command(site, spider, arguments or {}, settings or {}),
        env=crawl_env(database_url(db_url), site_file),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=own_session,
        pass_fds=pass_fds,
    )


class ForwardedSignals:
    """While a child crawl runs, SIGINT and SIGTERM to this process are passed
    on to it, each one: Scrapy closes the crawl on the first (run
    ``interrupted``) and stops at once on the second.

    Installed only in the main thread (elsewhere signals cannot be caught);
    ``active`` says whether it is. The signals received are in ``received``.
    """

    def __init__(self) -> None:
        self.active = threading.current_thread() is threading.main_thread()
        self.received: list[int] = []
        self.child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> ForwardedSignals:
        if self.active:
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        for signum in self.received:  # arrived while the child was being started
            self._forward(signum)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.child is not None:
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        assert self.child is not None
        self.child.send_signal(signum)  # a no-op once it has ended


def run_crawl(
    site: str,
    spider: str,
    arguments: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    db_url: str | None = None,
    timeout: float | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    site_file: str | None = None,
) -> CrawlResult:
    """Run one spider for one site in a child process and wait for it.

    Called from the main thread, SIGINT and SIGTERM are passed on to the child
    (:class:`ForwardedSignals`), which runs in a process group of its own so
    that a Ctrl-C in the terminal reaches it once, through us. The result's
    ``stopped_by`` is the first such signal; a run the child could not close
    (stopped by a second signal) is closed as ``interrupted``.

    ``on_progress`` is called with each report of the child's counts
    (:mod:`crawler.extensions.progress`): when it opens, about twice a second,
    and when it closes. ``site_file``: the file defining the site, which the
    child reads alone (:data:`SITE_FILE_ENV`).
    """
    url = database_url(db_url)
    ensure_schema(url)
    engine = get_engine(url)
    before = queries.last_run_id(engine)
    with ForwardedSignals() as forwarded, ProgressPipe(on_progress) as pipe:
        if forwarded.received:
            return CrawlResult(spider, 128 + forwarded.received[0], [], forwarded.received[0])
        proc = start_crawl(
            site,
            spider,
            arguments,
            {**(settings or {}), **pipe.settings()},
            url,
            own_session=forwarded.active,
            pass_fds=pipe.child_fds(),
            site_file=site_file,
        )
        pipe.started()
        forwarded.attach(proc)
        try:
            exit_code = pipe.wait(proc, timeout)
        except BaseException:
            _kill(proc, forwarded.active)
            raise
    runs = queries.runs_since(engine, before, site, spider)
    stopped_by = forwarded.received[0] if forwarded.received else None
    if stopped_by is not None and any(r["status"] == "running" for r in runs):
        from crawler.storage.locks import close_orphaned_runs

        close_orphaned_runs(engine)
        runs = queries.runs_since(engine, before, site, spider)
    return CrawlResult(spider, exit_code, runs, stopped_by)


class ProgressPipe:
    """The pipe a child crawl reports its counts on, and reading them while
    waiting for it. Without a callback, no pipe: the child is waited for as
    any other."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.read_fd: int | None = None
        self.write_fd: int | None = None
        self.pending = b""

    def __enter__(self) -> ProgressPipe:
        if self.on_progress is not None:
            self.read_fd, self.write_fd = os.pipe()
            os.set_blocking(self.read_fd, False)
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in (self.read_fd, self.write_fd):
            if fd is not None:
                os.close(fd)
        self.read_fd = self.write_fd = None

    def settings(self) -> dict[str, str]:
        return {} if self.write_fd is None else {PROGRESS_FD_SETTING: str(self.write_fd)}

    def child_fds(self) -> tuple[int, ...]:
        return () if self.write_fd is None else (self.write_fd,)

    def started(self) -> None:
        """The child has its copy of the write end: ours is closed."""
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = None

    def wait(self, proc: subprocess.Popen[bytes], timeout: float | None) -> int:
        """The child's exit status, its reports handed on while it runs."""
        if self.read_fd is None:
            return proc.wait(timeout=timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        open_pipe = True
        while proc.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout or 0)
            if not open_pipe:  # the child closed it: nothing more to read
                return proc.wait(timeout=left)
            wait = PROGRESS_POLL if left is None else min(PROGRESS_POLL, left)
            if select.select([self.read_fd], [], [], wait)[0]:
                open_pipe = self.read()
        self.read()
        return proc.returncode

    def read(self) -> bool:
        """Hand on every complete report waiting; False once the pipe is closed."""
        assert self.read_fd is not None and self.on_progress is not None
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            *lines, self.pending = (self.pending + chunk).split(b"\n")
            for line in lines:
                try:
                    report = json.loads(line)
                except ValueError:
                    continue
                if isinstance(report, dict):
                    self.on_progress(report)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


def _kill(proc: subprocess.Popen[bytes], group: bool) -> None:
    """SIGKILL the child (and its extraction processes, in its group) and reap it."""
    try:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
