"""The daemon, run for real by the tests: ``newscrawl daemon`` in a
subprocess with its log in a file, the site definitions it schedules, and
waiting for conditions with a generous deadline (never a timed assertion).

The ``daemons`` fixture (tests/conftest.py) starts them and cleans up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from crawler.scheduling.runner import PROJECT_ROOT
from crawler.sites.definitions import BUNDLED_SITES_DIR
from support.archive import Archive

WAIT = 45.0  # seconds any one condition may take before the test fails


def wait_for(
    condition: Callable[[], object], what: str, daemon: Daemon | None = None, wait: float = WAIT
) -> object:
    """``condition()``'s first true value, polled until ``wait`` seconds have
    passed (then the test fails, with the daemon's log)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if daemon is not None and daemon.proc.poll() is not None:
            break
        time.sleep(0.2)
    log = daemon.log_text()[-4000:] if daemon is not None else ""
    pytest.fail(f"timed out waiting for: {what}\n--- daemon log ---\n{log}")


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Daemon:
    """``newscrawl daemon`` in a subprocess, logging to a file."""

    count = 0

    def __init__(self, tmp_path: Path, db_url: str, sites_dir: Path, *args: str) -> None:
        Daemon.count += 1
        self.log = tmp_path / f"daemon-{Daemon.count}.log"
        self.output = tmp_path / f"daemon-{Daemon.count}.out"
        env = dict(os.environ, NEWSCRAWL_SITES_DIR=str(sites_dir))
        env.pop("NEWSCRAWL_MAX_CRAWLS", None)
        env.pop("NEWSCRAWL_CRAWL_HOSTS", None)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "crawler.cli", "daemon",
                    "--database", db_url,
                    "--log-file", str(self.log),
                    "--set", "AUTOTHROTTLE_START_DELAY=0",
                    "--set", "RETRY_TIMES=0",
                    *args,
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log_text(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text + self.output.read_text(errors="replace")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 90) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout)

    def kill_all(self) -> None:
        """SIGKILL the daemon and its crawl processes, as a crash would."""
        children = children_of(self.proc.pid)
        self.proc.kill()
        self.proc.wait(timeout=10)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children:  # reparented to init, which reaps them
            while os.path.exists(f"/proc/{pid}") and "Z" not in _state(pid):
                time.sleep(0.05)

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.kill_all()


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "X"
    return stat[stat.rfind(")") + 2 :].split()[0]


def newscrawl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def with_sites(folder: Path) -> dict[str, str]:
    return dict(os.environ, NEWSCRAWL_SITES_DIR=str(folder))


class LocalSite:
    """A site served on 127.0.0.1 from a thread while a test runs (``with``):
    :meth:`handler` gives the request handler class; ``closing`` is set when
    the test is over, for handlers that wait on it."""

    def __init__(self) -> None:
        self.closing = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def __enter__(self):  # noqa: ANN204 - the subclass
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def write_site(folder: Path, data: dict) -> Path:
    path = folder / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def demo_definition(
    folder: Path, base_url: str, name: str = "demo", start_url: str | None = None, **schedule
) -> Path:
    """The bundled demo definition pointing at ``base_url``, one listing page
    deep, on its own schedule."""
    data = yaml.safe_load((BUNDLED_SITES_DIR / "demo.yaml").read_text())
    data.update(name=name, base_url=base_url, schedule=schedule)
    data["listing"]["max_pages"] = 1
    if start_url is not None:
        data["listing"]["start_urls"] = [start_url]
    return write_site(folder, data)


def simple_site(name: str, base_url: str, path: str, **schedule) -> dict:
    return {
        "name": name,
        "base_url": base_url,
        "listing": {"start_urls": [path], "max_pages": 1},
        "article": {"body": "p"},
        "schedule": schedule,
    }


def silence_bundled_sites(folder: Path) -> None:
    """Bundled sites other than demo (real sites on the internet) get no job."""
    for path in sorted(BUNDLED_SITES_DIR.glob("*.yaml")):
        if path.stem == "demo":
            continue
        data = yaml.safe_load(path.read_text())
        data["schedule"] = {
            "articles": {"every": "1h", "enabled": False},
            "top_stories": {"every": "1h", "enabled": False},
        }
        write_site(folder, data)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runs(archive: Archive, site: str | None = None, status: str | None = None) -> list[dict]:
    sql = "select * from crawl_runs where 1=1"
    if site:
        sql += " and site = :site"
    if status:
        sql += " and status = :status"
    return archive.rows(sql + " order by id", site=site, status=status)
