"""Shared fixtures: the demo site served on 127.0.0.1, a site-definition folder
pointing at it, a temporary SQLite archive, and a way to crawl for real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler.cli import demo_site_definition
from crawler.demo_site import DemoSiteServer
from crawler.runner import PROJECT_ROOT, crawl_env
from crawler.storage.database import get_engine


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSiteServer]:
    with DemoSiteServer("127.0.0.1", 0) as server:
        yield server


@pytest.fixture
def sites_dir(tmp_path: Path, demo_site: DemoSiteServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user sites folder whose ``demo`` points at the test's demo server."""
    folder = tmp_path / "sites"
    folder.mkdir()
    demo_site_definition(folder, demo_site.url + "/")
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    return folder


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    monkeypatch.setenv("NEWSCRAWL_DATABASE_URL", url)
    return url


class Archive:
    """Plain SQL over the test database, as a user would query it."""

    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)

    def rows(self, sql: str, **params: object) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params).mappings()]

    def scalar(self, sql: str, **params: object) -> object:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()


@pytest.fixture
def archive(database_url: str) -> Archive:
    return Archive(database_url)


def scrapy_crawl(spider: str, *args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    """``scrapy crawl SPIDER ARGS`` in a child process, as a user would type it."""
    env = crawl_env(os.environ["NEWSCRAWL_DATABASE_URL"])
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", spider, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
