"""Shared fixtures: the demo site served on 127.0.0.1, a site-definition folder
pointing at it, a temporary SQLite archive, PostgreSQL and Redis. Helpers
that tests import live in ``support/``.

End-to-end tests carry the ``e2e`` mark (``make test-fast`` leaves them out):
a test that uses one of ``E2E_FIXTURES`` (servers, real crawls, PostgreSQL,
Redis) gets it here; a module whose tests all start processes or servers
says ``pytestmark = pytest.mark.e2e``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.archive import (
    Archive,
    CrawledArchive,
    build_archive,
    search_template_name,
    shared_archive,
)
from support.daemons import Daemon
from support.sites import ScriptedSite, host

from crawler.cli.demo_site import DemoSiteServer
from crawler.cli.main import demo_site_definition
from crawler.storage.store import Store

# Fixtures that start a server or reach PostgreSQL or Redis: a test using any
# of them (directly or through another fixture) is end-to-end.
E2E_FIXTURES = frozenset(
    {
        "demo_site",
        "crawled_archive",
        "sites_dir",
        "site",
        "postgres_admin",
        "postgres_url",
        "redis_url",
    }
)


# The packages of newscrawl, as pyproject.toml lists them.
PACKAGES = ("crawler", "pipelines", "settings", "migrations")


def pytest_configure(config: pytest.Config) -> None:
    """Crawls started by the tests write their logs into a temporary folder,
    not into the user's ~/.local/state/newscrawl/logs; the daemons and
    workers they start serve no metrics unless a test asks (parallel tests
    would all want the default port).

    The run (not each xdist worker) compiles newscrawl's modules first, as
    pip does for installed packages: the tests start hundreds of Python
    processes from this folder, and where PYTHONDONTWRITEBYTECODE is set none
    of them would keep its bytecode, so each would compile newscrawl again
    (a tenth of a CPU-second per crawl). Already compiled modules are left as
    they are."""
    import compileall
    import tempfile

    from crawler.scheduling.runner import PROJECT_ROOT

    os.environ.setdefault("NEWSCRAWL_LOG_DIR", tempfile.mkdtemp(prefix="newscrawl-test-logs-"))
    os.environ.setdefault("NEWSCRAWL_METRICS_PORT", "0")
    # Captures of crawls on PostgreSQL would go to archive/ in the working folder.
    os.environ.setdefault(
        "NEWSCRAWL_ARCHIVE_DIR", tempfile.mkdtemp(prefix="newscrawl-test-archive-")
    )
    if not hasattr(config, "workerinput"):
        for package in PACKAGES:
            compileall.compile_dir(PROJECT_ROOT / package, quiet=2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        if E2E_FIXTURES.intersection(fixtures) or params.get("any_database_url") == "postgresql":
            item.add_marker(pytest.mark.e2e)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller of an xdist run, once every worker has ended, drops
    that template database."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    name = search_template_name(session.config._tmp_path_factory.getbasetemp())
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
    except Exception:  # noqa: BLE001 - no server: nothing was created
        pass
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSiteServer]:
    with DemoSiteServer("127.0.0.1", 0) as server:
        yield server


@pytest.fixture(scope="session")
def crawled_archive(
    tmp_path_factory: pytest.TempPathFactory, demo_site: DemoSiteServer, worker_id: str
) -> CrawledArchive:
    """The SQLite archive of support/archive.py, built by real crawls once per
    test run (under xdist, by the first worker that needs it, the others
    reading a copy) and shared by the query and search tests."""
    folder = tmp_path_factory.mktemp("archive")
    if worker_id == "master":  # no xdist
        return build_archive(f"sqlite:///{folder / 'archive.db'}", folder, demo_site)
    shared = tmp_path_factory.getbasetemp().parent / "crawled-archive"

    def copy() -> str:
        for part in shared.glob("archive.db*"):  # with any -wal and -shm file
            shutil.copy(part, folder / part.name)
        return f"sqlite:///{folder / 'archive.db'}"

    return shared_archive(shared, demo_site, lambda: f"sqlite:///{shared / 'archive.db'}", copy)


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


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start ``newscrawl daemon`` processes (``support.daemons.Daemon``) on a
    database and a sites folder; each is killed, with its crawls, at the end."""
    started: list[Daemon] = []

    def start(db_url: str, sites_dir: Path, *args: str) -> Daemon:
        Store.open(db_url)  # the schema exists before the test polls it
        daemon = Daemon(tmp_path, db_url, sites_dir, *args)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.cleanup()


# PostgreSQL: a real server, a fresh database per test. Where none is reachable
# the tests are skipped with how to start one; under CI (CI=true) they fail.
POSTGRES_ADMIN_URL = os.environ.get(
    "NEWSCRAWL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
START_POSTGRES = (
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start "
    "(or set NEWSCRAWL_TEST_POSTGRES_URL to a server where you may create databases)"
)


@pytest.fixture(scope="session")
def postgres_admin():
    engine = create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        engine.dispose()
        message = (
            f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__}); "
            f"start it: {START_POSTGRES}"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin) -> Iterator[str]:
    name = f"newscrawl_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from crawler.storage.database import dispose_engines

    dispose_engines()
    with postgres_admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def archive(database_url: str) -> Archive:
    return Archive(database_url)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str):
    """A scripted test site (support/sites.py), a sites folder for its
    definition (``site.sites_dir``), a temporary archive and spool."""
    server = host(ScriptedSite(), tmp_path, monkeypatch)
    yield server
    server.close()


# Redis: a real server for distributed crawls; skipped or failed like PostgreSQL.
REDIS = os.environ.get("NEWSCRAWL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url():
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        message = (
            f"Redis not reachable at {REDIS} ({exc}); start it: "
            'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""'
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS
