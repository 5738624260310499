"""Running a crawl: ``scrapy crawl`` in its own process, its run row read back.

One process per crawl: memory is returned when it ends, a crash stays
contained, and the Twisted reactor is never restarted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from crawler.storage import queries
from crawler.storage.database import database_url, ensure_schema, get_engine

SETTINGS_MODULE = "settings.scrapy_settings"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CrawlResult:
    spider: str
    exit_code: int
    runs: list[Any]

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


def crawl_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE
    env["NEWSCRAWL_DATABASE_URL"] = db_url
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
) -> subprocess.Popen[bytes]:
    """Start one spider for one site in a child process and return at once.

    ``output`` receives the child's stdout and stderr (default: ours).
    ``own_session`` puts the child in a session and process group of its own,
    so a Ctrl-C in the terminal reaches only its parent, which decides when
    the child stops, and the parent can signal the child's whole group.
    """
    return subprocess.Popen(
        crawl_command(site, spider, arguments or {}, settings or {}),
        env=crawl_env(database_url(db_url)),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=own_session,
    )


def run_crawl(
    site: str,
    spider: str,
    arguments: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    db_url: str | None = None,
    timeout: float | None = None,
) -> CrawlResult:
    """Run one spider for one site in a child process and wait for it."""
    url = database_url(db_url)
    ensure_schema(url)
    engine = get_engine(url)
    before = queries.last_run_id(engine)
    proc = subprocess.run(
        crawl_command(site, spider, arguments or {}, settings or {}),
        env=crawl_env(url),
        timeout=timeout,
        check=False,
    )
    return CrawlResult(spider, proc.returncode, queries.runs_since(engine, before, site, spider))
