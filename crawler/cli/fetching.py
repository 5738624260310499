"""Fetching pages for the commands that help write a site definition
(``sites new``, ``sites check``, ``sites fixture``, ``extract URL``) through
Scrapy, as a crawl fetches them: the project's User-Agent, robots.txt obeyed,
retries (``Retry-After`` heeded), timeouts and limits, and ``--set`` settings.

A :class:`PageFetcher` starts one Scrapy process (crawler/cli/fetch_process.py)
at its first page and asks it for one page at a time, so that each next URL
can depend on the last page; this process never installs a Twisted reactor.
The Scrapy process's log is kept in a temporary file, and its last line is
the error when that process ends unasked.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from crawler.extensions.parent_watch import PARENT_PID_ENV
from crawler.scheduling.runner import PROJECT_ROOT, SETTINGS_MODULE

# How long the Scrapy process may take to close once its input has ended (seconds).
CLOSE_WAIT = 30.0


class FetchError(Exception):
    """A page that could not be fetched (exit status 1)."""


class RobotsForbidden(FetchError):
    """A page the site's robots.txt disallows for newscrawl (exit status 1)."""


@dataclass
class Fetched:
    url: str  # where the request led (redirects followed)
    status: int
    content_type: str | None
    body: bytes


class PageFetcher:
    """Pages fetched one at a time by one Scrapy process, with ``settings``
    (Scrapy settings by name, as ``--set`` gives them) over the project's.
    Use it in a ``with`` block: the process ends with the block."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def __enter__(self) -> PageFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, robots: bool = False) -> Fetched:
        """The page at ``url``, whatever its status; ``robots=True`` for a
        robots.txt itself, which robots.txt rules never disallow.
        :class:`FetchError` for no page (an HTTP error status after the
        retries, a download error), :class:`RobotsForbidden` when the site's
        robots.txt disallows it."""
        process = self._start()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps({"url": url, "robots": robots}) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except OSError:
            line = ""
        if not line:
            raise FetchError(f"cannot fetch {url}: {self._ended()}")
        reply: dict[str, Any] = json.loads(line)
        if reply.get("forbidden"):
            raise RobotsForbidden(f"cannot fetch {url}: {reply['error']}")
        if "error" in reply:
            raise FetchError(f"cannot fetch {reply.get('url') or url}: {reply['error']}")
        return Fetched(
            reply["url"], reply["status"], reply["content_type"], base64.b64decode(reply["body"])
        )

    def _start(self) -> subprocess.Popen[str]:
        if self._process is not None:
            return self._process
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        env = dict(os.environ)
        env["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE
        env[PARENT_PID_ENV] = str(os.getpid())  # it stops if this process is killed
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        self._process = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli.fetch_process", json.dumps(self.settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            encoding="utf-8",
        )
        return self._process

    def _ended(self) -> str:
        """Why the Scrapy process answers no more: the last line of its log."""
        assert self._process is not None and self._log is not None
        try:
            status = self._process.wait(timeout=CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            status = None
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().splitlines() if line.strip()]
        last = lines[-1] if lines else "no message"
        return f"the Scrapy process ended (status {status}): {last}"

    def close(self) -> None:
        """End the Scrapy process: its input ends, and it closes as a crawl does."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
