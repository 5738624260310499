"""Crawls in child processes, as a user would start them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crawler.scheduling.runner import PROJECT_ROOT, crawl_env


def scrapy_crawl(spider: str, *args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    """``scrapy crawl SPIDER ARGS`` in a child process, as a user would type it,
    into the database of ``NEWSCRAWL_DATABASE_URL``."""
    env = crawl_env(os.environ["NEWSCRAWL_DATABASE_URL"])
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", spider, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def newscrawl_cli(*args: str, text: bool = True) -> subprocess.CompletedProcess:
    """``newscrawl ARGS`` in a child process, as a user would type it (output
    as text, or as bytes with ``text=False``)."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=text,
        timeout=300,
    )
